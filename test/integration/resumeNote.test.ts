import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SweepSpecSchema } from '../../spec';
import type { SweepSummary } from '../../contract';
import { runWorkflowId } from '../../contract';
import { startHarness, type Harness } from './helpers/harness';

// The synthetic trainer, preempted (SIGTERM) on its first attempt, checkpoints every epoch: the
// retry resumes, and `sweep runs` and the run's details say where.
describe('a preempted run resumes from its checkpoint, and says so', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('attempt 2 resumed at epoch k, in the store and the run’s current details', async () => {
    const spec = SweepSpecSchema.parse({
      name: 'resume',
      grid: { arch: ['resnet18'], dataset: ['imagenet'], samples_per_class: [100], epochs: [20], seed: [0] },
      job: {
        command: ['node', '--import', 'tsx', 'sim/trainer/main.ts'],
        args: [
          '--seconds-per-eflop=0.2',
          '--min-seconds=3',
          '--max-seconds=3',
          '--p-preempt=1',
          '--fault-attempts=1',
          '--fault-seed=3',
        ],
        resources: { gpus: 1 },
      },
      retry: { maxAttempts: 3, backoff: { initial: '200ms', max: '1s' } },
      metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
    });
    const summary = (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/resume',
      args: [spec],
    })) as SweepSummary;
    expect(summary.byState.succeeded).toBe(1);
    const [run] = await h.store.listRuns('resume');
    const attempts = await h.store.listAttempts('resume', run.runId);
    expect(attempts.map((a) => [a.attempt, a.state, a.failureClass])).toEqual([
      [1, 'failed', 'preempted'],
      [2, 'succeeded', undefined],
    ]);
    const [result] = await h.store.listResults('resume');
    const from = result.result.metrics.resumed_from_epoch;
    expect(from).toBeGreaterThanOrEqual(1);
    expect(run.message).toBe(`attempt 2 resumed at epoch ${from}`);
    // A closed run answers the metadata query (replayed by the worker) with its last details.
    const meta = await h.env.client.workflow
      .getHandle(runWorkflowId('resume', run.runId))
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toContain(`**Note:** attempt 2 resumed at epoch ${from}`);
  }, 120_000);
});
