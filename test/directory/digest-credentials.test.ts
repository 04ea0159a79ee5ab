// RFC 7616 section 3.9.1: the HA1 we store for MD5 and SHA-256 yields the RFC's own example responses, so a
// registrar that challenges with either algorithm can check a phone's answer from the hash alone.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { digestHashes, generateSecret, ha1, secretMatches } from '../../src/directory/index.ts';

const example = {
  username: 'Mufasa',
  realm: 'http-auth@example.org',
  password: 'Circle of Life',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nc: '00000001',
  qop: 'auth',
  method: 'GET',
  uri: '/dir/index.html',
};

function response(algorithm: 'md5' | 'sha256', storedHa1: string): string {
  const h = (s: string) => createHash(algorithm).update(s).digest('hex');
  const ha2 = h(`${example.method}:${example.uri}`);
  return h([storedHa1, example.nonce, example.nc, example.cnonce, example.qop, ha2].join(':'));
}

describe('digest credentials (RFC 7616)', () => {
  it('the MD5 HA1 gives the response of the RFC 7616 section 3.9.1 example', () => {
    const { ha1Md5 } = digestHashes(example.username, example.realm, example.password);
    assert.equal(response('md5', ha1Md5), '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('the SHA-256 HA1 gives the response of the RFC 7616 section 3.9.1 example', () => {
    const { ha1Sha256 } = digestHashes(example.username, example.realm, example.password);
    assert.equal(response('sha256', ha1Sha256), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('HA1 is H(username ":" realm ":" password)', () => {
    assert.equal(ha1('MD5', 'a', 'b', 'c'), createHash('md5').update('a:b:c').digest('hex'));
  });

  it('a secret matches its own hashes and no other', () => {
    const hashes = digestHashes('1000', 'pbx.test', 'right-secret');
    assert.equal(secretMatches('1000', hashes, 'right-secret'), true);
    assert.equal(secretMatches('1000', hashes, 'wrong-secret'), false);
    assert.equal(secretMatches('1001', hashes, 'right-secret'), false);
  });

  it('generated secrets are 20 unambiguous characters and do not repeat', () => {
    const many = new Set(Array.from({ length: 1000 }, () => generateSecret()));
    assert.equal(many.size, 1000);
    for (const s of many) assert.match(s, /^[A-HJ-NP-Za-km-z2-9]{20}$/);
  });
});
