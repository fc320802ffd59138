import 'reflect-metadata';
import 'dotenv/config';
import { createDataSource } from './src/db/data-source';

/**
 * DataSource for the TypeORM CLI (`npm run typeorm -- migration:generate …`). It needs a
 * running PostgreSQL: DATABASE_URL must be set.
 */
if (!process.env.DATABASE_URL) {
  throw new Error('DATABASE_URL must be set for the TypeORM CLI');
}

export default createDataSource({ url: process.env.DATABASE_URL, applicationName: 'tally-cli' });
