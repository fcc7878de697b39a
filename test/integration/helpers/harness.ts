/**
 * Shared harness for integration and e2e tests: a real Temporal dev server (the local
 * Temporal CLI, our search attributes registered, optionally the Web UI), one in-process
 * sweep worker with the local executor in a temp dir, and a temp SQLite results store.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkerOptions } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalExecutor } from '../../../activities/executors/local';
import { SqliteStore } from '../../../store/sqlite';
import { createSweepWorker } from '../../../worker';
import { startDevServer } from '../../../worker/devServer';
import { REPO_ROOT } from '../../../worker/settings';

export interface HarnessOptions {
  /** Start the Web UI too (its URL is `uiUrl`). */
  ui?: boolean;
  /** Extra `temporal server start-dev` flags (dynamic config, ...). */
  extraArgs?: string[];
  /** Worker options passed through to `Worker.create`. */
  workerOptions?: Partial<WorkerOptions>;
  /** Keep the temp dir after stop() (for debugging). */
  keepDirs?: boolean;
}

export interface HarnessDirs {
  /** The temp root; everything below lives here. */
  root: string;
  /** The local executor's registry of launched attempts. */
  local: string;
  /** Reports rendered by the sweep's final step. */
  reports: string;
  /** One line per process the local executor started (`LocalExecutor` launchLog). */
  launchLog: string;
  /** The SQLite results store file. */
  db: string;
}

export interface Harness {
  env: TestWorkflowEnvironment;
  /** host:port of the dev server's frontend (for `temporal --address` and TEMPORAL_ADDRESS). */
  address: string;
  namespace: string;
  /** The Web UI base URL, when started with `ui: true`. */
  uiUrl?: string;
  worker: Worker;
  store: SqliteStore;
  executor: LocalExecutor;
  dirs: HarnessDirs;
  /** Environment for child processes (`temporal`, `node bin/sweep.js`) pointed at this server. */
  childEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'sweep-it-'));
  const dirs: HarnessDirs = {
    root,
    local: join(root, 'local'),
    reports: join(root, 'reports'),
    launchLog: join(root, 'launches.log'),
    db: join(root, 'results.db'),
  };
  const { env, address, uiUrl } = await startDevServer({ ui: opts.ui, extraArgs: opts.extraArgs });
  const namespace = env.namespace ?? 'default';
  let store: SqliteStore | undefined;
  try {
    store = new SqliteStore(dirs.db);
    const executor = new LocalExecutor({ dir: dirs.local, cwd: REPO_ROOT, launchLog: dirs.launchLog });
    const { worker } = await createSweepWorker({
      connection: env.nativeConnection,
      clientConnection: env.connection,
      namespace,
      store,
      executors: { local: executor },
      reportDir: dirs.reports,
      workerOptions: opts.workerOptions,
    });
    const running = worker.run();
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      ...(uiUrl ? { TEMPORAL_UI_URL: uiUrl } : {}),
    };
    const openStore = store;
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await openStore.close();
      await env.teardown();
      if (!opts.keepDirs) rmSync(root, { recursive: true, force: true });
    };
    return { env, address, namespace, uiUrl, worker, store, executor, dirs, childEnv, stop };
  } catch (err) {
    await store?.close();
    await env.teardown();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

/** Polls `fn` until it returns a value other than undefined / false; throws with `what` on timeout. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
