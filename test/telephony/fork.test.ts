// A fork rings several legs at once and reads their answers as a forking proxy does (RFC 3261 section 16.7): the
// first 2xx wins and the other legs are cancelled, a 6xx ends the fork for its party, the best final response is
// chosen when all fail, and a 2xx that crosses our CANCEL is acknowledged and hung up. Driven through the real SIP
// stack over UDP, against phones that answer as each test scripts them.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { createResponse, type Dialog, NO_USER, parseDatagram, parseUri, SipHeaders, SipRequest, SipStack } from '../../src/sip/index.ts';
import type { Binding } from '../../src/telephony/index.ts';
import { bestFailure, Fork, type ForkHandler } from '../../src/telephony/calls/fork.ts';
import { Leg, LegState } from '../../src/telephony/calls/leg.ts';
import { until } from '../support/wait.ts';

/** A phone on a UDP socket: it records what it is sent, and answers INVITEs as the test tells it. */
class Phone {
  readonly got: string[] = [];
  invite: SipRequest | undefined;
  private from: { port: number; address: string } | undefined;
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (data, rinfo) => {
      const parsed = parseDatagram(data);
      if (!parsed.ok || parsed.message.kind !== 'request') return;
      const req = parsed.message;
      this.got.push(req.method);
      this.from = { port: rinfo.port, address: rinfo.address };
      if (req.method === 'INVITE') this.invite = req;
      else if (req.method === 'CANCEL') {
        this.send(createResponse(req, 200, 'ph'));
        if (this.invite) this.send(createResponse(this.invite, 487, 'ph'));
      } else if (req.method === 'BYE') this.send(createResponse(req, 200, undefined));
    });
  }

  static async start(): Promise<Phone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new Phone(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Answers the INVITE it holds with `status` (a 2xx with a Contact, so that a dialog is made). */
  answer(status: number): void {
    const invite = this.invite as SipRequest;
    const headers: Array<[string, string]> = status >= 200 && status < 300 ? [['Contact', `<sip:phone@127.0.0.1:${this.port}>`]] : [];
    this.send(createResponse(invite, status, `tag-${this.port}`, { headers }));
  }

  private send(response: { toBuffer(): Buffer }): void {
    if (this.from) this.socket.send(response.toBuffer(), this.from.port, this.from.address);
  }

  close(): void {
    this.socket.close();
  }
}

/** What the fork told its owner. */
function recorder(): ForkHandler & { said: string[] } {
  const said: string[] = [];
  return {
    said,
    onProvisional: (leg) => void said.push(`ringing ${leg.id}`),
    onAnswer: (leg) => (said.push(`answer ${leg.id}`), true),
    onFailed: (status) => void said.push(`failed ${status}`),
    onTimeout: () => void said.push('timeout'),
  };
}

