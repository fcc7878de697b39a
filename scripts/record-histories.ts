/**
 * Records (as binary protobuf) the histories that `test/integration/replay.test.ts` replays on every commit, so a
 * change to workflow code that would break sweeps already running fails a test (and goes
 * through `patched()` instead). Run after a deliberate, patched change of workflow code:
 *
 *   npx tsx scripts/record-histories.ts     # writes test/histories/*.json
 *
 * Representative: a sweep that continued as new, was paused, resumed, extended, retried and
 * cancelled; a two-stage sweep whose runs were preempted (and retried) and evaluated.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @temporalio/proto is CommonJS: Node's ESM loader cannot see its named exports, so take the default.
import proto from '@temporalio/proto';
import { LocalExecutor } from '../activities/executors/local';
import { SweepSpecSchema } from '../spec';
import { SqliteStore } from '../store/sqlite';
import { createSweepWorker } from '../worker';
import { startDevServer } from '../worker/devServer';
import { REPO_ROOT } from '../worker/settings';
import { extendUpdate, pauseSignal, resumeSignal, retryFailedUpdate, cancelSignal, progressQuery } from '../contract';

const OUT = join(REPO_ROOT, 'test/histories');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'sweep-hist-'));
  const marker = join(root, 'fixed');
  const stageLog = join(root, 'stages.log');
  const { env } = await startDevServer({ extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=120'] });
  const store = new SqliteStore(join(root, 'results.db'));
  const { worker } = await createSweepWorker({
    connection: env.nativeConnection,
    clientConnection: env.connection,
    namespace: 'default',
    store,
    executors: { local: new LocalExecutor({ dir: join(root, 'local'), cwd: REPO_ROOT, checkpointDir: join(root, 'ckpt') }) },
    reportDir: join(root, 'out'),
  });
  const running = worker.run();
  const client = env.client;
  try {
    // 1. Pause, resume, extend, retryFailed, continue-as-new, cancel.
    const life = SweepSpecSchema.parse({
      name: 'hist-life',
      grid: { x: Array.from({ length: 12 }, (_, i) => i + 1) },
      job: {
        command: ['sh', '-c', `if [ {{x}} = 3 ] && [ ! -e ${marker} ]; then exit 3; fi; if [ {{x}} = 14 ]; then s=60; else s=0; fi; exec node sim/sleepJob.mjs --seconds=$s`],
        resources: { gpus: 0 },
      },
      concurrency: { maxRuns: 3 },
      retry: { maxAttempts: 2, nonRetryableExitCodes: [3] },
      reconcile: { interval: '2s' },
      metrics: ['score'],
    });
    const h = await client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/hist-life', args: [life] });
    await h.signal(pauseSignal);
    await sleep(1500);
    await h.signal(resumeSignal);
    for (;;) {
      const p = await h.query(progressQuery);
      if (p.byState.failed >= 1) break;
      await sleep(300);
    }
    writeFileSync(marker, '');
    await h.executeUpdate(retryFailedUpdate, { args: [{}] });
    await h.executeUpdate(extendUpdate, { args: [{ axes: { x: [13, 14] } }] });
    for (;;) {
      const p = await h.query(progressQuery);
      if (p.byState.succeeded >= 13) break;
      await sleep(300);
    }
    await h.signal(cancelSignal);
    await h.result();

    // 2. Two stages: training preempted once (SIGTERM to itself on attempt 1), then evaluated.
    const staged = SweepSpecSchema.parse({
      name: 'hist-staged',
      grid: { x: [1, 2, 4] },
      job: {
        command: ['sh', '-c', 'if [ "$SWEEP_ATTEMPT" = 1 ] && [ {{x}} = 2 ]; then kill -TERM $$; fi; exec node test/fixtures/stageJob.mjs train'],
        env: { STAGE_LOG: stageLog },
        resources: { gpus: 0 },
      },
      evaluate: { command: ['node', 'test/fixtures/stageJob.mjs', 'evaluate'], env: { STAGE_LOG: stageLog } },
      retry: { maxAttempts: 3, backoff: { initial: '200ms', max: '1s' } },
      metrics: ['score'],
      fits: [{ name: 'law', form: 'power_law', x: 'total_flops', y: { metrics: ['score'] }, bootstrap: 10 }],
      refit: { every: 2, bootstrap: 0 },
    });
    await client.workflow.execute('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/hist-staged', args: [staged] });

    // Every execution of both sweeps and of their runs.
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    let n = 0;
    for await (const wf of client.workflow.list({ query: 'WorkflowId STARTS_WITH "sweep/hist-"' })) {
      // Binary protobuf: this install has two copies of protobufjs, and the SDK's JSON reader
      // (historyFromJSON) fails across them; a decoded History replays as it is.
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const file = `${wf.workflowId.replace(/[^a-z0-9]+/gi, '_')}-${wf.runId}.binpb`;
      writeFileSync(join(OUT, file), proto.temporal.api.history.v1.History.encode(history).finish());
      n++;
    }
    console.log(`recorded ${n} histories in ${OUT}`);
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await store.close();
    await env.teardown();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
