// `pbx dead-letters` (README, Reliability): the changes the database rejected as invalid are listed, and --replay
// hands them to the next start, which writes them first.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { WriteJournal } from '../../src/db/write-journal.ts';
import { runPbxToEnd } from '../support/process.ts';

describe('pbx dead-letters', () => {
  it('pbx dead-letters lists the changes the database rejected, and --replay hands them to the next start', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-dead-letters-'));
    try {
      const journal = new WriteJournal(path.join(dataDir, 'write-journal'));
      journal.deadLetter('sessions', { key: 'row-1', item: { id: 'row-1', notes: 'a\u0000b' } }, Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' }));
      const list = await runPbxToEnd(['dead-letters'], { PBX_DATA_DIR: dataDir });
      assert.equal(list.code, 0, list.output);
      assert.match(list.output, /sessions: 1 in .*sessions\.dead\.jsonl/);
      assert.match(list.output, /22021 invalid byte sequence .* \(key row-1\)/);
      const replay = await runPbxToEnd(['dead-letters', '--replay'], { PBX_DATA_DIR: dataDir });
      assert.match(replay.output, /1 changes will be written again at the next start/);
      assert.deepEqual(journal.takeSpilled('sessions').map((e) => e.key), ['row-1']);
      assert.match((await runPbxToEnd(['dead-letters'], { PBX_DATA_DIR: dataDir })).output, /No dead letters/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
