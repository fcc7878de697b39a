import type { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { LocalExecutor } from '../../activities/executors/local';
import type { Executor } from '../../activities/executors/types';
import { log } from '../../activities/logger';
import { createSweepWorker } from '../../worker';
import { startWorkerHealth } from '../../worker/health';
import { temporalSettings } from '../../worker/settings';
import { UsageError } from '../errors';

export async function executorsFor(
  kind: string,
  opts: { slots?: number; kubeConfig?: KubeConfig } = {},
): Promise<Partial<Record<Executor['kind'], Executor>>> {
  const executors: Partial<Record<Executor['kind'], Executor>> = {};
  if (!['local', 'kubernetes', 'all'].includes(kind)) throw new UsageError(`--executor must be local, kubernetes or all (got "${kind}")`);
  if (kind === 'local' || kind === 'all') executors.local = new LocalExecutor({ slots: opts.slots, launchLog: process.env.SWEEP_LAUNCH_LOG });
  if (kind === 'kubernetes' || kind === 'all') {
    const { KubernetesExecutor } = await import('../../activities/executors/kubernetes');
    executors.kubernetes = new KubernetesExecutor(opts.kubeConfig);
  }
  return executors;
}

/** `--slots`: a whole number of processes >= 1 (0 or a word would make every run wait forever). */
export function parseSlots(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 4096)
    throw new UsageError(`--slots must be a whole number of processes from 1 to 4096 (got "${v}")`);
  return n;
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker for the sweep task queue (settings from TEMPORAL_* and SWEEP_DB)')
    .option('--executor <kind>', 'local, kubernetes or all (default: SWEEP_EXECUTOR or local)')
    .option('--slots <n>', 'local processes at once on this machine')
    .action(async (o: { executor?: string; slots?: string }) => {
      const kind = o.executor ?? process.env.SWEEP_EXECUTOR ?? 'local';
      const slots = parseSlots(o.slots);
      const executors = await executorsFor(kind, { slots });
      const settings = temporalSettings();
      const { worker, store, connection, versioning } = await createSweepWorker({ executors });
      // /livez and /readyz for the Deployment's probes, when SWEEP_HEALTH_PORT is set.
      const health = await startWorkerHealth({ worker, connection, store });
      log.info({ address: settings.address, namespace: settings.namespace, taskQueue: settings.taskQueue, executors: Object.keys(executors), ...(versioning ? { deployment: versioning.deploymentName, buildId: versioning.buildId } : {}) }, 'worker started');
      // SIGINT/SIGTERM trigger a graceful shutdown inside worker.run().
      await worker.run();
      for (const e of Object.values(executors)) e?.close?.();
      await health?.close();
      await store.close();
      log.info('worker stopped');
    });
}
