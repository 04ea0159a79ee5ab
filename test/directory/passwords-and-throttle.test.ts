// Web passwords are scrypt hashes that verify only the right password; failed logins are counted per key over a
// sliding window, and memory stays bounded whatever an attacker sends.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, LoginThrottle, verifyPassword } from '../../src/directory/index.ts';

describe('scrypt passwords', () => {
  it('a hash verifies its password only, and names its parameters', async () => {
    const stored = await hashPassword('correct horse');
    assert.match(stored, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.equal(await verifyPassword('correct horse', stored), true);
    assert.equal(await verifyPassword('correct horsE', stored), false);
    assert.notEqual(await hashPassword('correct horse'), stored, 'salted');
  });

  it('no hash, or an unreadable one, never verifies', async () => {
    assert.equal(await verifyPassword('anything', null), false);
    assert.equal(await verifyPassword('anything', 'plain-text'), false);
    assert.equal(await verifyPassword('', ''), false);
  });
});

describe('login throttle', () => {
  // A clock the tests move by hand; failing an attempt is admitting it and never calling succeeded().
  function throttleAt(options: { limit?: number; windowMs?: number; maxKeys?: number } = {}) {
    const clock = { now: 1_000_000 };
    const throttle = new LoginThrottle({ limit: 3, windowMs: 60_000, ...options, now: () => clock.now });
    const fail = (account: string, address: string) => assert.equal(throttle.admit(account, address).admitted, true);
    const refused = (account: string, address: string) => {
      const a = throttle.admit(account, address);
      return a.admitted ? undefined : { reason: a.reason, retryAfter: a.retryAfter };
    };
    return { clock, throttle, fail, refused };
  }

  it('refuses an (account, address) pair after the limit within the window, and frees it when the window has passed', () => {
    const { clock, fail, refused } = throttleAt();
    for (let i = 0; i < 3; i++) fail('acct:1', 'a');
    assert.deepEqual(refused('acct:1', 'a'), { reason: 'pair', retryAfter: 60 });
    clock.now += 30_000;
    assert.deepEqual(refused('acct:1', 'a'), { reason: 'pair', retryAfter: 30 });
    clock.now += 30_001;
    assert.equal(refused('acct:1', 'a'), undefined);
  });

  it("an address failing on one account does not lock the account's owner out from another address", () => {
    const { clock, throttle, fail, refused } = throttleAt();
    for (let i = 0; i < 3; i++) fail('acct:owner', 'attacker');
    for (let i = 0; i < 20; i++) assert.equal(refused('acct:owner', 'attacker')?.reason, 'pair');
    // The account is slowed (one attempt a second now), never closed: after the wait the owner is let in.
    const wait = refused('acct:owner', 'home');
    assert.deepEqual(wait, { reason: 'account', retryAfter: 1 });
    clock.now += 1000;
    const owner = throttle.admit('acct:owner', 'home');
    assert.ok(owner.admitted);
    owner.succeeded();
  });

  it('an address spraying many accounts is refused once it has failed three times the pair limit', () => {
    const { fail, refused } = throttleAt();
    for (let i = 0; i < 9; i++) fail(`acct:${i}`, 'sprayer');
    assert.equal(refused('acct:99', 'sprayer')?.reason, 'address');
    assert.equal(refused('acct:99', 'elsewhere'), undefined, 'other addresses are not affected');
  });

  it('failures on an account from many addresses meet a delay that doubles from 1 s up to 8 s, and never a lock', () => {
    const { clock, fail, refused } = throttleAt();
    for (let i = 0; i < 3; i++) fail('acct:1', `bot-${i}`);
    const delays: number[] = [];
    for (let i = 3; i < 12; i++) {
      const refusal = refused('acct:1', `bot-${i}`);
      assert.equal(refusal?.reason, 'account');
      delays.push(refusal.retryAfter);
      clock.now += refusal.retryAfter * 1000;
      fail('acct:1', `bot-${i}`);
    }
    assert.deepEqual(delays, [1, 2, 4, 8, 8, 8, 8, 8, 8]);
    assert.equal(refused('acct:2', 'bot-0'), undefined, 'other accounts are not slowed');
  });

  it("the account's usual address (its last successful login) is not slowed by failures elsewhere", () => {
    const { throttle, fail, refused } = throttleAt();
    const first = throttle.admit('acct:1', 'office');
    assert.ok(first.admitted);
    first.succeeded();
    for (let i = 0; i < 3; i++) fail('acct:1', `bot-${i}`);
    assert.equal(refused('acct:1', 'bot-9')?.reason, 'account');
    const again = throttle.admit('acct:1', 'office');
    assert.ok(again.admitted, 'no wait from the usual address');
    again.succeeded();
  });

  it('a success clears its pair and takes back its own count; parallel attempts see each other', () => {
    const { throttle, fail, refused } = throttleAt();
    fail('acct:1', 'a');
    fail('acct:1', 'a');
    const ok = throttle.admit('acct:1', 'a');
    assert.ok(ok.admitted);
    assert.equal(refused('acct:1', 'a')?.reason, 'pair', 'an attempt still being checked counts');
    ok.succeeded();
    for (let i = 0; i < 3; i++) fail('acct:1', 'a');
    assert.equal(refused('acct:1', 'a')?.reason, 'pair');
  });

  it('tracks at most maxKeys counts, forgetting the least recently failed', () => {
    const { fail, refused } = throttleAt({ limit: 1, maxKeys: 10 });
    for (let i = 0; i < 1000; i++) fail(`acct:${i}`, `ip-${i}`);
    assert.equal(refused('acct:0', 'ip-0'), undefined, 'the oldest was forgotten');
    assert.equal(refused('acct:999', 'ip-999')?.reason, 'pair');
  });
});
