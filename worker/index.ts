import { Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { LocalExecutor } from '../activities/executors/local';
import type { Executor } from '../activities/executors/types';
import { openStore } from '../store/open';
import type { ResultsStore } from '../store/types';
import { workflowBundlePath } from './bundle';
import { connectWithRetry } from './connect';
import { connectionOptions, temporalSettings, workerVersioning, type WorkerVersioning } from './settings';

export interface SweepWorkerOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  store?: ResultsStore;
  executors?: Partial<Record<Executor['kind'], Executor>>;
  reportDir?: string;
  /** Concurrent activities (watches are long and cheap: keep this high). */
  maxConcurrentActivityTaskExecutions?: number;
  connection?: NativeConnection;
  clientConnection?: Connection;
  workerOptions?: Partial<WorkerOptions>;
  /** Worker Versioning: this deployment version, or false for none (default: SWEEP_WORKER_VERSIONING and friends). */
  versioning?: WorkerVersioning | false;
}

/** A worker for the sweep task queue: both workflows, every activity, the given executors. */
export async function createSweepWorker(opts: SweepWorkerOptions = {}) {
  const env = temporalSettings();
  const settings = { ...env, address: opts.address ?? env.address };
  const namespace = opts.namespace ?? settings.namespace;
  // TLS files are read only when this worker makes its own connections.
  const connection =
    opts.connection ?? (await connectWithRetry(settings, () => NativeConnection.connect(connectionOptions(settings))));
  const clientConnection =
    opts.clientConnection ??
    (await connectWithRetry(settings, () => Connection.connect({ ...connectionOptions(settings), connectTimeout: '5s' })));
  const store = opts.store ?? (await openStore());
  const executors = opts.executors ?? { local: new LocalExecutor() };
  const versioning = opts.versioning === undefined ? workerVersioning() : opts.versioning || undefined;
  const worker = await Worker.create({
    // Versioned: the server routes tasks by deployment version. Workflows say how they move
    // (sweepRun PINNED, sweep upgrading at continue-as-new); PINNED for any that does not.
    ...(versioning
      ? { workerDeploymentOptions: { useWorkerVersioning: true, version: versioning, defaultVersioningBehavior: 'PINNED' as const } }
      : {}),
    connection,
    namespace,
    taskQueue: opts.taskQueue ?? settings.taskQueue,
    workflowBundle: { codePath: await workflowBundlePath() },
    activities: createActivities({ store, executors, connection: clientConnection, namespace, reportDir: opts.reportDir }),
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions ?? 1000,
    maxCachedWorkflows: 2000,
    maxConcurrentWorkflowTaskPolls: 8,
    maxConcurrentActivityTaskPolls: 8,
    // Running watches heartbeat out on shutdown; their jobs keep running and are re-attached.
    shutdownGraceTime: '10s',
    ...opts.workerOptions,
  });
  return { worker, store, connection, clientConnection, versioning };
}
