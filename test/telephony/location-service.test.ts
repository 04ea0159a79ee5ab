// Bindings survive a server restart until their expiry (UDP ones: a connection's bindings die with it), expire on
// time, and tell the bus when they come and go; against PGlite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventBus, type DomainEvents } from '../../src/events/index.ts';
import { createDirectory, type Directory } from '../../src/directory/index.ts';
import { type Binding, LocationService } from '../../src/telephony/index.ts';
import { eq } from 'drizzle-orm';
import { registrations } from '../../src/db/index.ts';
import { databaseKinds, openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { until } from '../support/wait.ts';

for (const kind of databaseKinds) {
  describe(`location service (${kind})`, () => {
    let db: TestDatabase;
    let directory: Directory;
    let ext: { id: string; number: number; tenantId: string };
    before(async () => {
      db = await openTestDatabase(kind);
      directory = createDirectory(db.database.db, new EventBus(), { jwtSecret: 'x'.repeat(40), jwtTtlSeconds: 60, loginMaxFailures: 10, loginWindowSeconds: 60 });
      const tenant = await directory.tenants.ensureSystemTenant({ name: 'T', domain: 'loc.test', extensionRange: { start: 100, end: 199 } });
      const { user } = await directory.users.create(tenant, { name: 'Loc One', email: 'loc@example.com' });
      ext = { id: user.extension?.id as string, number: user.extension?.number as number, tenantId: tenant.id };
    });
    after(() => db.destroy());

    const binding = (contact: string, transport: string, seconds: number): Binding => ({
      tenantId: ext.tenantId,
      extensionId: ext.id,
      number: ext.number,
      contact,
      callId: `c-${contact}`,
      cseq: 1,
      transport,
      sourceAddress: '192.0.2.9',
      sourcePort: 5062,
      userAgent: 'test',
      expiresAt: new Date(Date.now() + seconds * 1000),
      registeredAt: new Date(),
      flow: undefined,
      path: [],
    });

    it('a restart keeps UDP bindings until they expire, and drops connection ones', async () => {
      const bus = new EventBus<DomainEvents>();
      const first = new LocationService(db.database.db, bus);
      await first.start();
      await first.save(binding('sip:a@192.0.2.9:5062', 'UDP', 300));
      await first.save(binding('sip:b@192.0.2.9:5062;transport=tcp', 'TCP', 300));
      await first.save(binding('sip:c@192.0.2.9:5062', 'UDP', 1));
      await first.stop();
      await new Promise((r) => setTimeout(r, 1100));

      const second = new LocationService(db.database.db, new EventBus<DomainEvents>());
      await second.start();
      try {
        const left = second.lookup(ext.id);
        assert.deepEqual(left.map((b) => b.contact), ['sip:a@192.0.2.9:5062']);
        assert.equal(left[0]?.sourcePort, 5062);
        assert.ok((left[0]?.expiresAt.getTime() ?? 0) > Date.now() + 290_000);
      } finally {
        await second.removeAll(ext.id, 'unregistered');
        await second.stop();
      }
    });

    it('a restart keeps a binding registered through an edge proxy with its Path (RFC 3327), whatever the transport', async () => {
      const path = ['<sip:198.51.100.7:5060;lr;received=sip:192.0.2.9:5062>', '<sip:198.51.100.8;lr>'];
      const first = new LocationService(db.database.db, new EventBus<DomainEvents>());
      await first.start();
      await first.save({ ...binding('sip:edge@10.0.0.5:5062;transport=tcp', 'TCP', 300), path });
      await first.stop();

      const second = new LocationService(db.database.db, new EventBus<DomainEvents>());
      await second.start();
      try {
        const left = second.lookup(ext.id);
        assert.deepEqual(left.map((b) => b.contact), ['sip:edge@10.0.0.5:5062;transport=tcp']);
        assert.deepEqual(left[0]?.path, path);
      } finally {
        await second.removeAll(ext.id, 'unregistered');
        await second.stop();
      }
    });

    it('a new binding is written at once, not at the next tick: a crash right after a REGISTER keeps it', async () => {
      // Not started: no tick writes anything, so only the write a new binding asks for can put it in the table.
      const service = new LocationService(db.database.db, new EventBus<DomainEvents>());
      const contact = 'sip:fresh@192.0.2.9:5062';
      await service.save(binding(contact, 'UDP', 300));
      try {
        const rows = await until('the binding is in the table', () => db.database.db.select().from(registrations).where(eq(registrations.contactUri, contact)), (r) => r.length === 1);
        assert.equal(rows[0]?.extensionId, ext.id);
      } finally {
        await service.removeAll(ext.id, 'unregistered');
        await service.stop();
      }
    });

    it('a binding expires on time and the bus hears registration.removed with reason expired', async () => {
      const bus = new EventBus<DomainEvents>();
      const removed: string[] = [];
      bus.on('registration.removed', (e) => void removed.push(`${e.contact}:${e.reason}`));
      const location = new LocationService(db.database.db, bus);
      await location.start();
      try {
        await location.save(binding('sip:short@192.0.2.9', 'UDP', 1));
        assert.equal(location.lookup(ext.id).length, 1);
        await location.expire(Date.now() + 2000);
        assert.equal(location.lookup(ext.id).length, 0);
        assert.deepEqual(removed, ['sip:short@192.0.2.9:expired']);
      } finally {
        await location.stop();
      }
    });
  });
}
