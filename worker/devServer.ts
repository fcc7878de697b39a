import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { SEARCH_ATTRIBUTE_FLAGS, SEARCH_ATTRIBUTES } from '../contract';
import { temporalCliPath } from './settings';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServerOptions {
  ui?: boolean;
  port?: number;
  uiPort?: number;
  /** Extra `temporal server start-dev` flags, e.g. dynamic config values. */
  extraArgs?: string[];
  /** Register our search attributes (default true). */
  searchAttributes?: boolean;
}

/**
 * A Temporal dev server from the local Temporal CLI (the SDK's own download cannot reach the
 * internet here), with our search attributes registered and, if asked, the Web UI.
 */
export async function startDevServer(opts: DevServerOptions = {}) {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.ui ? (opts.uiPort ?? (await freePort())) : undefined;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      port,
      ui: !!opts.ui,
      uiPort,
      searchAttributes: opts.searchAttributes === false ? [] : SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error', ...(opts.extraArgs ?? [])],
    },
  });
  return { env, address: `127.0.0.1:${port}`, uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined };
}

export interface PersistentDevServerOptions {
  /** SQLite file of the server's state: workflows survive a restart of the server. Omitted: in memory. */
  dbFile?: string;
  /** The server's own output goes here (appended), not to the terminal. */
  logFile: string;
  port: number;
  /** Web UI port; undefined: no Web UI (`--headless`). */
  uiPort?: number;
  ip?: string;
  extraArgs?: string[];
}

export interface PersistentDevServer {
  address: string;
  uiUrl?: string;
  pid: number;
  /** Resolves with the exit code when the server process ends, for whatever reason. */
  exited: Promise<number | null>;
  /** SIGINT (the server's own clean stop), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** The last `maxBytes` of a log file, for an error message. */
function tail(file: string, maxBytes = 2_000): string {
  // Read only the end: the log of a server used for weeks can be large.
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(size, maxBytes));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      return buf.toString('utf8').trim();
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * `temporal server start-dev --db-filename <dbFile>` as a process of its own (its own process
 * group, so a Ctrl-C in the terminal reaches only us: the worker stops first, then the server),
 * with our search attributes (the CLI accepts them again on a restart with the same file) and,
 * if asked, the Web UI. Resolves once the namespace answers and lists our search attributes.
 */
export async function spawnDevServer(opts: PersistentDevServerOptions, { readyMs = 90_000, abort }: { readyMs?: number; abort?: AbortSignal } = {}): Promise<PersistentDevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  if (opts.dbFile) mkdirSync(dirname(opts.dbFile), { recursive: true });
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = openSync(opts.logFile, 'a');
  const args = [
    'server',
    'start-dev',
    // Write-ahead log, synced at checkpoints: a server process killed mid-write loses nothing
    // (the log is in the OS's cache), only a machine crash can lose the last commits. The
    // default (a rollback journal synced on every commit) halved a 2,000-run soak: 12 vs 24 runs/s.
    ...(opts.dbFile ? ['--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'] : []),
    '--ip',
    ip,
    '--port',
    String(opts.port),
    ...(opts.uiPort !== undefined ? ['--ui-port', String(opts.uiPort)] : ['--headless']),
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTE_FLAGS.flatMap((f) => ['--search-attribute', f]),
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(temporalCliPath(), args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
    child.once('error', () => resolve(null));
  });
  let done = false;
  void exited.then(() => (done = true));
  const address = `${ip}:${opts.port}`;
  const stop = async (graceMs = 15_000) => {
    if (done || child.pid === undefined) return;
    child.kill('SIGINT');
    const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
    if (!killed) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const server: PersistentDevServer = {
    address,
    uiUrl: opts.uiPort !== undefined ? `http://${ip}:${opts.uiPort}` : undefined,
    pid: child.pid ?? -1,
    exited,
    stop,
  };
  // Ready = the namespace answers and has our search attributes (registered while it starts).
  const deadline = Date.now() + readyMs;
  const wanted = SEARCH_ATTRIBUTES.map((k) => k.name);
  for (let wait = 200; ; wait = Math.min(wait * 2, 1_000)) {
    if (done) {
      throw new Error(
        `the Temporal dev server exited (code ${await exited}) before it was ready; its log (${opts.logFile}) ends:\n${tail(opts.logFile)}`,
      );
    }
    if (abort?.aborted) {
      await stop();
      throw new Error('stopped while the Temporal dev server was starting');
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the Temporal dev server did not answer at ${address} within ${readyMs / 1000} s; its log (${opts.logFile}) ends:\n${tail(opts.logFile)}`);
    }
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: '1s' });
      const r = await connection.withDeadline(Date.now() + 2_000, () =>
        connection!.operatorService.listSearchAttributes({ namespace: 'default' }),
      );
      const have = Object.keys(r.customAttributes ?? {});
      if (wanted.every((n) => have.includes(n))) return server;
    } catch {
      /* not up yet */
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}
