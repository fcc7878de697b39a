/**
 * `sweep replay`: a scaling study simulated on data that already exists, so a lab can see what a
 * budget buys before spending GPUs. Pure (no I/O), seeded and deterministic.
 *
 * The candidates are a fit's selected points (each one model: "running" it reveals its score,
 * its cost is its total_flops). The most expensive `holdoutTop` fraction is kept out of the pool
 * as the target region whose scores the law must predict. A strategy spends the budget (a
 * fraction of the candidates' compute) in batches; after each batch the law is refitted on what
 * was revealed, the same way for every strategy:
 *   - the first fit searches the whole init grid (it has few points, so it is cheap);
 *   - later fits restart from the previous fit's minima plus a coarse sub-grid (the first,
 *     middle and last value of each init axis), so a basin found early cannot trap the study;
 *   - `adaptive` also bootstraps each refit (resamples restarted from the point fit) and asks
 *     `propose` for the next batch; the other strategies follow a fixed order;
 *   - `adaptive`'s fits (the refits, the selection ensemble and the final interval) weight each
 *     observed point by the share of the pool it stands for (populationWeights): its design is
 *     not a sample of the pool, and the targets are the pool's law. Random is self-weighting.
 * Every strategy ends with a bootstrap of its last fit for the target's 95% interval.
 */
import { percentile, percentiles, resampleCounts } from './bootstrap';
import { formArity, LSE_PARAM_NAMES, predictLog, type FormName } from './forms';
import { fitResample, type PreparedFit } from './fit';
import { distinctBasins, gridStarts, polishBest, runStarts, type SearchOptions } from './multistart';
import { HuberLseObjective, type FitData } from './objective';
import { mulberry32 } from './bootstrap';
import { minPointsToFit, propose, studyCostPower, type ProposeTarget } from './propose';
import { populationWeightsOf } from './population';
import { FitInputError } from './select';
import type { FitResult } from './types';

export const REPLAY_STRATEGIES = ['adaptive', 'random', 'grid', 'compute-ascending', 'coarse-to-fine'] as const;
export type ReplayStrategy = (typeof REPLAY_STRATEGIES)[number];
export type ReplayObjective = 'auto' | 'recipe' | 'exponent' | 'prediction';

export interface ReplayPoint {
  id: string;
  rawX: number[];
  /** Fitted target (1 - score when inverted). */
  y: number;
  score: number;
  cost: number;
}

export interface ReplayProblem {
  name: string;
  form: FormName;
  scalers: number[];
  invert: boolean;
  delta: number;
  init: Record<string, number[]>;
  search: SearchOptions;
  points: ReplayPoint[];
  /** Indices into points: the pool, in data order. */
  candidates: number[];
  /** Indices into points: the held-out target region. */
  holdout: number[];
  holdoutTop: number;
  candidateCompute: number;
}

/** Limits of a replay (checked before any work). */
export const REPLAY_LIMITS = { points: 100_000, seeds: 100, batch: 1_000, bootstrap: 10_000, budgets: 20 };

/**
 * The replay's pool from a prepared fit: one point per selected model, its cost from `costColumn`
 * (a group-key column, total_flops by default). Throws FitInputError naming the column.
 */
