import { countExclusions, describeExclusions, fitDataset, normalizeFitConfig, selectPoints, type Selection } from '../scaling';
import { fitDatasetParallel } from '../fitting';
import type { FitResult } from '../scaling/types';
import { expandGrid, type FitSpec, type SweepSpec } from '../spec';
import { studyPopulation } from '../spec/adaptive';
import { dataPointsToPaperRows, type PaperRow } from '../store/export';
import type { ResultsStore } from '../store/types';
import type { FitSummary } from '../contract';
import { log } from './logger';

/** point: quick fit, no bootstrap; bootstrap: the live refit's intervals; final: each fit's own bootstrap count. */
export type RefitStage = 'point' | 'bootstrap' | 'final';

/** Fewer usable points than this and a law is not worth fitting yet. */
export const MIN_POINTS = 4;

export function summarizeFit(fit: FitResult, stage: FitSummary['stage'], version: number): FitSummary {
  const intervals = fit.bootstrap
    ? Object.fromEntries(Object.entries(fit.bootstrap.percentiles).map(([k, p]) => [k, [p['p2.5'], p['p97.5']] as [number, number]]))
    : undefined;
  const summary: FitSummary = { name: fit.name, form: fit.form, nPoints: fit.n_points, stage, params: fit.params, intervals, version };
  if (fit.n_excluded !== undefined) summary.nExcluded = fit.n_excluded;
  return summary;
}

/**
 * The regions the fits read (their y.metrics), so a result's other metrics (up to 1,000) never
 * become rows; undefined (every metric) when a fit names its metrics by another column.
 */
function fitMetrics(spec: SweepSpec): Set<string> | undefined {
  return fitRegions(spec.fits);
}

/** The regions these fits read, or undefined (every metric) when one names its metrics by another column. */
export function fitRegions(fits: readonly FitSpec[]): Set<string> | undefined {
  if (fits.some((f) => f.y.metricColumn !== 'region')) return undefined;
  return new Set(fits.flatMap((f) => f.y.metrics));
}

/**
 * Refits every law of a sweep from the store, warm-started from the last stored fit, and
 * stores each result as a new version. Returns one summary per fit of the spec, in its order:
 * a fitted law (with `nExcluded`, the rows it left out), or, for a law that cannot be fitted
 * this time, `error` with the reason, `params: {}` and `version: 0` (the next refit tries
 * again). A point one fit cannot use (1 - score <= 0 with y.invert, x <= 0 on a log axis, a
 * missing value) is left out of that fit and counted, never fatal to it or to the others.
 * Store errors are thrown (the activity is retried).
 */
export async function refitSweep(
  store: ResultsStore,
  spec: SweepSpec,
  stage: RefitStage,
  heartbeat: () => void = () => undefined,
): Promise<FitSummary[]> {
  if (!spec.fits.length) return [];
  const { rows, previous, nResults } = await fitInputs(store, spec);
  const out: FitSummary[] = [];
  for (const fitSpec of spec.fits) {
    heartbeat();
    const bootstrap = stage === 'point' ? 0 : stage === 'bootstrap' ? Math.min(spec.refit.bootstrap, fitSpec.bootstrap) : fitSpec.bootstrap;
    const fitStage: FitSummary['stage'] = bootstrap > 0 ? 'bootstrap' : 'point';
    const outcome = await fitOne(rows, fitSpec, stage, bootstrap, previous.get(fitSpec.name), heartbeat, populationOf(spec, fitSpec));
    if ('error' in outcome) {
      log.warn({ sweep: spec.name, fit: fitSpec.name, stage, nExcluded: outcome.nExcluded, err: outcome.error }, 'fit could not run');
      out.push({
        name: fitSpec.name,
        form: fitSpec.form,
        nPoints: outcome.nPoints,
        stage: fitStage,
        params: {},
        version: 0,
        nExcluded: outcome.nExcluded,
        error: outcome.error,
      });
      continue;
    }
    const version = await store.saveFit({ sweep: spec.name, name: fitSpec.name, nResults, stage: fitStage, fit: outcome.result });
    const summary = summarizeFit(outcome.result, fitStage, version);
    if (stage === 'final') summary.final = true;
    out.push(summary);
  }
  return out;
}

