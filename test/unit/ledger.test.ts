import { describe, expect, it } from 'vitest';
import { fromV1 } from '../../workflows/carried';
import { emptyLedger, Ledger, MAX_PASSES, orderAcrossExtensions, type LedgerCell, type Start } from '../../workflows/ledger';

const cells = (gpus: number[]): LedgerCell[] => gpus.map((g, i) => ({ runId: `c${i}`, gpus: g }));
const open = { paused: false, maxRuns: 3 };

/** Starts everything the window allows; returns the started indices. */
function fill(l: Ledger<LedgerCell>, limits: { paused: boolean; maxRuns: number; maxGpus?: number }): number[] {
  const out: number[] = [];
  for (let s: Start | undefined = l.nextStart(limits); s; s = l.nextStart(limits)) {
    l.started(s);
    out.push(s.index);
  }
  return out;
}

describe('ledger: the sweep window', () => {
  it('starts cells in grid order up to maxRuns and moves its cursor as they start', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1, 1, 1, 1]));
    expect(fill(l, open)).toEqual([0, 1, 2]);
    expect(l.snapshot().cursor).toBe(3);
    expect(l.finished({ runId: 'c1', state: 'succeeded', attempts: 1 })).toBe(true);
    expect(fill(l, open)).toEqual([3]);
    expect(l.byState()).toEqual({ pending: 1, running: 3, succeeded: 1, failed: 0, cancelled: 0 });
  });

  it('first fit: a small cell starts ahead of a large one that waits, and the cursor passes both later', () => {
    const l = new Ledger(emptyLedger(), cells([2, 2, 1, 1]));
    const limits = { paused: false, maxRuns: 10, maxGpus: 3 };
    expect(fill(l, limits)).toEqual([0, 2]);
    expect(l.snapshot()).toMatchObject({ cursor: 1, ahead: [2] });
    l.finished({ runId: 'c0', state: 'succeeded', attempts: 1 });
    expect(fill(l, limits)).toEqual([1]);
    expect(l.snapshot()).toMatchObject({ cursor: 3, ahead: [] });
  });

  it('ignores a duplicate or foreign runFinished', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1]));
    fill(l, open);
    expect(l.finished({ runId: 'c0', state: 'failed', attempts: 2, failureClass: 'oom' })).toBe(true);
    expect(l.finished({ runId: 'c0', state: 'failed', attempts: 2 })).toBe(false);
    expect(l.finished({ runId: 'other', state: 'succeeded', attempts: 1 })).toBe(false);
    expect(l.byState()).toEqual({ pending: 0, running: 1, succeeded: 0, failed: 1, cancelled: 0 });
    expect(l.snapshot().recentFailures).toEqual([{ runId: 'c0', attempts: 2, failureClass: 'oom' }]);
  });

  it('a run in flight whose end was another execution\'s starts again first, as a rerun from the attempt given, carried through continue-as-new', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1, 1, 1]));
    expect(fill(l, { paused: false, maxRuns: 2 })).toEqual([0, 1]);
    l.metOpen('c1');
    l.metOpen('c3'); // not in flight: not recorded
    expect([l.startMetOpen('c0'), l.startMetOpen('c1'), l.startMetOpen('c3')]).toEqual([false, true, false]);
    expect(l.restart('c1', 2)).toBe(true);
    expect(l.startMetOpen('c1')).toBe(false);
    expect(l.restart('c1', 2)).toBe(false);
    expect(l.restart('c3', 1)).toBe(false); // not in flight
    expect(l.byState()).toMatchObject({ pending: 3, running: 1, succeeded: 0 });
    const next = new Ledger(l.snapshot(), cells([1, 1, 1, 1]));
    expect(next.nextStart({ paused: false, maxRuns: 2 })).toEqual({ index: 1, firstAttempt: 2, rerun: true });
  });

  it('a state carried from before metOpen counts every run then in flight as met open; a run that ends is forgotten', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1, 1]));
    fill(l, open);
    const carried = { ...l.snapshot() };
    delete carried.metOpen;
    const next = new Ledger(carried, cells([1, 1, 1]));
    expect(['c0', 'c1', 'c2'].map((id) => next.startMetOpen(id))).toEqual([true, true, true]);
    next.finished({ runId: 'c0', state: 'succeeded', attempts: 1 });
    expect(next.startMetOpen('c0')).toBe(false);
    expect(next.snapshot().metOpen).toEqual(['c1', 'c2']);
  });

  it('a retry pass pages through started cells only, and its picks rerun first at their next attempt', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1, 1, 1, 1, 1, 1]));
    fill(l, { paused: false, maxRuns: 5 });
    for (const [id, state] of [['c0', 'succeeded'], ['c1', 'failed'], ['c3', 'failed']] as const) l.finished({ runId: id, state, attempts: 1 });
    expect(l.byState().failed).toBe(2);
    // Pause so nothing starts while the pass is vetted.
    l.addPass({ kind: 'retry', before: 1000, at: 0 });
    const page = l.pageNeeded()!;
    // c2 and c4 are in flight; c5 and c6 have not started.
    expect(page).toMatchObject({ pass: 0, ids: ['c0', 'c1', 'c3'], next: 5 });
    l.acceptPage(page, [
      { id: 'c1', a: 2, prior: 'failed' },
      { id: 'c3', a: 2, prior: 'failed' },
      { id: 'c6', a: 9, prior: 'failed' }, // not asked about: ignored
    ]);
    expect(l.byState().failed).toBe(0);
    expect(l.snapshot().passes).toEqual([]);
    const s = l.nextStart({ paused: false, maxRuns: 10 })!;
    expect(s).toEqual({ index: 1, firstAttempt: 2, rerun: true });
    l.started(s);
    expect(l.nextStart({ paused: false, maxRuns: 10 })).toEqual({ index: 3, firstAttempt: 2, rerun: true });
  });

  it('a retry pass picks a run whose failure the store has before its signal comes, and reruns it when the signal does', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1, 1, 1]), { awaitInFlight: true });
    fill(l, { paused: false, maxRuns: 4 });
    l.finished({ runId: 'c0', state: 'failed', attempts: 1 });
    l.addPass({ kind: 'retry', before: 1000, at: 0 });
    // c1 has failed in the store, its signal is on its way; c2 and c3 still run.
    const page = l.pageNeeded()!;
    expect(page).toMatchObject({ pass: 0, ids: ['c0', 'c1', 'c2', 'c3'], next: 4 });
    l.acceptPage(page, [
      { id: 'c0', a: 2, prior: 'failed' },
      { id: 'c1', a: 2, prior: 'failed' },
    ]);
    expect(l.snapshot().awaiting).toEqual([{ id: 'c1', a: 2 }]);
    l.started(l.nextStart({ paused: false, maxRuns: 10 })!); // c0's rerun
    expect(l.nextStart({ paused: false, maxRuns: 10 })).toBeUndefined();
    // The signal of the failure the pass picked: pending again, not failed.
    expect(l.finished({ runId: 'c1', state: 'failed', attempts: 1 })).toBe(true);
    expect(l.byState()).toMatchObject({ failed: 0, pending: 1 });
    expect(l.nextStart({ paused: false, maxRuns: 10 })).toEqual({ index: 1, firstAttempt: 2, rerun: true });
    expect(l.snapshot().awaiting).toEqual([]);
  });

  it('a pick awaiting its signal is carried through continue-as-new, and reruns in the next execution', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1]), { awaitInFlight: true });
    fill(l, open);
    l.addPass({ kind: 'retry', before: 1000, at: 0 });
    l.acceptPage(l.pageNeeded()!, [{ id: 'c1', a: 2, prior: 'failed' }]);
    // What continue-as-new carries is plain JSON.
    const carried = JSON.parse(JSON.stringify(l.snapshot()));
    expect(carried.awaiting).toEqual([{ id: 'c1', a: 2 }]);
    const next = new Ledger(carried, cells([1, 1]), { awaitInFlight: true });
    expect(next.finished({ runId: 'c1', state: 'failed', attempts: 1 })).toBe(true);
    expect(next.nextStart(open)).toEqual({ index: 1, firstAttempt: 2, rerun: true });
    expect(next.byState()).toMatchObject({ failed: 0, running: 1, pending: 1 });
  });

  it('an in-flight pick that ends otherwise (succeeded, or failed again at a later attempt) is counted as it ended, not rerun', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1, 1]), { awaitInFlight: true });
    fill(l, open);
    l.addPass({ kind: 'retry', before: 1000, at: 0 });
    l.acceptPage(l.pageNeeded()!, [
      { id: 'c0', a: 2, prior: 'failed' },
      { id: 'c1', a: 3, prior: 'failed' },
    ]);
    expect(l.snapshot().awaiting).toHaveLength(2);
    expect(l.finished({ runId: 'c0', state: 'succeeded', attempts: 2 })).toBe(true);
    // c1's rerun (attempt 3) failed after the pass was asked for: not retried twice.
    expect(l.finished({ runId: 'c1', state: 'failed', attempts: 3 })).toBe(true);
    expect(l.byState()).toMatchObject({ succeeded: 1, failed: 1, running: 1, pending: 0 });
    expect(l.hasQueued()).toBe(false);
    expect(l.snapshot().awaiting).toEqual([]);
  });

  it('a page vetted for a pass that a new retryFailed replaced meanwhile is no longer its pass', () => {
    const l = new Ledger(emptyLedger(), cells([1, 1, 1]));
    fill(l, open);
    for (const id of ['c0', 'c1', 'c2']) l.finished({ runId: id, state: 'failed', attempts: 1 });
    l.addPass({ kind: 'retry', before: 1000, at: 0 });
    const page = l.pageNeeded()!;
    expect(l.isCurrent(page)).toBe(true);
    l.addPass({ kind: 'retry', before: 2000, at: 0 }); // same class: replaces it
    expect(l.isCurrent(page)).toBe(false);
    // The new pass still scans from the start.
    expect(l.pageNeeded()).toMatchObject({ pass: 0, ids: ['c0', 'c1', 'c2'] });
    expect(l.isCurrent({ pass: -1, ids: [], next: 0 })).toBe(true);
  });

  it("without the in-flight rule (an earlier release's histories) a pass skips runs in flight", () => {
    const l = new Ledger(emptyLedger(), cells([1, 1]));
    fill(l, open);
    l.finished({ runId: 'c0', state: 'failed', attempts: 1 });
    l.addPass({ kind: 'retry', before: 1000, at: 0 });
    expect(l.pageNeeded()!.ids).toEqual(['c0']);
  });

  it('a re-submitted sweep starts only the cells the store vets, and passes over the rest', () => {
    const l = new Ledger(emptyLedger(true), cells([1, 1, 1, 1, 1]));
    expect(l.nextStart(open)).toBeUndefined();
    const page = l.pageNeeded()!;
    expect(page).toEqual({ pass: -1, ids: ['c0', 'c1', 'c2', 'c3', 'c4'], next: 5 });
    l.acceptPage(page, [{ id: 'c2', a: 3 }]);
    expect(l.snapshot().cursor).toBe(2);
    expect(fill(l, open)).toEqual([2]);
    expect(l.snapshot().cursor).toBe(5);
    expect(l.hasQueued()).toBe(false);
    expect(l.pageNeeded()).toBeUndefined();
  });

  it('refuses more passes than MAX_PASSES, but a retry of the same class replaces its pass', () => {
    const l = new Ledger(emptyLedger(), cells([1]));
    for (let i = 0; i < MAX_PASSES; i++) l.addPass({ kind: 'rescore', at: 0 });
    expect(l.canAddPass({ kind: 'rescore' })).toBe(false);
    expect(() => l.addPass({ kind: 'retry', before: 0, at: 0 })).toThrow(/already queued/);
    const m = new Ledger(emptyLedger(), cells([1]));
    m.addPass({ kind: 'retry', failureClass: 'oom', before: 1, at: 0 });
    m.addPass({ kind: 'retry', failureClass: 'oom', before: 2, at: 0 });
    expect(m.snapshot().passes).toEqual([{ kind: 'retry', failureClass: 'oom', before: 2, at: 0 }]);
  });

  it('carries O(window) through a 3,000-run sweep: the snapshot never grows with the runs done', () => {
    const n = 3000;
    const l = new Ledger(emptyLedger(), cells(Array.from({ length: n }, (_, i) => 1 + (i % 3))));
    const limits = { paused: false, maxRuns: 16, maxGpus: 24 };
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const sizes: number[] = [];
    for (let step = 0; l.hasQueued() || l.inFlightCount; step++) {
      fill(l, limits);
      const ids = l.inFlightIds();
      const id = ids[Math.floor(rand() * ids.length)];
      l.finished({ runId: id, state: rand() < 0.3 ? 'failed' : 'succeeded', attempts: 3, failureClass: 'oom', message: 'x'.repeat(300) });
      if (step % 100 === 0) sizes.push(JSON.stringify(l.snapshot()).length);
    }
    expect(l.byState().pending).toBe(0);
    expect(l.byState().succeeded + l.byState().failed).toBe(n);
    expect(Math.max(...sizes)).toBeLessThan(8 * 1024);
    // The last snapshots are no larger than the early ones (bounded by window + constant).
    expect(Math.max(...sizes.slice(-5))).toBeLessThanOrEqual(Math.max(...sizes.slice(0, 10)) + 256);
  });
});

