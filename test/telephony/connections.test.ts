// Connections phones open to the server, with real sockets against the real server: a connection that never
// completes a SIP message, or leaves one half-sent, is closed after PBX_SIP_MESSAGE_TIMEOUT; one source address
// opens at most PBX_SIP_MAX_CONNECTIONS_PER_ADDRESS at once; and a phone registered over TCP that only sends
// double-CRLF keepalives (RFC 5626 section 4.4.1) is answered with a CRLF each time and keeps its connection and
// its binding. Over TLS the same holds, a handshake never finished included.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import WebSocket from 'ws';
import { createUser, useTestServer } from '../support/server.ts';
import { eventually, sleep, until } from '../support/wait.ts';

const CAP = 4;

/** A raw TCP connection to the server's SIP port, with what it received and whether the server closed it. */
class Peer {
  readonly socket: net.Socket;
  received = '';
  closed = false;
  private readonly connected: Promise<void>;

  constructor(port: number, secure = false) {
    this.socket = secure ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    this.connected = new Promise((resolve) => this.socket.once(secure ? 'secureConnect' : 'connect', () => resolve()));
    this.socket.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => {});
  }

  ready(): Promise<void> {
    return this.connected;
  }

  get port(): number {
    return this.socket.localPort as number;
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** The next answer with this Call-ID (the whole response, headers only). */
  answer(callId: string): Promise<string> {
    return eventually(`an answer to ${callId}`, () => {
      const at = this.received.indexOf(`Call-ID: ${callId}\r\n`);
      if (at < 0) return undefined;
      const start = this.received.lastIndexOf('SIP/2.0 ', at);
      const end = this.received.indexOf('\r\n\r\n', at);
      return end < 0 ? undefined : this.received.slice(start, end);
    });
  }

  gone(): Promise<boolean> {
    return until('the server to close the connection', () => this.closed, (c) => c);
  }

  end(): void {
    this.socket.destroy();
  }
}