describe('a fork of legs (RFC 3261 section 16.7)', () => {
  let stack: SipStack;
  const timers = new Set<NodeJS.Timeout>();
  const byes: Dialog[] = [];
  before(async () => {
    stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], timers: { T1: 50 } }, { onRequest: (req) => void req.reply(481) });
  });
  after(async () => {
    for (const t of timers) clearTimeout(t);
    await stack.close();
  });
  const host = {
    get stack() {
      return stack;
    },
    after: (ms: number, fire: () => void) => void timers.add(setTimeout(fire, ms)),
    newLeg: (): Leg => {
      throw new Error('these tests add their legs themselves');
    },
    bye: (dialog: Dialog) => {
      byes.push(dialog);
      stack.sendRequest(dialog.createRequest('BYE'), dialog.flow, NO_USER);
    },
  };

  /** A leg ringing `phone` for the party `extensionId`. */
  async function legTo(phone: Phone, extensionId: string): Promise<Leg> {
    const contact = `sip:${extensionId}@127.0.0.1:${phone.port}`;
    const flow = await stack.flowTo('UDP', '127.0.0.1', phone.port);
    const headers = new SipHeaders()
      .add('Max-Forwards', '70')
      .add('From', `<sip:1000@pbx.test>;tag=from-${phone.port}`)
      .add('To', `<sip:${extensionId}@pbx.test>`)
      .add('Call-ID', `fork-${phone.port}@test`)
      .add('CSeq', '1 INVITE')
      .add('Contact', `<sip:1000@127.0.0.1:${stack.transport('UDP')?.port}>`);
    const binding = { contact, path: [] } as unknown as Binding;
    return new Leg(binding, new SipRequest('INVITE', parseUri(contact), headers, Buffer.alloc(0)), flow, `leg-${phone.port}`, { extensionId, number: '1001' });
  }

  async function ringing(phones: Phone[]): Promise<void> {
    await until('every phone has the INVITE', () => phones.every((p) => p.invite !== undefined), (ok) => ok);
  }

  it('the first 2xx wins: it is acknowledged and every other leg is cancelled', async () => {
    const phones = [await Phone.start(), await Phone.start(), await Phone.start()];
    const handler = recorder();
    const fork = new Fork(host, handler);
    try {
      const legs = await Promise.all(phones.map((p, i) => legTo(p, `ext-${i}`)));
      for (const leg of legs) fork.add(leg);
      fork.ringFor(30);
      await ringing(phones);
      for (const p of phones) p.answer(180);
      await until('three legs ring', () => handler.said.filter((s) => s.startsWith('ringing')).length, (n) => n === 3);
      phones[1]?.answer(200);
      await until('the others hear CANCEL', () => phones.filter((p) => p.got.includes('CANCEL')).length, (n) => n === 2);
      await until('the winner is acknowledged', () => phones[1]?.got.includes('ACK'), (ok) => ok === true);
      assert.equal(fork.winner, legs[1]);
      assert.deepEqual(handler.said.filter((s) => !s.startsWith('ringing')), [`answer ${legs[1]?.id}`]);
      assert.deepEqual(legs.map((l) => l.state), [LegState.Cancelled, LegState.Answered, LegState.Cancelled]);
      assert.equal(phones[1]?.got.includes('CANCEL'), false, 'the winner is never cancelled');
    } finally {
      fork.stop();
      for (const p of phones) p.close();
    }
  });

  it('a 2xx that crosses our CANCEL is acknowledged and hung up with BYE; the fork keeps its first answer', async () => {
    const phones = [await Phone.start(), await Phone.start()];
    const handler = recorder();
    const fork = new Fork(host, handler);
    try {
      const legs = await Promise.all(phones.map((p, i) => legTo(p, `ext-${i}`)));
      for (const leg of legs) fork.add(leg);
      await ringing(phones);
      for (const p of phones) p.answer(180);
      await until('both ring', () => legs.every((l) => l.state === LegState.Ringing), (ok) => ok);
      phones[0]?.answer(200);
      // The second phone answers before it reads our CANCEL.
      phones[1]?.answer(200);
      await until('the late answer is hung up', () => phones[1]?.got.includes('BYE'), (ok) => ok === true);
      assert.ok(phones[1]?.got.includes('ACK'), 'its 2xx is acknowledged first (RFC 3261 section 13.2.2.4)');
      assert.ok(phones[1]!.got.indexOf('ACK') < phones[1]!.got.lastIndexOf('BYE'));
      assert.equal(fork.winner, legs[0]);
      assert.deepEqual(handler.said.filter((s) => s.startsWith('answer')), [`answer ${legs[0]?.id}`]);
      assert.equal(phones[0]?.got.includes('BYE'), false, 'the winner keeps its call');
    } finally {
      fork.stop();
      for (const p of phones) p.close();
    }
  });

  it('when every leg fails, the best final response is chosen: 6xx, then busy, then any other answer', async () => {
    const phones = [await Phone.start(), await Phone.start(), await Phone.start()];
    const handler = recorder();
    const fork = new Fork(host, handler);
    try {
      const legs = await Promise.all(phones.map((p, i) => legTo(p, `ext-${i}`)));
      for (const leg of legs) fork.add(leg);
      await ringing(phones);
      phones[0]?.answer(404);
      phones[1]?.answer(486);
      phones[2]?.answer(480);
      await until('the fork fails', () => handler.said.length, (n) => n === 1);
      assert.deepEqual(handler.said, ['failed 486']);
      assert.deepEqual(legs.map((l) => l.finalStatus), [404, 486, 480]);
      assert.equal(bestFailure([487, 408, 603, 486]), 603);
      assert.equal(bestFailure([487, 408]), 480, 'a cancelled or silent leg only when nothing better came');
    } finally {
      for (const p of phones) p.close();
    }
  });

  it('a 6xx cancels the other devices of its party at once, and leaves another party ringing', async () => {
    const phones = [await Phone.start(), await Phone.start(), await Phone.start()];
    const handler = recorder();
    const fork = new Fork(host, handler);
    try {
      // Two devices of one party, and a third party.
      const legs = [await legTo(phones[0]!, 'same'), await legTo(phones[1]!, 'same'), await legTo(phones[2]!, 'other')];
      for (const leg of legs) fork.add(leg);
      await ringing(phones);
      for (const p of phones) p.answer(180);
      await until('all ring', () => legs.every((l) => l.state === LegState.Ringing), (ok) => ok);
      phones[0]?.answer(603);
      await until('the party\'s other device hears CANCEL', () => phones[1]?.got.includes('CANCEL'), (ok) => ok === true);
      assert.equal(legs[2]?.state, LegState.Ringing, 'the other party still rings');
      assert.equal(phones[2]?.got.includes('CANCEL'), false);
      phones[2]?.answer(480);
      await until('the fork fails', () => handler.said.filter((s) => s.startsWith('failed')).length, (n) => n === 1);
      assert.ok(handler.said.includes('failed 603'), 'the 6xx is the best failure');
    } finally {
      for (const p of phones) p.close();
    }
  });

  it('the ring timeout cancels every leg; a leg that has not answered yet is cancelled only after its first provisional answer (RFC 3261 section 9.1)', async () => {
    const phones = [await Phone.start(), await Phone.start()];
    const handler = recorder();
    const fork = new Fork(host, handler);
    try {
      const legs = await Promise.all(phones.map((p, i) => legTo(p, `ext-${i}`)));
      for (const leg of legs) fork.add(leg);
      await ringing(phones);
      phones[0]?.answer(180);
      await until('one rings', () => legs[0]?.state, (s) => s === LegState.Ringing);
      fork.ringFor(0.2);
      await until('the timeout', () => handler.said.includes('timeout'), (ok) => ok);
      await until('the ringing leg hears CANCEL', () => phones[0]?.got.includes('CANCEL'), (ok) => ok === true);
      assert.equal(phones[1]?.got.includes('CANCEL'), false, 'no CANCEL before a provisional answer');
      phones[1]?.answer(180);
      await until('the CANCEL held back goes', () => phones[1]?.got.includes('CANCEL'), (ok) => ok === true);
      assert.deepEqual(legs.map((l) => l.state), [LegState.Cancelled, LegState.Cancelled]);
      assert.equal(handler.said.filter((s) => s === 'timeout').length, 1);
    } finally {
      for (const p of phones) p.close();
    }
  });

  it('a fork with no leg fails at once with 480', () => {
    const handler = recorder();
    new Fork(host, handler).ringFor(10);
    assert.deepEqual(handler.said, ['failed 480']);
  });
});
