import 'dotenv/config';
import { parseArgs } from 'node:util';
import { ROLES, signToken, type Role } from '../auth';
import { loadConfig } from '../config';

/**
 * `npm run token -- --sub alice --role user`: prints a bearer token signed with the
 * configured JWT_SECRET (the development secret by default). Refused in production.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string', default: 'dev-user' },
      role: { type: 'string', default: 'user' },
      expires: { type: 'string', default: '12h' },
    },
  });
  const config = loadConfig();
  if (config.isProduction) throw new Error('development tokens are refused in production');
  if (!config.jwt.secret)
    throw new Error('JWT_JWKS_URL is set: tokens come from your identity provider');
  if (!(ROLES as readonly string[]).includes(values.role!)) {
    throw new Error(`--role must be one of ${ROLES.join(', ')}`);
  }
  const token = await signToken({
    secret: config.jwt.secret,
    subject: values.sub!,
    role: values.role as Role,
    expiresIn: values.expires!,
    ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
    ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
