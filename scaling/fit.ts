/**
 * One fit end to end: select the points, fit the law by multi-start, bootstrap it, derive the
 * recipe. The steps are exported separately so a runtime (fitting/) can spread the start grid
 * and the resamples over worker threads and get exactly the in-process answer.
 */
import { normalizeFitConfig, type FitConfig, type NormalizedFitConfig } from './config';
import { LINEAR_PARAM_NAMES, LSE_PARAM_NAMES, namedParams, paramVector, toLinear } from './forms';
import { HuberLseObjective, type FitData } from './objective';
import { distinctBasins, gridStarts, polishBest, runStarts, type BestFit, type SearchOptions, type StartsOutcome } from './multistart';
import { percentiles, resampleCounts, resampleIndices } from './bootstrap';
import { computeFlopsFit, computeRecipe, RECIPE_KEYS } from './recipe';
import { populationWeightCap, populationWeightsOf } from './population';
import { countExclusions, selectPoints, type LongRow, type Selection } from './select';
import type { FitPoint, FitResult, Percentiles, RecipeResult } from './types';

export interface FitOptions {
  /** Bootstrap resamples (default: the spec's `bootstrap`). */
  bootstrap?: number;
  /** Bootstrap seed (default: the spec's `seed`). */
  seed?: number;
  /** Run the whole init grid on the point fit and on every resample (the reference procedure). */
  exhaustive?: boolean;
  /** Previous fit (or its lse_params) to restart from instead of the grid: a live refit. */
  warmStart?: FitResult | Record<string, number>;
  /** How many distinct minima of the point fit each resample restarts from (basins mode). */
  maxBasins?: number;
  /**
   * Refit this many resamples (spread over the range) from the whole grid and compare with the
   * reduced starts; a resample where the grid does better takes the grid's answer and is reported.
   */
  verify?: number;
  /** Include the fitted points in the result (default true). */
  keepPoints?: boolean;
  /** Include each resample's parameters and loss (default true; needed for prediction bands). */
  keepSamples?: boolean;
  /**
   * Leave out (counted in result.excluded) rows the fit cannot use instead of throwing
   * (SelectOptions.excludeUnusable): the sweep's refits.
   */
  excludeUnusable?: boolean;
  /**
   * Raw x of the pool the fit stands for (a live adaptive study's grid cells): each selected
   * point is weighted by the share of it that it represents (scaling/population.ts).
   */
  population?: readonly (readonly number[])[];
  /** Column names (CSV header) and row labels for error messages. */
  columns?: readonly string[];
  rowLabel?: (i: number) => string;
  /** Called as work completes: grid starts of the point fit (parallel runner only), then resamples. */
  onProgress?: (done: number, total: number, phase: 'starts' | 'bootstrap') => void;
}

export const DEFAULT_MAX_BASINS = 12;

export interface PreparedFit {
  cfg: NormalizedFitConfig;
  selection: Selection;
  data: FitData;
  search: SearchOptions;
  bootstrap: number;
  seed: number;
  exhaustive: boolean;
  maxBasins: number;
  /** Starts of the point fit: the grid, or the warm start and its basins. */
  pointStarts: number[][];
  pointMode: 'exhaustive' | 'warm';
  /** Prior minima carried over from a warm start (added to the resample starts). */
  warmBasins: number[][];
  /** How the points were weighted (FitOptions.population), if they were: FitResult.weighting. */
  weighting?: FitResult['weighting'];
}

export interface Verification {
  n: number;
  agree: number;
  worst_rel: number;
}

/** Agreement tolerance of FitOptions.verify (relative loss). */
export const VERIFY_REL_TOL = 1e-9;

/** Which resamples to verify: `count` spread evenly over [0, total). */
export function verifyIds(total: number, count: number): number[] {
  const k = Math.min(total, Math.max(0, Math.floor(count)));
  return Array.from({ length: k }, (_, i) => Math.floor((i * total) / k));
}