describe('grid order across extensions', () => {
  it('keeps every old cell where it was and puts the new cells after them, in their grid order', () => {
    const expand = (g: Record<string, number[]>) => g.x.flatMap((x) => g.y.map((y) => ({ runId: `${x}-${y}`, gpus: 1 })));
    const order = orderAcrossExtensions({ x: [1, 2, 3], y: [1, 2] }, [{ x: 2, y: 1 }], expand).map((c) => c.runId);
    expect(order).toEqual(['1-1', '2-1', '1-2', '2-2', '3-1', '3-2']);
  });
});

describe('state carried by the earlier release', () => {
  it('becomes a cursor, counts and reruns with their attempt numbers', () => {
    const order = cells([1, 1, 2, 1, 1, 1]);
    const st = fromV1(
      {
        finished: { c0: { s: 'succeeded', a: 1 }, c2: { s: 'failed', a: 3, c: 'oom', m: 'killed' }, c5: { s: 'cancelled', a: 1 } },
        inFlight: ['c1'],
        requeued: [{ runId: 'c3', a: 2 }],
        gpuSeconds: 5,
        runMsTotal: 1,
        runsTimed: 1,
        resultsSinceRefit: 0,
        resultsTotal: 1,
        fits: [],
        paused: false,
        maxRuns: 4,
        continuedAsNew: 2,
        registered: true,
        startedAtMs: 0,
      },
      order,
      false,
    );
    expect(st).toMatchObject({ v: 2, cursor: 4, ahead: [5], inFlight: [{ id: 'c1', g: 1 }], reruns: [{ id: 'c3', a: 2 }], done: { succeeded: 1, failed: 1, cancelled: 1 }, continuedAsNew: 2 });
    expect(st.recentFailures).toEqual([{ runId: 'c2', attempts: 3, failureClass: 'oom', message: 'killed' }]);
    const l = new Ledger(st, order);
    const limits = { paused: false, maxRuns: 10 };
    expect(fill(l, limits)).toEqual([3, 4]);
    expect(l.byState()).toEqual({ pending: 0, running: 3, succeeded: 1, failed: 1, cancelled: 1 });
  });
});
