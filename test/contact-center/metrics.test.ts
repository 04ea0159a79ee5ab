// The metrics formulas the README writes out (service level as app_queue computes it and with abandoned calls,
// ASA, AHT, abandon rate, availability, occupancy), checked against values computed by hand for a scripted day.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentFigures, callMetrics, type SessionFigures, timeInStates } from '../../src/contact-center/index.ts';

const SALES = '00000000-0000-4000-8000-000000000001';
const SUPPORT = '00000000-0000-4000-8000-000000000002';
const ANNA = '00000000-0000-4000-8000-0000000000a1';
const BEN = '00000000-0000-4000-8000-0000000000b1';
const at = new Date('2026-11-21T10:00:00Z');

function call(p: Partial<SessionFigures> & { waitS: number; talkS?: number; holdS?: number; wrapS?: number }): SessionFigures {
  const answered = p.status === undefined || p.status === 'COMPLETED';
  return {
    status: p.status ?? 'COMPLETED',
    queueId: p.queueId === undefined ? SALES : p.queueId,
    extensionId: p.extensionId ?? null,
    answeredAt: answered ? at : null,
    waitMs: p.waitS * 1000,
    talkMs: (p.talkS ?? 0) * 1000,
    holdMs: (p.holdS ?? 0) * 1000,
    wrapUpMs: (p.wrapS ?? 0) * 1000,
    disposition: p.disposition ?? null,
  };
}

// The day: Sales has a 20 s threshold, Support 30 s.
//   1. Sales, answered by Anna after 5 s, talk 120 s (30 s of it on hold), wrap-up 30 s, SALE
//   2. Sales, answered by Ben after 25 s, talk 60 s, wrap-up 10 s, NO_SALE
//   3. Sales, answered by Anna after 20 s (exactly the threshold), talk 180 s, wrap-up 20 s, SALE
//   4. Sales, abandoned after 40 s
//   5. Support, answered by Ben after 31 s, talk 90 s, wrap-up 0 s
//   6. Support, abandoned after 8 s
//   7. Support, let go after max wait (MISSED) after 60 s
//   8. Internal call Anna -> Ben, answered after 4 s, talk 30 s
const day: SessionFigures[] = [
  call({ extensionId: ANNA, waitS: 5, talkS: 120, holdS: 30, wrapS: 30, disposition: 'SALE' }),
  call({ extensionId: BEN, waitS: 25, talkS: 60, wrapS: 10, disposition: 'NO_SALE' }),
  call({ extensionId: ANNA, waitS: 20, talkS: 180, wrapS: 20, disposition: 'SALE' }),
  call({ status: 'ABANDONED', waitS: 40 }),
  call({ queueId: SUPPORT, extensionId: BEN, waitS: 31, talkS: 90 }),
  call({ queueId: SUPPORT, status: 'ABANDONED', waitS: 8 }),
  call({ queueId: SUPPORT, status: 'MISSED', waitS: 60 }),
  call({ queueId: null, extensionId: BEN, waitS: 4, talkS: 30 }),
];
const threshold = (queueId: string) => (queueId === SALES ? 20 : 30);