export function replayProblem(prep: PreparedFit, opts: { holdoutTop: number; costColumn?: string }): ReplayProblem {
  const col = opts.costColumn ?? 'total_flops';
  if (!(opts.holdoutTop >= 0 && opts.holdoutTop < 1)) throw new FitInputError(`--holdout-top must be in [0, 1), got ${opts.holdoutTop}`, 'holdout-top');
  const sel = prep.selection.points;
  if (sel.length > REPLAY_LIMITS.points) throw new FitInputError(`at most ${REPLAY_LIMITS.points} points can be replayed, the fit selects ${sel.length}`);
  const points: ReplayPoint[] = sel.map((p, i) => {
    const raw = p.labels[col];
    const cost = raw !== undefined && raw !== '' ? Number(raw) : col === 'total_flops' ? (p.compute ?? NaN) : NaN;
    if (!(Number.isFinite(cost) && cost > 0))
      throw new FitInputError(`cost column "${col}" is missing or not positive for ${p.source} (it must be in the fit's groupBy)`, col, p.source);
    return { id: `${i}:${p.labels.model_id ?? p.source}`, rawX: p.rawX, y: prep.data.y[i], score: p.score, cost };
  });
  const byCost = points.map((_, i) => i).sort((a, b) => points[b].cost - points[a].cost || a - b);
  const k = opts.holdoutTop > 0 ? Math.max(1, Math.round(opts.holdoutTop * points.length)) : 0;
  const holdoutSet = new Set(byCost.slice(0, k));
  const candidates = points.map((_, i) => i).filter((i) => !holdoutSet.has(i));
  if (candidates.length < minPointsToFit(prep.cfg.form))
    throw new FitInputError(`only ${candidates.length} candidates are left after the holdout: too few to fit ${prep.cfg.form}`);
  return {
    name: prep.cfg.name,
    form: prep.cfg.form,
    scalers: prep.cfg.scalers,
    invert: prep.cfg.y.invert,
    delta: prep.cfg.delta,
    init: prep.cfg.init,
    search: prep.search,
    points,
    candidates,
    holdout: [...holdoutSet].sort((a, b) => a - b),
    holdoutTop: opts.holdoutTop,
    candidateCompute: candidates.reduce((s, i) => s + points[i].cost, 0),
  };
}

export interface SubsetFit {
  lse: number[];
  basins: number[][];
  loss: number;
  /** Points the last global (grid) search saw: the next refit searches globally again at 1.5x that. */
  searchedAt?: number;
}

/** A refit searches the coarse grid again once the points have grown by this factor since the last grid search. */
const REGRID_GROWTH = 1.5;

function subsetData(problem: ReplayProblem, idx: readonly number[]): FitData {
  const pts = idx.map((i) => problem.points[i]);
  return {
    form: problem.form,
    x1: Float64Array.from(pts, (p) => p.rawX[0] / problem.scalers[0]),
    x2: problem.form === 'chinchilla' ? Float64Array.from(pts, (p) => p.rawX[1] / problem.scalers[1]) : undefined,
    y: Float64Array.from(pts, (p) => p.y),
    delta: problem.delta,
  };
}

/** The first, middle and last value of each init axis: a coarse global search for refits. */
function coarseGrid(problem: ReplayProblem): number[][] {
  const coarse: Record<string, number[]> = {};
  for (const name of LSE_PARAM_NAMES[problem.form]) {
    const v = problem.init[name];
    coarse[name] = [...new Set([v[0], v[Math.floor((v.length - 1) / 2)], v[v.length - 1]])];
  }
  return gridStarts(problem.form, coarse);
}

/**
 * Fit the law to the points `idx`: the whole init grid without a previous fit; else the previous
 * fit's minima, plus the coarse grid when the points have grown 1.5x since the last grid search
 * (the landscape changes materially only when the data does: a geometric schedule searches
 * globally O(log n) times per study instead of at every batch).
 */
export function fitSubset(problem: ReplayProblem, idx: readonly number[], prev?: SubsetFit | null, weights?: ArrayLike<number>): SubsetFit {
  const data = subsetData(problem, idx);
  const obj = new HuberLseObjective(data, weights);
  const regrid = !prev || prev.searchedAt === undefined || idx.length >= REGRID_GROWTH * prev.searchedAt;
  const starts = !prev ? gridStarts(problem.form, problem.init) : [prev.lse, ...prev.basins, ...(regrid ? coarseGrid(problem) : [])];
  const outcome = runStarts(obj, starts, problem.search);
  const best = polishBest(obj, outcome, problem.search);
  const basins = distinctBasins(outcome, obj.dim, best, 4, (x) => obj.predictions(x)).slice(1);
  return { lse: best.x, basins, loss: best.f, searchedAt: regrid ? idx.length : prev?.searchedAt };
}

