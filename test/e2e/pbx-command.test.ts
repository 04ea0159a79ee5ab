// The `pbx` command as people run it: doctor and help; a bad setting stops the start. (Migrate and admin create are
// in pbx-admin-command.test.ts, the server's own start and stop in server-process.test.ts: each file has the
// runner's time limit to itself, and each start of the command takes seconds on a loaded machine.)
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort, runPbxToEnd, SIP, tempDirs } from '../support/process.ts';

const { tempDir, removeAll } = tempDirs();
after(removeAll);

describe('the pbx command', () => {
  it('a bad setting stops the start with a message naming the variable (exit 2)', async () => {
    const r = await runPbxToEnd(['start'], { PBX_HTTP_PORT: 'eighty', PBX_DATA_DIR: tempDir() });
    assert.equal(r.code, 2);
    assert.match(r.output, /PBX_HTTP_PORT: must be a whole number/);
    const flag = await runPbxToEnd(['start', '--extension-range', '9-1'], { PBX_DATA_DIR: tempDir() });
    assert.equal(flag.code, 2);
    assert.match(flag.output, /PBX_EXTENSION_RANGE/);
    const tls = await runPbxToEnd(['start'], { PBX_DATA_DIR: tempDir(), ...SIP, PBX_HTTP_PORT: '0', PBX_SIP_TLS_CERT: '/nonexistent/cert.pem', PBX_SIP_TLS_KEY: '/nonexistent/key.pem' });
    assert.equal(tls.code, 1);
    assert.match(tls.output, /PBX_SIP_TLS_CERT: cannot read \/nonexistent\/cert\.pem \(ENOENT\)/);
  });

  it('pbx doctor prints the database, the HTTP port and which media a start would use', async () => {
    const r = await runPbxToEnd(['doctor', '--http-port', String(await freePort())], { PBX_DATA_DIR: tempDir(), PBX_HTTP_HOST: '127.0.0.1' });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^OK +database +embedded PGlite at /m);
    assert.match(r.output, /^OK +HTTP port +127\.0\.0\.1:\d+ is free/m);
    assert.match(r.output, /^(OK|WARN) +media +/m);
    const off = await runPbxToEnd(['doctor', '--http-port', String(await freePort())], { PBX_DATA_DIR: tempDir(), PBX_HTTP_HOST: '127.0.0.1', PBX_RTPENGINE: 'off' });
    assert.match(off.output, /^INFO +media +PBX_RTPENGINE=off: calls will use direct media/m);
    const port = await freePort();
    const absent = await runPbxToEnd(['doctor', '--http-port', String(await freePort())], { PBX_DATA_DIR: tempDir(), PBX_HTTP_HOST: '127.0.0.1', PBX_RTPENGINE: `127.0.0.1:${port}` });
    assert.equal(absent.code, 1, absent.output);
    assert.match(absent.output, new RegExp(`^FAIL +media +rtpengine at 127\\.0\\.0\\.1:${port} does not answer ping`, 'm'));
  });

  it('pbx help lists the commands and every flag', async () => {
    const r = await runPbxToEnd(['help'], {});
    assert.equal(r.code, 0);
    for (const word of ['start', 'migrate', 'admin create', 'doctor', '--http-port', '--database-url', 'PBX_EXTENSION_RANGE']) {
      assert.ok(r.output.includes(word), word);
    }
  });
});
