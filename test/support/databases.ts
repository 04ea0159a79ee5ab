/**
 * The two storage back ends every repository and API test runs against: PGlite in memory, and a fresh database on
 * the real PostgreSQL server that the test command started (PBX_TEST_DATABASE_URL). Each test gets its own
 * database and drops it afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/db/index.ts';

export type DatabaseKind = 'pglite' | 'postgres';
export const databaseKinds: readonly DatabaseKind[] = ['pglite', 'postgres'];

export interface TestDatabase {
  database: Database;
  /** The URL of the PostgreSQL database, for a test that starts a process of its own. */
  url: string | undefined;
  /** Closes the connection and removes the database. */
  destroy(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.PBX_TEST_DATABASE_URL;
  if (!url) {
    throw new Error('PBX_TEST_DATABASE_URL is not set: run the tests with `npm test`, which starts a PostgreSQL server for them');
  }
  return url;
}

/** A new, empty PostgreSQL database on the test server; answers its URL and a function that drops it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = adminUrl();
  const name = `switchboard_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function openTestDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const database = await openDatabase({ memory: true });
    if (options.migrate !== false) await database.migrate();
    return { database, url: undefined, destroy: () => database.close() };
  }
  const created = await createPostgresDatabase();
  const database = await openDatabase({ url: created.url, poolSize: 20 });
  if (options.migrate !== false) await database.migrate();
  return {
    database,
    url: created.url,
    async destroy() {
      await database.close();
      await created.drop();
    },
  };
}
