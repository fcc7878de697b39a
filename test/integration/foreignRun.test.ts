/**
 * Trust: a sweep never takes another sweep's run as its own. A sweep is terminated (from the Web
 * UI, say) while its runs still go on (runs are abandoned children), and a sweep of the same name
 * starts with another job definition: its starts meet the old runs open (same workflow ids). The
 * old runs' ends, signalled to the sweep's workflow id, reach the new sweep; it must run each
 * cell itself once the old execution closes, not count the old definition's result (it did).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressQuery, runWorkflowId, type RunInput, type SweepSummary } from '../../contract';
import { SweepSpecSchema } from '../../spec';
import { runIdOf } from '../../spec/grid';
import { ActivityGate, failEveryNth, holdAt, instantSweepSpec } from './helpers/gates';
import { waitFor } from './helpers/harness';
import { startInstantWorker, type InstantWorker } from './helpers/instantWorker';

describe('a sweep that meets a terminated sweep’s runs still going', () => {
  let w: InstantWorker;
  const gates = { runAttempt: new ActivityGate() };

  beforeAll(async () => {
    w = await startInstantWorker({ outcome: failEveryNth(1000), workerOptions: { interceptors: { activity: [holdAt(gates)] } } });
  }, 180_000);

  afterAll(async () => {
    gates.runAttempt.release();
    await w?.stop();
  });

  it('runs each cell under its own job definition once the old run closes, and counts the old end nowhere', async () => {
    const name = 'foreign-runs';
    const first = instantSweepSpec(name, 2, 2);
    const second = SweepSpecSchema.parse({ ...first, job: { ...first.job, args: ['v2'] } });
    const ids = [runIdOf({ x: 1 }), runIdOf({ x: 2 })];
    const opts = { taskQueue: 'scaling-sweeps', workflowId: `sweep/${name}` };

    // The first sweep's two runs are held at their first attempt; then the sweep is terminated.
    gates.runAttempt.armed = true;
    const old = await w.env.client.workflow.start('sweep', { ...opts, args: [first] });
    await waitFor('both runs of the first sweep to reach their attempt', () => gates.runAttempt.held === 2, { timeoutMs: 60_000 });
    await old.terminate('replaced by a sweep with another job definition');

    const fresh = await w.env.client.workflow.start('sweep', { ...opts, args: [second] });
    await waitFor('the new sweep to count both cells in flight (its starts met the old runs)', async () => {
      const q = await fresh.query(progressQuery);
      return q.byState.running === 2;
    }, { timeoutMs: 60_000 });
    // The old runs go on: attempt 1 of the old definition, then their ends, signalled to `sweep/<name>`.
    gates.runAttempt.release();

    const summary = (await fresh.result()) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 2, failed: 0, cancelled: 0 });
    for (const id of ids) {
      // The old definition's attempt 1 ran once, and the new sweep's own attempt (2: the store has 1) once.
      expect(w.executor.launches.get(`${name}/${id}#1`)).toBe(1);
      expect(w.executor.launches.get(`${name}/${id}#2`)).toBe(1);
      // The run's last execution is the new sweep's, with the new job definition.
      const history = await w.env.client.workflow.getHandle(runWorkflowId(name, id)).fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      const input = JSON.parse(Buffer.from(started?.input?.payloads?.[0]?.data ?? new Uint8Array()).toString('utf8')) as RunInput;
      expect(input.spec.job?.args).toEqual(['v2']);
      expect(input.firstAttempt).toBe(2);
    }
  }, 120_000);
});
