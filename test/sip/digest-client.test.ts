// Digest authentication, client side (RFC 3261 section 22.2, RFC 7616, RFC 8760): the answers match the published
// examples of RFC 7616 section 3.9.1 and RFC 2617 section 3.5; our own authenticator (src/sip/auth/digest.ts) accepts
// what the client computes, MD5 and SHA-256; the strongest challenge is chosen; the nonce-count counts up per nonce;
// a challenge repeated without stale=true after our credentials were sent is not answered again (a wrong password
// must not loop); and the request sent again is a new transaction with CSeq one higher (section 22.2).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  authenticatedRetry,
  chooseChallenge,
  type ClientTransactionUser,
  DigestAuthenticator,
  digestAuthorization,
  DigestClient,
  parseDigestChallenge,
  parseDigestChallenges,
  parseDigestCredentials,
  parseUri,
  SipHeaders,
  SipRequest,
  SipResponse,
  SipStack,
} from '../../src/sip/index.ts';
import { until } from '../support/wait.ts';

const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A 401 (or 407) carrying these challenges. */
function challenged(status: 401 | 407, ...challenges: string[]): SipResponse {
  const headers = new SipHeaders();
  for (const c of challenges) headers.add(status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate', c);
  return new SipResponse(status, status === 401 ? 'Unauthorized' : 'Proxy Authentication Required', headers);
}

function register(): SipRequest {
  const headers = new SipHeaders()
    .add('Via', 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKfirst;rport')
    .add('Max-Forwards', '70')
    .add('From', '<sip:alice@carrier.test>;tag=f1')
    .add('To', '<sip:alice@carrier.test>')
    .add('Call-ID', 'reg-1@test')
    .add('CSeq', '7 REGISTER')
    .add('Contact', '<sip:alice@192.0.2.10:5060;transport=udp>')
    .add('Expires', '600');
  return new SipRequest('REGISTER', parseUri('sip:carrier.test'), headers);
}

/** Named parameters of a credentials value, unquoted. */
function params(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of value.matchAll(/([a-z]+)=(?:"([^"]*)"|([^\s,]+))/g)) out[m[1] as string] = (m[2] ?? m[3]) as string;
  return out;
}

describe('digest answers match the published examples', () => {
  // RFC 7616 section 3.9.1: the same request challenged with SHA-256 and MD5.
  const rfc7616 = (algorithm: string) =>
    `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
  const input = {
    method: 'GET',
    uri: '/dir/index.html',
    username: 'Mufasa',
    password: 'Circle of Life',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: 1,
  };

  it('RFC 7616 section 3.9.1, SHA-256: response 753927fa...', () => {
    const value = digestAuthorization(parseDigestChallenge(rfc7616('SHA-256')), input);
    assert.deepEqual(params(value), {
      username: 'Mufasa',
      realm: 'http-auth@example.org',
      uri: '/dir/index.html',
      algorithm: 'SHA-256',
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      nc: '00000001',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
      qop: 'auth',
      response: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
      opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    });
  });

  it('RFC 7616 section 3.9.1, MD5: response 8ca523f5...', () => {
    const value = digestAuthorization(parseDigestChallenge(rfc7616('MD5')), input);
    assert.equal(params(value).response, '8ca523f5e9506fed4657c9700eebdbec');
    assert.equal(params(value).algorithm, 'MD5');
  });

  it('RFC 2617 section 3.5 (no algorithm: MD5): response 6629fae4...', () => {
    const challenge = parseDigestChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    assert.equal(challenge.algorithm, 'MD5');
    assert.deepEqual(challenge.qop, ['auth', 'auth-int']);
    const value = digestAuthorization(challenge, { method: 'GET', uri: '/dir/index.html', username: 'Mufasa', password: 'Circle Of Life', cnonce: '0a4f113b', nc: 1 });
    assert.equal(params(value).response, '6629fae49393a05397450978507c4ef1');
    assert.equal(params(value).opaque, '5ccc069c403ebaf9f0171e9517f40e41');
  });

  it('the DigestClient with an injected cnonce gives the same answer on a SIP request', () => {
    const client = new DigestClient({ username: 'Mufasa', password: 'Circle of Life' }, { cnonce: () => input.cnonce });
    const request = register();
    const answer = client.authorize(request, challenged(401, rfc7616('SHA-256').replace('http-auth@example.org', 'carrier.test')));
    assert.ok(answer);
    const ha1 = sha256('Mufasa:carrier.test:Circle of Life');
    const ha2 = sha256('REGISTER:sip:carrier.test');
    assert.equal(params(answer[1]).response, sha256([ha1, '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', '00000001', input.cnonce, 'auth', ha2].join(':')));
    assert.equal(params(answer[1]).uri, 'sip:carrier.test', 'the digest-uri is the Request-URI (RFC 3261 section 22.4)');
  });
});

describe('reading challenges', () => {
  it('chooses the strongest algorithm whatever the order: SHA-256 over MD5', () => {
    const chosen = chooseChallenge(challenged(401, 'Digest realm="a", nonce="n1", algorithm=MD5, qop="auth"', 'Digest realm="a", nonce="n1", algorithm=SHA-256, qop="auth"'));
    assert.equal(chosen?.algorithm, 'SHA-256');
    assert.equal(chosen?.proxy, false);
  });

  it('a 407 is answered with Proxy-Authorization; other statuses have nothing to answer', () => {
    const response = challenged(407, 'Digest realm="proxy.test", nonce="n2", qop="auth"');
    assert.equal(chooseChallenge(response)?.proxy, true);
    assert.equal(new DigestClient({ username: 'u', password: 'p' }).authorize(register(), response)?.[0], 'Proxy-Authorization');
    assert.equal(chooseChallenge(new SipResponse(403, 'Forbidden')), undefined);
  });

  it('leaves out other schemes, unknown algorithms and qops, and reads several challenges in one field', () => {
    const all = parseDigestChallenges('Basic realm="x", Digest realm="a", nonce="n", algorithm=SHA-256-sess, stale=TRUE, Digest realm="b", nonce="m", algorithm=AKAv1-MD5');
    assert.equal(all.length, 1);
    assert.equal(all[0]?.algorithm, 'SHA-256-sess');
    assert.equal(all[0]?.stale, true);
    assert.equal(chooseChallenge(challenged(401, 'Digest realm="a", nonce="n", qop="auth-conf"')), undefined);
    assert.throws(() => parseDigestChallenge('Digest nonce="n"'), /lacks realm/);
  });

  it('prefers qop=auth; auth-int (the body hashed in) only when auth is not offered', () => {
    const client = new DigestClient({ username: 'u', password: 'p' }, { cnonce: () => 'c1' });
    const request = register();
    request.body = Buffer.from('hello');
    const both = client.authorize(request, challenged(401, 'Digest realm="r", nonce="n1", qop="auth-int,auth"'));
    assert.equal(params(both?.[1] as string).qop, 'auth');
    const intOnly = client.authorize(request, challenged(401, 'Digest realm="r", nonce="n2", qop="auth-int"'));
    const ha2 = md5(`REGISTER:sip:carrier.test:${md5('hello')}`);
    assert.equal(params(intOnly?.[1] as string).response, md5([md5('u:r:p'), 'n2', '00000001', 'c1', 'auth-int', ha2].join(':')));
  });

  it('MD5-sess: HA1 is made with the nonce and cnonce; without qop, the RFC 2069 form', () => {
    const client = new DigestClient({ username: 'u', password: 'p' }, { cnonce: () => 'c1' });
    const sess = client.authorize(register(), challenged(401, 'Digest realm="r", nonce="n1", algorithm=MD5-sess, qop="auth"'));
    const ha1 = md5(`${md5('u:r:p')}:n1:c1`);
    assert.equal(params(sess?.[1] as string).response, md5([ha1, 'n1', '00000001', 'c1', 'auth', md5('REGISTER:sip:carrier.test')].join(':')));
    const old = client.authorize(register(), challenged(401, 'Digest realm="r", nonce="n2"'));
    assert.equal(params(old?.[1] as string).response, md5(`${md5('u:r:p')}:n2:${md5('REGISTER:sip:carrier.test')}`));
    assert.equal(params(old?.[1] as string).nc, undefined);
  });
});

describe('answering again', () => {
  it('the nonce-count counts up per nonce and starts at 1 for a new one (RFC 7616 section 3.4)', () => {
    const client = new DigestClient({ username: 'u', password: 'p' });
    const challenge = challenged(401, 'Digest realm="r", nonce="same", qop="auth"');
    const first = params(client.authorize(register(), challenge)?.[1] as string);
    const second = params(client.authorize(register(), challenge)?.[1] as string);
    const other = params(client.authorize(register(), challenged(401, 'Digest realm="r", nonce="other", qop="auth"'))?.[1] as string);
    assert.deepEqual([first.nc, second.nc, other.nc], ['00000001', '00000002', '00000001']);
    assert.equal(first.cnonce, second.cnonce, 'one cnonce per nonce');
  });

  it('our credentials challenged again without stale=true: not answered (wrong password); with stale=true: answered', () => {
    const client = new DigestClient({ username: 'u', password: 'wrong' });
    const first = client.retry(register(), challenged(401, 'Digest realm="r", nonce="n1", qop="auth"'));
    assert.ok(first);
    assert.equal(client.retry(first, challenged(401, 'Digest realm="r", nonce="n1", qop="auth"')), undefined, 'same nonce');
    assert.equal(client.retry(first, challenged(401, 'Digest realm="r", nonce="n2", qop="auth"')), undefined, 'a fresh nonce without stale');
    const again = client.retry(first, challenged(401, 'Digest realm="r", nonce="n3", qop="auth", stale=true'));
    assert.ok(again);
    assert.equal(again.headers.getAll('Authorization').length, 1, 'the stale credentials are replaced');
    assert.match(again.headers.get('Authorization') as string, /nonce="n3"/);
  });

  it('the request sent again: CSeq one higher, no Via, the same Call-ID, From tag and To; another realm\'s credentials kept', () => {
    const client = new DigestClient({ username: 'u', password: 'p' });
    const original = register();
    const proxied = client.retry(original, challenged(407, 'Digest realm="proxy", nonce="p1", qop="auth"')) as SipRequest;
    const retried = client.retry(proxied, challenged(401, 'Digest realm="registrar", nonce="r1", qop="auth"')) as SipRequest;
    assert.equal(retried.cseq.seq, 9);
    assert.equal(retried.cseq.method, 'REGISTER');
    assert.equal(retried.headers.count('Via'), 0, 'the stack adds a new Via, with a new branch, when it sends it');
    for (const name of ['Call-ID', 'From', 'To', 'Contact', 'Expires']) assert.equal(retried.headers.get(name), original.headers.get(name), name);
    assert.match(retried.headers.get('Proxy-Authorization') as string, /realm="proxy"/);
    assert.match(retried.headers.get('Authorization') as string, /realm="registrar"/);
    assert.equal(original.cseq.seq, 7, 'the original is left as it was');
    assert.ok(authenticatedRetry(original, ['Authorization', 'Digest realm="x"']).headers.has('Authorization'));
  });
});

describe('against our own authenticator (src/sip/auth/digest.ts)', () => {
  const ha1For = (algorithm: 'MD5' | 'SHA-256', password: string) =>
    (algorithm === 'MD5' ? md5 : sha256)(`alice:carrier.test:${password}`);

  for (const algorithms of [['MD5'], ['SHA-256'], ['MD5', 'SHA-256']] as const) {
    it(`challenged with ${algorithms.join(' and ')}: the answer passes, and a second request on the same nonce too`, () => {
      const server = new DigestAuthenticator({ secret: randomBytes(32), algorithms });
      const client = new DigestClient({ username: 'alice', password: 's3cret' });
      const response = challenged(401, ...server.challenge('carrier.test'));
      const first = client.retry(register(), response) as SipRequest;
      const credentials = parseDigestCredentials(first.headers.get('Authorization') as string);
      assert.equal(credentials.algorithm, (algorithms as readonly string[]).includes('SHA-256') ? 'SHA-256' : 'MD5', 'the strongest offered');
      const verify = (request: SipRequest, password = 's3cret') =>
        server.verify(parseDigestCredentials(request.headers.get('Authorization') as string), request.method, 'carrier.test', (_u, a) => ha1For(a, password));
      assert.deepEqual(verify(first), { ok: true, username: 'alice' });
      const second = client.retry(register(), response) as SipRequest;
      assert.equal(parseDigestCredentials(second.headers.get('Authorization') as string).nc, '00000002');
      assert.deepEqual(verify(second), { ok: true, username: 'alice' }, 'nc 2 on the same nonce is no replay');
      assert.deepEqual(verify(first), { ok: false, stale: true }, 'a replayed count is');
    });
  }

  it('through two real stacks: a REGISTER challenged 401 is sent again in a new transaction and answered 200', async () => {
    const authenticator = new DigestAuthenticator({ secret: randomBytes(32), algorithms: ['SHA-256', 'MD5'] });
    const seen: SipRequest[] = [];
    const server = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }] }, {
      onRequest: (req) => {
        seen.push(req.message);
        const value = req.message.headers.get('Authorization');
        const verdict = value === undefined
          ? undefined
          : authenticator.verify(parseDigestCredentials(value), req.message.method, 'carrier.test', (_u, a) => ha1For(a, 's3cret'));
        if (verdict?.ok) req.reply(200, { headers: [['Contact', `${req.message.headers.get('Contact') as string};expires=600`]] });
        else req.reply(401, { headers: authenticator.challenge('carrier.test', verdict?.stale ?? false).map((c): [string, string] => ['WWW-Authenticate', c]) });
      },
    });
    const client = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }] }, { onRequest: () => {} });
    try {
      const flow = await client.flowTo('UDP', '127.0.0.1', server.transport('UDP')?.port as number);
      const digest = new DigestClient({ username: 'alice', password: 's3cret' });
      const finals: number[] = [];
      const send = (request: SipRequest) => {
        const user: ClientTransactionUser = {
          onResponse: (response) => {
            if (response.status < 200) return;
            finals.push(response.status);
            const again = response.status === 401 ? digest.retry(request, response) : undefined;
            if (again) send(again);
          },
          onTimeout: () => finals.push(408),
        };
        client.sendRequest(request, flow, user);
      };
      const request = register();
      request.headers.remove('Via');
      send(request);
      await until('the final answer', () => finals, (f) => f.includes(200));
      assert.deepEqual(finals, [401, 200]);
      assert.equal(seen.length, 2);
      const [a, b] = seen as [SipRequest, SipRequest];
      assert.notEqual(a.topVia?.branch, b.topVia?.branch, 'a new transaction: a new branch');
      assert.equal(a.headers.count('Via'), 1);
      assert.equal(b.headers.count('Via'), 1);
      assert.equal(b.cseq.seq, a.cseq.seq + 1);
      assert.equal(b.callId, a.callId);
      assert.equal(b.from.params.get('tag'), a.from.params.get('tag'));
    } finally {
      await client.close();
      await server.close();
    }
  });
});
