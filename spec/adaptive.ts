/**
 * Validation of an adaptive strategy (`strategy: {kind: adaptive, ...}`) against the rest of the
 * spec: what its schema alone cannot see. Pure; `checkSpec` (spec/grid.ts) calls it with the
 * grid's cells, so a bad study is refused at validation with the field named, before anything runs.
 */
import { estimateCell } from './compute';
import type { AxisValue, Resources, SweepSpec } from './sweepSpec';

interface CellLike {
  runId: string;
  axes: Record<string, AxisValue>;
  resources: Pick<Resources, 'nodes' | 'gpus'>;
}

/** Fewest bootstrap resamples the selection uses (scaling/propose.ts MIN_ENSEMBLE; a test keeps the two equal). */
export const STUDY_MIN_RESAMPLES = 20;

/** The exponents each form has (what `objective: exponent` can name in `parameter`). */
const EXPONENTS: Record<string, string[]> = { power_law: ['alpha'], power_law_shift: ['alpha'], chinchilla: ['alpha', 'beta'] };

/**
 * A cell's cost as the study counts it (activities/propose.ts): the planner's estimated GPU-hours.
 * That is the run's total FLOPs over one GPU's throughput, whatever the number of GPUs it runs on
 * (more GPUs shorten the run, not its GPU-hours): not multiplied by them again.
 */
export function studyCellCost(spec: Pick<SweepSpec, 'estimate'>, cell: CellLike): number | undefined {
  const e = estimateCell(spec, cell.axes);
  return e ? Math.max(e.gpuHours, 1e-9) : undefined;
}

/** A cell's x for fit columns `x`, from the planner's estimate (N, D for chinchilla); undefined without one. */
export function studyCellX(spec: Pick<SweepSpec, 'estimate'>, x: string | string[], axes: Record<string, AxisValue>): number[] | undefined {
  const e = estimateCell(spec, axes);
  if (!e) return undefined;
  const col: Record<string, number> = { total_flops: e.totalFlops, n_params: e.nParams, n_samples_seen: e.nSamplesSeen };
  const v = (Array.isArray(x) ? x : [x]).map((c) => col[c]);
  return v.every((n) => Number.isFinite(n) && n > 0) ? v : undefined;
}

/**
 * The pool a live adaptive study's target fit is weighted against (scaling/population.ts): every
 * grid cell's estimated x, for a recipe or exponent objective; none for a prediction, whose fits
 * stay unweighted (the design's pull toward the dear end is the point), nor for other fits.
 * `cellsOf` is called only when there is a pool to build (expanding a grid is not free).
 */
export function studyPopulation(spec: SweepSpec, fitName: string, cellsOf: () => readonly { axes: Record<string, AxisValue> }[]): number[][] | undefined {
  const st = spec.strategy;
  const fit = spec.fits.find((f) => f.name === fitName);
  if (!st || st.target !== fitName || st.objective === 'prediction' || !fit) return undefined;
  const pool: number[][] = [];
  for (const c of cellsOf()) {
    const x = studyCellX(spec, fit.x, c.axes);
    if (x) pool.push(x);
  }
  return pool.length ? pool : undefined;
}

export function adaptiveIssues(spec: SweepSpec, cells: readonly CellLike[]): { path: string; message: string }[] {
  const st = spec.strategy;
  if (!st) return [];
  const issues: { path: string; message: string }[] = [];
  const fit = spec.fits.find((f) => f.name === st.target);
  if (!fit) issues.push({ path: 'strategy.target', message: `no fit named "${st.target}" in fits (${spec.fits.map((f) => f.name).join(', ') || 'none'})` });
  if (st.objective === 'recipe' && fit && fit.form !== 'chinchilla')
    issues.push({ path: 'strategy.objective', message: `the recipe is chinchilla's; fit "${fit.name}" is ${fit.form}` });
  if (st.objective === 'exponent' && fit && !(EXPONENTS[fit.form] ?? []).includes(st.parameter))
    issues.push({ path: 'strategy.parameter', message: `fit "${fit.name}" (${fit.form}) has no exponent "${st.parameter}" (it has ${(EXPONENTS[fit.form] ?? []).join(', ')})` });
  if (st.objective === 'prediction') {
    if (!st.at) issues.push({ path: 'strategy.at', message: 'objective prediction needs the x to predict at (at)' });
    else if (fit) {
      const arity = Array.isArray(fit.x) ? fit.x.length : 1;
      if (st.at.length !== arity) issues.push({ path: 'strategy.at', message: `fit "${fit.name}" has ${arity} x (${[fit.x].flat().join(', ')}); at gives ${st.at.length}` });
    }
  }
  // The selection reads the live refit's bootstrap ensemble; with fewer resamples it can only ever
  // run the seed design, and without an interval stopWhen never fires.
  if (fit) {
    const resamples = Math.min(spec.refit.bootstrap, fit.bootstrap);
    if (resamples < STUDY_MIN_RESAMPLES)
      issues.push({
        path: spec.refit.bootstrap <= fit.bootstrap ? 'refit.bootstrap' : `fits.${spec.fits.indexOf(fit)}.bootstrap`,
        message: `an adaptive study chooses from the live refit's bootstrap: it needs at least ${STUDY_MIN_RESAMPLES} resamples (refit.bootstrap ${spec.refit.bootstrap}, fit "${fit.name}" bootstrap ${fit.bootstrap})`,
      });
  }
  // Every cell needs a cost and x before it runs: the planner's estimate.
  let cheapest = Infinity;
  for (const c of cells) {
    const cost = studyCellCost(spec, c);
    if (cost === undefined) {
      issues.push({
        path: 'strategy',
        message: `cell ${c.runId} has no compute estimate (arch, dataset, samples_per_class, epochs axes; see estimate): an adaptive study needs one for every cell`,
      });
      return issues;
    }
    cheapest = Math.min(cheapest, cost);
  }
  if (cells.length && cheapest > st.budget.gpuHours)
    issues.push({
      path: 'strategy.budget.gpuHours',
      message: `the budget of ${st.budget.gpuHours} GPU-hours is below the cheapest run's estimated ${Number(cheapest.toPrecision(3))} GPU-hours: the study could run nothing`,
    });
  return issues;
}
