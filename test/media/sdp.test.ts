// Reading and trimming media descriptions: telephone-event taken out of an SDP for a party that takes DTMF as tones
// only (RFC 4733 section 7.1.1 names the format; RFC 4566 section 5.14 the m= line it leaves).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withoutTelephoneEvent } from '../../src/media/index.ts';

const CARRIER = [
  'v=0',
  'o=carrier 1 1 IN IP4 192.0.2.5',
  's=-',
  'c=IN IP4 192.0.2.5',
  't=0 0',
  'm=audio 4000 RTP/AVP 0 8 101 13',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=rtpmap:13 CN/8000',
  'a=sendrecv',
  'm=video 4002 RTP/AVP 96',
  'a=rtpmap:96 VP8/90000',
  '',
].join('\r\n');

describe('SDP without telephone-event', () => {
  it('drops telephone-event\'s payload type from the m= line with its rtpmap and fmtp, and keeps everything else as it was', () => {
    const out = withoutTelephoneEvent(CARRIER);
    assert.equal(out, CARRIER.replace('RTP/AVP 0 8 101 13', 'RTP/AVP 0 8 13').replace('a=rtpmap:101 telephone-event/8000\r\n', '').replace('a=fmtp:101 0-16\r\n', ''));
  });

  it('drops every telephone-event rate (8000 and 48000 Hz) and its feedback lines, and keeps a lone LF line ending', () => {
    const sdp = ['v=0', 'm=audio 101 RTP/SAVPF 111 110 126', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:110 telephone-event/48000', 'a=rtpmap:126 telephone-event/8000', 'a=rtcp-fb:110 nack', 'a=fmtp:126 0-15', ''].join('\n');
    assert.equal(withoutTelephoneEvent(sdp), ['v=0', 'm=audio 101 RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', ''].join('\n'));
  });

  it('leaves an SDP without telephone-event, and a stream that offers nothing else, as they are', () => {
    const plain = withoutTelephoneEvent(CARRIER);
    assert.equal(withoutTelephoneEvent(plain), plain);
    const only = ['v=0', 'm=audio 4000 RTP/AVP 101', 'a=rtpmap:101 telephone-event/8000', ''].join('\r\n');
    assert.equal(withoutTelephoneEvent(only), only);
  });
});
