/**
 * The carried state of a sweep: a new one, or one read from what an earlier release carried.
 * Pure: no Temporal, no I/O.
 */
import type { SweepSpec } from '../spec/sweepSpec';
import type { CarriedState, CarriedStateV1 } from '../contract';
import { emptyLedger, MAX_RECENT_FAILURES, type Failure, type LedgerCell } from './ledger';

export function freshState(spec: Pick<SweepSpec, 'concurrency'>, nowMs: number): CarriedState {
  return {
    ...emptyLedger(),
    gpuSeconds: 0,
    runMsTotal: 0,
    runsTimed: 0,
    resultsSinceRefit: 0,
    resultsTotal: 0,
    fits: [],
    paused: false,
    maxRuns: spec.concurrency.maxRuns,
    maxGpus: spec.concurrency.maxGpus,
    continuedAsNew: 0,
    registered: false,
    startedAtMs: nowMs,
  };
}

/**
 * An earlier release's per-run state, as a cursor: every cell up to the first one that neither
 * ended, runs, nor waits to rerun is behind the cursor; those after it that did are "ahead".
 * Reruns queued by retryFailed or rescore keep their attempt numbers. An adaptive study starts
 * only what it proposes: its cursor stays at 0.
 */
export function fromV1(old: Omit<CarriedStateV1, 'v'>, order: readonly LedgerCell[], adaptive: boolean): CarriedState {
  const { finished, inFlight, requeued, rescoring, ...scalars } = old;
  const reruns = [
    ...(requeued ?? []).map((r) => ({ id: r.runId, a: r.a })),
    ...(rescoring ?? []).filter((id) => !requeued?.some((r) => r.runId === id)).map((id) => ({ id, a: 1, m: 'rescore' as const })),
  ];
  const started = new Set([...Object.keys(finished), ...inFlight, ...reruns.map((r) => r.id)]);
  let cursor = 0;
  const ahead: number[] = [];
  if (!adaptive) {
    while (cursor < order.length && started.has(order[cursor].runId)) cursor++;
    for (let i = cursor + 1; i < order.length; i++) if (started.has(order[i].runId)) ahead.push(i);
  }
  const done = { succeeded: 0, failed: 0, cancelled: 0 };
  const recentFailures: Failure[] = [];
  for (const [runId, f] of Object.entries(finished)) {
    done[f.s]++;
    if (f.s === 'failed') recentFailures.push({ runId, attempts: f.a, ...(f.c ? { failureClass: f.c } : {}), ...(f.m ? { message: f.m } : {}) });
  }
  const gpusOf = new Map(order.map((c) => [c.runId, c.gpus]));
  return {
    ...scalars,
    v: 2,
    cursor,
    ahead,
    inFlight: inFlight.map((id) => ({ id, g: gpusOf.get(id) ?? 0 })),
    done,
    reruns,
    passes: [],
    vetMain: false,
    recentFailures: recentFailures.slice(-MAX_RECENT_FAILURES),
    extensions: [],
  };
}
