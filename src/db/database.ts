/**
 * Opens the database: a real PostgreSQL server through `pg` when a URL is given, otherwise PGlite (PostgreSQL in
 * WebAssembly) persisted in the data directory, or in memory for tests. Both speak the same SQL and run the same
 * migrations; the rest of the code sees one Drizzle type.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { schema } from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: Db;
  readonly kind: 'pglite' | 'postgres';
  /** Where the data lives, without credentials: a folder, `memory`, or host:port/db. */
  readonly location: string;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const migrationsFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

export type DatabaseOptions =
  | { url: string; poolSize?: number }
  | { dataDir: string }
  | { memory: true };

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if ('url' in options) return openPostgres(options.url, options.poolSize ?? 10);
  return openPglite('dataDir' in options ? options.dataDir : undefined);
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  // A server that cannot be reached is given 10 s to answer a connection, not the system's TCP timeout of minutes:
  // writes behind it then wait in their queue, and lookups fall back on what the engine remembers.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000 });
  // An idle client's error (the server restarted) must not crash the process; the pool replaces the client.
  pool.on('error', () => {});
  // So must a checked-out client's (a transaction's, when the server goes away between two of its statements):
  // pg emits it on the client, where no listener would crash the process; the statement in flight fails anyway.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  const parsed = new URL(url);
  let closed = false;
  return {
    db,
    kind: 'postgres',
    location: `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`,
    async migrate() {
      // Several nodes may start at once: one migrates while the others wait on the same advisory lock.
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock(7243001)');
        try {
          await migratePg(drizzlePg(client), { migrationsFolder });
        } finally {
          await client.query('select pg_advisory_unlock(7243001)');
        }
      } finally {
        client.release();
      }
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * PGlite runs PostgreSQL inside this process, whose memory it shares: 16 MB of shared buffers instead of 128 keeps
 * it small. The working set of a site small enough for the embedded database (its extensions, queues and the
 * day's call sessions) fits; larger sites run PostgreSQL.
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/**
 * Creates a PGlite cluster (initdb) in a child process. Creating one grows PGlite's WebAssembly memory to some
 * 600 MiB, which a WebAssembly memory never gives back: done in the server, a first start would carry that until
 * its next restart. The server then opens the cluster at a quarter of that.
 */
async function createPgliteCluster(folder: string): Promise<void> {
  const code = `import { PGlite } from ${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))};
const db = await PGlite.create(process.argv[1], { startParams: JSON.parse(process.argv[2]) });
await db.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, folder, JSON.stringify(PGLITE_START_PARAMS)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exit = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (exit !== 0) throw new Error(`creating the database in ${folder} failed (exit ${exit}): ${stderr.trim()}`);
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  let lock: DirLock | undefined;
  if (dataDir) {
    fs.mkdirSync(dataDir, { recursive: true });
    lock = DirLock.acquire(path.join(dataDir, 'pglite.lock'));
  }
  let client: PGlite;
  try {
    if (dataDir) {
      const folder = path.join(dataDir, 'pglite');
      if (!fs.existsSync(path.join(folder, 'PG_VERSION'))) await createPgliteCluster(folder);
      client = await PGlite.create(folder, { startParams: PGLITE_START_PARAMS });
    } else {
      client = await PGlite.create({ startParams: PGLITE_START_PARAMS });
    }
  } catch (err) {
    lock?.release();
    throw err;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  let closed = false;
  return {
    db,
    kind: 'pglite',
    location: dataDir ? path.join(dataDir, 'pglite') : 'memory',
    async migrate() {
      await migratePglite(drizzlePglite(client), { migrationsFolder });
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * PGlite is one process's database: two processes opening the same folder would corrupt it. A lock file holding
 * the owner's pid keeps a second one out with a clear message, and a stale lock (its process is gone) is taken over.
 */
class DirLock {
  private constructor(private readonly file: string) {}

  static acquire(file: string): DirLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
        return new DirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = Number(fs.readFileSync(file, 'utf8').trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
          throw new Error(
            `The embedded database in ${path.dirname(file)} is in use by process ${owner}. ` +
              'Stop that process, or use another PBX_DATA_DIR, or a PostgreSQL server through DATABASE_URL.',
          );
        }
        fs.rmSync(file, { force: true });
      }
    }
    throw new Error(`Could not lock ${file}`);
  }

  release(): void {
    try {
      if (fs.readFileSync(this.file, 'utf8').trim() === String(process.pid)) fs.rmSync(this.file, { force: true });
    } catch {
      // already gone
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PostgreSQL error behind a Drizzle error, if any: its SQLSTATE code and constraint name. */
export function pgErrorOf(err: unknown): { code?: string; constraint?: string } | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      return { code, constraint: (e as { constraint?: string }).constraint };
    }
  }
  return undefined;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const pgErr = pgErrorOf(err);
  return pgErr?.code === '23505' && (constraint === undefined || pgErr.constraint === constraint);
}
