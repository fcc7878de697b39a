import { propose, studyCostPower, type ProposeTarget } from '../scaling';
import { percentiles } from '../scaling/bootstrap';
import { LSE_PARAM_NAMES, paramVector, predictLog } from '../scaling/forms';
import type { FitResult } from '../scaling/types';
import { expandGrid, shortHash, SweepSpecSchema, type SweepSpec } from '../spec';
import { studyCellCost, studyCellX } from '../spec/adaptive';
import type { StudyTarget } from '../contract';
import type { ResultsStore } from '../store/types';

export interface NextBatch {
  /** The cells to run next, each with why it was chosen. */
  picks: { runId: string; reason: string; costGpuHours: number }[];
  /** Set when the study is done: the budget is spent, the target is certain enough, or no cell is left. */
  stop?: string;
  /** The target's current 95% interval width, when the fit has one (for the sweep's details). */
  ciWidth?: number;
  /** The target's current estimate and 95% interval. */
  target?: StudyTarget;
  mode?: string;
}

/**
 * The study's target in one fit, with its 95% interval: the recipe's a (from the recipe's own
 * bootstrap, not log A's), the exponent, or the predicted y (the fitted target, 1 - score when
 * inverted) at `at` from the resamples' laws. No interval when the fit has no bootstrap for it.
 */
export function targetEstimate(fit: FitResult, st: NonNullable<SweepSpec['strategy']>): { value?: number; ci?: [number, number] } {
  const ciOf = (p?: { 'p2.5': number; 'p97.5': number }) => (p && Number.isFinite(p['p2.5']) && Number.isFinite(p['p97.5']) ? ([p['p2.5'], p['p97.5']] as [number, number]) : undefined);
  if (st.objective === 'recipe') return { value: fit.recipe?.a, ci: ciOf(fit.recipe?.bootstrap?.percentiles?.a) };
  if (st.objective === 'exponent') return { value: fit.params?.[st.parameter], ci: ciOf(fit.bootstrap?.percentiles?.[st.parameter]) };
  const at = st.at;
  if (!at || at.length !== fit.scalers.length) return {};
  const x = at.map((v, k) => v / fit.scalers[k]);
  let value: number | undefined;
  try {
    value = Math.exp(predictLog(fit.form, paramVector(LSE_PARAM_NAMES[fit.form], fit.lse_params), x));
  } catch {
    value = undefined; // a fit row without its point estimate: the interval alone
  }
  const ys = (fit.bootstrap?.lse_samples ?? []).map((s) => Math.exp(predictLog(fit.form, s, x))).filter(Number.isFinite);
  return { value, ci: ys.length >= 2 ? ciOf(percentiles(ys)) : undefined };
}

/** Width of the target's 95% interval in the latest fit: the quantity `stopWhen.ciWidth` bounds. */
export function targetCiWidth(fit: FitResult | undefined, strategy: NonNullable<SweepSpec['strategy']>): number | undefined {
  const ci = fit ? targetEstimate(fit, strategy).ci : undefined;
  return ci ? ci[1] - ci[0] : undefined;
}

/**
 * The next batch of an adaptive study (`strategy: adaptive`): the unrun cells that most reduce the
 * uncertainty of the target per GPU-hour (scaling/propose.ts says why that criterion), within what
 * is left of the budget. Never a cell the store already has or one in flight.
 */
export async function proposeNext(store: ResultsStore, sweep: string, inFlight: string[], spentGpuHours: number, batch: number): Promise<NextBatch> {
  const spec = SweepSpecSchema.parse((await store.getSweep(sweep))?.spec);
  const strategy = spec.strategy;
  if (!strategy) return { picks: [], stop: 'not an adaptive sweep' };
  const fitSpec = spec.fits.find((f) => f.name === strategy.target);
  if (!fitSpec) return { picks: [], stop: `no fit named ${strategy.target}` };
  const left = strategy.budget.gpuHours - spentGpuHours;
  const fit = (await store.latestFits(sweep)).find((f) => f.name === fitSpec.name)?.fit as FitResult | undefined;
  const what = strategy.objective === 'recipe' ? 'recipe a' : strategy.objective === 'exponent' ? strategy.parameter : `prediction at ${strategy.at?.join(', ')}`;
  // The interval first: a study that stops on its budget still reports the latest fit's.
  const estimate = fit && fit.form === fitSpec.form ? targetEstimate(fit, strategy) : undefined;
  const ciWidth = estimate?.ci ? estimate.ci[1] - estimate.ci[0] : undefined;
  const value = Number.isFinite(estimate?.value) ? estimate!.value : undefined;
  const current: StudyTarget | undefined =
    value !== undefined || estimate?.ci ? { ...(value !== undefined ? { value } : {}), ...(estimate?.ci ? { ci: estimate.ci } : {}) } : undefined;
  if (left <= 0) return { picks: [], stop: `budget of ${strategy.budget.gpuHours} GPU-hours spent`, ciWidth, target: current };
  if (strategy.stopWhen && ciWidth !== undefined && ciWidth <= strategy.stopWhen.ciWidth)
    return { picks: [], stop: `the ${what} 95% interval (${ciWidth.toPrecision(3)}) is narrower than ${strategy.stopWhen.ciWidth}`, ciWidth, target: current };
  const known = new Set((await store.listRuns(sweep)).map((r) => r.runId));
  for (const id of inFlight) known.add(id);
  const candidates = expandGrid(spec)
    .filter((c) => !known.has(c.runId))
    .flatMap((c) => {
      const rawX = studyCellX(spec, fitSpec.x, c.axes);
      const cost = studyCellCost(spec, c);
      return rawX && cost !== undefined ? [{ id: c.runId, rawX, cost }] : [];
    });
  if (!candidates.length) return { picks: [], stop: 'every cell has run', ciWidth, target: current };
  const target: ProposeTarget =
    strategy.objective === 'recipe'
      ? { kind: 'recipe' }
      : strategy.objective === 'prediction'
        ? { kind: 'prediction', at: [strategy.at!] }
        : { kind: 'exponent', name: strategy.parameter };
  const usable = fit && fit.form === fitSpec.form ? fit : undefined;
  const result = propose({
    form: fitSpec.form,
    scalers: usable?.scalers ?? candidates[0].rawX.map(() => 1),
    target,
    observed: usable?.points ?? [],
    point: usable ? paramVector(LSE_PARAM_NAMES[usable.form], usable.lse_params) : undefined,
    ensemble: usable?.bootstrap?.lse_samples,
    candidates,
    batch,
    budget: left,
    // As in the replay (scaling/propose.ts costExponent): cost cooling over the study's budget, or
    // gain alone for a prediction. The ensemble is the sweep's refit bootstrap, population-weighted
    // over the grid for a recipe / exponent study as the replay's fits are (activities/refit.ts).
    budgetTotal: strategy.budget.gpuHours,
    costPower: studyCostPower(target),
    // Deterministic: the same sweep, with the same runs done, proposes the same batch.
    seed: parseInt(shortHash(`${sweep}\u0000${known.size}`), 16),
  });
  if (!result.proposals.length) return { picks: [], stop: `no cell fits the ${left.toPrecision(3)} GPU-hours left`, ciWidth, target: current, mode: result.mode };
  return { picks: result.proposals.map((p) => ({ runId: p.id, reason: p.reason, costGpuHours: p.cost })), ciWidth, target: current, mode: result.mode };
}