/** B resamples of the points `idx` (seeded by (seed, b)), each restarted from the point fit. */
export function bootstrapSubset(
  problem: ReplayProblem,
  idx: readonly number[],
  fit: SubsetFit,
  B: number,
  seed: number,
  basins = true,
  weights?: ArrayLike<number>,
): number[][] {
  const data = subsetData(problem, idx);
  const starts = basins ? [fit.lse, ...fit.basins] : [fit.lse];
  const out: number[][] = [];
  for (let b = 0; b < B; b++) {
    if (!weights) {
      out.push(fitResample(data, seed, b, starts, problem.search).x);
      continue;
    }
    const counts = resampleCounts(data.y.length, seed, b);
    const obj = new HuberLseObjective(data, Float64Array.from(counts, (c, i) => c * weights[i]));
    out.push(polishBest(obj, runStarts(obj, starts, { ...problem.search, keepHessians: true }), problem.search).x);
  }
  return out;
}

/**
 * The selection's ensemble: B resamples each restarted from the point fit and stopped at the
 * screening tolerance (max |gradient| <= 1e-4), not polished to 1e-11. The ensemble only ranks
 * candidates (its covariances), and polishing moves a member by far less than the resample
 * spread; skipping it halves the replay's time. The reported interval (bootstrapSubset) polishes.
 */
export function selectionEnsemble(problem: ReplayProblem, idx: readonly number[], fit: SubsetFit, B: number, seed: number, weights?: ArrayLike<number>): number[][] {
  const data = subsetData(problem, idx);
  const out: number[][] = [];
  for (let b = 0; b < B; b++) {
    const counts = resampleCounts(data.y.length, seed, b);
    const obj = new HuberLseObjective(data, weights ? Float64Array.from(counts, (c, i) => c * weights[i]) : counts);
    const r = runStarts(obj, [fit.lse], problem.search);
    out.push(Number.isFinite(r.losses[0]) ? Array.from(r.finals) : [...fit.lse]);
  }
  return out;
}

/** Target names of a form: the recipe's a and b for chinchilla, the exponent alpha for a power law. */
export function targetNames(form: FormName): string[] {
  return form === 'chinchilla' ? ['a', 'b'] : ['alpha'];
}

/** The reported targets of one LSE vector. */
export function targetsOf(form: FormName, lse: readonly number[]): Record<string, number> {
  const names = LSE_PARAM_NAMES[form];
  const alpha = lse[names.indexOf('alpha')];
  if (form !== 'chinchilla') return { alpha };
  const beta = lse[names.indexOf('beta')];
  return { a: beta / (alpha + beta), b: alpha / (alpha + beta) };
}

/** Root-mean-square error of the predicted score on the points `idx`, and R^2. */
export function scoreError(problem: ReplayProblem, lse: readonly number[], idx: readonly number[]): { rmse: number; r2: number } {
  if (!idx.length) return { rmse: NaN, r2: NaN };
  let sse = 0;
  let mean = 0;
  for (const i of idx) mean += problem.points[i].score;
  mean /= idx.length;
  let sst = 0;
  for (const i of idx) {
    const p = problem.points[i];
    const y = Math.exp(predictLog(problem.form, lse, p.rawX.map((v, k) => v / problem.scalers[k])));
    const score = problem.invert ? 1 - y : y;
    sse += (score - p.score) ** 2;
    sst += (p.score - mean) ** 2;
  }
  return { rmse: Math.sqrt(sse / idx.length), r2: sst > 0 ? 1 - sse / sst : NaN };
}

/**
 * A validation problem made of the candidates only: their most expensive `holdoutTop` fraction
 * becomes the target region and the real target region is dropped. Choices about the selection
 * (criterion, cost exponent, seed design) are made on this, never on the real held-out scores.
 */
export function validationProblem(problem: ReplayProblem, holdoutTop = problem.holdoutTop || 0.1): ReplayProblem {
  const pts = problem.points;
  const byCost = [...problem.candidates].sort((a, b) => pts[b].cost - pts[a].cost || a - b);
  const k = Math.max(1, Math.round(holdoutTop * problem.candidates.length));
  const hold = new Set(byCost.slice(0, k));
  const candidates = problem.candidates.filter((i) => !hold.has(i));
  return {
    ...problem,
    name: `${problem.name} (validation)`,
    candidates,
    holdout: [...hold].sort((a, b) => a - b),
    holdoutTop,
    candidateCompute: candidates.reduce((s, i) => s + pts[i].cost, 0),
  };
}

