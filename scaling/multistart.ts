/**
 * Multi-start minimisation: run the minimiser from every start, polish the best candidates to
 * tight tolerance, and summarise the distinct minima ("basins") reached, which later fits
 * (bootstrap resamples, live refits) restart from.
 */
import { LSE_PARAM_NAMES, type FormName } from './forms';
import type { Objective } from './objective';
import { minimize, type MinimizerName } from './optimize';

/**
 * Screening tolerance of each start. Looser than scipy's 1e-5 because every answer is polished
 * afterwards; it saves ~30% of the work and the answers agree with 1e-5 screening (bench/fit.ts).
 */
export const DEFAULT_SCREEN_GTOL = 1e-4;

export interface SearchOptions {
  method?: MinimizerName;
  /** Keep each start's final inverse Hessian (BFGS), so polishing continues instead of restarting. */
  keepHessians?: boolean;
  /** Per-start (screening) tolerance on max |gradient|; the best candidates are then polished to 1e-11. */
  gtol?: number;
  maxIter?: number;
}

/** Cartesian product of the init grid in parameter order (first parameter outermost, like itertools.product). */
export function gridStarts(form: FormName, grid: Record<string, readonly number[]>): number[][] {
  const names = LSE_PARAM_NAMES[form];
  let out: number[][] = [[]];
  for (const name of names) {
    const values = grid[name];
    if (!values || !values.length) throw new Error(`the init grid has no values for parameter "${name}" of ${form}`);
    const next: number[][] = [];
    for (const prefix of out) for (const v of values) next.push([...prefix, v]);
    out = next;
  }
  return out;
}

export interface StartsOutcome {
  /** Final parameters of each start, flattened (start k at k * dim). */
  finals: Float64Array;
  losses: Float64Array;
  evaluations: number;
  /** Final inverse Hessians, flattened (start k at k * dim * dim), when asked for. */
  hessInvs?: Float64Array;
}

/** Run the minimiser from each start (no polishing). Non-finite outcomes get loss +Infinity. */
export function runStarts(obj: Objective, starts: readonly ArrayLike<number>[], opts: SearchOptions = {}): StartsOutcome {
  const dim = obj.dim;
  const finals = new Float64Array(starts.length * dim);
  const losses = new Float64Array(starts.length);
  const hessInvs = opts.keepHessians ? new Float64Array(starts.length * dim * dim) : undefined;
  let evaluations = 0;
  starts.forEach((x0, k) => {
    const r = minimize(opts.method ?? 'bfgs', obj, x0, { gtol: opts.gtol ?? DEFAULT_SCREEN_GTOL, maxIter: opts.maxIter });
    evaluations += r.evaluations;
    const ok = Number.isFinite(r.f) && r.x.every(Number.isFinite);
    finals.set(ok ? r.x : Float64Array.from(x0), k * dim);
    losses[k] = ok ? r.f : Infinity;
    if (hessInvs && ok && r.hessInv) hessInvs.set(r.hessInv, k * dim * dim);
  });
  return { finals, losses, evaluations, hessInvs };
}

/** Polishing: tight gradient tolerance, stopping only when the loss stops moving. */
const POLISH = { gtol: 1e-11, ftol: 1e-15, stallIters: 4, maxIter: 5000 };
/**
 * Candidates within this relative loss of the best are all polished: starts stop at a screening
 * tolerance, so a near-tied distinct minimum may turn out lower once polished.
 */
const CANDIDATE_GAP = 1e-4;
const MAX_CANDIDATES = 4;

/** End points this close in every parameter are the same candidate (polishing one suffices). */
function samePoint(x: ArrayLike<number>, y: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i] - y[i]) > 1e-2 * (1 + Math.abs(y[i]))) return false;
  return true;
}

export interface BestFit {
  x: number[];
  f: number;
}

/**
 * The answer of a multi-start: the best start's outcome polished (and any near-tied distinct
 * candidates polished too, so two runs that reach the same basins give the same answer).
 */
