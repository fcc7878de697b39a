/**
 * A real dev server and an in-process sweep worker whose executor ends every attempt at once,
 * as the given function says: tests of the orchestration itself (state carried, windows
 * forced), without the cost of a process per job.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkerOptions } from '@temporalio/worker';
import type { Executor, JobOutcome, LaunchRequest } from '../../../activities/executors/types';
import { SqliteStore } from '../../../store/sqlite';
import { createSweepWorker } from '../../../worker';
import { startDevServer } from '../../../worker/devServer';

export class InstantExecutor implements Executor {
  readonly kind = 'local' as const;
  /** `<sweep>/<runId>#<attempt>` -> how many times it was launched. */
  readonly launches = new Map<string, number>();
  constructor(private readonly outcome: (req: LaunchRequest) => JobOutcome) {}
  async launch(req: LaunchRequest) {
    const key = `${req.sweep}/${req.runId}#${req.attempt}`;
    this.launches.set(key, (this.launches.get(key) ?? 0) + 1);
    return { jobName: `${req.runId}-a${req.attempt}`, adopted: false };
  }
  async watch(req: LaunchRequest): Promise<JobOutcome> {
    return this.outcome(req);
  }
  async cancel() {}
}

export interface InstantWorker {
  env: TestWorkflowEnvironment;
  address: string;
  store: SqliteStore;
  executor: InstantExecutor;
  stop(): Promise<void>;
}

export async function startInstantWorker(opts: {
  outcome: (req: LaunchRequest) => JobOutcome;
  extraArgs?: string[];
  workerOptions?: Partial<WorkerOptions>;
}): Promise<InstantWorker> {
  const root = mkdtempSync(join(tmpdir(), 'sweep-instant-'));
  const { env, address } = await startDevServer({ extraArgs: opts.extraArgs });
  const store = new SqliteStore(join(root, 'results.db'));
  const executor = new InstantExecutor(opts.outcome);
  const { worker } = await createSweepWorker({
    connection: env.nativeConnection,
    clientConnection: env.connection,
    namespace: 'default',
    store,
    executors: { local: executor },
    reportDir: join(root, 'out'),
    workerOptions: opts.workerOptions,
  });
  const running = worker.run();
  return {
    env,
    address,
    store,
    executor,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await store.close();
      await env.teardown();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
