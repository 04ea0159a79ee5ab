#!/usr/bin/env node
// Runs every test file under test/ with node:test (through tsx), after starting a throwaway PostgreSQL cluster on
// a free loopback port so the repository and API tests run against a real server as well as PGlite. The cluster
// is stopped and removed afterwards, whatever the outcome. PBX_TEST_DATABASE_URL set by hand skips the cluster.
//
//   node scripts/run-tests.mjs [test files...]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from './postgres-cluster.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function findTests(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(p));
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : findTests(path.join(root, 'test'));
let cluster;
const env = { ...process.env };
if (!env.PBX_TEST_DATABASE_URL) {
  cluster = await startPostgres();
  env.PBX_TEST_DATABASE_URL = cluster.url;
  console.log(`# PostgreSQL test cluster at ${cluster.url}`);
}

const concurrency = Math.max(1, Math.min(2, os.availableParallelism()));
// The spec reporter for people; a TAP copy to count from, for the plain closing line below.
const tapFile = path.join(os.tmpdir(), `switchboard-tests-${process.pid}.tap`);
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tapFile}`];
// No test may hang the suite: each gets three minutes at most.
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...reporters, ...files], {
  cwd: root,
  env,
  stdio: 'inherit',
});
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
cluster?.stop();
try {
  const tap = fs.readFileSync(tapFile, 'utf8');
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  console.log(`tests: ${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped`);
  fs.rmSync(tapFile, { force: true });
} catch {
  // no TAP output: the runner itself failed, and its exit code says so
}
process.exit(code);
