/**
 * The storage and domain services, without any network door: what the CLI's commands need, and what the server
 * starts first. Opens and migrates the database, makes sure the system tenant exists, and loads the carriers'
 * cache (trunks, phone numbers, outbound routes) the engine reads.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { type Database, openDatabase, WriteJournal } from '../db/index.ts';
import { createDirectory, type Directory, type Tenant } from '../directory/index.ts';
import { EventBus, type PbxEventBus } from '../events/index.ts';
import { loadOrCreateJwtSecret, loadOrCreateRecordingKey } from './secrets.ts';

export interface Core {
  config: Config;
  logger: Logger;
  database: Database;
  bus: PbxEventBus;
  directory: Directory;
  systemTenant: Tenant;
  /** The server's signing secret (PBX_JWT_SECRET or the generated one); other secrets are derived from it. */
  secret: string;
  /** Where writes the database could not take wait, and what it rejected goes (`PBX_DATA_DIR/write-journal`). */
  journal: WriteJournal;
  close(): Promise<void>;
}

export async function openCore(config: Config, logger: Logger, database?: Database): Promise<Core> {
  const db = database ?? (config.databaseUrl ? await openDatabase({ url: config.databaseUrl }) : await openDatabase({ dataDir: config.dataDir }));
  try {
    await db.migrate();
    const bus: PbxEventBus = new EventBus((err, event) => logger.error({ err, event: String(event) }, 'events:listener failed'));
    const secret = config.jwtSecret ?? loadOrCreateJwtSecret(config.dataDir);
    const directory = createDirectory(db.db, bus, {
      ...config,
      jwtSecret: secret,
      // Trunk passwords are sealed under the recordings' key: one key to keep safe and to rotate.
      secretKey: config.recordingKey ?? loadOrCreateRecordingKey(config.dataDir),
      olderSecretKeys: config.recordingOldKeys,
      onError: (err, context) => logger.error({ err }, context),
    });
    const systemTenant = await directory.tenants.ensureSystemTenant({
      name: 'Default',
      domain: config.domain,
      extensionRange: config.extensionRange,
    });
    await directory.carriers.cache.load();
    let closed = false;
    return {
      config,
      logger,
      database: db,
      bus,
      directory,
      systemTenant,
      secret,
      journal: new WriteJournal(path.join(config.dataDir, 'write-journal')),
      async close() {
        if (closed) return;
        closed = true;
        directory.carriers.cache.close();
        bus.removeAllListeners();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
