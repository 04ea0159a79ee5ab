/** What the server process is made of besides its wiring (`src/server.ts`): the core, secrets, TLS and closing. */
export { Closers } from './closers.ts';
export { type Core, openCore } from './core.ts';
export { ensureFirstAdmin } from './first-admin.ts';
export { loadOrCreateJwtSecret, loadOrCreateRecordingKey } from './secrets.ts';
export { readHttpsTls, readSipTls, type TlsPair } from './tls.ts';
