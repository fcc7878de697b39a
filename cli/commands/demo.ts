import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { log } from '../../activities/logger';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LocalExecutor } from '../../activities/executors/local';
import type { Executor } from '../../activities/executors/types';
import type { KubeSim } from '../../sim/kube-sim';
import { SqliteStore } from '../../store/sqlite';
import { loadSweepSpec } from '../../spec/load';
import { expandGrid, KubernetesExecutorSchema, type SweepSpec } from '../../spec';
import { sweepWorkflowId, type SweepSummary } from '../../contract';
import { SweepId, SweepName } from '../../contract';
import { createSweepWorker } from '../../worker';
import { startDevServer } from '../../worker/devServer';
import { REPO_ROOT, temporalSettings } from '../../worker/settings';
import { table } from '../color';
import { UsageError } from '../errors';
import { fitStatusLine, StoreReader } from '../sweepState';
import { formatProgress, watchSweep } from './control';

/** kube-sim for `demo --cluster sim`: 8 GPUs on 2 nodes, 10 simulated seconds per real second. */
export const SIM = { gpus: 8, gpusPerNode: 4, timeScale: 10 } as const;

const num = (v: number | undefined, d = 3) => (v === undefined ? '' : v >= 1e5 ? v.toExponential(2) : v.toFixed(d));

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'the embedded default end to end: dev server + Web UI, worker, local executor (or Kubernetes Jobs on kube-sim with --cluster sim), synthetic trainer, fits, report',
    )
    .option('--spec <file>', 'sweep spec (default: configs/demo.yaml; with --cluster, configs/demo-cluster.yaml)')
    .option('--cluster <kind>', '"sim": run the jobs as Kubernetes Jobs through the Kubernetes executor on kube-sim (8 simulated GPUs)')
    .option('--keep', 'keep the dev server and Web UI up after the sweep (Ctrl-C to stop)')
    .action(async (o: { spec?: string; cluster?: string; keep?: boolean }) => {
      const t0 = Date.now();
      // The demo's failures are injected on purpose: keep per-failure warnings out of its output.
      Runtime.install({ logger: new DefaultLogger('ERROR') });
      if (!process.env.SWEEP_LOG_LEVEL) log.level = 'warn';
      if (o.cluster !== undefined && o.cluster !== 'sim') throw new UsageError(`--cluster: only "sim" (kube-sim) is supported, got "${o.cluster}"`);
      const specFile = o.spec ?? resolve(REPO_ROOT, o.cluster ? 'configs/demo-cluster.yaml' : 'configs/demo.yaml');
      let spec: SweepSpec = loadSweepSpec(specFile);
      const work = resolve(REPO_ROOT, '.sweep/demo');
      rmSync(work, { recursive: true, force: true }); // a fresh demo every time
      mkdirSync(work, { recursive: true });
      let sim: KubeSim | undefined;
      let executors: Partial<Record<Executor['kind'], Executor>>;
      if (o.cluster === 'sim') {
        if (spec.executor.kind !== 'kubernetes') spec = { ...spec, executor: KubernetesExecutorSchema.parse({ kind: 'kubernetes' }) };
        const namespace = spec.executor.kind === 'kubernetes' ? spec.executor.namespace : 'default';
        const [{ startKubeSim }, { KubernetesExecutor }, { KubeConfig }] = await Promise.all([
          import('../../sim/kube-sim'),
          import('../../activities/executors/kubernetes'),
          import('@kubernetes/client-node'),
        ]);
        sim = await startKubeSim({ ...SIM, namespace, seed: 7, faults: { nodeLossPerHour: 6, nodeRestoreSeconds: 120 } });
        const kubeconfig = resolve(work, 'kubeconfig.yaml');
        writeFileSync(kubeconfig, sim.kubeconfig, { mode: 0o600 });
        console.log(`kube-sim: ${SIM.gpus} simulated GPUs on ${SIM.gpus / SIM.gpusPerNode} nodes at ${sim.url} (time x${SIM.timeScale}); KUBECONFIG=${kubeconfig} kubectl get jobs,pods`);
        const kc = new KubeConfig();
        kc.loadFromString(sim.kubeconfig);
        executors = { kubernetes: new KubernetesExecutor(kc) };
      } else {
        executors = { local: new LocalExecutor({ dir: resolve(work, 'local'), cwd: REPO_ROOT }) };
      }
      console.log(`starting a Temporal dev server (Web UI on) ...`);
      const { env, uiUrl } = await startDevServer({ ui: true }).catch(async (e: unknown) => {
        await sim?.stop();
        throw e;
      });
      const store = new SqliteStore(resolve(work, 'results.db'));
      // One task queue for the worker and the start (TEMPORAL_TASK_QUEUE, or our default).
      const { taskQueue } = temporalSettings();
      const { worker } = await createSweepWorker({
        taskQueue,
        connection: env.nativeConnection,
        clientConnection: env.connection,
        namespace: env.namespace ?? 'default',
        store,
        executors,
        reportDir: resolve(REPO_ROOT, 'out'),
      });
      const running = worker.run();
      const id = sweepWorkflowId(spec.name);
      const ui = `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`;
      let ok = false;
      try {
        await env.client.workflow.start('sweep', {
          taskQueue,
          workflowId: id,
          args: [spec],
          memo: { specSource: specFile },
          typedSearchAttributes: [
            { key: SweepName, value: spec.name },
            { key: SweepId, value: id },
          ],
        });
        const where = sim ? 'as Kubernetes Jobs on kube-sim' : 'on the local executor';
        console.log(`sweep ${id}: ${expandGrid(spec).length} runs of the synthetic trainer ${where}, injected failures on`);
        console.log(`Web UI: ${ui}`);
        const r = await watchSweep(env.client, id, { intervalMs: 1000, reader: new StoreReader(store) });
        const summary = (await env.client.workflow.getHandle(id).result()) as SweepSummary;
        if (r.progress) console.log(formatProgress(r.progress).split('\n').slice(0, 2).join('\n'));
        await printResults(store, spec.name);
        console.log('\nFitted laws (misalignment 1 - score = E + A x^-alpha; 95% bootstrap intervals):');
        for (const f of summary.fits) console.log(`  ${fitStatusLine(f)}`);
        if (summary.reportPath) console.log(`\nReport: ${summary.reportPath}`);
        console.log(`Web UI: ${ui}`);
        console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        ok = r.outcome.exitCode === 0 && summary.byState.pending === 0 && summary.byState.running === 0;
        if (o.keep) {
          console.log('dev server and Web UI stay up; Ctrl-C to stop');
          await new Promise<void>((res) => process.once('SIGINT', () => res()));
        }
      } finally {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        await store.close();
        await env.teardown();
        await sim?.stop();
      }
      process.exit(ok ? 0 : 1);
    });
}

async function printResults(store: SqliteStore, sweep: string) {
  const [runs, results, attempts] = await Promise.all([store.listRuns(sweep), store.listResults(sweep), store.listAttempts(sweep)]);
  const byRun = new Map(results.map((r) => [r.runId, r.result]));
  const classes = new Map<string, string[]>();
  for (const a of attempts) if (a.failureClass) classes.set(a.runId, [...(classes.get(a.runId) ?? []), `${a.attempt}:${a.failureClass}`]);
  const metrics = ['V1', 'V2', 'V4', 'IT', 'Behavioral'];
  const t = table({ head: ['arch', 'spc', 'seed', 'state', 'att.', 'failures', ...metrics, 'FLOPs'] });
  for (const r of runs.sort((a, b) => (byRun.get(a.runId)?.total_flops ?? 0) - (byRun.get(b.runId)?.total_flops ?? 0))) {
    const res = byRun.get(r.runId);
    t.push([
      String(r.axes.arch),
      String(r.axes.samples_per_class),
      String(r.axes.seed),
      r.state,
      r.attempts,
      (classes.get(r.runId) ?? []).join(' '),
      ...metrics.map((m) => num(res?.metrics[m])),
      num(res?.total_flops),
    ]);
  }
  console.log(t.toString());
}
