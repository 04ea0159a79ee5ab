/**
 * SIP benchmark, with sipp as the load generator and Kamailio as the reference, in one run on this machine:
 *
 *   1. Authenticated REGISTER transactions per second (REGISTER, 401, REGISTER with digest, 200) against
 *      Switchboard and against Kamailio (bench/kamailio-registrar.cfg), printed as a ratio.
 *   2. Call setups per second through the B2BUA (INVITE, 407, INVITE, 180, 200, ACK, BYE) between two sipp
 *      instances, with the number of failed calls.
 *   3. The server's resident memory with 5,000 registered endpoints and 1,000 established calls, each held by a
 *      fixed 20 s pause (sipp/call-uac-held.xml), with the number of calls the server had established when it was
 *      read (a warning below 90%).
 *
 *   npx tsx bench/sip-bench.ts                          (embedded PGlite; about two minutes)
 *   BENCH_SHORT=1 npx tsx bench/sip-bench.ts            (a check that it works: 200 users, 2,000 registrations,
 *                                                        600 calls, 100 held; under a minute)
 *   BENCH_DATABASE=postgres npx tsx bench/sip-bench.ts  (a throwaway PostgreSQL server, as larger sites run)
 *   BENCH_MEDIA=relay npx tsx bench/sip-bench.ts        (calls through rtpengine instead of direct media)
 *   BENCH_CPU_PROFILE=/tmp/prof npx tsx bench/sip-bench.ts  (and a CPU profile of the server, to see where time goes)
 *
 * Needs sipp and kamailio (Debian's sip-tester and kamailio) and, for the second, postgresql.
 *
 * Everything runs on loopback and stops by itself; every process it starts is stopped by its own pid.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../scripts/postgres-cluster.mjs';
import { freePort, runPbx, waitForOutput } from '../test/support/process.ts';
import { api, benchServerEnv, csv, fixedPauseOf, heldCaller, here, liveCalls, loggedErrors, rssMiB, SHORT, sipp, type SippResult, stopEverything, work } from './support.ts';

const USERS = Number(process.env.BENCH_USERS ?? (SHORT ? 200 : 5000));
const REGISTRATIONS = Number(process.env.BENCH_REGISTRATIONS ?? (SHORT ? 2000 : 30_000));
const CALLS = Number(process.env.BENCH_CALLS ?? (SHORT ? 600 : 6000));
const CALL_RATE = Number(process.env.BENCH_CALL_RATE ?? 300);
const HELD_CALLS = Number(process.env.BENCH_HELD_CALLS ?? (SHORT ? 100 : 1000));
/** Held calls placed per second. */
const HELD_RATE = 250;
/** How long each held call lasts: the fixed pause of its scenario. */
const HOLD_MS = fixedPauseOf(heldCaller);
/** When memory is read: once every held call has been placed, and 4 s more for the last ones to be answered. */
const READ_AFTER_MS = (HELD_CALLS / HELD_RATE) * 1000 + 4000;
/** `direct` (the default): SDP passed through; `relay`: every call's media anchored in rtpengine. */
const MEDIA = process.env.BENCH_MEDIA === 'relay' ? 'relay' : 'direct';
/** A folder for a V8 CPU profile of the server's whole run (open it in Chrome's DevTools). */
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE;
const KAMAILIO_PASSWORD = 'bench-password-1';

