// The pieces of a recording: G.711 decoding (ITU-T G.711's table values), the pcap reader (raw IP, as rtpengine
// writes it, and a file cut short), the mixdown (each party a channel, in step by capture time, gaps kept), and the
// vault (AES-256-GCM: a rotated key still reads older files, a changed byte is refused).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { mixdown, readPcap, RecordingVault } from '../../src/media/index.ts';
import { alawToLinear, ulawToLinear } from '../../src/media/recording/mixdown.ts';

function pcap(packets: Array<{ timeMs: number; from: number; to: number; payload: Buffer }>): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(101, 20);
  const records = packets.map((p) => {
    const ip = Buffer.alloc(28);
    ip[0] = 0x45;
    ip[9] = 17;
    ip.writeUInt16BE(p.from, 20);
    ip.writeUInt16BE(p.to, 22);
    const frame = Buffer.concat([ip, p.payload]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(p.timeMs / 1000), 0);
    rec.writeUInt32LE((p.timeMs % 1000) * 1000, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  });
  return Buffer.concat([header, ...records]);
}

function rtp(payloadType: number, samples: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = payloadType;
  return Buffer.concat([h, samples]);
}

describe('recording pieces', () => {
  it('decodes G.711 as the ITU tables say', () => {
    assert.equal(ulawToLinear(0xff), 0);
    assert.equal(ulawToLinear(0x80), 32124);
    assert.equal(ulawToLinear(0x00), -32124);
    assert.equal(alawToLinear(0xd5), 8);
    assert.equal(alawToLinear(0xaa), 32256);
    assert.equal(alawToLinear(0x2a), -32256);
  });

  it('reads rtpengine\'s raw-IP pcap, and the whole packets of a file cut short', () => {
    const file = pcap([
      { timeMs: 1_000_000, from: 4000, to: 30000, payload: rtp(0, Buffer.alloc(160, 0x80)) },
      { timeMs: 1_000_020, from: 5000, to: 30002, payload: rtp(8, Buffer.alloc(160, 0xaa)) },
    ]);
    const all = readPcap(file);
    assert.deepEqual(all.map((d) => [d.timeMs, d.sourcePort, d.destinationPort, d.payload.length]), [[1_000_000, 4000, 30000, 172], [1_000_020, 5000, 30002, 172]]);
    assert.equal(readPcap(file.subarray(0, file.length - 10)).length, 1);
    assert.throws(() => readPcap(Buffer.alloc(40)), /not a pcap file/);
  });

  it('mixes each party into its channel, in step by time, and keeps a silence as long as it was', () => {
    const packets = [];
    for (let i = 0; i < 50; i++) packets.push({ timeMs: 1_000_000 + i * 20, from: 4000, to: 30000, payload: rtp(0, Buffer.alloc(160, 0x80)) });
    // The callee talks for the second half second only.
    for (let i = 25; i < 50; i++) packets.push({ timeMs: 1_000_000 + i * 20, from: 5000, to: 30002, payload: rtp(8, Buffer.alloc(160, 0xaa)) });
    const m = mixdown(readPcap(pcap(packets)), (port) => (port === 30000 ? 0 : port === 30002 ? 1 : undefined));
    assert.equal(m.durationMs, 1000);
    assert.deepEqual(m.decoded, [50, 25]);
    const frames = (m.wav.length - 44) / 4;
    const right = (i: number) => m.wav.readInt16LE(44 + i * 4 + 2);
    const left = (i: number) => m.wav.readInt16LE(44 + i * 4);
    assert.equal(frames, 8000);
    assert.equal(left(100), 32124);
    assert.equal(right(100), 0, 'the callee was silent at first');
    assert.equal(right(4100), 32256, 'and talks from half a second on');
  });

  it('seals with AES-256-GCM; a rotated key still opens older files; a changed byte is refused', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const plain = Buffer.from('RIFF....WAVEfmt recording');
    const before = new RecordingVault(oldKey).seal(plain);
    assert.equal(before.indexOf(Buffer.from('WAVEfmt')), -1);
    const rotated = new RecordingVault(newKey, [oldKey]);
    assert.deepEqual(rotated.open(before), plain);
    assert.deepEqual(rotated.open(rotated.seal(plain)), plain);
    assert.throws(() => new RecordingVault(newKey).open(before), /not configured/);
    const tampered = Buffer.from(before);
    tampered.writeUInt8((tampered.at(-1) as number) ^ 1, tampered.length - 1);
    assert.throws(() => rotated.open(tampered));
  });
});
