// Configuration from environment variables and the same as flags, validated at start: a bad value stops the
// start with a message that names the variable; the README documents every variable.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, flagName, loadConfig, parseFlags, settings } from '../../src/config/index.ts';

describe('configuration', () => {
  it('has embedded defaults for everything', () => {
    const c = loadConfig({});
    assert.equal(c.httpPort, 8080);
    assert.equal(c.httpHost, '0.0.0.0');
    assert.ok(c.dataDir.endsWith('/data'));
    assert.equal(c.databaseUrl, undefined);
    assert.deepEqual(c.extensionRange, { start: 1000, end: 1999 });
    assert.equal(c.jwtSecret, undefined);
    assert.equal(c.loginMaxFailures, 10);
    assert.equal(c.loginWindowSeconds, 900);
  });

  it('reads environment variables, and a flag wins over the environment', () => {
    const { values, rest } = parseFlags(['start', '--http-port', '9090', '--database-url=postgres://u@h/db']);
    assert.deepEqual(rest, ['start']);
    const c = loadConfig({ PBX_HTTP_PORT: '7070', PBX_EXTENSION_RANGE: '200-299', PBX_DOMAIN: 'PBX.Example.com' }, values);
    assert.equal(c.httpPort, 9090);
    assert.equal(c.databaseUrl, 'postgres://u@h/db');
    assert.deepEqual(c.extensionRange, { start: 200, end: 299 });
    assert.equal(c.domain, 'pbx.example.com');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['PBX_HTTP_PORT', 'eighty', /PBX_HTTP_PORT: must be a whole number from 0 to 65535 \(got 'eighty'\)/],
    ['PBX_HTTP_PORT', '70000', /PBX_HTTP_PORT/],
    ['PBX_EXTENSION_RANGE', '1999-1000', /PBX_EXTENSION_RANGE: must start at or below its end/],
    ['PBX_EXTENSION_RANGE', 'lots', /PBX_EXTENSION_RANGE: must be two numbers like 1000-1999/],
    ['DATABASE_URL', 'mysql://x/y', /DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL$/m],
    ['PBX_DOMAIN', 'not a domain', /PBX_DOMAIN: must be a host name/],
    ['PBX_JWT_SECRET', 'short', /PBX_JWT_SECRET: must be at least 32 characters$/m],
    ['PBX_ADMIN_EMAIL', 'nobody', /PBX_ADMIN_EMAIL: must be an email address/],
    ['PBX_ADMIN_PASSWORD', 'short', /PBX_ADMIN_PASSWORD: must be at least 8 characters$/m],
    ['PBX_LOG_LEVEL', 'loud', /PBX_LOG_LEVEL: must be one of/],
    ['PBX_TRUST_PROXY', 'maybe', /PBX_TRUST_PROXY: must be true or false/],
    ['PBX_RTPENGINE', 'sometimes', /PBX_RTPENGINE: must be auto, off, or the host:port of an rtpengine ng listener/],
    ['PBX_RTPENGINE', 'media:99999', /PBX_RTPENGINE/],
    ['PBX_RTP_PORTS', '40000-30000', /PBX_RTP_PORTS: must be two ports like 30000-39999/],
    ['PBX_RTP_PORTS', '80-100', /PBX_RTP_PORTS/],
  ];

  it('PBX_RTPENGINE is auto by default, off, or an external rtpengine by host:port', () => {
    assert.equal(loadConfig({}).rtpengine, 'auto');
    assert.equal(loadConfig({ PBX_RTPENGINE: 'OFF' }).rtpengine, 'off');
    assert.deepEqual(loadConfig({ PBX_RTPENGINE: 'media.example.com:2223' }).rtpengine, { host: 'media.example.com', port: 2223 });
    assert.deepEqual(loadConfig({ PBX_RTPENGINE: '[::1]:2223' }).rtpengine, { host: '::1', port: 2223 });
    assert.deepEqual(loadConfig({ PBX_RTP_PORTS: '40000-40999' }).rtpPorts, { start: 40000, end: 40999 });
  });
  for (const [name, value, message] of bad) {
    it(`a bad ${name} (${value}) is refused with a message naming it`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  it('a TLS certificate without its key (or the reverse) is refused', () => {
    assert.throws(() => loadConfig({ PBX_SIP_TLS_CERT: '/etc/cert.pem' }), /PBX_SIP_TLS_CERT and PBX_SIP_TLS_KEY: set both/);
  });

  it('secrets are never echoed in the error', () => {
    assert.throws(() => loadConfig({ PBX_JWT_SECRET: 'tiny-secret' }), (err: Error) => !err.message.includes('tiny-secret'));
  });

  it('every bad value is reported at once', () => {
    assert.throws(
      () => loadConfig({ PBX_HTTP_PORT: 'x', PBX_LOG_LEVEL: 'y' }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
  });

  it('calls whose parties vanish: a 60 s media timeout, 1800 s session timers with a Min-SE of 90, OPTIONS every 60 s; a session interval below Min-SE is refused', () => {
    const c = loadConfig({});
    assert.deepEqual([c.mediaTimeoutSeconds, c.sessionExpiresSeconds, c.minSessionExpiresSeconds, c.optionsProbeSeconds], [60, 1800, 90, 60]);
    const off = loadConfig({ PBX_MEDIA_TIMEOUT: '0', PBX_SESSION_EXPIRES: '0', PBX_OPTIONS_PROBE: '0' });
    assert.deepEqual([off.mediaTimeoutSeconds, off.sessionExpiresSeconds, off.optionsProbeSeconds], [0, 0, 0]);
    assert.throws(() => loadConfig({ PBX_SESSION_EXPIRES: '60' }), /PBX_SESSION_EXPIRES: must be 0 \(off\) or at least PBX_MIN_SE/);
    assert.throws(() => loadConfig({ PBX_MIN_SE: '0' }), /PBX_MIN_SE: must be a whole number from 1/);
  });

  it('a flag without a value is refused', () => {
    assert.throws(() => parseFlags(['--http-port']), /--http-port \(PBX_HTTP_PORT\): needs a value/);
  });

  it('the README documents every variable, its flag and its default', () => {
    const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const s of settings) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${s.env}\``));
      assert.ok(row, `README lacks a row for ${s.env}`);
      assert.ok(row.includes(`\`${flagName(s.env)}\``), `README row of ${s.env} lacks its flag`);
      if (s.defaultText !== undefined) assert.ok(row.includes(`\`${s.defaultText}\``), `README row of ${s.env} lacks its default ${s.defaultText}`);
    }
  });
});