/** The target `adaptive` reduces: `auto` is the holdout region's prediction when there is one, else the recipe / exponent. */
export function replayTarget(problem: ReplayProblem, objective: ReplayObjective): ProposeTarget {
  const kind = objective === 'auto' ? (problem.holdout.length ? 'prediction' : problem.form === 'chinchilla' ? 'recipe' : 'exponent') : objective;
  if (kind === 'prediction') {
    if (!problem.holdout.length) throw new FitInputError('--objective prediction needs a target region (--holdout-top > 0)', 'objective');
    return { kind, at: problem.holdout.map((i) => problem.points[i].rawX) };
  }
  if (kind === 'recipe' && problem.form !== 'chinchilla') throw new FitInputError(`--objective recipe needs a chinchilla fit, ${problem.name} is ${problem.form}`, 'objective');
  return kind === 'recipe' ? { kind } : { kind: 'exponent', name: 'alpha' };
}

export interface StrategyOptions {
  strategy: ReplayStrategy;
  /** Fraction of the candidates' compute. */
  budget: number;
  batch: number;
  seed: number;
  /** Resamples per adaptive refit and for the final interval. */
  bootstrap: number;
  target: ProposeTarget;
  /** propose's costPower; default: 0 for a prediction target, else cost cooling over the budget (propose's costExponent). */
  costPower?: number;
  /** How adaptive's fits weight the observed points (default: population for a recipe / exponent target, none for a prediction; see populationWeights). */
  weighting?: 'none' | 'population';
}

export interface ReplayStep {
  n: number;
  compute_fraction: number;
  holdout_error: number;
  holdout_r2: number;
  targets: Record<string, number>;
}

export interface StrategyRun {
  strategy: ReplayStrategy;
  seed: number;
  budget: number;
  /** Point ids in the order they were revealed. */
  chosen: string[];
  compute_fraction: number;
  fit: SubsetFit | null;
  targets: { name: string; value: number; ci: [number, number] }[];
  holdout_error: number;
  holdout_r2: number;
  steps: ReplayStep[];
}

/** A fixed order of the candidates for a non-adaptive strategy. */
export function strategyOrder(problem: ReplayProblem, strategy: Exclude<ReplayStrategy, 'adaptive'>, seed: number): number[] {
  const c = [...problem.candidates];
  const pts = problem.points;
  switch (strategy) {
    case 'grid':
      return c;
    case 'random': {
      const rng = mulberry32(seed);
      for (let i = c.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [c[i], c[j]] = [c[j], c[i]];
      }
      return c;
    }
    case 'compute-ascending':
      return c.sort((a, b) => pts[a].cost - pts[b].cost || a - b);
    case 'coarse-to-fine': {
      // As spec/grid.ts orders a grid: per x axis, the level of the value among the distinct
      // values (ends first, then midpoints, quarter points, ...); a point's level is its worst.
      const arity = formArity(problem.form);
      const distinct = Array.from({ length: arity }, (_, k) => [...new Set(c.map((i) => pts[i].rawX[k]))].sort((p, q) => p - q));
      const level = (idx: number, n: number): number => {
        if (n <= 2 || idx === 0 || idx === n - 1) return 0;
        for (let l = 1; l < 32; l++) {
          const step = (n - 1) / 2 ** l;
          if (Math.abs(idx / step - Math.round(idx / step)) < 1e-9 || step < 1) return l;
        }
        return 32;
      };
      const lv = (i: number) => Math.max(...distinct.map((d, k) => level(d.indexOf(pts[i].rawX[k]), d.length)));
      return c
        .map((i, pos) => ({ i, pos, l: lv(i) }))
        .sort((a, b) => a.l - b.l || a.pos - b.pos)
        .map((x) => x.i);
    }
  }
}

