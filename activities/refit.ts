import { fitDataset } from '../scaling';
import { fitDatasetParallel } from '../fitting';
import type { FitResult } from '../scaling/types';
import type { SweepSpec } from '../spec';
import { dataPointsToPaperRows } from '../store/export';
import type { ResultsStore } from '../store/types';
import type { FitSummary } from '../workflows/api';
import { log } from './logger';

/** point: quick fit, no bootstrap; bootstrap: the live refit's intervals; final: each fit's own bootstrap count. */
export type RefitStage = 'point' | 'bootstrap' | 'final';

/** Fewer points than this and a law is not worth fitting yet. */
const MIN_POINTS = 4;

export function summarizeFit(fit: FitResult, stage: FitSummary['stage'], version: number): FitSummary {
  const intervals = fit.bootstrap
    ? Object.fromEntries(Object.entries(fit.bootstrap.percentiles).map(([k, p]) => [k, [p['p2.5'], p['p97.5']] as [number, number]]))
    : undefined;
  return { name: fit.name, form: fit.form, nPoints: fit.n_points, stage, params: fit.params, intervals, version };
}

/**
 * Refits every law of a sweep from the store, warm-started from the last stored fit, and
 * stores each result as a new version. A law that cannot be fitted yet is skipped, not fatal.
 */
export async function refitSweep(
  store: ResultsStore,
  spec: SweepSpec,
  stage: RefitStage,
  heartbeat: () => void = () => undefined,
): Promise<FitSummary[]> {
  if (!spec.fits.length) return [];
  const points = await store.listDataPoints(spec.name);
  const rows = dataPointsToPaperRows(points);
  const previous = new Map((await store.latestFits(spec.name)).map((f) => [f.name, f.fit as FitResult]));
  const nResults = new Set(points.map((p) => p.runId)).size;
  const out: FitSummary[] = [];
  for (const fitSpec of spec.fits) {
    heartbeat();
    const bootstrap = stage === 'point' ? 0 : stage === 'bootstrap' ? Math.min(spec.refit.bootstrap, fitSpec.bootstrap) : fitSpec.bootstrap;
    try {
      const opts = {
        bootstrap,
        seed: fitSpec.seed,
        // Live refits start from the last fit (milliseconds); the final one searches the whole grid.
        warmStart: stage === 'final' ? undefined : previous.get(fitSpec.name),
        onProgress: () => heartbeat(),
      };
      // Bootstraps run on worker threads, so the activity keeps heartbeating while they fit.
      const result = bootstrap > 0 ? await fitDatasetParallel(rows, fitSpec, opts) : fitDataset(rows, fitSpec, opts);
      if (result.n_points < MIN_POINTS) throw new Error(`only ${result.n_points} points`);
      const version = await store.saveFit({
        sweep: spec.name,
        name: fitSpec.name,
        nResults,
        stage: bootstrap > 0 ? 'bootstrap' : 'point',
        fit: result,
      });
      out.push(summarizeFit(result, bootstrap > 0 ? 'bootstrap' : 'point', version));
    } catch (e) {
      log.warn({ fit: fitSpec.name, err: (e as Error).message }, 'fit skipped');
    }
  }
  return out;
}
