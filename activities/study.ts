/**
 * The "Study efficiency" section of a sweep's report, built from the store (report/ only draws it):
 *
 *  - a sweep that ran its grid (or any non-adaptive sweep): its own results are replay data. Each
 *    fit's selected points are the candidates (cost: their total_flops, as `sweep replay`), and
 *    adaptive, random and compute-ascending are replayed over them (scaling/replay.ts), so the page
 *    says what this study would have cost under each strategy;
 *  - an adaptive sweep: the study as it ran, from the stored bootstrap refits of its target fit (the
 *    target's 95% interval against the share of the budget its runs cost). Its results are NOT
 *    replayed: they are the cells adaptive itself chose, so every strategy would be drawn from
 *    adaptive's own picks (a pool already stripped of what adaptive judged uninformative, and
 *    without the cells it skipped, whose scores nobody has), and "fraction of compute" would be a
 *    fraction of adaptive's spend, not of the grid's. Such a comparison flatters nobody honestly.
 *
 * Cost is bounded arithmetically, because the worker renders this in its final activity and
 * `sweep report --serve` re-renders it as results arrive: one seed, 20 resamples per adaptive
 * refit, a budget of half the candidates' compute, at most MAX_CANDIDATES candidates (evenly
 * spaced by cost) and MAX_FITS fits; a cache skips an identical replay, and `--serve` reuses a
 * replay until the points have grown by a quarter. Nothing here throws: a part that cannot be
 * built is a note in the section saying why.
 */
import { createHash } from 'node:crypto';
import { prepareFit } from '../scaling';
import { minPointsToFit } from '../scaling/propose';
import { replayProblem, replayStudy, type ReplayOutput, type ReplayProblem, type ReplayStrategy } from '../scaling/replay';
import type { FitResult } from '../scaling/types';
import type { ReportFit, StudyPath, StudyPathPoint, StudyReplay, StudySection } from '../report';
import { expandGrid, type FitSpec, type SweepSpec } from '../spec';
import { studyCellCost } from '../spec/adaptive';
import { dataPointsToPaperRows } from '../store/export';
import type { DataPoint, ResultsStore } from '../store/types';
import { targetCiWidth, targetEstimate } from './propose';
import { fitRegions } from './refit';

/** The replay's settings: `sweep replay`'s strategies, at a bounded cost (see the module comment). */
export const STUDY_REPLAY = {
  strategies: ['adaptive', 'random', 'compute-ascending'] as readonly ReplayStrategy[],
  budget: 0.5,
  batch: 8,
  seeds: 1,
  bootstrap: 20,
  holdoutTop: 0.1,
};
/** Candidates replayed at most (evenly spaced by cost beyond): ~1.5 s of CPU for a chinchilla fit. */
export const MAX_CANDIDATES = 240;
/** Fits replayed per report at most (in the spec's order). */
export const MAX_FITS = 2;
/** Refits drawn on the live study's path at most (evenly spaced, first and newest included). */
export const MAX_PATH_REFITS = 40;

/** Fewest selected points a replay is worth running on: enough for a held-out region and several refits. */
export function minReplayPoints(form: FitSpec['form']): number {
  return Math.max(20, 3 * minPointsToFit(form));
}

/** Replays already run, by their inputs' hash; and, with `reuseUntilGrowth`, by fit while the points grow. */
export class StudyReplayCache {
  private readonly exact = new Map<string, StudyReplay>();
  private readonly byFit = new Map<string, { replay: StudyReplay; points: number }>();
  /**
   * `reuseUntilGrowth` (e.g. 1.25, for `--serve`): a fit's last replay is shown again until the
   * fit's points have grown by that factor, so a live page does not replay at every new result.
   */
  constructor(private readonly reuseUntilGrowth?: number) {}

  get(key: string, fit: string, points: number): { replay: StudyReplay; stale?: number } | undefined {
    const hit = this.exact.get(key);
    if (hit) return { replay: hit };
    const last = this.byFit.get(fit);
    if (this.reuseUntilGrowth && last && points >= last.points && points < last.points * this.reuseUntilGrowth) return { replay: last.replay, stale: last.points };
    return undefined;
  }

  put(key: string, fit: string, points: number, replay: StudyReplay): void {
    if (this.exact.size >= 16) this.exact.delete(this.exact.keys().next().value as string);
    this.exact.set(key, replay);
    this.byFit.set(fit, { replay, points });
  }
}

