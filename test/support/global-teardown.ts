import { Client } from 'pg';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env['TALLY_TEST_ADMIN_URL'];
  const template = process.env['TALLY_TEST_TEMPLATE'];
  if (adminUrl && template && !globalThis.__TALLY_EMBEDDED__) {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      const leftovers = await admin.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
        [template, `tally_t_${template.split('_')[2]}_%`],
      );
      for (const { datname } of leftovers.rows) {
        await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    } finally {
      await admin.end();
    }
  }
  await globalThis.__TALLY_EMBEDDED__?.stop();
}
