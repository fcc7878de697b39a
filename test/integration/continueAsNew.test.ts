import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from '@temporalio/worker';
import { LocalExecutor } from '../../activities/executors/local';
import { SqliteStore } from '../../store/sqlite';
import { SweepSpecSchema } from '../../spec';
import { createSweepWorker } from '../../worker';
import { startDevServer } from '../../worker/devServer';
import { REPO_ROOT } from '../../worker/settings';
import type { SweepSummary } from '../../workflows/api';

const N = 220;
const SPEC = SweepSpecSchema.parse({
  name: 'can',
  grid: { x: Array.from({ length: N / 2 }, (_, i) => i + 1), seed: [0, 1] },
  job: { image: 'sleep:test', command: ['node', 'sim/sleepJob.mjs', '--seconds=0'], resources: { gpus: 0 } },
  concurrency: { maxRuns: 16 },
  metrics: ['score'],
});

describe('continue-as-new with a lowered history limit', () => {
  let server: Awaited<ReturnType<typeof startDevServer>>;
  let store: SqliteStore;
  let worker: Worker;
  let running: Promise<void>;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sweep-can-'));
    server = await startDevServer({
      extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=300'],
    });
    store = new SqliteStore(join(dir, 'results.db'));
    ({ worker } = await createSweepWorker({
      connection: server.env.nativeConnection,
      clientConnection: server.env.connection,
      namespace: 'default',
      store,
      executors: { local: new LocalExecutor({ dir: join(dir, 'local'), cwd: REPO_ROOT }) },
      reportDir: join(dir, 'out'),
    }));
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => undefined);
    await store?.close();
    await server?.env.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`runs ${N} runs across several continue-as-new and records every result`, async () => {
    const client = server.env.client;
    const handle = await client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/can', args: [SPEC] });
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState.succeeded).toBe(N);
    const executions: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId="sweep/can"` })) executions.push(wf.status.name);
    const continued = executions.filter((s) => s === 'CONTINUED_AS_NEW').length;
    expect(continued).toBeGreaterThanOrEqual(3);
    expect(executions.filter((s) => s === 'COMPLETED').length).toBe(1);
    const results = await store.listResults('can');
    expect(results.length).toBe(N);
    expect(new Set(results.map((r) => r.runId)).size).toBe(N);
    // Each history stays near the limit instead of growing with the sweep.
    const last = await handle.fetchHistory();
    expect(last.events?.length ?? 0).toBeLessThan(600);
  }, 300_000);
});
