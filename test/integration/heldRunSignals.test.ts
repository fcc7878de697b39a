/**
 * Issue 11 (trust): a retryFailed reruns every run it answers with, in the two windows a run's end
 * crosses on its way to the sweep. (1) The failure is in the store, its signal not yet at the
 * sweep: the pass must pick the run, still in flight, and rerun it when the signal comes (it
 * skipped it). (2) The run has signalled but its workflow has not closed: the rerun's start meets
 * the open execution and must wait for its close (the start was dropped, and the run sat in flight
 * until a reconcile counted it failed). A workflow interceptor holds the signal or the close until
 * the test lets it go; an activity gate holds the pass's vetting or the last refit.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressQuery, retryFailedUpdate, runWorkflowId, type SweepSummary } from '../../contract';
import { runIdOf } from '../../spec/grid';
import { ActivityGate, failEveryNth, holdAt, instantSweepSpec } from './helpers/gates';
import { waitFor } from './helpers/harness';
import { testReleaseSignal } from './helpers/holdRunSignals';
import { startInstantWorker, type InstantWorker } from './helpers/instantWorker';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

describe('a retryFailed around a run that is ending', () => {
  let w: InstantWorker;
  const gates = { vetCells: new ActivityGate(), refit: new ActivityGate() };
  const x4 = runIdOf({ x: 4 }); // failEveryNth(4): the one run of six that fails its only attempt

  beforeAll(async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: here('../../workflows/index.ts'),
      workflowInterceptorModules: [here('./helpers/holdRunSignals.ts')],
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    w = await startInstantWorker({ outcome: failEveryNth(4), workerOptions: { workflowBundle: { code }, interceptors: { activity: [holdAt(gates)] } } });
  }, 180_000);

  afterAll(async () => {
    for (const g of Object.values(gates)) g.release();
    await w?.stop();
  });

  const start = (name: string) =>
    w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: `sweep/${name}`, args: [instantSweepSpec(name, 6, 2)] });
  /** The history's events, by type name. */
  const eventTypes = async (h: WorkflowHandle) => ((await h.fetchHistory()).events ?? []).map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '');

  it('picks a run whose failure is in the store before its signal reaches the sweep, and reruns it', async () => {
    const name = 'held-signal-retry';
    const handle = await start(name);
    await waitFor('the failure of x=4 in the store', async () => (await w.store.getRun(name, x4))?.state === 'failed', { timeoutMs: 60_000 });
    await waitFor('the other five to succeed (x=4 is in flight for the sweep)', async () => {
      const q = await handle.query(progressQuery);
      return q.byState.succeeded === 5 && q.byState.running === 1;
    }, { timeoutMs: 60_000 });
    gates.vetCells.armed = true;
    const answer = await handle.executeUpdate(retryFailedUpdate, { args: [{}] });
    expect(answer).toEqual({ rerun: [x4], count: 1 });
    // The pass's page is asked for while x=4 is still in flight; then the sweep takes the answer.
    await waitFor('the pass to vet its page', () => gates.vetCells.held > 0);
    gates.vetCells.release();
    await waitFor('the sweep to take the vetted page (vetCells completed, then a workflow task)', async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const vetIds = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'vetCells').map((e) => String(e.eventId)));
      const done = events.findIndex((e) => vetIds.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? '')));
      return done >= 0 && events.slice(done + 1).some((e) => e.workflowTaskCompletedEventAttributes);
    });
    expect((await handle.query(progressQuery)).byState).toMatchObject({ running: 1, failed: 0 });
    await w.env.client.workflow.getHandle(runWorkflowId(name, x4)).signal(testReleaseSignal);
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 6, failed: 0, cancelled: 0 });
    expect(w.executor.launches.get(`${name}/${x4}#2`)).toBe(1);
  }, 120_000);

  it("starts a rerun once its run's last execution, which has signalled, closes", async () => {
    const name = 'held-close-retry';
    // The first live refit is held: the sweep cannot end before the retry is asked for.
    gates.refit.armed = true;
    const handle = await start(name);
    await waitFor('every run to end, x=4 failed (its workflow still open)', async () => {
      const q = await handle.query(progressQuery);
      return q.byState.succeeded === 5 && q.byState.failed === 1 && q.byState.running === 0;
    }, { timeoutMs: 60_000 });
    const answer = await handle.executeUpdate(retryFailedUpdate, { args: [{}] });
    expect(answer).toEqual({ rerun: [x4], count: 1 });
    gates.refit.release();
    await waitFor("the rerun's start to meet the open execution", async () =>
      (await eventTypes(handle)).includes('startChildWorkflowExecutionFailedEventAttributes'),
    );
    expect(w.executor.launches.get(`${name}/${x4}#2`)).toBeUndefined();
    await w.env.client.workflow.getHandle(runWorkflowId(name, x4)).signal(testReleaseSignal);
    await waitFor('the rerun to launch attempt 2', () => w.executor.launches.get(`${name}/${x4}#2`) === 1, { timeoutMs: 30_000 });
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 6, failed: 0, cancelled: 0 });
  }, 120_000);
});
