// What the stack puts in our Via and Contact (RFC 3261 section 18.1.1): an address the peer can reach us at. A
// socket bound to every address must not advertise 0.0.0.0 or loopback to phones on the network.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import os from 'node:os';
import { describe, it } from 'node:test';
import { createResponse, firstExternalIPv4, parseDatagram, type SipRequest, SipStack } from '../../src/sip/index.ts';
import { until } from '../support/wait.ts';

describe('advertised address', () => {
  it('a UDP socket bound to 0.0.0.0 advertises the machine\'s external IPv4 address, and a public host wins', async () => {
    const stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '0.0.0.0', port: 0 }] }, { onRequest: () => {} });
    const pinned = await SipStack.start({ listen: [{ protocol: 'UDP', host: '0.0.0.0', port: 0 }], publicHost: 'pbx.example.com' }, { onRequest: () => {} });
    try {
      const flow = await stack.flowTo('UDP', '127.0.0.1', 9);
      const host = stack.advertisedHost(flow);
      const external = firstExternalIPv4();
      assert.equal(host, external ?? '127.0.0.1');
      if (external) assert.ok(Object.values(os.networkInterfaces()).flat().some((a) => a?.address === host));
      assert.notEqual(host, '0.0.0.0');
      assert.equal(pinned.advertisedHost(await pinned.flowTo('UDP', '127.0.0.1', 9)), 'pbx.example.com');
    } finally {
      await stack.close();
      await pinned.close();
    }
  });

  it('a socket bound to one address advertises that address', async () => {
    const stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }] }, { onRequest: () => {} });
    try {
      assert.equal(stack.advertisedHost(await stack.flowTo('UDP', '127.0.0.1', 9)), '127.0.0.1');
    } finally {
      await stack.close();
    }
  });
});

// RFC 3261 section 17.2.2: a non-INVITE server transaction, once it has sent its final response, answers every
// retransmission of the request with that response until Timer J (64*T1 over UDP) fires; the transaction user sees
// the request once. After Timer J the same bytes are a new request.
describe('non-INVITE server transaction over UDP (RFC 3261 section 17.2.2)', () => {
  it('absorbs retransmissions with the same final response until Timer J, then takes the request anew', async () => {
    const T1 = 20; // Timer J = 64*T1 = 1.28 s
    let seen = 0;
    const stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], timers: { T1 } }, {
      onRequest: (req) => {
        seen++;
        req.reply(200, { headers: [['X-Seen', String(seen)]] });
      },
    });
    const socket = dgram.createSocket('udp4');
    const answers: string[] = [];
    socket.on('message', (m) => answers.push(m.toString()));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = stack.transport('UDP')?.port as number;
    const { port: local } = socket.address();
    const request = Buffer.from(
      `OPTIONS sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-absorb-1;rport\r\nMax-Forwards: 70\r\n` +
        `From: <sip:1000@pbx.example.com>;tag=a1\r\nTo: <sip:pbx.example.com>\r\nCall-ID: absorb-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    );
    const send = () => new Promise<void>((resolve) => socket.send(request, port, '127.0.0.1', () => resolve()));
    try {
      await send();
      await until('the answer', () => answers.length, (n) => n === 1);
      assert.equal(stack.transactionCount, 1, 'the finished transaction is kept for Timer J');
      await send();
      await send();
      await until('two more answers', () => answers.length, (n) => n === 3);
      assert.equal(seen, 1, 'the transaction user saw the request once');
      assert.deepEqual(answers.slice(1), [answers[0], answers[0]], 'each retransmission got the same bytes');
      assert.match(answers[0] as string, /^SIP\/2\.0 200 OK\r\n[\s\S]*X-Seen: 1\r\n/);
      await until('Timer J', () => stack.transactionCount, (n) => n === 0, 10_000);
      await send();
      await until('the new answer', () => answers.length, (n) => n === 4);
      assert.equal(seen, 2, 'after Timer J the request is new');
      assert.match(answers[3] as string, /X-Seen: 2\r\n/);
    } finally {
      socket.close();
      await stack.close();
    }
  });
});

describe('Record-Route in responses (RFC 3261 section 12.1.1)', () => {
  const parsed = parseDatagram(
    Buffer.from(
      'INVITE sip:1001@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-rr-1\r\nMax-Forwards: 69\r\n' +
        'Record-Route: <sip:edge2.example.com;lr>, <sip:edge1.example.com;lr;ftag=a1>\r\nRecord-Route: <sip:192.0.2.1;lr>\r\n' +
        'From: <sip:1000@pbx.example.com>;tag=a1\r\nTo: <sip:1001@pbx.example.com>\r\nCall-ID: rr-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
    ),
  );
  if (!parsed.ok) throw new Error(parsed.reason);
  const invite = parsed.message as SipRequest;
  const recordRoutes = (status: number) => createResponse(invite, status, 'b2').headers.values('Record-Route');
  const all = ['<sip:edge2.example.com;lr>', '<sip:edge1.example.com;lr;ftag=a1>', '<sip:192.0.2.1;lr>'];

  for (const status of [180, 183, 200]) {
    it(`the UAS MUST copy all Record-Route header field values from the request into a ${status}, and MUST maintain their order`, () => {
      assert.deepEqual(recordRoutes(status), all);
    });
  }
  for (const status of [100, 407, 486]) {
    it(`a ${status}, which creates no dialog, carries no Record-Route`, () => {
      assert.deepEqual(recordRoutes(status), []);
    });
  }
});