/** Population weights of the observed points `idx` against the candidate pool (scaling/population.ts says why). */
export function populationWeights(problem: ReplayProblem, idx: readonly number[]): Float64Array {
  const pts = problem.points;
  return populationWeightsOf(
    problem.candidates.map((i) => pts[i].rawX),
    idx.map((i) => pts[i].rawX),
  );
}

/** Simulate one strategy with one seed. */
export function runStrategy(problem: ReplayProblem, o: StrategyOptions): StrategyRun {
  const pts = problem.points;
  const total = problem.candidateCompute;
  let left = o.budget * total;
  const observed: number[] = [];
  const remaining = new Set(problem.candidates);
  const order = o.strategy === 'adaptive' ? [] : strategyOrder(problem, o.strategy, o.seed);
  let cursor = 0;
  let fit: SubsetFit | null = null;
  let ensemble: number[][] | undefined;
  const steps: ReplayStep[] = [];
  const minPoints = minPointsToFit(problem.form);
  // The replay's adaptive recipe per objective (chosen on the validation splits, bench/adaptive/README.md):
  // a parameter target (recipe, exponent) is the pool's law, so its fits are population-weighted
  // and the ranking cools the cost exponent; a prediction target is the law in the target region,
  // so the fits stay unweighted (the design's pull toward the dear end is the point) and the
  // ranking is by gain alone (cost exponent 0: the budget caps what is spent, the cheap end's
  // information about an extrapolation saturates).
  const prediction = o.target.kind === 'prediction';
  const weighted = o.strategy === 'adaptive' && (o.weighting ?? (prediction ? 'none' : 'population')) === 'population';
  for (let step = 0; ; step++) {
    let picks: number[] = [];
    if (o.strategy === 'adaptive') {
      const cands = [...remaining].filter((i) => pts[i].cost <= left);
      const res = propose({
        form: problem.form,
        scalers: problem.scalers,
        target: o.target,
        observed: observed.map((i) => pts[i]),
        point: fit?.lse,
        ensemble,
        candidates: cands.map((i) => ({ id: String(i), rawX: pts[i].rawX, cost: pts[i].cost })),
        batch: o.batch,
        budget: left,
        seed: (o.seed * 7919 + step) >>> 0,
        costPower: o.costPower ?? studyCostPower(o.target),
        budgetTotal: o.budget * total,
      });
      picks = res.proposals.map((p) => Number(p.id));
    } else {
      while (picks.length < o.batch && cursor < order.length) {
        const i = order[cursor++];
        // What does not fit in the budget now never will (the budget only shrinks): skip it.
        if (pts[i].cost <= left - picks.reduce((s, j) => s + pts[j].cost, 0)) picks.push(i);
      }
    }
    if (!picks.length) break;
    for (const i of picks) {
      observed.push(i);
      remaining.delete(i);
      left -= pts[i].cost;
    }
    if (observed.length < minPoints) continue;
    const weights = weighted ? populationWeights(problem, observed) : undefined;
    fit = fitSubset(problem, observed, fit, weights);
    const err = scoreError(problem, fit.lse, problem.holdout);
    steps.push({
      n: observed.length,
      compute_fraction: computeOf(problem, observed) / total,
      holdout_error: err.rmse,
      holdout_r2: err.r2,
      targets: targetsOf(problem.form, fit.lse),
    });
    // The selection's ensemble restarts each resample from the point fit only (speed); the final interval uses every basin.
    if (o.strategy === 'adaptive') ensemble = selectionEnsemble(problem, observed, fit, o.bootstrap, o.seed, weights);
  }
  const run: StrategyRun = {
    strategy: o.strategy,
    seed: o.seed,
    budget: o.budget,
    chosen: observed.map((i) => pts[i].id),
    compute_fraction: computeOf(problem, observed) / total,
    fit,
    targets: [],
    holdout_error: NaN,
    holdout_r2: NaN,
    steps,
  };
  if (fit) {
    const samples = bootstrapSubset(problem, observed, fit, o.bootstrap, o.seed, true, weighted ? populationWeights(problem, observed) : undefined);
    const value = targetsOf(problem.form, fit.lse);
    const per = samples.map((s) => targetsOf(problem.form, s));
    run.targets = targetNames(problem.form).map((name) => {
      const p = percentiles(per.map((t) => t[name]));
      return { name, value: value[name], ci: [p['p2.5'], p['p97.5']] as [number, number] };
    });
    const err = scoreError(problem, fit.lse, problem.holdout);
    run.holdout_error = err.rmse;
    run.holdout_r2 = err.r2;
  }
  return run;
}