/** The sweep's data points as fit rows, the latest stored fit of each law (warm starts), and the runs they come from. */
async function fitInputs(store: ResultsStore, spec: SweepSpec): Promise<{ rows: PaperRow[]; previous: Map<string, FitResult>; nResults: number }> {
  const points = await store.listDataPoints(spec.name);
  const rows = dataPointsToPaperRows(points, { metrics: fitMetrics(spec) });
  const previous = new Map((await store.latestFits(spec.name)).map((f) => [f.name, f.fit as FitResult]));
  return { rows, previous, nResults: new Set(points.map((p) => p.runId)).size };
}

/** One law fitted by fitSweepLive, or why it could not be. */
export type LiveFit =
  | { name: string; form: FitSpec['form']; fit: FitResult }
  | { name: string; form: FitSpec['form']; error: string; nPoints: number; nExcluded: number };

/**
 * Fits every law of a sweep from the store's data points exactly as the worker's live refit
 * does (point fits warm-started from the latest stored fits), but stores nothing: a reader
 * (`sweep report <sweep>` on a laptop) must never add fit versions to the sweep's store.
 */
export async function fitSweepLive(store: ResultsStore, spec: SweepSpec): Promise<LiveFit[]> {
  if (!spec.fits.length) return [];
  const { rows, previous } = await fitInputs(store, spec);
  const out: LiveFit[] = [];
  for (const fitSpec of spec.fits) {
    const outcome = await fitOne(rows, fitSpec, 'point', 0, previous.get(fitSpec.name), () => undefined, populationOf(spec, fitSpec));
    out.push('error' in outcome ? { name: fitSpec.name, form: fitSpec.form, ...outcome } : { name: fitSpec.name, form: fitSpec.form, fit: outcome.result });
  }
  return out;
}

/**
 * An adaptive recipe / exponent study's target is the law of the whole grid, but its design
 * chases information (the ends of the range): its target fit weights each point by the share of
 * the grid's cells it stands for, as the replay's validated recipe does (scaling/population.ts).
 */
function populationOf(spec: SweepSpec, fitSpec: FitSpec): number[][] | undefined {
  return studyPopulation(spec, fitSpec.name, () => expandGrid(spec));
}

type FitOutcome = { result: FitResult } | { error: string; nPoints: number; nExcluded: number };

/** One law: select its usable points (counting those left out), then fit; never throws. */
async function fitOne(
  rows: PaperRow[],
  fitSpec: FitSpec,
  stage: RefitStage,
  bootstrap: number,
  warm: FitResult | undefined,
  heartbeat: () => void,
  population?: number[][],
): Promise<FitOutcome> {
  if (!rows.length) return { error: 'no results yet', nPoints: 0, nExcluded: 0 };
  let sel: Selection;
  try {
    // The fit selects again itself (milliseconds); this pass decides whether it is worth running.
    // Without allowEmpty, a selection that matches nothing throws the engine's own explanation.
    const cfg = normalizeFitConfig(fitSpec);
    sel = selectPoints(rows, cfg, { excludeUnusable: true, allowEmpty: true });
    if (!sel.points.length && !countExclusions(sel)) selectPoints(rows, cfg, { excludeUnusable: true });
  } catch (e) {
    return { error: (e as Error).message, nPoints: 0, nExcluded: 0 };
  }
  const nExcluded = countExclusions(sel);
  if (sel.points.length < MIN_POINTS) {
    const left = nExcluded ? `; ${nExcluded} left out: ${describeExclusions(sel)}` : '';
    return { error: `only ${sel.points.length} usable point${sel.points.length === 1 ? '' : 's'} (need ${MIN_POINTS})${left}`, nPoints: sel.points.length, nExcluded };
  }
  try {
    const opts = {
      bootstrap,
      seed: fitSpec.seed,
      // Live refits start from the last fit (milliseconds); the final one searches the whole grid.
      warmStart: stage === 'final' ? undefined : warm,
      excludeUnusable: true,
      population,
      onProgress: () => heartbeat(),
    };
    // Bootstraps run on worker threads, so the activity keeps heartbeating while they fit.
    const result = bootstrap > 0 ? await fitDatasetParallel(rows, fitSpec, opts) : fitDataset(rows, fitSpec, opts);
    return { result };
  } catch (e) {
    return { error: `fit failed: ${(e as Error).message}`, nPoints: sel.points.length, nExcluded };
  }
}
