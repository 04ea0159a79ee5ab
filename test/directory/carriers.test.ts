// The carriers' parts below the REST door: the secret box trunk passwords are sealed in, the allow lists' address
// forms, and the engine's cache read at start from what is already stored (a registration trunk known by the
// addresses its server's name resolves to, a password sealed under a key no longer held).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { trunks } from '../../src/db/index.ts';
import { createDirectory, type Directory, SecretBox } from '../../src/directory/index.ts';
import { addToList, normaliseSource, parseAddressOrCidr } from '../../src/directory/carriers/checks.ts';
import { EventBus, type PbxEventBus } from '../../src/events/index.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';

describe('the secret box', () => {
  it('seals a password so that it reads as nothing like it, and opens it back', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('carrier password');
    assert.ok(!Buffer.from(sealed, 'base64').includes(Buffer.from('carrier password')));
    assert.notEqual(box.seal('carrier password'), sealed, 'a new IV each time');
    assert.equal(box.open(sealed), 'carrier password');
  });

  it('after a key rotation the older key still opens what it sealed; a value altered or sealed under an unknown key does not open', () => {
    const oldKey = randomBytes(32);
    const sealed = new SecretBox(oldKey).seal('before rotation');
    const rotated = new SecretBox(randomBytes(32), [oldKey]);
    assert.equal(rotated.open(sealed), 'before rotation');
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed), /not configured/);
    const altered = Buffer.from(sealed, 'base64');
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
    assert.throws(() => rotated.open(altered.toString('base64')));
  });

  it('without a key it refuses to seal rather than invent one', () => {
    assert.throws(() => new SecretBox(undefined).seal('x'), /no secret key/);
  });
});

describe('allow-list addresses', () => {
  it('takes IPv4 and IPv6 addresses and CIDR ranges, and nothing else', () => {
    for (const good of ['192.0.2.7', '192.0.2.0/24', '0.0.0.0/0', '2001:db8::7', '2001:db8::/32', '::/0']) assert.ok(parseAddressOrCidr(good), good);
    for (const bad of ['192.0.2.0/33', '2001:db8::/129', '192.0.2.0/', '192.0.2.0/x', '256.0.0.1', 'example.com', '', 'fe80::1%eth0']) assert.equal(parseAddressOrCidr(bad), undefined, bad);
  });

  it('a source address is read without brackets, and an IPv4-mapped one as IPv4', () => {
    const list = new net.BlockList();
    addToList(list, '198.51.100.0/24');
    const mapped = normaliseSource('::ffff:198.51.100.20');
    assert.deepEqual(mapped, { address: '198.51.100.20', type: 'ipv4' });
    assert.ok(list.check(mapped.address, mapped.type));
    assert.deepEqual(normaliseSource('[2001:db8::1]'), { address: '2001:db8::1', type: 'ipv6' });
    assert.equal(normaliseSource('not an address'), undefined);
  });
});

