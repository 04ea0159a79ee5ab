// baresip, a SIP phone nobody here wrote: two instances register over UDP; one calls the other, which answers by
// itself; the caller hangs up; the server's events show the whole call.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { Baresip } from '../support/baresip.ts';
import { createUser, useTestServer } from '../support/server.ts';

describe('baresip phones', () => {
  const ctx = useTestServer('pglite');

  it('two baresip phones register over UDP, one calls the other, which answers; the caller hangs up', async () => {
    const ext = async (name: string) => (await createUser(ctx.t, ctx.token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` })).extension as { id: string; number: number; secret: string };
    const [a, b] = [await ext('Bare A'), await ext('Bare B')];
    const proxy = `127.0.0.1:${ctx.t.server.sipPort}`;
    const seen: string[] = [];
    let ended: DomainEvents['call.ended'] | undefined;
    for (const name of ['call.created', 'leg.ringing', 'leg.answered', 'call.answered', 'call.ended'] as const) {
      ctx.t.server.bus.on(name, (e) => {
        seen.push(name);
        if (name === 'call.ended') ended = e as DomainEvents['call.ended'];
      });
    }
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual', tone: 440 });
    const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: 880 });
    try {
      // baresip registers as it starts, before its control socket is up: the server's bindings tell.
      const location = ctx.t.server.telephony.location;
      for (let i = 0; i < 250 && (location.lookup(a.id).length === 0 || location.lookup(b.id).length === 0); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(location.lookup(a.id).length, 1);
      assert.equal(location.lookup(b.id).length, 1);
      assert.match(location.lookup(b.id)[0]?.userAgent ?? '', /^baresip/);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      await Promise.all([phoneA.waitFor('CALL_ESTABLISHED'), phoneB.waitFor('CALL_ESTABLISHED')]).catch((err: Error) => {
        throw new Error(`${err.message}\n--- callee ---\n${phoneB.log.slice(-6000)}`);
      });
      await new Promise((r) => setTimeout(r, 500));
      phoneA.command('hangup');
      await phoneB.waitFor('CALL_CLOSED');
      for (let i = 0; i < 50 && !ended; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen, ['call.created', 'leg.ringing', 'leg.answered', 'call.answered', 'call.ended']);
      assert.equal(ended?.cause, 'caller-hangup');
      assert.ok((ended?.durations.talk ?? 0) >= 400);
    } finally {
      await Promise.all([phoneA.stop(), phoneB.stop()]);
    }
  });
});