let sequence = 0;
function options(peer: Peer): { text: string; callId: string } {
  const callId = `conn-${++sequence}`;
  return {
    callId,
    text:
      `OPTIONS sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${peer.port};branch=z9hG4bK${callId}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:probe@pbx.test>;tag=${callId}\r\nTo: <sip:pbx.test>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  };
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function register(peer: Peer, number: number, cseq: number, authorization?: string): { text: string; callId: string } {
  const callId = `reg-${number}`;
  return {
    callId,
    text:
      `REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${peer.port};branch=z9hG4bKreg${cseq}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:${number}@pbx.test>;tag=r${number}\r\nTo: <sip:${number}@pbx.test>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\n` +
      `Contact: <sip:${number}@127.0.0.1:${peer.port};transport=tcp>\r\nExpires: 600\r\n` +
      `${authorization ? `Authorization: ${authorization}\r\n` : ''}Content-Length: 0\r\n\r\n`,
  };
}

describe('connections phones open over TCP and WebSocket', () => {
  const ctx = useTestServer('pglite', { sipMessageTimeoutSeconds: 1, sipMaxConnectionsPerAddress: CAP });
  const sipPort = () => ctx.t.server.sipPort;

  it('a connection that never completes a message, or leaves one half-sent, is closed after the message timeout', async () => {
    const silent = new Peer(sipPort());
    const half = new Peer(sipPort());
    const pinging = new Peer(sipPort());
    const later = new Peer(sipPort());
    await Promise.all([silent.ready(), half.ready(), pinging.ready(), later.ready()]);
    try {
      half.send(options(half).text.slice(0, 60));
      // Keepalives are no message: a connection that only pings has still sent nothing.
      pinging.send('\r\n\r\n');
      const first = options(later);
      later.send(first.text);
      assert.match(await later.answer(first.callId), /^SIP\/2\.0 200 /);
      later.send(options(later).text.slice(0, 40));
      await Promise.all([silent.gone(), half.gone(), pinging.gone(), later.gone()]);
      assert.equal(pinging.received, '\r\n', 'the ping was answered before the connection was closed');
    } finally {
      for (const p of [silent, half, pinging, later]) p.end();
    }
  });

  it('a WebSocket that carries no SIP message is closed after the message timeout; a double CRLF gets its CRLF', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ctx.t.server.port}/sip`, 'sip');
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(d.toString()));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('\r\n\r\n');
    await until('the pong', () => frames.length, (n) => n === 1);
    assert.deepEqual(frames, ['\r\n']);
    await closed;
  });

  it(`one address opens at most ${CAP} connections at once; the next is closed at once, and a freed place is taken again`, async () => {
    const peers: Peer[] = [];
    try {
      for (let i = 0; i < CAP; i++) {
        const peer = new Peer(sipPort());
        peers.push(peer);
        await peer.ready();
        const probe = options(peer);
        peer.send(probe.text);
        assert.match(await peer.answer(probe.callId), /^SIP\/2\.0 200 /);
      }
      const refused = new Peer(sipPort());
      peers.push(refused);
      await refused.gone();
      assert.equal(refused.received, '', 'nothing was answered on the refused connection');

      (peers[0] as Peer).end();
      await (peers[0] as Peer).gone();
      // The server hears the close a moment after the peer: try until a connection is kept.
      const again = await until('a connection accepted again', async () => {
        const peer = new Peer(sipPort());
        peers.push(peer);
        await peer.ready();
        const probe = options(peer);
        peer.send(probe.text);
        const answered = await Promise.race([peer.answer(probe.callId).then(() => true), peer.gone().then(() => false)]);
        return answered ? peer : undefined;
      }, (peer) => peer !== undefined);
      assert.equal(again?.closed, false);
    } finally {
      for (const p of peers) p.end();
    }
  });

  it('a phone registered over TCP that only sends double-CRLF keepalives keeps its connection and its binding', async () => {
    const user = await createUser(ctx.t, ctx.token, { name: 'Keepalive Phone', email: 'keepalive@example.com' });
    const ext = user.extension as { id: string; number: number; secret: string };
    const phone = new Peer(sipPort());
    const bait = new Peer(sipPort());
    try {
      await phone.ready();
      const first = register(phone, ext.number, 1);
      phone.send(first.text);
      const challenge = await phone.answer(first.callId);
      assert.match(challenge, /^SIP\/2\.0 401 /);
      const realm = /realm="([^"]+)"/.exec(challenge)?.[1] as string;
      const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] as string;
      const ha1 = md5(`${ext.number}:${realm}:${ext.secret}`);
      const response = md5(`${ha1}:${nonce}:00000001:c0ffee:auth:${md5('REGISTER:sip:pbx.test')}`);
      phone.received = '';
      const second = register(phone, ext.number, 2, `Digest username="${ext.number}", realm="${realm}", nonce="${nonce}", uri="sip:pbx.test", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`);
      phone.send(second.text);
      assert.match(await phone.answer(second.callId), /^SIP\/2\.0 200 /);
      assert.equal(ctx.t.server.telephony.location.lookup(ext.id)[0]?.transport, 'TCP');

      // A connection opened after the registration that sends half a message is reaped; the phone, pinging all the
      // while, outlives it.
      phone.received = '';
      await bait.ready();
      bait.send(options(bait).text.slice(0, 50));
      let pings = 0;
      await until('the half-sent connection to be reaped', async () => {
        phone.send('\r\n\r\n');
        pings++;
        await sleep(200);
        return bait.closed;
      }, (closed) => closed);
      await until('every pong', () => phone.received, (r) => r === '\r\n'.repeat(pings));
      assert.equal(phone.closed, false, 'the registered connection is kept');
      assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 1, 'and so is its binding');
      const probe = options(phone);
      phone.send(probe.text);
      assert.match(await phone.answer(probe.callId), /^SIP\/2\.0 200 /);
    } finally {
      phone.end();
      bait.end();
    }
  });
});

// A certificate for the test, made with openssl before the server starts.
const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tls-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=pbx.test'], { stdio: 'ignore' });
after(() => fs.rmSync(certDir, { recursive: true, force: true }));

describe('connections phones open over TLS', () => {
  const ctx = useTestServer('pglite', {
    sipTlsCert: path.join(certDir, 'cert.pem'),
    sipTlsKey: path.join(certDir, 'key.pem'),
    sipTlsPort: 0,
    sipMessageTimeoutSeconds: 1,
    sipMaxConnectionsPerAddress: 2,
  });
  const tlsPort = () => ctx.t.server.telephony.stack.transport('TLS')?.port as number;

  it('a connection that never finishes its handshake, or sends nothing after it, is closed after the message timeout', async () => {
    const noHandshake = new Peer(tlsPort());
    const silent = new Peer(tlsPort(), true);
    try {
      await silent.ready();
      await Promise.all([noHandshake.gone(), silent.gone()]);
    } finally {
      noHandshake.end();
      silent.end();
    }
  });

  it('one address opens at most 2 connections at once; the next is closed before its handshake', async () => {
    const peers: Peer[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const peer = new Peer(tlsPort(), true);
        peers.push(peer);
        await peer.ready();
        const probe = options(peer);
        peer.send(probe.text.replace('SIP/2.0/TCP', 'SIP/2.0/TLS'));
        assert.match(await peer.answer(probe.callId), /^SIP\/2\.0 200 /);
      }
      const refused = new Peer(tlsPort(), true);
      peers.push(refused);
      let secured = false;
      refused.socket.once('secureConnect', () => (secured = true));
      await refused.gone();
      assert.equal(secured, false);
    } finally {
      for (const p of peers) p.end();
    }
  });
});
