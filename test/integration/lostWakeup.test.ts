import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGrid, SweepSpecSchema } from '../../spec';
import type { SweepSummary } from '../../contract';
import { REPO_ROOT } from '../../worker/settings';
import { startHarness, type Harness } from './helpers/harness';
import { attemptKeys, launchKeys, readLaunches } from './helpers/launchLog';

// Runs that all finish while the sweep is still starting children (fast jobs, or a wrong
// command failing every run at once) used to park the sweep for good at `condition(() => dirty)`.
const spec = (name: string, command: string[]) =>
  SweepSpecSchema.parse({
    name,
    grid: { x: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], seed: [0, 1] },
    job: { command, resources: { gpus: 0 } },
    concurrency: { maxRuns: 4 },
    retry: { maxAttempts: 1 },
    metrics: ['score'],
  });

describe('no lost wake-up in the sweep loop', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      workerOptions: {
        // Bundled from source with the interceptors that force the interleaving.
        workflowBundle: undefined,
        workflowsPath: join(REPO_ROOT, 'workflows/index.ts'),
        interceptors: { workflowModules: [join(REPO_ROOT, 'test/integration/helpers/lateChildStarts.ts')] },
      },
    });
  }, 180_000);

  afterAll(async () => {
    await h?.stop();
  });

  const launches = () => readLaunches(h.dirs.launchLog);

  it('completes when every run of a window finishes before its start is acknowledged', async () => {
    const handle = await h.env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/wake-ok',
      args: [spec('wake-ok', ['node', 'sim/sleepJob.mjs', '--seconds=0'])],
    });
    const summary = (await Promise.race([
      handle.result(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the sweep hung: a wake-up was lost')), 90_000)),
    ])) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 20, failed: 0, cancelled: 0 });
    // Exactly one launch per run of the grid: none lost, none twice.
    expect(launchKeys(launches())).toEqual(attemptKeys(expandGrid(spec('wake-ok', ['true'])).map((c) => c.runId)));
  }, 120_000);

  it('completes when every run fails at once (a command that cannot start)', async () => {
    const before = launches().length;
    const handle = await h.env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/wake-fail',
      args: [spec('wake-fail', ['sh', '-c', 'exit 3'])],
    });
    const summary = (await Promise.race([
      handle.result(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the sweep hung: a wake-up was lost')), 90_000)),
    ])) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 0, failed: 20, cancelled: 0 });
    expect(launchKeys(launches().slice(before))).toEqual(
      attemptKeys(expandGrid(spec('wake-fail', ['true'])).map((c) => c.runId)),
    );
  }, 120_000);
});
