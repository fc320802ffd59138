# Tally's production image. Three stages: `build` compiles the TypeScript with every
# dependency, `deps` installs only what runs (no dev tools, no embedded PostgreSQL: a
# container is always given DATABASE_URL), and the final stage holds the two, as the
# unprivileged `node` user. Build: `docker build -t tally .`
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ormconfig.ts ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts --omit=dev --omit=optional \
  && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
  PORT=4000 \
  HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The code is root's and read-only to the service; it runs as the image's `node` user (uid 1000).
USER node
EXPOSE 4000
# Liveness only (/healthz answers while the process serves HTTP); readiness, which includes
# the database, is /readyz for the load balancer. A database outage must not get every
# instance killed: Tally recovers from one by itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: in-flight requests finish, then it exits.
CMD ["node", "dist/src/main.js"]
