import { generateSecret } from '../directory/index.ts';
import type { Core } from './core.ts';

/**
 * On a first start the system tenant gets an administrator: the configured one, or `admin@<domain>` with a
 * generated password that is printed once. Later starts change nothing, even if the variables change.
 */
export async function ensureFirstAdmin(core: Core, print: (line: string) => void): Promise<void> {
  const { directory, systemTenant, config } = core;
  if ((await directory.users.countAdmins(systemTenant.id)) > 0) return;
  const email = config.adminEmail ?? `admin@${systemTenant.domain}`;
  const password = config.adminPassword ?? generateSecret(20);
  await directory.users.create(systemTenant, { name: 'Administrator', email, password, role: 'ADMIN', withExtension: false });
  core.logger.info({ email }, 'server:first administrator created');
  if (!config.adminPassword) {
    print(`First administrator created: ${email}`);
    print(`Password (shown once, change it after logging in): ${password}`);
  }
}
