/**
 * Issue 11: updates in the sweep's two edge windows take effect. (1) Before its spec is
 * validated: Temporal rejects an update that finds no handler at the end of an activation, so
 * the sweep's handlers wait for the spec instead. (2) After its runs have ended, while the last
 * live refit runs: a retryFailed accepted then reruns its runs before the final refit, instead of
 * being dropped by it. Each window is forced: an activity interceptor holds `validateSpec` or
 * `refit` until the test lets it go.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extendUpdate, progressQuery, retryFailedUpdate, setConcurrencyUpdate, type SweepSummary } from '../../contract';
import { ActivityGate, failEveryNth, holdAt, instantSweepSpec } from './helpers/gates';
import { waitFor } from './helpers/harness';
import { startInstantWorker, type InstantWorker } from './helpers/instantWorker';

const spec = (name: string, cells: number) => instantSweepSpec(name, cells, 2);

describe("the sweep's handler windows", () => {
  let w: InstantWorker;
  const gates = { validateSpec: new ActivityGate(), refit: new ActivityGate(), recordGrid: new ActivityGate() };

  beforeAll(async () => {
    w = await startInstantWorker({ outcome: failEveryNth(4), workerOptions: { interceptors: { activity: [holdAt(gates)] } } });
  }, 120_000);

  afterAll(async () => {
    for (const g of Object.values(gates)) g.release();
    await w?.stop();
  });

  it('updates sent while the spec is being validated wait for it, then take effect (an invalid one is refused, naming why)', async () => {
    const gate = gates.validateSpec;
    gate.armed = true;
    const handle = await w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/early-updates', args: [spec('early-updates', 6)] });
    await waitFor('validateSpec to be held', () => gate.held > 0, { timeoutMs: 30_000 });
    const concurrency = handle.executeUpdate(setConcurrencyUpdate, { args: [{ maxRuns: 3 }] });
    const extended = handle.executeUpdate(extendUpdate, { args: [{ axes: { x: [7, 8] } }] });
    const refused = handle.executeUpdate(setConcurrencyUpdate, { args: [{ maxRuns: 0 }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The updates are in before the spec is validated: the query still says the sweep is starting.
    await new Promise((r) => setTimeout(r, 500));
    expect((await handle.query(progressQuery)).starting).toBe(true);
    gate.release();
    expect(await concurrency).toEqual({ maxRuns: 3, maxGpus: undefined });
    expect((await extended).count).toBe(2);
    const err = await refused;
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((err as WorkflowUpdateFailedError).cause?.message)).toMatch(/maxRuns must be an integer >= 1/);
    const summary = (await handle.result()) as SweepSummary;
    // The extension's cells ran too: x = 4 and 8 fail their only attempt.
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 6, failed: 2, cancelled: 0 });
    expect((await w.store.listAttempts('early-updates')).length).toBe(8);
  }, 120_000);

  it('a retryFailed accepted after the runs ended, while the last refit runs, reruns them before the sweep ends', async () => {
    const gate = gates.refit;
    gate.armed = true;
    const handle = await w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/late-retry', args: [spec('late-retry', 8)] });
    // Every run has ended; the refit the last result started is held, so the sweep cannot finish.
    const p = await waitFor('every run of the sweep to end', async () => {
      const q = await handle.query(progressQuery);
      return q.byState.pending === 0 && q.byState.running === 0 && q.byState.succeeded + q.byState.failed === 8 ? q : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    expect(p.byState.failed).toBe(2);
    expect(gate.held).toBeGreaterThan(0);
    const answer = await handle.executeUpdate(retryFailedUpdate, { args: [{}] });
    expect(answer.count).toBe(2);
    gate.release();
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 8, failed: 0, cancelled: 0 });
    for (const id of answer.rerun) expect(w.executor.launches.get(`late-retry/${id}#2`)).toBe(1);
  }, 120_000);

  it('extends sent while one is writing take turns: each grows the grid the last one left, in the store and in the sweep', async () => {
    gates.refit.armed = true;
    const handle = await w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/extend-turns', args: [spec('extend-turns', 4)] });
    await waitFor('a refit to be held', () => gates.refit.held > 0, { timeoutMs: 60_000 });
    const gate = gates.recordGrid;
    gate.armed = true;
    const a = handle.executeUpdate(extendUpdate, { args: [{ axes: { x: [5] } }] });
    await waitFor("the first extend's write to be held", () => gate.held === 1);
    // Accepted one after the other (updates sent at once may reach the sweep in either order).
    const b = (await handle.startUpdate(extendUpdate, { args: [{ axes: { x: [6] } }], waitForStage: WorkflowUpdateStage.ACCEPTED })).result();
    const c = (await handle.startUpdate(extendUpdate, { args: [{ axes: { x: [7] } }], waitForStage: WorkflowUpdateStage.ACCEPTED })).result();
    await new Promise((r) => setTimeout(r, 500));
    // The others wait for their turn: one write at a time.
    expect(gate.held).toBe(1);
    for (let turn = 0; turn < 3; turn++) {
      await waitFor(`write ${turn + 1} to be held`, () => gate.held === 1);
      await new Promise((r) => setTimeout(r, 200));
      expect(gate.held).toBe(1);
      gate.releaseOne();
    }
    gate.release();
    const answers = await Promise.all([a, b, c]);
    expect(answers.map((x) => x.count)).toEqual([1, 1, 1]);
    expect((await handle.query(progressQuery)).total).toBe(7);
    expect(((await w.store.getSweep('extend-turns'))?.spec as { grid: { x: number[] } }).grid.x).toEqual([1, 2, 3, 4, 5, 6, 7]);
    gates.refit.release();
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.total).toBe(7);
    expect(summary.byState.succeeded + summary.byState.failed).toBe(7);
  }, 120_000);

  it('an extend whose grid the store cannot take changes nothing: the update fails, the sweep keeps its grid', async () => {
    // The first live refit is held, so the sweep is still running when the extend comes.
    gates.refit.armed = true;
    const handle = await w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/extend-unstored', args: [spec('extend-unstored', 4)] });
    await waitFor('a refit to be held', () => gates.refit.held > 0, { timeoutMs: 60_000 });
    gates.recordGrid.failWith = ApplicationFailure.nonRetryable('the store is read-only', 'StoreReadOnly');
    const err = await handle.executeUpdate(extendUpdate, { args: [{ axes: { x: [5, 6] } }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((await handle.query(progressQuery)).total).toBe(4);
    gates.recordGrid.failWith = undefined;
    gates.refit.release();
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.total).toBe(4);
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 1, cancelled: 0 });
    expect(((await w.store.getSweep('extend-unstored'))?.spec as { grid: { x: number[] } }).grid.x).toEqual([1, 2, 3, 4]);
    expect([...w.executor.launches.keys()].filter((k) => k.startsWith('extend-unstored/'))).toHaveLength(4);
  }, 120_000);
});