/** Compare reduced-start resample fits with whole-grid refits; the lower loss is kept in `resamples`. */
export function applyVerification(resamples: BestFit[], full: ReadonlyMap<number, BestFit>): Verification {
  let agree = 0;
  let worst = 0;
  for (const [b, ref] of full) {
    const mine = resamples[b];
    const d = Math.abs(mine.f - ref.f) / Math.max(Math.abs(mine.f), Math.abs(ref.f), 1e-300);
    worst = Math.max(worst, d);
    if (d <= VERIFY_REL_TOL) agree++;
    if (ref.f < mine.f) resamples[b] = ref;
  }
  return { n: full.size, agree, worst_rel: worst };
}

export interface PointFit {
  best: BestFit;
  basins: number[][];
  starts: number;
  evaluations: number;
}

/** Select the points and set up the search. Throws FitInputError on bad input. */
export function prepareFit(rows: readonly LongRow[], config: FitConfig, opts: FitOptions = {}): PreparedFit {
  const cfg = normalizeFitConfig(config);
  const selection = selectPoints(rows, cfg, { columns: opts.columns, rowLabel: opts.rowLabel, excludeUnusable: opts.excludeUnusable });
  const pts = selection.points;
  const data: FitData = {
    form: cfg.form,
    x1: Float64Array.from(pts, (p) => p.rawX[0] / cfg.scalers[0]),
    x2: cfg.form === 'chinchilla' ? Float64Array.from(pts, (p) => p.rawX[1] / cfg.scalers[1]) : undefined,
    y: Float64Array.from(pts, (p) => (cfg.y.invert ? 1 - p.score : p.score)),
    delta: cfg.delta,
  };
  // The trim is the pool's x dimension's (populationWeightCap): the same arity as the points'.
  const cap = populationWeightCap(cfg.form === 'chinchilla' ? 2 : 1);
  const weighting: FitResult['weighting'] = opts.population?.length
    ? { kind: 'population', pool: opts.population.length, ...(Number.isFinite(cap) ? { cap } : {}) }
    : undefined;
  if (weighting) data.weights = populationWeightsOf(opts.population!, pts.map((p) => p.rawX), cap);
  const exhaustive = opts.exhaustive ?? cfg.starts === 'exhaustive';
  const names = LSE_PARAM_NAMES[cfg.form];
  let warmBasins: number[][] = [];
  let pointStarts: number[][];
  let pointMode: PreparedFit['pointMode'] = 'exhaustive';
  const prior = opts.warmStart as Partial<FitResult> | undefined;
  const isResult = typeof prior?.lse_params === 'object' && prior.lse_params !== null;
  const warmLse = isResult ? (prior?.lse_params as Record<string, number>) : (opts.warmStart as Record<string, number> | undefined);
  const warmUsable = warmLse && names.every((n) => Number.isFinite(warmLse[n])) && (!isResult || !prior?.form || prior.form === cfg.form);
  if (opts.warmStart && !exhaustive && !warmUsable) {
    // A live refit must not fail because the spec changed under it: fall back to the grid.
    selection.warnings.push(`fit "${cfg.name}": the warm start does not match form ${cfg.form}; fitted from the init grid`);
  }
  if (warmLse && warmUsable && !exhaustive) {
    warmBasins = (isResult ? (prior?.search?.basins ?? []) : []).filter((b) => b.length === names.length);
    pointStarts = [paramVector(names, warmLse), ...warmBasins];
    pointMode = 'warm';
  } else {
    pointStarts = gridStarts(cfg.form, cfg.init);
  }
  return {
    cfg,
    selection,
    data,
    search: { method: cfg.optimizer.method, gtol: cfg.optimizer.gtol, maxIter: cfg.optimizer.maxIter },
    bootstrap: opts.bootstrap ?? cfg.bootstrap,
    seed: opts.seed ?? cfg.seed,
    exhaustive,
    maxBasins: opts.maxBasins ?? DEFAULT_MAX_BASINS,
    pointStarts,
    pointMode,
    warmBasins,
    ...(weighting ? { weighting } : {}),
  };
}

