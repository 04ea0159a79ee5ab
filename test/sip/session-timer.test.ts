// Session timers (RFC 4028), the negotiation in the RFC's words: Session-Expires and Min-SE are read with their
// parameters; a UAS refuses an interval below its Min-SE with 422 (section 8.1); it keeps a UAC's interval and
// refresher when the UAC supports the extension, and may only be the refresher itself when the UAC does not
// (section 9); the side that does not refresh gives up before the interval runs out (section 10).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expiryMs, negotiateAsUas, readMinSE, readSessionExpires, SessionTimer, sessionTimerAnswer, sessionTimerOffer, SipHeaders } from '../../src/sip/index.ts';

const policy = { sessionExpires: 1800, minSE: 90 };

function headers(...fields: Array<[string, string]>): SipHeaders {
  const h = new SipHeaders();
  for (const [name, value] of fields) h.add(name, value);
  return h;
}

describe('session timers (RFC 4028)', () => {
  it('reads Session-Expires with its refresher parameter, and Min-SE', () => {
    assert.deepEqual(readSessionExpires(headers(['Session-Expires', '4000;refresher=uac'])), { interval: 4000, refresher: 'uac' });
    assert.deepEqual(readSessionExpires(headers(['Session-Expires', '120 ; Refresher = UAS'])), { interval: 120, refresher: 'uas' });
    assert.deepEqual(readSessionExpires(headers(['Session-Expires', '90'])), { interval: 90, refresher: undefined });
    assert.equal(readSessionExpires(headers(['Session-Expires', 'soon'])), undefined);
    assert.equal(readSessionExpires(headers()), undefined);
    assert.equal(readMinSE(headers(['Min-SE', '90'])), 90);
  });

  it('a UAC asks for the timer with Supported: timer, Session-Expires and Min-SE (section 7.1), and not at all when off', () => {
    assert.deepEqual(sessionTimerOffer(policy), [['Supported', 'timer'], ['Session-Expires', '1800'], ['Min-SE', '90']]);
    assert.deepEqual(sessionTimerOffer({ sessionExpires: 0, minSE: 90 }), []);
  });

  it('a UAS MUST answer 422 with its Min-SE when the Session-Expires asked for is smaller (section 8.1)', () => {
    assert.deepEqual(negotiateAsUas(headers(['Supported', 'timer'], ['Session-Expires', '60']), policy, true), { reject: 90 });
  });

  it("a UAS keeps the UAC's interval and refresher when the UAC supports the extension, and requires the timer in its 2xx (section 9)", () => {
    const decision = negotiateAsUas(headers(['Supported', 'timer'], ['Session-Expires', '600;refresher=uas']), policy, false);
    assert.deepEqual(decision, { interval: 600, refresher: 'uas', require: true });
    assert.deepEqual(sessionTimerAnswer(decision), [['Session-Expires', '600;refresher=uas'], ['Require', 'timer']]);
  });

  it('a UAS that lowers the interval never goes below the Min-SE of the request; with no refresher asked, the UAC refreshes', () => {
    assert.deepEqual(negotiateAsUas(headers(['Supported', 'timer'], ['Session-Expires', '7200'], ['Min-SE', '3600']), policy, true), { interval: 3600, refresher: 'uac', require: true });
    assert.deepEqual(negotiateAsUas(headers(['Supported', 'timer'], ['Session-Expires', '7200']), policy, true), { interval: 1800, refresher: 'uac', require: true });
  });

  it('a UAC that does not support the extension gets refresher=uas without Require, only when the UAS can refresh (section 9)', () => {
    assert.deepEqual(negotiateAsUas(headers(['Allow', 'INVITE, UPDATE']), policy, true), { interval: 1800, refresher: 'uas', require: false });
    assert.deepEqual(sessionTimerAnswer({ interval: 1800, refresher: 'uas', require: false }), [['Session-Expires', '1800;refresher=uas']]);
    assert.deepEqual(negotiateAsUas(headers(), policy, false), { interval: 0 });
    assert.deepEqual(sessionTimerAnswer({ interval: 0 }), []);
  });

  it('the side that does not refresh sends BYE at the interval less the smaller of 32 s and a third of it (section 10)', () => {
    assert.equal(expiryMs(1800), 1768_000);
    assert.equal(expiryMs(90), 60_000);
  });

  it('the refresher is told at half the interval, the other side when no refresh came; a stopped timer tells nobody', async () => {
    const fired: string[] = [];
    // Created first with the same interval, a stopped timer would fire before the other side's: by then it did not.
    const stopped = new SessionTimer(0.2, false, { onRefresh: () => fired.push('stopped'), onExpired: () => fired.push('stopped') });
    stopped.stop();
    let refreshed!: () => void;
    let expired!: () => void;
    const both = Promise.all([new Promise<void>((r) => (refreshed = r)), new Promise<void>((r) => (expired = r))]);
    const refresher = new SessionTimer(0.2, true, { onRefresh: () => (fired.push('refresh'), refreshed()), onExpired: () => fired.push('wrong') });
    const other = new SessionTimer(0.2, false, { onRefresh: () => fired.push('wrong'), onExpired: () => (fired.push('expired'), expired()) });
    // The timers do not hold the process open (unref): the test does while it waits.
    const hold = setInterval(() => {}, 1000);
    await both.finally(() => clearInterval(hold));
    assert.deepEqual(fired, ['refresh', 'expired']);
    refresher.stop();
    other.stop();
  });
});