const yieldToEventLoop = () => new Promise<void>((ok) => setImmediate(ok));
const pct = (f: number) => `${Number((f * 100).toPrecision(3))}%`;

/** At most `max` candidates, evenly spaced over the candidates sorted by cost (so the cost range is kept). */
function capCandidates(problem: ReplayProblem, max: number): ReplayProblem {
  if (problem.candidates.length <= max) return problem;
  const byCost = [...problem.candidates].sort((a, b) => problem.points[a].cost - problem.points[b].cost || a - b);
  const keep = Array.from({ length: max }, (_, i) => byCost[Math.floor((i * (byCost.length - 1)) / (max - 1))]).sort((a, b) => a - b);
  return { ...problem, candidates: keep, candidateCompute: keep.reduce((s, i) => s + problem.points[i].cost, 0) };
}

/** The replay's reference fit: a chinchilla fit without a recipe block gets the recipe's a and b from its exponents. */
function referenceFit(fit: ReportFit): FitResult {
  if (fit.form !== 'chinchilla' || fit.recipe) return fit;
  const { alpha, beta } = fit.params;
  return { ...fit, recipe: { a: beta / (alpha + beta), b: alpha / (alpha + beta) } as FitResult['recipe'] };
}

function replayKey(fitSpec: FitSpec, problem: ReplayProblem, full: FitResult): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ fitSpec, settings: STUDY_REPLAY, lse: full.lse_params, holdout: problem.holdout }));
  for (const i of problem.candidates) {
    const p = problem.points[i];
    h.update(`${p.id}|${p.rawX.join(',')}|${p.y}|${p.cost}\n`);
  }
  return h.digest('hex');
}

/** adaptive, random and compute-ascending replayed over one fit's points; a strategy at a time, yielding between. */
async function replayFit(problem: ReplayProblem, full: FitResult): Promise<ReplayOutput> {
  let out: ReplayOutput | undefined;
  for (const strategy of STUDY_REPLAY.strategies) {
    const one = replayStudy(problem, full, {
      strategies: [strategy],
      budgets: [STUDY_REPLAY.budget],
      batch: STUDY_REPLAY.batch,
      seeds: STUDY_REPLAY.seeds,
      bootstrap: STUDY_REPLAY.bootstrap,
      objective: 'auto',
    });
    out = out ? { ...out, strategies: [...out.strategies, ...one.strategies] } : one;
    await yieldToEventLoop();
  }
  return out!;
}

/** The replays of a non-adaptive sweep's fits, and the notes of those it could not replay. */
async function replays(spec: SweepSpec, points: DataPoint[], fits: readonly ReportFit[], notes: string[], cache?: StudyReplayCache): Promise<StudyReplay[]> {
  const rows = dataPointsToPaperRows(points, { metrics: fitRegions(spec.fits) });
  const out: StudyReplay[] = [];
  const wanted = spec.fits.slice(0, MAX_FITS);
  if (spec.fits.length > MAX_FITS)
    notes.push(`Replayed: the first ${MAX_FITS} fits of the spec (${wanted.map((f) => f.name).join(', ')}); ${spec.fits.length - MAX_FITS} more are not replayed (the report's bound).`);
  for (const fitSpec of wanted) {
    const shown = fits.find((f) => f.name === fitSpec.name);
    if (!shown) {
      notes.push(`${fitSpec.name}: no fit to replay against (see "Fits that could not run").`);
      continue;
    }
    try {
      const prep = prepareFit(rows, fitSpec, { excludeUnusable: true });
      const n = prep.selection.points.length;
      const need = minReplayPoints(fitSpec.form);
      if (n < need) {
        notes.push(`${fitSpec.name}: ${n} usable point${n === 1 ? '' : 's'}, too few to replay a study over (a replay needs ${need} for ${fitSpec.form}: a held-out target region and several refits); no figure yet.`);
        continue;
      }
      const full = referenceFit(shown);
      const base = replayProblem(prep, { holdoutTop: STUDY_REPLAY.holdoutTop });
      const problem = capCandidates(base, MAX_CANDIDATES);
      const key = replayKey(fitSpec, problem, full);
      const cached = cache?.get(key, fitSpec.name, n);
      let replay: StudyReplay;
      if (cached) {
        replay = cached.replay;
        if (cached.stale !== undefined)
          notes.push(`${fitSpec.name}: the replay shown is of the fit's first ${cached.stale} of its ${n} points; it is replayed again when they have grown by a quarter.`);
      } else {
        const result = await replayFit(problem, full);
        const capped = problem.candidates.length < base.candidates.length ? ` Replayed: ${problem.candidates.length} of those ${base.candidates.length} candidates, evenly spaced by cost (the report's bound).` : '';
        replay = {
          ...result,
          context:
            `Replayed over this sweep's own results: of the fit's ${n} points, the most expensive ${result.holdout} are held out as the target region and the other ` +
            `${base.candidates.length} are candidates whose score is revealed when "run" (cost: its total_flops). One seed, ${STUDY_REPLAY.bootstrap} bootstrap resamples per adaptive refit, ` +
            `up to ${pct(STUDY_REPLAY.budget)} of the candidates' compute. It says what this study would have cost under each strategy, not how the sweep ran.${capped}`,
        };
        cache?.put(key, fitSpec.name, n, replay);
      }
      out.push(replay);
    } catch (e) {
      notes.push(`${fitSpec.name}: the replay could not run: ${(e as Error).message}`);
    }
  }
  return out;
}

