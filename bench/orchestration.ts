/**
 * Orchestration overhead on the embedded default: N runs of duration d at concurrency C on
 * the local executor against a real dev server. Prints wall / ideal (N d / C), runs per
 * second, history events per run and peak worker RSS.
 *
 *   npx tsx bench/orchestration.ts                 # 1,000 x 1 s at 16, then 10,000 x 0 s
 *   npx tsx bench/orchestration.ts --n 200 --d 1 --c 16 --only   # one configuration
 */
import './quiet';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { LocalExecutor } from '../activities/executors/local';
import { SqliteStore } from '../store/sqlite';
import { SweepSpecSchema } from '../spec';
import { createSweepWorker } from '../worker';
import { startDevServer } from '../worker/devServer';
import { REPO_ROOT } from '../worker/settings';
import type { SweepSummary } from '../contract';

Runtime.install({ logger: new DefaultLogger('WARN') });

const { values } = parseArgs({
  options: { n: { type: 'string' }, d: { type: 'string' }, c: { type: 'string' }, prefetch: { type: 'string' }, only: { type: 'boolean' } },
});

interface Case {
  n: number;
  d: number;
  c: number;
  target?: number;
  /** Runs admitted beyond the C job slots. */
  prefetch?: number;
}

async function runCase({ n, d, c, target, prefetch = Math.ceil(c / 2) }: Case) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-orch-'));
  const server = await startDevServer();
  const store = new SqliteStore(join(dir, 'results.db'));
  const { worker } = await createSweepWorker({
    connection: server.env.nativeConnection,
    clientConnection: server.env.connection,
    namespace: 'default',
    store,
    executors: { local: new LocalExecutor({ dir: join(dir, 'local'), cwd: REPO_ROOT }) },
    reportDir: join(dir, 'out'),
  });
  const running = worker.run();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  // The job is a shell one-liner so that its own start-up (not ours) costs next to nothing.
  const spec = SweepSpecSchema.parse({
    name: `bench-${n}-${d}-${c}`,
    grid: { i: Array.from({ length: n }, (_, i) => i) },
    maxGridSize: Math.max(10_000, n),
    job: {
      image: 'none',
      command: ['sh', '-c', `sleep ${d}; echo '{"metrics":{"score":0.5}}' > "$SWEEP_RESULT_FILE"`],
      resources: { gpus: 0 },
    },
    // C job slots; a few more runs admitted than slots, so the next run's workflow steps
    // overlap the current job and it starts the moment a slot frees (as pods queue for GPUs).
    executor: { kind: 'local', slots: c },
    concurrency: { maxRuns: c + prefetch },
  });
  const client = server.env.client;
  const t0 = performance.now();
  const handle = await client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: `sweep/${spec.name}`, args: [spec] });
  const summary = (await handle.result()) as SweepSummary;
  const wall = (performance.now() - t0) / 1000;
  clearInterval(sampler);

  // History events: every execution of the sweep (continue-as-new chain) + a sample of runs.
  let sweepEvents = 0;
  let executions = 0;
  for await (const wf of client.workflow.list({ query: `WorkflowId="sweep/${spec.name}"` })) {
    executions++;
    sweepEvents += wf.historyLength;
  }
  let runEvents = 0;
  let sampled = 0;
  for await (const wf of client.workflow.list({ query: `SweepId="sweep/${spec.name}" AND WorkflowType="sweepRun"` })) {
    runEvents += wf.historyLength;
    if (++sampled >= 50) break;
  }
  const eventsPerRun = sweepEvents / n + runEvents / Math.max(1, sampled);
  const ideal = (n * d) / c;
  const ok = summary.byState.succeeded === n;
  console.log(
    [
      `N=${n} d=${d}s C=${c} job slots (+${prefetch} runs queued): wall ${wall.toFixed(1)} s` + (d > 0 ? `, ideal ${ideal.toFixed(1)} s, wall/ideal ${(wall / ideal).toFixed(3)}` : ''),
      `  runs/s ${(n / wall).toFixed(1)}, history events/run ${eventsPerRun.toFixed(1)} (sweep ${(sweepEvents / n).toFixed(1)} over ${executions} executions, run ${(runEvents / Math.max(1, sampled)).toFixed(1)})`,
      `  peak worker RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB, succeeded ${summary.byState.succeeded}/${n}${ok ? '' : '  <-- NOT ALL SUCCEEDED'}`,
      target !== undefined && d > 0
        ? `  target wall/ideal <= ${target}: ${wall / ideal <= target ? 'MET' : 'MISSED'}`
        : `  target: completes with no history-limit failure: ${ok ? 'MET' : 'MISSED'} (continued-as-new ${executions - 1} times)`,
    ].join('\n'),
  );
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await running.catch(() => undefined);
  await store.close();
  await server.env.teardown();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log('reference: Ray Tune, 10,000 one-second trials at concurrency 16: 715 s vs 625 s ideal (1.14)');
if (values.only) {
  await runCase({ n: Number(values.n ?? 200), d: Number(values.d ?? 1), c: Number(values.c ?? 16), target: 1.1, prefetch: values.prefetch ? Number(values.prefetch) : undefined });
} else {
  await runCase({ n: 1000, d: 1, c: 16, target: 1.1 });
  await runCase({ n: 10_000, d: 0, c: 64 });
}
process.exit(0);