function computeOf(problem: ReplayProblem, idx: readonly number[]): number {
  return idx.reduce((s, i) => s + problem.points[i].cost, 0);
}

function median(values: readonly number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? percentile(s, 50) : NaN;
}

/** The full-data reference: the fit of every selected point (with its bootstrap). */
export interface FullReference {
  targets: Record<string, { value: number; ci: [number, number] }>;
}

export function fullReference(full: FitResult): FullReference {
  const targets: FullReference['targets'] = {};
  if (full.form === 'chinchilla') {
    const r = full.recipe;
    if (!r) throw new FitInputError(`the full fit of ${full.name} has no recipe`);
    for (const k of ['a', 'b'] as const) {
      const p = r.bootstrap?.percentiles[k];
      targets[k] = { value: r[k], ci: [p?.['p2.5'] ?? NaN, p?.['p97.5'] ?? NaN] };
    }
  } else {
    const p = full.bootstrap?.percentiles.alpha;
    targets.alpha = { value: full.params.alpha, ci: [p?.['p2.5'] ?? NaN, p?.['p97.5'] ?? NaN] };
  }
  return { targets };
}

export interface CurvePoint {
  compute_fraction: number;
  holdout_error: number;
  /** Median (over seeds) fitted target values at this compute. */
  targets: Record<string, number>;
}

/** Median over seeds of the latest fit at or below each compute fraction (seeds with no fit yet are left out). */
export function medianCurve(runs: readonly StrategyRun[], fractions: readonly number[]): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (const f of fractions) {
    const at = runs.map((r) => [...r.steps].reverse().find((s) => s.compute_fraction <= f * (1 + 1e-12))).filter((s): s is ReplayStep => !!s);
    if (!at.length) continue;
    const names = Object.keys(at[0].targets);
    out.push({
      compute_fraction: f,
      holdout_error: median(at.map((s) => s.holdout_error)),
      targets: Object.fromEntries(names.map((n) => [n, median(at.map((s) => s.targets[n]))])),
    });
  }
  return out;
}

/** Compute fractions of the printed curve: a fixed ladder up to the budget, and the budget. */
export function curveFractions(budget: number): number[] {
  const ladder = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1];
  return [...new Set([...ladder.filter((f) => f < budget), budget])];
}

export interface StrategySummary {
  strategy: ReplayStrategy;
  budget: number;
  seeds: number;
  compute_fraction: number;
  holdout_error: number;
  holdout_r2: number;
  targets: { name: string; value: number; ci: [number, number]; full: number; full_ci: [number, number]; in_full_ci: boolean; seeds_in_full_ci: number }[];
  curve: CurvePoint[];
}

/** Medians over seeds of one strategy at one budget. */
export function summarize(runs: readonly StrategyRun[], ref: FullReference): StrategySummary {
  const first = runs[0];
  const names = Object.keys(ref.targets);
  return {
    strategy: first.strategy,
    budget: first.budget,
    seeds: runs.length,
    compute_fraction: median(runs.map((r) => r.compute_fraction)),
    holdout_error: median(runs.map((r) => r.holdout_error)),
    holdout_r2: median(runs.map((r) => r.holdout_r2)),
    targets: names.map((name) => {
      const mine = runs.map((r) => r.targets.find((t) => t.name === name));
      const value = median(mine.map((t) => t?.value ?? NaN));
      const { value: full, ci: fullCi } = ref.targets[name];
      const inside = (v: number) => v >= fullCi[0] && v <= fullCi[1];
      return {
        name,
        value,
        ci: [median(mine.map((t) => t?.ci[0] ?? NaN)), median(mine.map((t) => t?.ci[1] ?? NaN))] as [number, number],
        full,
        full_ci: fullCi,
        in_full_ci: inside(value),
        seeds_in_full_ci: mine.filter((t) => t && inside(t.value)).length,
      };
    }),
    curve: medianCurve(runs, curveFractions(first.budget)),
  };
}

