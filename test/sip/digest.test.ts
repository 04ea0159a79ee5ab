// RFC 7616 digest authentication, server side: a challenge answered with the right password passes, for MD5 and
// SHA-256; a wrong one fails; an expired nonce is stale (RFC 7616 section 3.3); a replayed nonce-count is refused
// (section 3.4); a nonce not made with our secret, or another realm, never passes; qop=auth is required.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DigestAuthenticator, type DigestAlgorithm, parseDigestCredentials } from '../../src/sip/index.ts';
import { ha1 } from '../../src/directory/index.ts';

const h = (a: DigestAlgorithm, s: string) => createHash(a === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');

/** What a phone sends back for a challenge: the Authorization value. */
function answer(challenge: string, options: { algorithm: DigestAlgorithm; password: string; nc?: string; method?: string; uri?: string; qop?: boolean }): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] as string;
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1] as string;
  const nc = options.nc ?? '00000001';
  const cnonce = 'c0ffee';
  const uri = options.uri ?? 'sip:pbx.test';
  const key = ha1(options.algorithm, '1000', realm, options.password);
  const ha2 = h(options.algorithm, `${options.method ?? 'REGISTER'}:${uri}`);
  if (options.qop === false) {
    return `Digest username="1000", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${h(options.algorithm, `${key}:${nonce}:${ha2}`)}", algorithm=${options.algorithm}`;
  }
  const response = h(options.algorithm, [key, nonce, nc, cnonce, 'auth', ha2].join(':'));
  return `Digest username="1000", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${options.algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

describe('digest authentication (RFC 7616)', () => {
  const stored = (password: string) => (user: string, algorithm: DigestAlgorithm) => (user === '1000' ? ha1(algorithm, '1000', 'pbx.test', password) : undefined);

  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    it(`a ${algorithm} challenge answered with the right password passes; a wrong one fails`, () => {
      const digest = new DigestAuthenticator({ secret: randomBytes(32), algorithms: [algorithm] });
      const [challenge] = digest.challenge('pbx.test');
      assert.match(challenge as string, new RegExp(`algorithm=${algorithm}, qop="auth"`));
      const ok = digest.verify(parseDigestCredentials(answer(challenge as string, { algorithm, password: 's3cret' })), 'REGISTER', 'pbx.test', stored('s3cret'));
      assert.deepEqual(ok, { ok: true, username: '1000' });
      const [again] = digest.challenge('pbx.test');
      const bad = digest.verify(parseDigestCredentials(answer(again as string, { algorithm, password: 'wrong' })), 'REGISTER', 'pbx.test', stored('s3cret'));
      assert.deepEqual(bad, { ok: false, stale: false, reason: 'wrong password' });
    });
  }

  it('an expired nonce answered with the right password is stale: challenge again with stale=true', () => {
    let now = 1_000_000;
    const digest = new DigestAuthenticator({ secret: randomBytes(32), nonceLifetimeMs: 60_000, now: () => now });
    const [challenge] = digest.challenge('pbx.test');
    now += 61_000;
    const verdict = digest.verify(parseDigestCredentials(answer(challenge as string, { algorithm: 'MD5', password: 'p' })), 'REGISTER', 'pbx.test', stored('p'));
    assert.deepEqual(verdict, { ok: false, stale: true });
    assert.match(digest.challenge('pbx.test', true)[0] as string, /, stale=true$/);
  });

  it('a replayed nonce-count is refused; a higher one passes', () => {
    const digest = new DigestAuthenticator({ secret: randomBytes(32) });
    const [challenge] = digest.challenge('pbx.test');
    const first = parseDigestCredentials(answer(challenge as string, { algorithm: 'MD5', password: 'p', nc: '00000001' }));
    assert.equal(digest.verify(first, 'REGISTER', 'pbx.test', stored('p')).ok, true);
    assert.deepEqual(digest.verify(first, 'REGISTER', 'pbx.test', stored('p')), { ok: false, stale: true });
    const second = parseDigestCredentials(answer(challenge as string, { algorithm: 'MD5', password: 'p', nc: '00000002' }));
    assert.equal(digest.verify(second, 'REGISTER', 'pbx.test', stored('p')).ok, true);
  });

  it("a nonce not signed with our secret never passes, nor does another realm, nor credentials without qop", () => {
    const ours = new DigestAuthenticator({ secret: randomBytes(32) });
    const theirs = new DigestAuthenticator({ secret: randomBytes(32) });
    const [foreign] = theirs.challenge('pbx.test');
    assert.equal(ours.verify(parseDigestCredentials(answer(foreign as string, { algorithm: 'MD5', password: 'p' })), 'REGISTER', 'pbx.test', stored('p')).ok, false);
    const [challenge] = ours.challenge('other.test');
    assert.equal(ours.verify(parseDigestCredentials(answer(challenge as string, { algorithm: 'MD5', password: 'p' })), 'REGISTER', 'pbx.test', stored('p')).ok, false);
    const [mine] = ours.challenge('pbx.test');
    const noQop = ours.verify(parseDigestCredentials(answer(mine as string, { algorithm: 'MD5', password: 'p', qop: false })), 'REGISTER', 'pbx.test', stored('p'));
    assert.deepEqual(noQop, { ok: false, stale: false, reason: 'qop=auth with nc and cnonce is required' });
  });

  it('the response covers the method: credentials for REGISTER do not pass for INVITE', () => {
    const digest = new DigestAuthenticator({ secret: randomBytes(32) });
    const [challenge] = digest.challenge('pbx.test');
    const creds = parseDigestCredentials(answer(challenge as string, { algorithm: 'MD5', password: 'p' }));
    assert.equal(digest.verify(creds, 'INVITE', 'pbx.test', stored('p')).ok, false);
  });

  it('malformed credentials are a syntax error, never a crash', () => {
    for (const bad of ['Basic abc', 'Digest', 'Digest username=', 'Digest username="1000", realm="x"', 'Digest username="1000", realm="x", nonce="n", uri="u", response="r", algorithm=SHA-512']) {
      assert.throws(() => parseDigestCredentials(bad), (err: Error) => err.name === 'SipSyntaxError', bad);
    }
  });
});
