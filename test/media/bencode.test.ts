// Bencode as rtpengine's ng protocol uses it: round trips, sorted dictionary keys, UTF-8 strings by byte length,
// and malformed input refused with an error, never a crash.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BencodeError, decode, encode } from '../../src/media/rtpengine/bencode.ts';

describe('bencode', () => {
  it('encodes the forms of the ng protocol, dictionary keys sorted', () => {
    assert.equal(encode({ command: 'ping' }).toString(), 'd7:command4:pinge');
    assert.equal(encode({ b: 1, a: ['x', -2] }).toString(), 'd1:al1:xi-2ee1:bi1ee');
    assert.equal(encode('héllo').toString('latin1'), '6:h\xc3\xa9llo', 'a string counts its bytes');
  });

  it('decodes what it encodes', () => {
    const value = { sdp: 'v=0\r\nm=audio 40000 RTP/AVP 0\r\n', flags: ['trust-address', 'symmetric'], 'port-min': 40000, nested: { deep: [1, 'two', { three: 3 }] } };
    assert.deepEqual(decode(encode(value)), value);
  });

  it('decodes a real rtpengine answer', () => {
    assert.deepEqual(decode(Buffer.from('d6:result4:ponge')), { result: 'pong' });
  });

  for (const bad of ['', 'i12', 'i1.5e', '5:abc', 'd3:keye', 'l', 'di1ei2ee', '4:spamx', 'x', '-1:a']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => decode(Buffer.from(bad)), BencodeError);
    });
  }

  it('refuses nesting past 64 levels instead of exhausting the stack', () => {
    assert.throws(() => decode(Buffer.from('l'.repeat(10_000) + 'e'.repeat(10_000))), /nested too deep/);
  });
});
