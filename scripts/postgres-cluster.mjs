// A throwaway PostgreSQL cluster on a free loopback port, for the tests and the benchmarks: initdb into a temporary
// folder (as the postgres user when run as root, since initdb refuses root), pg_ctl start, and a stop() that removes
// it all. Needs Debian's postgresql package (.ci/run installs it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function postgresBin(name) {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(base, v, 'bin', name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** initdb refuses to run as root: as root, the cluster belongs to the postgres user. */
function asClusterOwner(cmd, args) {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function run(cmd, args, what) {
  const [c, a] = asClusterOwner(cmd, args);
  const r = spawnSync(c, a, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr || r.stdout}`);
}

/** Starts a cluster; answers its superuser URL and a stop() that stops and removes it. */
export async function startPostgres() {
  const initdb = postgresBin('initdb');
  const pgCtl = postgresBin('pg_ctl');
  if (!initdb || !pgCtl) {
    throw new Error('PostgreSQL server binaries (initdb, pg_ctl) were not found: install the Debian package postgresql (.ci/run does).');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pg-'));
  if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  run(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], 'initdb');
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  run(pgCtl, ['-D', data, '-o', opts, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start'], 'pg_ctl start');
  const stop = () => {
    try {
      run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], 'pg_ctl stop');
    } catch (err) {
      console.error(String(err));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // A test of an outage stops the server (its data kept) and starts it again on the same port.
  const pause = () => run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop'], 'pg_ctl stop');
  const resume = () => run(pgCtl, ['-D', data, '-o', opts, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start'], 'pg_ctl start');
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, pause, resume };
}