export interface ReplayOptions {
  strategies: readonly ReplayStrategy[];
  budgets: readonly number[];
  batch: number;
  seeds: number;
  /** First seed (seeds are seed0, seed0 + 1, ...). */
  seed0?: number;
  bootstrap: number;
  objective: ReplayObjective;
  /** propose's costPower for adaptive (default: as runStrategy's). */
  costPower?: number;
  /** Called after each strategy x budget x seed (for progress). */
  onRun?: (run: StrategyRun) => void;
}

export interface ReplayOutput {
  fit: string;
  holdout_top: number;
  candidates: number;
  holdout: number;
  objective: ProposeTarget['kind'];
  all_candidates: { holdout_error: number; holdout_r2: number };
  strategies: StrategySummary[];
}

export function checkReplayOptions(o: ReplayOptions): void {
  const bad = (field: string, msg: string) => {
    throw new FitInputError(`${field} ${msg}`, field);
  };
  if (!o.strategies.length) bad('--strategy', 'needs at least one strategy');
  for (const s of o.strategies) if (!REPLAY_STRATEGIES.includes(s)) bad('--strategy', `"${s}" is not one of ${REPLAY_STRATEGIES.join(', ')}`);
  if (!o.budgets.length || o.budgets.length > REPLAY_LIMITS.budgets) bad('--budget', `needs 1..${REPLAY_LIMITS.budgets} values`);
  for (const b of o.budgets) if (!(b > 0 && b <= 1)) bad('--budget', `must be a fraction in (0, 1] of the candidates' compute, got ${b}`);
  if (!Number.isInteger(o.batch) || o.batch < 1 || o.batch > REPLAY_LIMITS.batch) bad('--batch', `must be an integer in 1..${REPLAY_LIMITS.batch}`);
  if (!Number.isInteger(o.seeds) || o.seeds < 1 || o.seeds > REPLAY_LIMITS.seeds) bad('--seeds', `must be an integer in 1..${REPLAY_LIMITS.seeds}`);
  if (!Number.isInteger(o.bootstrap) || o.bootstrap < 20 || o.bootstrap > REPLAY_LIMITS.bootstrap)
    bad('--bootstrap', `must be an integer in 20..${REPLAY_LIMITS.bootstrap}`);
  if (o.costPower !== undefined && !(o.costPower >= 0 && o.costPower <= 2)) bad('--cost-power', `must be in [0, 2], got ${o.costPower}`);
}

/** The whole replay: every strategy at every budget over the seeds, against the full-data fit. */
export function replayStudy(problem: ReplayProblem, full: FitResult, o: ReplayOptions): ReplayOutput {
  checkReplayOptions(o);
  const ref = fullReference(full);
  const target = replayTarget(problem, o.objective);
  const warm: SubsetFit = { lse: LSE_PARAM_NAMES[problem.form].map((n) => full.lse_params[n]), basins: full.search?.basins ?? [], loss: full.loss };
  // The fit on every candidate, restarted from the full fit's minima (and the coarse grid).
  const all = fitSubset(problem, problem.candidates, warm);
  const allErr = scoreError(problem, all.lse, problem.holdout);
  const strategies: StrategySummary[] = [];
  for (const budget of o.budgets) {
    for (const strategy of o.strategies) {
      const runs: StrategyRun[] = [];
      for (let k = 0; k < o.seeds; k++) {
        const run = runStrategy(problem, { strategy, budget, batch: o.batch, seed: (o.seed0 ?? 0) + k, bootstrap: o.bootstrap, target, costPower: o.costPower });
        o.onRun?.(run);
        runs.push(run);
      }
      strategies.push(summarize(runs, ref));
    }
  }
  return {
    fit: problem.name,
    holdout_top: problem.holdoutTop,
    candidates: problem.candidates.length,
    holdout: problem.holdout.length,
    objective: target.kind,
    all_candidates: { holdout_error: allErr.rmse, holdout_r2: allErr.r2 },
    strategies,
  };
}
