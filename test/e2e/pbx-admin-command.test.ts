// The `pbx` command's administration as an operator runs it before a first start: migrate, then admin create, then
// that administrator logs in to the started server. (Apart from pbx-command.test.ts: each file has the runner's time
// limit to itself.)
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort, loginOverHttp, runPbx, runPbxToEnd, SIP, tempDirs, waitForOutput } from '../support/process.ts';

const { tempDir, removeAll } = tempDirs();
after(removeAll);

describe('the pbx command: migrate and admin create', () => {
  it('pbx migrate, then pbx admin create, then that administrator logs in to the started server', async () => {
    const dataDir = tempDir();
    const env = { PBX_DATA_DIR: dataDir, PBX_LOG_LEVEL: 'warn', PBX_HTTP_HOST: '127.0.0.1', ...SIP };
    const migrated = await runPbxToEnd(['migrate'], env);
    assert.equal(migrated.code, 0, migrated.output);
    assert.match(migrated.output, /Migrations applied \(pglite/);
    const created = await runPbxToEnd(['admin', 'create', '--email', 'ops@example.com', '--password', 'ops-password-1'], env);
    assert.equal(created.code, 0, created.output);
    assert.match(created.output, /Administrator ops@example\.com created/);
    const again = await runPbxToEnd(['admin', 'create', '--email', 'ops@example.com', '--password', 'ops-password-1'], env);
    assert.equal(again.code, 2);
    assert.match(again.output, /already in use/);
    const missing = await runPbxToEnd(['admin', 'create', '--email', 'x@example.com'], env);
    assert.equal(missing.code, 2);

    const port = await freePort();
    const p = runPbx(['start', '--http-port', String(port)], env);
    try {
      const out = await waitForOutput(p, 'listening on');
      assert.doesNotMatch(out, /First administrator/, 'an administrator exists already');
      await loginOverHttp(`http://127.0.0.1:${port}`, 'ops@example.com', 'ops-password-1');
    } finally {
      await p.stop();
    }
  });

});
