// Bad input loses nothing: 100,000 mutated copies of valid SIP messages (bytes flipped, inserted, deleted, lines
// repeated or cut, numbers blown up) sent over UDP, TCP and WebSocket. The server stays up, keeps its memory, and
// afterwards still serves a real registration and call (two baresip phones).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Baresip } from '../support/baresip.ts';
import { createUser, useTestServer } from '../support/server.ts';

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.FUZZ_SEED ?? 4475);

function corpus(): Buffer[] {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/rfc4475');
  const torture = fs.readdirSync(dir).filter((f) => f.endsWith('.dat')).map((f) => fs.readFileSync(path.join(dir, f)));
  const own = [
    'REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK776;rport\r\nFrom: <sip:1000@pbx.test>;tag=1\r\nTo: <sip:1000@pbx.test>\r\nCall-ID: f1@x\r\nCSeq: 1 REGISTER\r\nContact: <sip:1000@127.0.0.1:5062>\r\nAuthorization: Digest username="1000", realm="pbx.test", nonce="AAAA", uri="sip:pbx.test", response="00", qop=auth, nc=00000001, cnonce="c"\r\nExpires: 300\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
    'INVITE sip:1001@pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK777;rport\r\nFrom: "A" <sip:1000@pbx.test>;tag=2\r\nTo: <sip:1001@pbx.test>\r\nCall-ID: f2@x\r\nCSeq: 1 INVITE\r\nContact: <sip:1000@127.0.0.1:5062>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 61\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n',
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK778\r\nFrom: <sip:1000@pbx.test>;tag=3\r\nTo: <sip:1001@pbx.test>;tag=4\r\nCall-ID: f3@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
    'BYE sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5062;branch=z9hG4bK779\r\nFrom: <sip:1001@pbx.test>;tag=4\r\nTo: <sip:1000@pbx.test>;tag=3\r\nCall-ID: f3@x\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n',
  ].map((s) => Buffer.from(s));
  return [...torture, ...own];
}

function mutate(input: Buffer, random: () => number): Buffer {
  let bytes = Buffer.from(input);
  const pick = (n: number) => Math.floor(random() * n);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    switch (pick(9)) {
      case 0: // flip bytes
        for (let i = 0; i < 1 + pick(8); i++) if (bytes.length > 0) bytes[pick(bytes.length)] = pick(256);
        break;
      case 1: { // insert random bytes
        const at = pick(bytes.length + 1);
        const junk = Buffer.from(Array.from({ length: 1 + pick(32) }, () => pick(256)));
        bytes = Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
        break;
      }
      case 2: { // delete a range
        const at = pick(bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + pick(40))]);
        break;
      }
      case 3: // truncate
        bytes = bytes.subarray(0, pick(bytes.length + 1));
        break;
      case 4: { // repeat a line
        const lines = bytes.toString('latin1').split('\r\n');
        const i = pick(lines.length);
        lines.splice(i, 0, lines[i] ?? '');
        bytes = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 5: { // blow a number up
        const text = bytes.toString('latin1').replace(/\d+/, () => String(pick(10) === 0 ? -1 : 10 ** (5 + pick(30))));
        bytes = Buffer.from(text, 'latin1');
        break;
      }
      case 6: { // special characters into the text
        const specials = ['\0', '\r', '\n', '"', '<', '>', ';', ',', ':', '%', '\\', ' '];
        const at = pick(bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(specials[pick(specials.length)] as string), bytes.subarray(at)]);
        break;
      }
      case 7: // a very long header value
        bytes = Buffer.concat([bytes.subarray(0, Math.min(bytes.length, 40)), Buffer.from('X-Long: ' + 'a'.repeat(pick(70_000)) + '\r\n'), bytes.subarray(40)]);
        break;
      default: // swap CRLF for LF here and there
        bytes = Buffer.from(bytes.toString('latin1').replace(/\r\n/, '\n'), 'latin1');
    }
  }
  return bytes;
}

describe('fuzzing the SIP transports', () => {
  const ctx = useTestServer('pglite');

  it('100,000 mutated messages over UDP, TCP and WebSocket leave the server up and serving a real registration and call', async () => {
    const random = rng(SEED);
    const base = corpus();
    const next = () => mutate(base[Math.floor(random() * base.length)] as Buffer, random);
    const port = ctx.t.server.sipPort;
    const rssBefore = process.memoryUsage().rss;

    // UDP: 50,000 datagrams, in bursts so the kernel's buffers are not just overrun.
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    udp.on('message', () => {});
    for (let i = 0; i < 50_000; i++) {
      const data = next();
      if (data.length > 0 && data.length < 65_000) udp.send(data, port, '127.0.0.1');
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }

    // TCP: 30,000 messages over 300 connections of 100 each; a connection the server drops is replaced.
    for (let c = 0; c < 300; c++) {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.on('data', () => {});
      await new Promise<void>((r) => (socket.once('connect', () => r()), socket.once('error', () => r()), socket.once('close', () => r())));
      for (let i = 0; i < 100 && !socket.destroyed; i++) socket.write(next());
      socket.end();
      if (c % 20 === 19) await new Promise((r) => setTimeout(r, 5));
    }

    // WebSocket: 20,000 messages over 100 connections of 200 each.
    for (let c = 0; c < 100; c++) {
      const ws = new WebSocket(`${ctx.t.server.url.replace('http', 'ws')}/sip`, 'sip');
      ws.on('error', () => {});
      const open = await new Promise<boolean>((r) => (ws.once('open', () => r(true)), ws.once('error', () => r(false))));
      if (open) for (let i = 0; i < 200 && ws.readyState === WebSocket.OPEN; i++) ws.send(i % 2 === 0 ? next() : next().toString('latin1'));
      ws.close();
    }
    udp.close();
    await new Promise((r) => setTimeout(r, 500));
    const rssAfter = process.memoryUsage().rss;
    assert.ok(rssAfter - rssBefore < 200 * 1024 * 1024, `memory grew by ${Math.round((rssAfter - rssBefore) / 1048576)} MiB`);
    assert.equal(ctx.t.server.telephony.stack.transactionCount < 60_000, true);

    // Still serving: two real phones register and call each other.
    const ext = async (name: string) => (await createUser(ctx.t, ctx.token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` })).extension as { id: string; number: number; secret: string };
    const [a, b] = [await ext('After Fuzz A'), await ext('After Fuzz B')];
    const proxy = `127.0.0.1:${port}`;
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual' });
    const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto' });
    try {
      const location = ctx.t.server.telephony.location;
      for (let i = 0; i < 250 && (location.lookup(a.id).length === 0 || location.lookup(b.id).length === 0); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(location.lookup(b.id).length, 1, 'registered after the fuzzing');
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      await Promise.all([phoneA.waitFor('CALL_ESTABLISHED'), phoneB.waitFor('CALL_ESTABLISHED')]);
      phoneA.command('hangup');
      await phoneB.waitFor('CALL_CLOSED');
    } finally {
      await Promise.all([phoneA.stop(), phoneB.stop()]);
    }
  });
});