/** Merge outcomes of start chunks (in start order). */
export function mergeOutcomes(parts: readonly StartsOutcome[]): StartsOutcome {
  const total = parts.reduce((s, p) => s + p.losses.length, 0);
  const dim = parts.length && parts[0].losses.length ? parts[0].finals.length / parts[0].losses.length : 0;
  const finals = new Float64Array(total * dim);
  const losses = new Float64Array(total);
  let k = 0;
  let evaluations = 0;
  for (const p of parts) {
    finals.set(p.finals, k * dim);
    losses.set(p.losses, k);
    k += p.losses.length;
    evaluations += p.evaluations;
  }
  return { finals, losses, evaluations };
}

/** The point fit from the outcome of its starts: polish the best, list the distinct minima. */
export function finishPointFit(prep: PreparedFit, outcome: StartsOutcome): PointFit {
  const obj = new HuberLseObjective(prep.data);
  const best = polishBest(obj, outcome, prep.search);
  const basins = distinctBasins(outcome, obj.dim, best, prep.maxBasins, (x) => obj.predictions(x));
  for (const b of prep.warmBasins) if (basins.length < prep.maxBasins) basins.push(b);
  return { best, basins, starts: outcome.losses.length, evaluations: outcome.evaluations };
}

/** Starts of every resample: the whole grid (exhaustive) or the point fit's distinct minima. */
export function resampleStarts(prep: PreparedFit, point: PointFit): number[][] {
  return prep.exhaustive ? gridStarts(prep.cfg.form, prep.cfg.init) : point.basins;
}

/** Fit resample b (rows drawn with replacement, seeded by (seed, b)) from the given starts. */
export function fitResample(data: FitData, seed: number, b: number, starts: readonly ArrayLike<number>[], search: SearchOptions): BestFit {
  const counts = resampleCounts(data.y.length, seed, b);
  const obj = new HuberLseObjective(data, counts);
  return polishBest(obj, runStarts(obj, starts, { ...search, keepHessians: true }), search);
}

/** Run the point fit in-process. */
export function fitPoint(prep: PreparedFit): PointFit {
  const obj = new HuberLseObjective(prep.data);
  return finishPointFit(prep, runStarts(obj, prep.pointStarts, prep.search));
}

function recipeFor(prep: PreparedFit, lse: readonly number[], indices?: ArrayLike<number>): Omit<RecipeResult, 'bootstrap'> | null {
  if (prep.cfg.form !== 'chinchilla' || !prep.cfg.recipeCompute) return null;
  const pts = prep.selection.points;
  const take = indices ? Array.from(indices, (i) => pts[i]) : pts;
  if (take.some((p) => !(typeof p.compute === 'number' && p.compute > 0))) return null;
  const [E, A, alpha, B, beta] = toLinear('chinchilla', lse);
  const flops = computeFlopsFit(
    take.map((p) => p.rawX[0]),
    take.map((p) => p.rawX[1]),
    take.map((p) => p.compute as number),
  );
  return computeRecipe({ E, A, alpha, B, beta }, flops);
}

