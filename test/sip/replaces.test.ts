// RFC 3891 section 6.1: the Replaces header, and RFC 5589 section 7: Replaces carried as a header of a Refer-To URI.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReplaces, replacesOfReferTo } from '../../src/sip/index.ts';

describe('Replaces (RFC 3891)', () => {
  it('section 6.1: callid with to-tag and from-tag, in any order, early-only as a flag', () => {
    assert.deepEqual(parseReplaces('425928@bobster.example.org;to-tag=7743;from-tag=6472'), { callId: '425928@bobster.example.org', toTag: '7743', fromTag: '6472', earlyOnly: false });
    assert.deepEqual(parseReplaces('abc ; from-tag = f ; TO-TAG = t ; early-only'), { callId: 'abc', toTag: 't', fromTag: 'f', earlyOnly: true });
  });

  it('a Replaces without both tags names no dialog', () => {
    assert.equal(parseReplaces('abc;to-tag=t'), undefined);
    assert.equal(parseReplaces(';to-tag=t;from-tag=f'), undefined);
  });

  it('RFC 5589 section 7: the Replaces of a Refer-To URI, escaped as a URI header', () => {
    assert.deepEqual(replacesOfReferTo('<sip:1002@pbx.test?Replaces=a1b2%40host%3Bto-tag%3Dx%3Bfrom-tag%3Dy>'), { callId: 'a1b2@host', toTag: 'x', fromTag: 'y', earlyOnly: false });
    assert.deepEqual(replacesOfReferTo('<sip:1002@pbx.test?Require=replaces&Replaces=c%3Bfrom-tag%3Df%3Bto-tag%3Dt>'), { callId: 'c', toTag: 't', fromTag: 'f', earlyOnly: false });
  });

  it('a Refer-To without Replaces is a blind transfer; one with an unreadable Replaces is invalid', () => {
    assert.equal(replacesOfReferTo('<sip:1002@pbx.test>'), 'absent');
    assert.equal(replacesOfReferTo('sip:1002@pbx.test'), 'absent');
    assert.equal(replacesOfReferTo('<sip:1002@pbx.test?Replaces=%E0%A4%A>'), 'invalid');
    assert.equal(replacesOfReferTo('<sip:1002@pbx.test?Replaces=only-a-call-id>'), 'invalid');
  });
});