export function polishBest(obj: Objective, outcome: StartsOutcome, opts: SearchOptions = {}): BestFit {
  const dim = obj.dim;
  const order = Array.from(outcome.losses.keys())
    .filter((k) => Number.isFinite(outcome.losses[k]))
    .sort((p, q) => outcome.losses[p] - outcome.losses[q] || p - q);
  if (!order.length) throw new Error('every start diverged (non-finite loss)');
  const best = outcome.losses[order[0]];
  const candidates: number[] = [];
  for (const k of order) {
    if (outcome.losses[k] > best + CANDIDATE_GAP * Math.abs(best)) break;
    const xk = outcome.finals.subarray(k * dim, (k + 1) * dim);
    if (candidates.some((c) => samePoint(outcome.finals.subarray(c * dim, (c + 1) * dim), xk))) continue;
    candidates.push(k);
    if (candidates.length >= MAX_CANDIDATES) break;
  }
  let answer: BestFit | null = null;
  for (const k of candidates) {
    const hessInv0 = outcome.hessInvs?.subarray(k * dim * dim, (k + 1) * dim * dim);
    const usable = hessInv0 && hessInv0.some((v) => v !== 0) ? Float64Array.from(hessInv0) : undefined;
    const r = minimize(opts.method ?? 'bfgs', obj, outcome.finals.subarray(k * dim, (k + 1) * dim), { ...POLISH, hessInv0: usable });
    const f = Number.isFinite(r.f) && r.f <= outcome.losses[k] ? r.f : outcome.losses[k];
    const x = f === r.f ? Array.from(r.x) : Array.from(outcome.finals.subarray(k * dim, (k + 1) * dim));
    if (!answer || f < answer.f) answer = { x, f };
  }
  return answer as BestFit;
}

/** Two minima whose predictions differ by less than this (RMS, in log y) are one basin. */
const BASIN_RMS = 1e-3;
/**
 * Minima whose loss exceeds the best by more than this factor are not kept: a resample moves
 * every loss by a few per cent, so they cannot become the best (on the paper's data the kept
 * minima are within 1.2x and the dropped ones beyond 2.7x; bench/fit.ts checks the outcome).
 */
export const BASIN_MAX_LOSS_RATIO = 1.5;

/**
 * Distinct minima reached by the starts, best first (the polished best in front), at most `max`,
 * within BASIN_MAX_LOSS_RATIO of the best loss.
 * Minima are told apart by what they predict (RMS difference of Lhat over the points), so the
 * many end points along one flat valley (e.g. an exponent running off to infinity) count once.
 */
export function distinctBasins(
  outcome: StartsOutcome,
  dim: number,
  best: BestFit,
  max: number,
  predictions: (theta: ArrayLike<number>) => Float64Array,
): number[][] {
  const order = Array.from(outcome.losses.keys())
    .filter((k) => Number.isFinite(outcome.losses[k]))
    .sort((p, q) => outcome.losses[p] - outcome.losses[q] || p - q);
  const basins: { x: number[]; pred: Float64Array }[] = [{ x: best.x.slice(), pred: predictions(best.x) }];
  const rms = (p: Float64Array, q: Float64Array) => {
    let s = 0;
    for (let i = 0; i < p.length; i++) s += (p[i] - q[i]) ** 2;
    return Math.sqrt(s / Math.max(1, p.length));
  };
  for (const k of order) {
    if (basins.length >= max || outcome.losses[k] > BASIN_MAX_LOSS_RATIO * best.f) break;
    const x = Array.from(outcome.finals.subarray(k * dim, (k + 1) * dim));
    const pred = predictions(x);
    if (!pred.every(Number.isFinite)) continue;
    if (!basins.some((b) => rms(b.pred, pred) < BASIN_RMS)) basins.push({ x, pred });
  }
  return basins.map((b) => b.x);
}
