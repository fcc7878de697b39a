import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import type { SqliteStore } from '../../store/sqlite';
import { expandGrid, SweepSpecSchema, type SweepSpecInput } from '../../spec';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { workflowBundlePath } from '../../worker/bundle';
import type { SweepSummary } from '../../contract';
import { startHarness, type Harness } from './helpers/harness';
import { attemptKeys, launchKeys, readLaunches } from './helpers/launchLog';

const TRAINER_ARGS = [
  '--seconds-per-eflop=0.5',
  '--max-seconds=1.2',
  '--min-seconds=0.2',
  '--p-preempt=0.2',
  '--p-oom=0.1',
  '--p-user-error=0.1',
  '--p-bad-output=0.07',
  '--fault-seed=11',
];

const SPEC: SweepSpecInput = {
  name: 'failures',
  grid: {
    arch: ['alexnet', 'resnet18', 'resnet34', 'efficientnet_b0', 'convnext_tiny'],
    dataset: ['imagenet'],
    samples_per_class: [10, 30, 100],
    epochs: [10],
    seed: [0, 1],
  },
  job: {
    image: 'trainer:test',
    command: ['node', '--import', 'tsx', 'sim/trainer/main.ts'],
    args: TRAINER_ARGS,
    resources: { gpus: 1 },
  },
  concurrency: { maxRuns: 8 },
  retry: { maxAttempts: 3, backoff: { initial: '500ms', max: '1s' }, nonRetryableExitCodes: [3] },
  timeouts: { run: '1m', pending: '1m' },
  metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
};

/** What the sweep must end with, from the trainer's own (deterministic) fault plan. */
function expected(runId: string, axes: Record<string, string | number | boolean>) {
  const fault = planTraining({ sweep: 'failures', runId, attempt: 1, axes }, parseTrainerArgs(TRAINER_ARGS)).fault;
  switch (fault) {
    case 'none':
      return { state: 'succeeded', classes: [] as string[] };
    case 'preempt':
      return { state: 'succeeded', classes: ['preempted'] };
    case 'oom':
      return { state: 'failed', classes: ['oom'] };
    case 'user-error':
      return { state: 'failed', classes: ['user-error'] };
    case 'bad-output':
      return { state: 'failed', classes: ['bad-result'] };
    default:
      throw new Error(`unexpected fault ${fault}`);
  }
}

describe('a sweep of 30 runs with injected failures, on a real dev server', () => {
  let h: Harness;
  let store: SqliteStore;
  let summary: SweepSummary;

  beforeAll(async () => {
    h = await startHarness();
    store = h.store;
    const handle = await h.env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/failures',
      args: [SweepSpecSchema.parse(SPEC)],
    });
    summary = (await handle.result()) as SweepSummary;
  }, 240_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('ends every retryable run succeeded and every non-retryable run failed with its class', async () => {
    const cells = expandGrid(SweepSpecSchema.parse(SPEC));
    expect(cells.length).toBe(30);
    const runs = new Map((await store.listRuns('failures')).map((r) => [r.runId, r]));
    const attempts = await store.listAttempts('failures');
    for (const c of cells) {
      const want = expected(c.runId, c.axes);
      const run = runs.get(c.runId);
      expect(run?.state, c.runId).toBe(want.state);
      const classes = attempts.filter((a) => a.runId === c.runId && a.failureClass).map((a) => a.failureClass);
      expect(classes, c.runId).toEqual(want.classes);
      if (want.state === 'failed') expect(run?.failureClass).toBe(want.classes[0]);
    }
    // What the store recorded, tallied per outcome. Fault seed 11 plans exactly this (golden: a change
    // in the trainer's fault plan must show here, not quietly stop exercising a path).
    const tally: Record<string, number> = {};
    for (const run of runs.values()) {
      const retried = attempts.some((a) => a.runId === run.runId && a.failureClass === 'preempted');
      const key = run.state === 'failed' ? `failed:${run.failureClass}` : retried ? 'succeeded:after-preempted' : run.state;
      tally[key] = (tally[key] ?? 0) + 1;
    }
    expect(tally).toEqual({
      succeeded: 15,
      'succeeded:after-preempted': 4,
      'failed:oom': 3,
      'failed:user-error': 6,
      'failed:bad-result': 2,
    });
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 19, failed: 11, cancelled: 0 });
  });

  it('records results for succeeded runs only, and each attempt was launched once', async () => {
    const results = await store.listResults('failures');
    const succeeded = (await store.listRuns('failures', { state: 'succeeded' })).map((r) => r.runId).sort();
    expect(results.map((r) => r.runId).sort()).toEqual(succeeded);
    for (const r of results) expect(Object.keys(r.result.metrics)).toEqual(expect.arrayContaining(['V1', 'IT', 'Behavioral']));
    // The processes really started: attempt 1 of every run, attempt 2 of each preempted one, each once.
    const cells = expandGrid(SweepSpecSchema.parse(SPEC));
    const want = attemptKeys(cells.map((c) => [c.runId, expected(c.runId, c.axes).classes.includes('preempted') ? 2 : 1] as const));
    expect(want).toHaveLength(34);
    expect(launchKeys(readLaunches(h.dirs.launchLog))).toEqual(want);
  });

  it('replays the recorded histories of sweep and sweepRun without determinism errors', async () => {
    const client = h.env.client;
    const ids = ['sweep/failures'];
    for await (const wf of client.workflow.list({ query: `SweepId="sweep/failures" AND WorkflowType="sweepRun"` })) {
      ids.push(wf.workflowId);
      if (ids.length >= 8) break;
    }
    expect(ids.length).toBeGreaterThan(5);
    const histories = await Promise.all(
      ids.map(async (workflowId) => ({ workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() })),
    );
    let replayed = 0;
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: await workflowBundlePath() } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
      replayed++;
    }
    expect(replayed).toBe(ids.length);
  });
});