async function registerLoad(target: string, rowsFile: string): Promise<SippResult> {
  return sipp([target, '-sf', path.join(here, 'sipp/register-load.xml'), '-inf', rowsFile, '-set', 'domain', 'pbx.bench', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', String(REGISTRATIONS), '-r', '20000', '-l', '2000'], 120);
}

async function main(): Promise<void> {
  // The first held call must still be up when memory is read, with room for a slow machine.
  if (READ_AFTER_MS + 5000 > HOLD_MS) throw new Error(`BENCH_HELD_CALLS=${HELD_CALLS} takes ${READ_AFTER_MS / 1000} s to place and answer at ${HELD_RATE}/s: more than the ${HOLD_MS / 1000} s hold of ${heldCaller} allows`);
  const [httpPort, sipPort, kamailioPort, uasPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;
  const cluster = process.env.BENCH_DATABASE === 'postgres' ? await startPostgres() : undefined;
  const server = runPbx(['start'], {
    ...(cluster ? { DATABASE_URL: cluster.url } : {}),
    ...benchServerEnv(httpPort, sipPort),
    PBX_EXTENSION_RANGE: '10000-19999',
    PBX_SIP_AUTH_MAX_FAILURES: '100000',
    // Calls through the relay (rtpengine) or with direct media (SDP passed through): two rows of the results.
    PBX_RTPENGINE: MEDIA === 'relay' ? 'auto' : 'off',
  }, { nodeArgs: [...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)] });
  const stopAll: Array<() => unknown> = [() => cluster?.stop(), () => server.stop()];
  try {
    await waitForOutput(server, 'listening on');
    const pid = server.child.pid as number;
    const token = (await api(base, undefined, 'POST', '/api/auth/login', { email: 'bench@example.com', password: 'bench-admin-password' })).accessToken as string;
    console.log(`# creating ${USERS} extensions`);
    const users: Array<{ number: number; secret: string }> = [];
    for (let i = 0; i < USERS; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, USERS - i) }, (_, j) => api(base, token, 'POST', '/api/users', { name: `Bench ${i + j}`, email: `bench${i + j}@example.com` })),
      );
      for (const u of batch) users.push(u.extension as { number: number; secret: string });
    }
    const rssIdle = rssMiB(pid);

    // 1. REGISTER throughput, Switchboard then Kamailio, same sipp, same load.
    console.log(`# ${REGISTRATIONS} authenticated registrations of ${USERS} users, against Switchboard`);
    const ours = await registerLoad(`127.0.0.1:${sipPort}`, csv('ours.csv', users.map((u) => [String(u.number), `[authentication username=${u.number} password=${u.secret}]`])));
    const rssRegistered = rssMiB(pid);

    const cfg = path.join(work, 'kamailio.cfg');
    fs.writeFileSync(cfg, fs.readFileSync(path.join(here, 'kamailio-registrar.cfg'), 'utf8').replaceAll('@PORT@', String(kamailioPort)).replaceAll('@PASSWORD@', KAMAILIO_PASSWORD));
    const kamailio = spawn('kamailio', ['-f', cfg, '-DD', '-E', '-m', '256', '-M', '16', '-P', path.join(work, 'kamailio.pid'), '-Y', work], { stdio: ['ignore', 'ignore', 'pipe'] });
    let kamailioLog = '';
    kamailio.stderr.on('data', (d: Buffer) => (kamailioLog = (kamailioLog + d.toString()).slice(-5000)));
    stopAll.push(() => kamailio.kill('SIGTERM'));
    await new Promise((r) => setTimeout(r, 1500));
    if (kamailio.exitCode !== null) throw new Error(`kamailio did not start:\n${kamailioLog}`);
    console.log(`# the same load against Kamailio`);
    const theirs = await registerLoad(`127.0.0.1:${kamailioPort}`, csv('kamailio.csv', users.map((u) => [String(u.number), `[authentication username=${u.number} password=${KAMAILIO_PASSWORD}]`])));
    kamailio.kill('SIGTERM');

    // 2. Call setups per second through the B2BUA: caller = the first extension, callee = the second, answered by sipp.
    const [caller, callee] = [users[0], users[1]] as [{ number: number; secret: string }, { number: number; secret: string }];
    const uas = sipp(['-sf', path.join(here, 'sipp/call-uas.xml'), '-i', '127.0.0.1', '-p', String(uasPort)], 150);
    stopAll.push(() => uas.stop());
    // The callee registers from another port with a Contact at the waiting sipp's port (same IP: the Contact is used).
    const regRows = csv('callee.csv', [[String(callee.number), `[authentication username=${callee.number} password=${callee.secret}]`]]);
    const contactScenario = path.join(work, 'register-contact.xml');
    fs.writeFileSync(contactScenario, fs.readFileSync(path.join(here, 'sipp/register-load.xml'), 'utf8').replaceAll('[local_ip]:[local_port]>', `127.0.0.1:${uasPort}>`));
    await sipp([`127.0.0.1:${sipPort}`, '-sf', contactScenario, '-inf', regRows, '-set', 'domain', 'pbx.bench', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', '1'], 20);
    const callRows = csv('calls.csv', [[String(caller.number), `[authentication username=${caller.number} password=${caller.secret}]`, String(callee.number)]]);
    console.log(`# ${CALLS} calls at up to ${CALL_RATE} per second through the B2BUA`);
    const calls = await sipp([`127.0.0.1:${sipPort}`, '-sf', path.join(here, 'sipp/call-uac.xml'), '-inf', callRows, '-set', 'domain', 'pbx.bench', '-set', 'hold', '0', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', String(CALLS), '-r', String(CALL_RATE), '-l', '3000'], 120);

    // 3. Memory with every endpoint registered and HELD_CALLS established calls, counted on the server as it is read.
    // Calls the server still counts from the previous load (none, unless some lost their BYE) are not the held ones.
    const leftOver = (await liveCalls(base, token)).connected;
    console.log(`# ${HELD_CALLS} calls held ${HOLD_MS / 1000} s each, memory read ${READ_AFTER_MS / 1000} s after the first${leftOver ? ` (${leftOver} calls still up from the previous load)` : ''}`);
    const held = sipp([`127.0.0.1:${sipPort}`, '-sf', heldCaller, '-inf', callRows, '-set', 'domain', 'pbx.bench', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', String(HELD_CALLS), '-r', String(HELD_RATE), '-l', String(HELD_CALLS + 10)], 90);
    stopAll.push(() => held.stop());
    const heldStarted = Date.now();
    await new Promise((r) => setTimeout(r, READ_AFTER_MS));
    const rssCalls = rssMiB(pid);
    const readAt = (Date.now() - heldStarted) / 1000;
    const established = Math.max(0, (await liveCalls(base, token)).connected - leftOver);
    console.log(`# ${established} calls established when RSS was read (${rssCalls} MiB, ${readAt.toFixed(1)} s after the first of ${HELD_CALLS} was placed)`);
    const warning = established < 0.9 * HELD_CALLS
      ? `WARNING: only ${established} of ${HELD_CALLS} calls (${Math.round((established / HELD_CALLS) * 100)}%, under 90%) were established when RSS was read: the "calls held" figure is not of ${HELD_CALLS} calls.`
      : undefined;
    if (warning) console.log(warning);
    const heldResult = await held;
    uas.stop();

    const ourRate = ours.successful / ours.seconds;
    const theirRate = theirs.successful / theirs.seconds;
    const callRate = calls.successful / calls.seconds;
    console.log('');
    console.log(`Switchboard on ${cluster ? 'PostgreSQL (throwaway local cluster)' : 'embedded PGlite'}, ${MEDIA === 'relay' ? 'calls through the relay (rtpengine)' : 'direct media'}; ${os.cpus().length} cores`);
    console.log('| measure | Switchboard | Kamailio | ratio |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| authenticated REGISTER/s (${REGISTRATIONS} by ${USERS} users) | ${ourRate.toFixed(0)} (${ours.failed} failed) | ${theirRate.toFixed(0)} (${theirs.failed} failed) | ${(ourRate / theirRate).toFixed(2)} |`);
    console.log(`| call setups/s (INVITE..BYE, ${CALLS} calls offered at ${CALL_RATE}/s) | ${callRate.toFixed(0)} (${calls.failed} failed of ${calls.successful + calls.failed}) | | |`);
    console.log(`| RSS idle / ${USERS} registered / + ${HELD_CALLS} calls held ${HOLD_MS / 1000} s (${established} calls established when RSS was read; ${heldResult.successful} completed, ${heldResult.failed} failed) | ${rssIdle} / ${rssRegistered} / ${rssCalls} MiB | | |`);
    if (warning) console.log(`\n${warning}`);
    const errors = loggedErrors(server.output());
    if (errors.length > 0) console.log(`\nThe server logged errors:\n${errors.slice(0, 8).join('\n')}`);
  } finally {
    await stopEverything(stopAll);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
