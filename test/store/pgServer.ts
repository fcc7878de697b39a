import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A Postgres server for tests: its URL, and how to make a fresh database on it. */
export interface TestPg {
  /** URL of a database created for this test file. */
  url: string;
  /** Creates another empty database and returns its URL (for tests that need a virgin schema). */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Uses SWEEP_TEST_PG_URL when set; otherwise starts a throwaway cluster (initdb in a temp dir,
 * its own port and socket dir, fsync off) and removes it on stop(). Missing server binaries
 * throw: CI installs Debian `postgresql`, and a store test that silently skips proves nothing.
 */
export async function startTestPg(): Promise<TestPg> {
  const external = process.env.SWEEP_TEST_PG_URL;
  if (external) {
    // Each test file gets its own database so reruns and parallel files never see each other's rows.
    const dbName = `sweep_test_${process.pid}_${Date.now().toString(36)}`;
    let url = external;
    let created = false;
    try {
      url = await createDb(external, dbName);
      created = true;
    } catch (e) {
      // No CREATEDB privilege: share the given database; the contract suite uses unique sweep names.
      if ((e as { code?: string }).code !== '42501') throw e;
    }
    const extra: string[] = [];
    return {
      url,
      createDatabase: async (name) => {
        const u = await createDb(external, name);
        extra.push(name);
        return u;
      },
      // A shared server outlives the tests: drop what they created so reruns start clean.
      stop: async () => {
        for (const name of [...extra, ...(created ? [dbName] : [])]) await dropDb(external, name);
      },
    };
  }
  return startLocalCluster();
}

async function startLocalCluster(): Promise<TestPg> {
  const bin = findPgBin();
  const dir = mkdtempSync(join(tmpdir(), 'sweep-pg-'));
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root: the cluster belongs to the `postgres` system user instead.
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  let started = false;
  const stopSync = () => {
    if (!started) return;
    started = false;
    try {
      run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']);
    } catch {
      // Already gone; removal below still cleans up.
    }
  };
  // Last resort if the test process exits without running its afterAll (the server would outlive it).
  const onExit = () => {
    stopSync();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const port = await freePort();
    // Durability settings off: a throwaway test cluster trades crash safety for speed.
    const opts = [
      `-p ${port}`,
      `-k ${dir}`,
      `-c listen_addresses=127.0.0.1`,
      `-c fsync=off`,
      `-c synchronous_commit=off`,
      `-c full_page_writes=off`,
      `-c max_connections=100`,
    ].join(' ');
    run(join(bin, 'pg_ctl'), ['start', '-D', data, '-l', log, '-w', '-t', '30', '-o', opts]);
    started = true;
    const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const url = await createDb(admin, 'sweep_test');
    return {
      url,
      createDatabase: (name) => createDb(admin, name),
      stop: async () => {
        process.removeListener('exit', onExit);
        onExit();
      },
    };
  } catch (e) {
    const serverLog = existsSync(log) ? `\n--- server log ---\n${readFileSync(log, 'utf8')}` : '';
    const detail = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
    process.removeListener('exit', onExit);
    onExit();
    throw new Error(`could not start a test Postgres cluster: ${(e as Error).message}\n${detail}${serverLog}`);
  }
}

/** Debian puts server binaries in /usr/lib/postgresql/<major>/bin, outside PATH; prefer the newest. */
function findPgBin(): string {
  const fromEnv = process.env.SWEEP_TEST_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length) return join(root, majors[0], 'bin');
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    if (initdb) return initdb.replace(/\/initdb$/, '');
  } catch {
    // Fall through to the error below.
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH. ' +
      'Install the Debian `postgresql` package (.ci/run does), set SWEEP_TEST_PG_BIN to their directory, ' +
      'or set SWEEP_TEST_PG_URL to an existing server. The Postgres store tests do not skip.',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function createDb(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropDb(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
