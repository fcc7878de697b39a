/**
 * Issue 11: a `retryFailed` and a `cancel` sent while the sweep waits to continue as new (for a
 * running refit to end) take effect. The window is forced: an activity interceptor holds the
 * refit until the test lets it go, and the sweep says when it is waiting (`progress.continuing`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelSignal, progressQuery, retryFailedUpdate, runsQuery, type SweepSummary } from '../../contract';
import { ActivityGate, failEveryNth, holdAt, instantSweepSpec } from './helpers/gates';
import { waitFor } from './helpers/harness';
import { startInstantWorker, type InstantWorker } from './helpers/instantWorker';

const spec = (name: string) => instantSweepSpec(name, 30, 3);

describe('the continue-as-new window', () => {
  let w: InstantWorker;
  const gate = new ActivityGate();
  const launched = (sweep: string) => [...w.executor.launches.keys()].filter((k) => k.startsWith(`${sweep}/`));

  beforeAll(async () => {
    w = await startInstantWorker({
      outcome: failEveryNth(5),
      extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=80'],
      workerOptions: { interceptors: { activity: [holdAt({ refit: gate })] } },
    });
  }, 120_000);

  afterAll(async () => {
    gate.release();
    await w?.stop();
  });

  /**
   * Starts a sweep with refits held, and waits until it waits to continue as new with no run in
   * flight: runs started before the window still end in it, so until then the counts can move
   * between a query and an update (a run failing in between made the update name one more).
   */
  async function startHeld(name: string) {
    gate.armed = true;
    const handle = await w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: `sweep/${name}`, args: [spec(name)] });
    const p = await waitFor('the sweep to wait in the continue-as-new window, its runs ended', async () => {
      const q = await handle.query(progressQuery);
      return q.continuing && q.byState.running === 0 ? q : undefined;
    }, { timeoutMs: 120_000, intervalMs: 200 });
    return { handle, progress: p };
  }

  /** Each execution's status; `settled`: once none lists as RUNNING (visibility lags a result by a moment). */
  const executions = async (name: string, { settled = false } = {}) => {
    for (const deadline = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 250))) {
      const out: string[] = [];
      for await (const wf of w.env.client.workflow.list({ query: `WorkflowId="sweep/${name}"` })) out.push(wf.status.name);
      if (!settled || !out.includes('RUNNING') || Date.now() > deadline) return out;
    }
  };

  it('a retryFailed sent in the window reruns the failed runs in the next execution', async () => {
    const { handle, progress } = await startHeld('canwin-retry');
    expect(progress.byState.failed).toBeGreaterThan(0);
    const answer = await handle.executeUpdate(retryFailedUpdate, { args: [{}] });
    expect(answer.count).toBe(progress.byState.failed);
    gate.release();
    const summary = (await handle.result()) as SweepSummary;
    // Six cells fail their first attempt; those that had failed when it was asked reran and succeeded.
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 24 + answer.count, failed: 6 - answer.count, cancelled: 0 });
    // The runs the answer named ran again, once, at attempt 2, after the sweep continued as new.
    for (const id of answer.rerun) expect(w.executor.launches.get(`canwin-retry/${id}#2`)).toBe(1);
    expect((await executions('canwin-retry')).filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
    const attempts = await w.store.listAttempts('canwin-retry');
    expect(attempts.filter((a) => a.attempt === 2).map((a) => a.runId).sort()).toEqual([...answer.rerun].sort());
  }, 240_000);

  it('a cancel sent in the window ends the sweep: nothing more starts, no execution goes on launching', async () => {
    const { handle } = await startHeld('canwin-cancel');
    // What may still launch after the cancel: runs that ended already and those in flight (a run
    // started just before may be launching its attempt). Nothing else.
    const inFlight = (await handle.query(runsQuery, { state: 'running' })).runs ?? [];
    const allowed = new Set([...(await w.store.listRuns('canwin-cancel')).map((r) => r.runId), ...inFlight.map((r) => r.runId)]);
    const before = (await executions('canwin-cancel')).length;
    await handle.signal(cancelSignal);
    gate.release();
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState.pending).toBeGreaterThan(0);
    expect(summary.byState.succeeded + summary.byState.failed + summary.byState.cancelled).toBeLessThan(30);
    const ids = launched('canwin-cancel').map((k) => k.slice('canwin-cancel/'.length).split('#')[0]);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.filter((id) => !allowed.has(id))).toEqual([]);
    // The execution that got the cancel is the last: it did not continue as new.
    const after = await executions('canwin-cancel', { settled: true });
    expect(after.length).toBe(before);
    expect(after.filter((s) => s === 'COMPLETED')).toHaveLength(1);
    const desc = await handle.describe();
    expect(desc.searchAttributes.RunState).toEqual(['cancelled']);
  }, 240_000);
});