describe("the carriers' cache at start", () => {
  let db: TestDatabase;
  let directory: Directory;
  const key = randomBytes(32);
  const reported: string[] = [];
  let tenantId: string;

  before(async () => {
    db = await openTestDatabase('pglite');
    const bus: PbxEventBus = new EventBus();
    directory = createDirectory(db.database.db, bus, {
      jwtSecret: 'x'.repeat(40),
      jwtTtlSeconds: 60,
      loginMaxFailures: 10,
      loginWindowSeconds: 60,
      secretKey: key,
      // A resolver of our own: the test must not depend on the machine's DNS.
      resolveHost: async (host) => {
        if (host === 'sip.carrier.test') return ['203.0.113.77', '2001:db8:77::1'];
        throw new Error('NXDOMAIN');
      },
      onError: (_err, context) => reported.push(context),
    });
    tenantId = (await directory.tenants.create({ name: 'Cache', domain: 'cache.pbx.test', extensionRange: { start: 100, end: 199 } })).id;
  });
  after(() => db.destroy());

  it('a registration trunk is known by the addresses its server name resolves to', async () => {
    const trunk = await directory.carriers.trunks.create(tenantId, {
      name: 'Named server',
      auth: 'registration',
      servers: [{ host: 'sip.carrier.test' }],
      username: 'acct',
      password: 'pw-1',
    });
    await assert.rejects(
      directory.carriers.trunks.create(tenantId, { name: 'Unknown', auth: 'ip', servers: [{ host: 'nowhere.carrier.test' }], allowedAddresses: ['192.0.2.1'] }),
      (err: Error & { details?: Array<{ field: string }> }) => err.details?.[0]?.field === 'servers.0.host',
    );
    // Loaded after the rows exist: what a restart reads.
    await directory.carriers.cache.load();
    assert.equal(directory.carriers.cache.trunkByAddress('203.0.113.77')?.id, trunk.id);
    assert.equal(directory.carriers.cache.trunkByAddress('2001:db8:77::1')?.id, trunk.id);
    assert.equal(directory.carriers.cache.trunkByAddress('203.0.113.78'), undefined);
    assert.equal(directory.carriers.cache.trunk(tenantId, trunk.id)?.password, 'pw-1');
  });

  it('a password sealed under a key no longer held is reported, and the trunk is still loaded without it', async () => {
    const [row] = await db.database.db
      .insert(trunks)
      .values({
        tenantId,
        name: 'Old key',
        servers: [{ host: '192.0.2.200', port: 5060, transport: 'udp' }],
        auth: 'ip',
        allowedAddresses: ['192.0.2.200'],
        country: 'US',
        passwordSealed: new SecretBox(randomBytes(32)).seal('lost'),
      })
      .returning();
    directory.carriers.cache.close();
    const bus: PbxEventBus = new EventBus();
    const fresh = createDirectory(db.database.db, bus, {
      jwtSecret: 'x'.repeat(40),
      jwtTtlSeconds: 60,
      loginMaxFailures: 10,
      loginWindowSeconds: 60,
      secretKey: key,
      resolveHost: async () => ['203.0.113.77'],
      onError: (_err, context) => reported.push(context),
    });
    await fresh.carriers.cache.load();
    assert.ok(reported.some((r) => r.includes(row!.id)), 'the unreadable password is reported');
    assert.equal(fresh.carriers.cache.trunk(tenantId, row!.id)?.password, null);
    assert.equal(fresh.carriers.cache.trunkByAddress('192.0.2.200')?.id, row!.id);
    fresh.carriers.cache.close();
  });
});

describe('what a call out and a request keep in memory, and forget when the directory changes', () => {
  let db: TestDatabase;
  let directory: Directory;
  let tenantId: string;

  before(async () => {
    db = await openTestDatabase('pglite');
    directory = createDirectory(db.database.db, new EventBus(), {
      jwtSecret: 'y'.repeat(40),
      jwtTtlSeconds: 60,
      loginMaxFailures: 10,
      loginWindowSeconds: 60,
      secretKey: randomBytes(32),
      resolveHost: async () => {
        throw new Error('NXDOMAIN');
      },
    });
    tenantId = (await directory.tenants.create({ name: 'Kept', domain: 'kept.pbx.test', extensionRange: { start: 100, end: 199 } })).id;
  });
  after(() => db.destroy());

  it("a user's dial classes and caller ID, and the tenant's policy, changed between two calls: the second call's policy has the change", async () => {
    const tenant = await directory.tenants.get(tenantId);
    const { user } = await directory.users.create(tenant, { name: 'Dialler', email: 'dialler@example.com' });
    const extensionId = user.extension!.id;
    const before = await directory.carriers.dialPolicy.forExtension(tenantId, extensionId);
    assert.ok(!before.allowedClasses.includes('international'));
    assert.equal(before.callerId, null);
    await directory.users.update(tenantId, user.id, { dialClasses: ['national', 'international'], callerId: '+14155550111' });
    const after = await directory.carriers.dialPolicy.forExtension(tenantId, extensionId);
    assert.deepEqual(after.allowedClasses, ['national', 'international']);
    assert.equal(after.callerId, '+14155550111');
    await directory.carriers.dialPolicy.update(tenantId, { maxExternalCalls: 3 });
    assert.equal((await directory.carriers.dialPolicy.forExtension(tenantId, extensionId)).maxExternalCalls, 3);
  });

  it("a token's user demoted or deactivated: its next request sees the new role, then is refused", async () => {
    const tenant = await directory.tenants.get(tenantId);
    const { user } = await directory.users.create(tenant, { name: 'Boss', email: 'boss@example.com', role: 'ADMIN', password: 'boss-password-1' });
    const { accessToken } = await directory.auth.loginWithEmail('boss@example.com', 'boss-password-1', { ip: '192.0.2.1' });
    assert.equal((await directory.auth.authenticate(accessToken)).role, 'ADMIN');
    await directory.users.update(tenantId, user.id, { role: 'AGENT' });
    assert.equal((await directory.auth.authenticate(accessToken)).role, 'AGENT');
    await directory.users.update(tenantId, user.id, { isActive: false });
    await assert.rejects(directory.auth.authenticate(accessToken), /Invalid or expired token/);
  });
});
