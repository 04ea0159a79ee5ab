// The media descriptions of the PBX's own side (a caller answered by the PBX, a click-to-call's first leg): answers
// as RFC 3264 section 6 asks them, and an offer narrowed to what its answer accepted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { narrowOffer, silentAnswer, silentOffer } from '../../src/media/index.ts';

const BROWSER_LIKE = [
  'v=0',
  'o=- 1 2 IN IP4 192.0.2.1',
  's=-',
  'c=IN IP4 192.0.2.1',
  't=0 0',
  'm=audio 4000 RTP/AVP 111 0 8 101',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtcp-fb:111 transport-cc',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  'a=rtcp-mux',
  'm=video 4002 RTP/AVP 96',
  'a=rtpmap:96 VP8/90000',
  '',
].join('\r\n');

describe('the PBX side of a call: silent offers and answers (RFC 3264)', () => {
  it('an answer accepts audio with G.711 before any other codec, keeps telephone-event, and refuses video with port 0', () => {
    const answer = silentAnswer(BROWSER_LIKE);
    assert.match(answer, /^m=audio 9 RTP\/AVP 0 101$/m);
    assert.match(answer, /^a=rtpmap:0 PCMU\/8000$/m);
    assert.match(answer, /^a=fmtp:101 0-16$/m);
    assert.doesNotMatch(answer, /opus/);
    assert.match(answer, /^m=video 0 RTP\/AVP 96$/m);
    assert.match(answer, /^a=rtcp-mux$/m);
    // One m= line per offered stream, in order (rfc3264#section-6).
    assert.equal(answer.match(/^m=/gm)?.length, 2);
  });

  it('an answer mirrors the offer\'s direction; without G.711 it takes the first voice codec', () => {
    const sendonly = BROWSER_LIKE.replace('a=sendrecv', 'a=sendonly');
    assert.match(silentAnswer(sendonly), /^a=recvonly$/m);
    const opusOnly = BROWSER_LIKE.replace('m=audio 4000 RTP/AVP 111 0 8 101', 'm=audio 4000 RTP/AVP 101 111');
    assert.match(silentAnswer(opusOnly), /^m=audio 9 RTP\/AVP 111 101$/m);
  });

  it('an offer narrowed to its answer keeps only the formats answered, with their attributes', () => {
    const narrowed = narrowOffer(BROWSER_LIKE, silentAnswer(BROWSER_LIKE));
    assert.match(narrowed, /^m=audio 4000 RTP\/AVP 0 101$/m);
    assert.doesNotMatch(narrowed, /opus|transport-cc|PCMA/);
    assert.match(narrowed, /^a=fmtp:101 0-16$/m);
    assert.match(narrowed, /^c=IN IP4 192\.0\.2\.1$/m, 'the rest stays');
    // A refused stream is left as it was.
    assert.match(narrowed, /^m=video 4002 RTP\/AVP 96$/m);
  });

  it('the PBX offers G.711 and telephone-event', () => {
    const offer = silentOffer();
    assert.match(offer, /^m=audio 9 RTP\/AVP 0 8 101$/m);
    assert.match(offer, /^a=sendrecv$/m);
  });
});