/** Build the FitResult from the point fit and the resample fits (index = resample number). */
export function assembleResult(
  prep: PreparedFit,
  point: PointFit,
  resamples: readonly BestFit[],
  opts: FitOptions = {},
  verification?: Verification,
): FitResult {
  const { cfg } = prep;
  const lseNames = LSE_PARAM_NAMES[cfg.form];
  const linNames = LINEAR_PARAM_NAMES[cfg.form];
  const warnings = [...prep.selection.warnings];
  const result: FitResult = {
    name: cfg.name,
    form: cfg.form,
    x: cfg.x,
    scalers: cfg.scalers,
    y: { metrics: cfg.y.metrics, invert: cfg.y.invert },
    n_points: prep.data.y.length,
    loss: point.best.f,
    lse_params: namedParams(lseNames, point.best.x),
    params: namedParams(linNames, toLinear(cfg.form, point.best.x)),
  };
  if (opts.excludeUnusable) {
    result.n_excluded = countExclusions(prep.selection);
    result.excluded = { ...Object.fromEntries(Object.entries(prep.selection.missing).map(([c, k]) => [`missing ${c}`, k])), ...prep.selection.excluded };
  }
  if (resamples.length) {
    const pct: Record<string, Percentiles> = {};
    lseNames.forEach((name, i) => (pct[name] = percentiles(resamples.map((r) => r.x[i]))));
    linNames.forEach((name) => {
      if (!(name in pct)) {
        const i = linNames.indexOf(name);
        pct[name] = percentiles(resamples.map((r) => toLinear(cfg.form, r.x)[i]));
      }
    });
    result.bootstrap = {
      n: resamples.length,
      seed: prep.seed,
      percentiles: pct,
      starts: prep.exhaustive ? 'exhaustive' : prep.pointMode === 'warm' ? 'warm' : 'basins',
    };
    if (verification) {
      result.bootstrap.verified = verification;
      if (verification.agree < verification.n) {
        warnings.push(
          `fit "${cfg.name}": ${verification.n - verification.agree} of ${verification.n} verified resamples found a lower loss from the whole grid ` +
            `(worst relative difference ${verification.worst_rel.toExponential(1)}); those use the grid's answer — consider starts: exhaustive`,
        );
      }
    }
    if (opts.keepSamples ?? true) {
      result.bootstrap.losses = resamples.map((r) => r.f);
      result.bootstrap.lse_samples = resamples.map((r) => r.x.slice());
    }
  }
  const recipe = recipeFor(prep, point.best.x);
  if (recipe) {
    const out: RecipeResult = { ...recipe };
    if (resamples.length) {
      const per = resamples.map((r, b) => recipeFor(prep, r.x, resampleIndices(prep.data.y.length, prep.seed, b)));
      const rp: Record<string, Percentiles> = {};
      for (const k of RECIPE_KEYS) rp[k] = percentiles(per.map((p) => (p ? p[k] : NaN)));
      out.bootstrap = { n: resamples.length, percentiles: rp };
    }
    result.recipe = out;
  } else if (cfg.form === 'chinchilla' && cfg.recipeCompute) {
    warnings.push(`fit "${cfg.name}": no recipe: column "${cfg.recipeCompute}" is missing or not positive`);
  }
  result.search = {
    mode: prep.pointMode,
    starts: point.starts,
    basins: point.basins.map((b) => b.slice()),
    evaluations: point.evaluations,
  };
  if (opts.keepPoints ?? true) {
    result.points = prep.selection.points.map((p, i): FitPoint => {
      const fp: FitPoint = {
        x: p.rawX.map((v, k) => v / cfg.scalers[k]),
        y: prep.data.y[i],
        rawX: p.rawX,
        score: p.score,
      };
      if (p.labels.arch !== undefined) fp.arch = p.labels.arch;
      if (p.labels.arch_family !== undefined) fp.arch_family = p.labels.arch_family;
      if (p.labels.model_id !== undefined) fp.model_id = p.labels.model_id;
      return fp;
    });
  }
  if (prep.weighting) result.weighting = prep.weighting;
  if (warnings.length) result.warnings = warnings;
  return result;
}

/**
 * Fit one spec to long-format rows, in-process (synchronous). For the 1,000-resample
 * analyses use fitDatasetParallel (fitting/), which gives the same result on worker threads.
 */
export function fitDataset(rows: readonly LongRow[], config: FitConfig, opts: FitOptions = {}): FitResult {
  const prep = prepareFit(rows, config, opts);
  const point = fitPoint(prep);
  const starts = resampleStarts(prep, point);
  const resamples: BestFit[] = [];
  for (let b = 0; b < prep.bootstrap; b++) {
    resamples.push(fitResample(prep.data, prep.seed, b, starts, prep.search));
    opts.onProgress?.(b + 1, prep.bootstrap, 'bootstrap');
  }
  let verification: Verification | undefined;
  if (opts.verify && !prep.exhaustive && resamples.length) {
    const grid = gridStarts(prep.cfg.form, prep.cfg.init);
    const full = new Map(verifyIds(resamples.length, opts.verify).map((b) => [b, fitResample(prep.data, prep.seed, b, grid, prep.search)] as const));
    verification = applyVerification(resamples, full);
  }
  return assembleResult(prep, point, resamples, opts, verification);
}
