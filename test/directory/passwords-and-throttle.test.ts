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
  it('refuses a key after the limit within the window, and frees it when the window has passed', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(3, 60_000, 100, () => now);
    for (let i = 0; i < 3; i++) {
      assert.equal(throttle.retryAfter(['ip:a']), 0);
      throttle.fail(['ip:a']);
    }
    assert.equal(throttle.retryAfter(['ip:a']), 60);
    assert.equal(throttle.retryAfter(['ip:b']), 0, 'other keys are not affected');
    now += 30_000;
    assert.equal(throttle.retryAfter(['ip:a']), 30);
    now += 30_001;
    assert.equal(throttle.retryAfter(['ip:a']), 0);
  });

  it('any blocked key of several blocks the attempt', () => {
    const throttle = new LoginThrottle(2, 60_000);
    throttle.fail(['ip:x', 'acct:1']);
    throttle.fail(['ip:y', 'acct:1']);
    assert.ok(throttle.retryAfter(['ip:z', 'acct:1']) > 0);
    assert.equal(throttle.retryAfter(['ip:z', 'acct:2']), 0);
  });

  it('reset clears one key', () => {
    const throttle = new LoginThrottle(1, 60_000);
    throttle.fail(['acct:1']);
    throttle.reset('acct:1');
    assert.equal(throttle.retryAfter(['acct:1']), 0);
  });

  it('tracks at most maxKeys keys, forgetting the least recently failed', () => {
    const throttle = new LoginThrottle(1, 60_000, 10);
    for (let i = 0; i < 1000; i++) throttle.fail([`ip:${i}`]);
    assert.equal(throttle.retryAfter(['ip:0']), 0, 'the oldest was forgotten');
    assert.ok(throttle.retryAfter(['ip:999']) > 0);
  });
});
