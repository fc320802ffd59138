import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { printCommittedSchema } from './print-schema';
import { buildTallySchema } from '../graphql';

/** `npm run schema:emit`: writes schema/schema.graphql from the code. */
async function main(): Promise<void> {
  const schema = await buildTallySchema();
  const target = path.join(__dirname, '..', '..', 'schema', 'schema.graphql');
  writeFileSync(target, printCommittedSchema(schema));
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
