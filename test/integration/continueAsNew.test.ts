import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGrid, SweepSpecSchema } from '../../spec';
import type { SweepSummary } from '../../contract';
import { startHarness, type Harness } from './helpers/harness';
import { attemptKeys, launchKeys, readLaunches } from './helpers/launchLog';

const N = 220;
const SPEC = SweepSpecSchema.parse({
  name: 'can',
  grid: { x: Array.from({ length: N / 2 }, (_, i) => i + 1), seed: [0, 1] },
  job: { image: 'sleep:test', command: ['node', 'sim/sleepJob.mjs', '--seconds=0'], resources: { gpus: 0 } },
  concurrency: { maxRuns: 16 },
  metrics: ['score'],
});

describe('continue-as-new with a lowered history limit', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=300'] });
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it(`runs ${N} runs across several continue-as-new and records every result`, async () => {
    const client = h.env.client;
    const store = h.store;
    const handle = await client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/can', args: [SPEC] });
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState.succeeded).toBe(N);
    // Visibility is eventually consistent: the last execution can still list as RUNNING for a
    // moment after its result is in (this test once read 0 COMPLETED). Wait for it to settle.
    let executions: string[] = [];
    for (const deadline = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 250))) {
      executions = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId="sweep/can"` })) executions.push(wf.status.name);
      if (!executions.includes('RUNNING') || Date.now() > deadline) break;
    }
    const continued = executions.filter((s) => s === 'CONTINUED_AS_NEW').length;
    expect(continued).toBeGreaterThanOrEqual(3);
    expect(executions.filter((s) => s === 'COMPLETED').length).toBe(1);
    const cells = expandGrid(SPEC).map((c) => c.runId);
    expect(cells).toHaveLength(N);
    const results = await store.listResults('can');
    expect(results.map((r) => r.runId).sort()).toEqual([...cells].sort());
    // Exactly N processes, one per run: no run restarted by a continue-as-new that lost track of it.
    expect(launchKeys(readLaunches(h.dirs.launchLog))).toEqual(attemptKeys(cells));
    // Each history stays near the limit instead of growing with the sweep.
    const last = await handle.fetchHistory();
    expect(last.events?.length ?? 0).toBeLessThan(600);
  }, 300_000);
});
