// The ng control protocol's client (src/media/rtpengine/ng-client.ts) against a UDP peer of the test's own: a
// command unanswered is sent again and then given up with a clear error; a reply to a retransmission (rtpengine
// answers those from its cookie cache) settles the command once; a loop too busy to read its socket before its
// retry timer fires reads the waiting reply first.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import { decode, encode } from '../../src/media/rtpengine/bencode.ts';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';

/** A peer that hands each datagram (cookie, command) to `answer`, which says what to reply, if anything. */
async function peer(answer: (cookie: string, n: number) => Record<string, string> | undefined): Promise<{ port: number; received: () => number; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  let n = 0;
  socket.on('message', (msg, rinfo) => {
    n++;
    const space = msg.indexOf(0x20);
    const cookie = msg.subarray(0, space).toString();
    decode(msg.subarray(space + 1));
    const reply = answer(cookie, n);
    if (reply) socket.send(Buffer.concat([Buffer.from(`${cookie} `), encode(reply)]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { port: (socket.address() as { port: number }).port, received: () => n, close: () => socket.close() };
}

describe('the ng client', () => {
  const closers: Array<() => void> = [];
  after(() => closers.forEach((c) => c()));

  it('a command nobody answers is sent `attempts` times, then rejected naming the command', async () => {
    const silent = await peer(() => undefined);
    closers.push(silent.close);
    const client = await NgClient.connect({ host: '127.0.0.1', port: silent.port, retryMs: 50, attempts: 3 });
    closers.push(() => client.close());
    await assert.rejects(client.request('offer', { 'call-id': 'x' }), /no answer from rtpengine .* to 'offer'/);
    assert.equal(silent.received(), 3);
  });

  it('a reply to the second sending settles the command once', async () => {
    const late = await peer((_cookie, n) => (n >= 2 ? { result: 'pong' } : undefined));
    closers.push(late.close);
    const client = await NgClient.connect({ host: '127.0.0.1', port: late.port, retryMs: 50, attempts: 3 });
    closers.push(() => client.close());
    assert.equal((await client.request('ping')).result, 'pong');
  });

  it('a reply waiting unread while the loop was blocked past the command\'s deadline is read before the command is given up', async () => {
    // The peer is another process, so that it answers while this one is blocked: 100 ms after each command.
    const child = spawn(process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4');
      s.on('message', (m, r) => setTimeout(() => s.send(Buffer.concat([m.subarray(0, m.indexOf(32) + 1), Buffer.from('d6:result4:ponge')]), r.port, r.address), 100));
      s.bind(0, '127.0.0.1', () => console.log(s.address().port));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    closers.push(() => child.kill('SIGKILL'));
    const port = Number(await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
    const client = await NgClient.connect({ host: '127.0.0.1', port, retryMs: 1000, attempts: 1 });
    closers.push(() => client.close());
    const answer = client.request('ping');
    await new Promise((r) => setTimeout(r, 20));
    // The loop is held past the command's only deadline, as a busy server's may be (in a callback of its I/O, after
    // which the next turn runs its timers before it reads sockets); the reply arrives meanwhile.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        const until = Date.now() + 1500;
        while (Date.now() < until) {
          // busy
        }
        resolve();
      }),
    );
    assert.equal((await answer).result, 'pong');
  });
});