describe('metrics formulas for a scripted day', () => {
  it('counts: 8 calls, 5 answered, 2 abandoned, 1 missed, 7 through a queue', () => {
    const m = callMetrics(day, threshold);
    assert.deepEqual(
      { total: m.totalCalls, answered: m.answeredCalls, abandoned: m.abandonedCalls, missed: m.missedCalls, queued: m.queueCalls },
      { total: 8, answered: 5, abandoned: 2, missed: 1, queued: 7 },
    );
  });

  it("service level as app_queue computes it: answered within the threshold / answered x 100 = 2/4 = 50 %", () => {
    // Within: call 1 (5 <= 20) and call 3 (20 <= 20); not call 2 (25 > 20) nor call 5 (31 > 30).
    const m = callMetrics(day, threshold);
    assert.equal(m.answeredWithinThreshold, 2);
    assert.equal(m.serviceLevel, 50);
  });

  it('service level counting abandoned calls: 2 / (4 answered + 2 abandoned) x 100 = 33.33 %', () => {
    assert.equal(callMetrics(day, threshold).serviceLevelWithAbandoned, 33.33);
  });

  it('abandon rate: 2 abandoned / 7 queue calls x 100 = 28.57 %', () => {
    assert.equal(callMetrics(day, threshold).abandonRate, 28.57);
  });

  it('ASA = (5 + 25 + 20 + 31 + 4) / 5 = 17 s; mean abandon wait (40 + 8) / 2 = 24 s', () => {
    const m = callMetrics(day, threshold);
    assert.equal(m.avgWaitTime, 17);
    assert.equal(m.avgAbandonWait, 24);
  });

  it('talk (hold included) = (120 + 60 + 180 + 90 + 30) / 5 = 96 s; hold 6 s; wrap-up 12 s; AHT = 96 + 12 = 108 s', () => {
    const m = callMetrics(day, threshold);
    assert.equal(m.avgCallDuration, 96);
    assert.equal(m.avgHoldTime, 6);
    assert.equal(m.avgWrapUpTime, 12);
    assert.equal(m.avgHandleTime, 108);
  });

  it('a queue of its own: Support has 1 of 1 answered calls over its 30 s threshold (0 %), 2 of 3 lost', () => {
    const m = callMetrics(day.filter((r) => r.queueId === SUPPORT), threshold);
    assert.equal(m.serviceLevel, 0);
    assert.equal(m.serviceLevelWithAbandoned, 0);
    assert.equal(m.abandonRate, 33.33);
  });

  it('no calls: service level 100 % (nothing missed), rates 0, averages 0', () => {
    const m = callMetrics([], threshold);
    assert.deepEqual([m.serviceLevel, m.serviceLevelWithAbandoned, m.abandonRate, m.avgWaitTime, m.avgHandleTime], [100, 100, 0, 0, 0]);
  });

  it("time in states: an agent's day from its activity log, clipped to the period", () => {
    const h = (hh: number, mm = 0) => new Date(Date.UTC(2026, 10, 21, hh, mm));
    // OFFLINE until 09:00, AVAILABLE, a call 10:00-10:30 (BUSY) then WRAP_UP to 10:40, AVAILABLE, AWAY (lunch)
    // 12:00-13:00, AVAILABLE until 17:00, OFFLINE. The period: 08:00 to 18:00.
    const spent = timeInStates('OFFLINE', [
      { at: h(9), to: 'AVAILABLE' },
      { at: h(9, 59), to: 'RINGING' },
      { at: h(10), to: 'BUSY' },
      { at: h(10, 30), to: 'WRAP_UP' },
      { at: h(10, 40), to: 'AVAILABLE' },
      { at: h(12), to: 'AWAY' },
      { at: h(13), to: 'AVAILABLE' },
      { at: h(17), to: 'OFFLINE' },
    ], h(8), h(18));
    const min = (ms: number) => ms / 60_000;
    assert.deepEqual(
      { OFFLINE: min(spent.OFFLINE), AVAILABLE: min(spent.AVAILABLE), RINGING: min(spent.RINGING), BUSY: min(spent.BUSY), WRAP_UP: min(spent.WRAP_UP), AWAY: min(spent.AWAY) },
      { OFFLINE: 120, AVAILABLE: 59 + 80 + 240, RINGING: 1, BUSY: 30, WRAP_UP: 10, AWAY: 60 },
    );
    // Logged in 8 h (480 min), 60 of them AWAY: availability 420/480 = 87.5 %.
    // Ready or working 420 min, 40 of them BUSY or WRAP_UP: occupancy 40/420 = 9.52 %.
    const anna = agentFigures(day.filter((r) => r.extensionId === ANNA), spent);
    assert.equal(anna.availability, 87.5);
    assert.equal(anna.occupancy, 9.52);
    assert.equal(anna.callsHandled, 2);
    assert.deepEqual(anna.callsByDisposition, { SALE: 2 });
    assert.equal(anna.avgCallDuration, 150);
    assert.equal(anna.avgWrapUpTime, 25);
    assert.equal(anna.avgHandleTime, 175);
    assert.equal(anna.timeInStatus.AWAY, 3600);
  });

  it('the state at the start of the period counts from the start; a change before it is clipped', () => {
    const h = (hh: number) => new Date(Date.UTC(2026, 10, 21, hh));
    const spent = timeInStates('AVAILABLE', [{ at: h(7), to: 'AWAY' }, { at: h(9), to: 'AVAILABLE' }], h(8), h(10));
    assert.equal(spent.AVAILABLE, 3_600_000);
    assert.equal(spent.AWAY, 3_600_000);
  });
});
