import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SweepSpecSchema } from '../../spec';
import type { SweepSummary } from '../../contract';
import { runWorkflowId } from '../../contract';
import { sweepCli, temporalOk } from './helpers/cli';
import { readLaunches } from './helpers/launchLog';
import { startHarness, waitFor, type Harness } from './helpers/harness';

describe('re-submission and sweeps that ended', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });
  const launches = () => readLaunches(h.dirs.launchLog);

  it('a run that failed non-retryably, since fixed, really runs again when the sweep is re-submitted, at attempt 2', async () => {
    const fixed = join(h.dirs.root, 'fixed');
    const spec = SweepSpecSchema.parse({
      name: 'refix',
      grid: { x: [1, 2, 3] },
      job: {
        // x = 2 is broken (exit 3, a user error) until the user fixes it (the file appears).
        command: ['sh', '-c', `if [ {{x}} = 2 ] && [ ! -e ${fixed} ]; then exit 3; fi; exec node sim/sleepJob.mjs`],
        resources: { gpus: 0 },
      },
      retry: { maxAttempts: 3, nonRetryableExitCodes: [3] },
      metrics: ['score'],
    });
    const first = (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/refix',
      args: [spec],
    })) as SweepSummary;
    expect(first.byState).toEqual({ pending: 0, running: 0, succeeded: 2, failed: 1, cancelled: 0 });
    const broken = (await h.store.listRuns('refix', { state: 'failed' }))[0];
    expect(broken.failureClass).toBe('user-error');
    expect(broken.attempts).toBe(1);

    writeFileSync(fixed, '');
    const before = launches().length;
    const again = (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/refix',
      args: [spec],
    })) as SweepSummary;
    expect(again.byState).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0, cancelled: 0 });
    // Only the fixed run ran, and as attempt 2 (its first attempt is history).
    expect(launches().slice(before)).toEqual([expect.objectContaining({ runId: broken.runId, attempt: 2 })]);
    const run = await h.store.getRun('refix', broken.runId);
    expect(run?.state).toBe('succeeded');
    expect(run?.attempts).toBe(2);
    expect((await h.store.listAttempts('refix', broken.runId)).map((a) => [a.attempt, a.state])).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
  }, 120_000);

  it('a terminated sweep: its runs go on and record; status says how to stop them; cancel --orphans stops them and their jobs', async () => {
    const spec = SweepSpecSchema.parse({
      name: 'orphans',
      grid: { secs: [0.2, 300, 301] },
      job: { command: ['node', 'sim/sleepJob.mjs', '--seconds={{secs}}'], resources: { gpus: 0 } },
      concurrency: { maxRuns: 3 },
      metrics: ['score'],
    });
    await h.env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/orphans',
      args: [spec],
    });
    const longRuns = await waitFor('both long runs to launch', async () => {
      const l = launches().filter((x) => x.runId.startsWith('300-') || x.runId.startsWith('301-'));
      return l.length === 2 ? l : undefined;
    });
    await temporalOk(h, ['workflow', 'terminate', '--workflow-id', 'sweep/orphans', '--reason', 'oops']);
    // Its short run still finishes and records its result, with no sweep to tell.
    await waitFor(
      'the short run to record its result',
      async () => (await h.store.listRuns('orphans', { state: 'succeeded' })).length === 1,
    );
    const env = { ...h.childEnv, SWEEP_DB: h.dirs.db, NO_COLOR: '1' };
    const status = await sweepCli(['status', 'orphans'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      /terminated: the sweep stopped, but its runs go on and record their results \(2 still running\)/,
    );
    expect(status.stdout).toMatch(/sweep cancel orphans --orphans/);
    const plain = await sweepCli(['cancel', 'orphans'], env);
    expect(plain.stdout).toMatch(/is not running \(terminated\); 2 of its runs still are/);
    const cancel = await sweepCli(['cancel', 'orphans', '--orphans'], env);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/cancelled 2 run\(s\) of sweep\/orphans/);
    for (const l of longRuns) {
      await waitFor(
        `run ${l.runId} to close as cancelled`,
        async () =>
          (await h.env.client.workflow.getHandle(runWorkflowId('orphans', l.runId)).describe()).status.name ===
          'CANCELLED',
      );
      await waitFor(`the job of ${l.runId} to stop`, () => {
        try {
          process.kill(l.pid, 0);
          return false;
        } catch {
          return true;
        }
      });
      expect((await h.store.getRun('orphans', l.runId))?.state).toBe('cancelled');
    }
  }, 120_000);
});
