import type { AxisValue, JobResult } from '../spec';
import type { DataPoint } from './types';

/** A succeeded evaluation as listDataPoints reads it (one snapshot with the training points). */
export interface SucceededEvaluation {
  runId: string;
  evaluator: string;
  result: JobResult;
  /** Milliseconds since the epoch (stores keep timestamps in different forms). */
  updatedAtMs: number;
  /** The run row's axes, for a run that has no training result; undefined without a run row. */
  runAxes?: Record<string, AxisValue>;
}

/** Newer first; a tie in time goes to the greater evaluator string (any fixed rule would do). */
const newer = (a: SucceededEvaluation, b: SucceededEvaluation): boolean =>
  a.updatedAtMs !== b.updatedAtMs ? a.updatedAtMs > b.updatedAtMs : a.evaluator > b.evaluator;

/**
 * The data points of ResultsStore.listDataPoints (see its doc comment) from the training points
 * (as the store has always listed them) and the sweep's succeeded evaluations. Shared by both
 * stores so their semantics cannot drift. Without evaluations (and no evaluator asked for) the
 * training points come back unchanged, in their order.
 */
export function mergeEvaluationPoints(
  sweep: string,
  training: readonly DataPoint[],
  evaluations: readonly SucceededEvaluation[],
  evaluator?: string,
): DataPoint[] {
  const chosen = new Map<string, SucceededEvaluation>();
  for (const e of evaluations) {
    if (evaluator !== undefined && e.evaluator !== evaluator) continue;
    const best = chosen.get(e.runId);
    if (!best || newer(e, best)) chosen.set(e.runId, e);
  }
  if (evaluator === undefined && chosen.size === 0) return [...training];

  const byRun = new Map<string, DataPoint[]>();
  for (const p of training) {
    let group = byRun.get(p.runId);
    if (!group) byRun.set(p.runId, (group = []));
    group.push(p);
  }
  const runIds = evaluator === undefined ? new Set([...byRun.keys(), ...chosen.keys()]) : new Set(chosen.keys());
  const out: DataPoint[] = [];
  for (const runId of [...runIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ev = chosen.get(runId);
    const train = byRun.get(runId) ?? [];
    out.push(...(ev ? evaluationPoints(sweep, ev, train) : train));
  }
  return out;
}

/** One run's points from its evaluation, counts falling back to its training points. */
function evaluationPoints(sweep: string, ev: SucceededEvaluation, train: readonly DataPoint[]): DataPoint[] {
  const trainFinal = train.find((p) => p.epoch === undefined);
  const trainAt = new Map<number, DataPoint>();
  for (const p of train) if (p.epoch !== undefined) trainAt.set(p.epoch, p);
  const axes = trainFinal?.axes ?? train[0]?.axes ?? ev.runAxes ?? {};
  const r = ev.result;
  // A checkpoint is the same model at an earlier point: it shares the run's parameter count.
  const nParams = r.n_params ?? trainFinal?.n_params;
  const point = (
    metrics: Record<string, number>,
    epoch: number | undefined,
    nSamples: number | undefined,
    flops: number | undefined,
  ): DataPoint => {
    const p: DataPoint = { sweep, runId: ev.runId, axes: { ...axes }, metrics };
    if (epoch !== undefined) p.epoch = epoch;
    if (nParams !== undefined) p.n_params = nParams;
    if (nSamples !== undefined) p.n_samples_seen = nSamples;
    if (flops !== undefined) p.total_flops = flops;
    return p;
  };
  const out = [
    point(
      r.metrics,
      undefined,
      r.n_samples_seen ?? trainFinal?.n_samples_seen,
      r.total_flops ?? trainFinal?.total_flops,
    ),
  ];
  // A repeated epoch keeps its last entry, as a training result's checkpoints do.
  const cps = new Map<number, NonNullable<JobResult['checkpoints']>[number]>();
  for (const c of r.checkpoints ?? []) cps.set(c.epoch, c);
  for (const [epoch, c] of [...cps].sort((a, b) => a[0] - b[0])) {
    // Counts of a checkpoint come only from the training checkpoint of the SAME epoch: the final
    // result's counts would misplace an earlier model on the compute axis.
    const t = trainAt.get(epoch);
    out.push(point(c.metrics, epoch, c.n_samples_seen ?? t?.n_samples_seen, c.total_flops ?? t?.total_flops));
  }
  return out;
}