/** The run a fit point came from: its model_id, without a checkpoint's "-ep<k>" suffix. */
const runOfPoint = (modelId: string) => modelId.replace(/-ep\d+$/, '');

/** An adaptive study's path from its target fit's stored bootstrap refits. */
async function livePath(store: ResultsStore, spec: SweepSpec, notes: string[]): Promise<StudyPath | undefined> {
  const st = spec.strategy!;
  const fitSpec = spec.fits.find((f) => f.name === st.target);
  if (!fitSpec) {
    notes.push(`The adaptive study's target fit ${st.target} is not in the spec.`);
    return undefined;
  }
  const history = await store.fitHistory(spec.name, fitSpec.name, { stage: 'bootstrap', max: MAX_PATH_REFITS });
  if (!history.length) {
    notes.push(`The live study has no refit of ${fitSpec.name} with a bootstrap yet, so no interval to draw.`);
    return undefined;
  }
  const costs = new Map(expandGrid(spec).map((c) => [c.runId, studyCellCost(spec, c)]));
  const target = st.objective === 'recipe' ? 'recipe a' : st.objective === 'exponent' ? st.parameter : `the prediction at ${(st.at ?? []).join(', ')}`;
  const pts: StudyPathPoint[] = [];
  for (const row of history) {
    const fit = row.fit as FitResult;
    if (!fit || fit.form !== fitSpec.form) continue;
    const runs = new Set((fit.points ?? []).flatMap((p) => (p.model_id ? [runOfPoint(p.model_id)] : [])));
    let spent = 0;
    for (const r of runs) spent += costs.get(r) ?? NaN;
    const width = targetCiWidth(fit, st);
    pts.push({ version: row.version, runs: runs.size, spentGpuHours: spent, budget_fraction: spent / st.budget.gpuHours, ...targetEstimate(fit, st), ...(width !== undefined ? { ci_width: width } : {}) });
  }
  return { fit: fitSpec.name, target, budgetGpuHours: st.budget.gpuHours, ...(st.stopWhen ? { stopCiWidth: st.stopWhen.ciWidth } : {}), points: pts, sampled: history.length >= MAX_PATH_REFITS };
}

/**
 * The study section of a sweep's report (see the module comment). `fits` are the fits the report
 * shows (the replay's reference); `points` the sweep's data points. Never throws.
 */
export async function sweepStudySection(
  store: ResultsStore,
  spec: SweepSpec,
  points: DataPoint[],
  fits: readonly ReportFit[],
  opts: { cache?: StudyReplayCache } = {},
): Promise<StudySection> {
  const notes: string[] = [];
  const section: StudySection = { replays: [], notes };
  try {
    if (!spec.fits.length) {
      notes.push('The sweep has no fits, so there is no study to measure.');
    } else if (spec.strategy?.kind === 'adaptive') {
      notes.push(
        "No replay over this sweep's results: an adaptive study ran only the cells it chose, so replaying other strategies over them would draw every strategy " +
          "from adaptive's own picks (the skipped cells have no scores), and the compute fractions would be of adaptive's spend, not the grid's. " +
          '`sweep replay` on a full dataset compares the strategies; shown here is the study as it ran.',
      );
      section.path = await livePath(store, spec, notes);
    } else {
      section.replays = await replays(spec, points, fits, notes, opts.cache);
    }
  } catch (e) {
    notes.push(`This section could not be built: ${(e as Error).message}`);
  }
  return section;
}
