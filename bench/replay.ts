/**
 * Replayed scaling studies on the paper's data (../shared/data/benchmark_scores.csv): does the
 * adaptive selection (scaling/propose.ts) buy a better law for the compute than the baselines?
 * Prints, per fit (compute_chinchilla, compute_neuro, compute_behavior), medians over 5 seeds:
 *
 *  (1) Extrapolation (arXiv 2604.22753's protocol): the most expensive 10% of the selected models
 *      held out; target-region RMSE (and R^2) of the predicted score at 1%, 5%, 10%, 20% of the
 *      candidates' compute for adaptive (objective: the target region's prediction), random and
 *      compute-ascending. Goal: at 10%, adaptive <= 1.1x the all-candidates fit and below every
 *      baseline.
 *  (2) Targets (recipe a, b of compute_chinchilla; alpha of compute_neuro / compute_behavior), no
 *      holdout: the compute adaptive (objective recipe / exponent) needs until its median estimate
 *      is inside the full-data 95% interval (goal <= 20%), and the compute random needs to reach
 *      adaptive's median error (goal >= 2x).
 *  (3) Wall time of one adaptive replay of compute_chinchilla (444 points) with 1,000 resamples per
 *      refit step (goal < 2 minutes), and same seed -> same choices.
 *
 * Run: npx tsx bench/replay.ts [--fits a,b] [--seeds 5] [--bootstrap 200] [--skip-timing]
 */
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { loadFitSpec } from '../spec/load';
import {
  fullReference,
  prepareFit,
  replayProblem,
  replayTarget,
  runStrategy,
  fitSubset,
  scoreError,
  LSE_PARAM_NAMES,
  type FitResult,
  type ReplayProblem,
  type ReplayStrategy,
  type StrategyRun,
} from '../scaling';
import { DEFAULT_PAPER_CSV, FitPool, REPO_ROOT, fitDatasetParallel, readCsvFile } from '../fitting';

const args = process.argv.slice(2);
const argValue = (flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const FITS = (argValue('--fits') ?? 'compute_chinchilla,compute_neuro,compute_behavior').split(',');
const SEEDS = Number(argValue('--seeds') ?? 5);
const B = Number(argValue('--bootstrap') ?? 200);
const BATCH = 8;
const csv = readCsvFile(argValue('--data') ?? DEFAULT_PAPER_CSV);
const load = () => `load avg ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`;
const pct = (f: number) => `${(f * 100).toFixed(1)}%`;
const f4 = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '-');
let failures = 0;
const verdict = (ok: boolean) => {
  if (!ok) failures++;
  return ok ? 'MET' : 'MISSED';
};

function median(v: number[]): number {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2;
}

function runs(problem: ReplayProblem, strategy: ReplayStrategy, budget: number, objective: 'auto' | 'recipe' | 'exponent'): StrategyRun[] {
  const target = replayTarget(problem, objective);
  return Array.from({ length: SEEDS }, (_, seed) => runStrategy(problem, { strategy, budget, batch: BATCH, seed, bootstrap: B, target }));
}

/** Median over seeds of the latest fit's value at or below f (NaN when fewer than half the seeds have a fit). */
function medianAt(rs: StrategyRun[], f: number, pick: (s: StrategyRun['steps'][number]) => number): number {
  const at = rs.map((r) => [...r.steps].reverse().find((s) => s.compute_fraction <= f * (1 + 1e-12)));
  if (at.filter(Boolean).length * 2 < rs.length) return NaN;
  return median(at.map((s) => (s ? pick(s) : NaN)));
}

/** The smallest compute fraction (over the steps of the runs) at which the median satisfies ok. */
function firstFraction(rs: StrategyRun[], pick: (s: StrategyRun['steps'][number]) => number, ok: (v: number) => boolean): number {
  const fr = [...new Set(rs.flatMap((r) => r.steps.map((s) => s.compute_fraction)))].sort((a, b) => a - b);
  for (const f of fr) if (ok(medianAt(rs, f, pick))) return f;
  return NaN;
}

async function main() {
  const pool = new FitPool();
  const t0 = Date.now();
  console.log(`bench/replay: ${FITS.join(', ')}; ${SEEDS} seeds, batch ${BATCH}, ${B} resamples per adaptive refit and final interval (${load()})`);
  try {
    for (const name of FITS) {
      const spec = loadFitSpec(path.join(REPO_ROOT, 'configs/fits/paper', `${name}.yaml`));
      const prep = prepareFit(csv.rows, spec, { columns: csv.columns });
      const full: FitResult = await fitDatasetParallel(csv.rows, spec, { pool, columns: csv.columns, keepPoints: false });
      const ref = fullReference(full);
      const warm = { lse: LSE_PARAM_NAMES[spec.form].map((n) => full.lse_params[n]), basins: full.search?.basins ?? [], loss: full.loss };
      console.log(`\n== ${name} (${prep.selection.points.length} points; full-data fit with ${full.bootstrap?.n} resamples)`);
      for (const [k, t] of Object.entries(ref.targets)) console.log(`   full ${k} = ${f4(t.value)}  95% CI [${f4(t.ci[0])}, ${f4(t.ci[1])}]`);

      // (1) extrapolation to the held-out top 10%.
      const hold = replayProblem(prep, { holdoutTop: 0.1 });
      const all = scoreError(hold, fitSubset(hold, hold.candidates, warm).lse, hold.holdout);
      console.log(`(1) ${hold.holdout.length} most expensive held out; fit on all ${hold.candidates.length} candidates: target-region RMSE ${f4(all.rmse)} (R^2 ${f4(all.r2)})`);
      const strategies: ReplayStrategy[] = ['adaptive', 'random', 'compute-ascending'];
      const t1 = Date.now();
      const at10 = new Map<ReplayStrategy, StrategyRun[]>();
      const at20 = new Map<ReplayStrategy, StrategyRun[]>();
      for (const s of strategies) {
        at10.set(s, runs(hold, s, 0.1, 'auto'));
        at20.set(s, runs(hold, s, 0.2, 'auto'));
      }
      console.log('    strategy            1%: RMSE (R^2)       5%: RMSE (R^2)      10%: RMSE (R^2)      20%: RMSE (R^2)');
      for (const s of strategies) {
        // 1% and 5% are read off the 10%-budget runs' curves; 10% and 20% are runs with that budget.
        const r10 = at10.get(s) as StrategyRun[];
        const r20 = at20.get(s) as StrategyRun[];
        const cell = (rs: StrategyRun[], f: number) =>
          `${f4(medianAt(rs, f, (x) => x.holdout_error))} (${f4(medianAt(rs, f, (x) => x.holdout_r2))})`.padStart(20);
        const end = (rs: StrategyRun[]) => `${f4(median(rs.map((r) => r.holdout_error)))} (${f4(median(rs.map((r) => r.holdout_r2)))})`.padStart(20);
        console.log(`    ${s.padEnd(18)}${cell(r10, 0.01)} ${cell(r10, 0.05)} ${end(r10)} ${end(r20)}`);
      }
      const e10 = (s: ReplayStrategy) => median((at10.get(s) as StrategyRun[]).map((r) => r.holdout_error));
      const ad = e10('adaptive');
      const ok1 = ad <= 1.1 * all.rmse && ad < e10('random') && ad < e10('compute-ascending');
      console.log(
        `    at 10%: adaptive ${f4(ad)} = ${(ad / all.rmse).toFixed(2)}x all-candidates; random ${f4(e10('random'))}, compute-ascending ${f4(e10('compute-ascending'))}` +
          `  (goal <= 1.1x and below both: ${verdict(ok1)})  [${((Date.now() - t1) / 1000).toFixed(0)} s]`,
      );

      // (2) the law's own targets, no holdout.
      const open = replayProblem(prep, { holdoutTop: 0 });
      const objective = spec.form === 'chinchilla' ? 'recipe' : 'exponent';
      const t2 = Date.now();
      const adaptive = runs(open, 'adaptive', 0.2, objective);
      const random = runs(open, 'random', 1, objective);
      const key = Object.keys(ref.targets)[0];
      const { value: fullV, ci } = ref.targets[key];
      const inCi = (v: number) => v >= ci[0] && v <= ci[1];
      const reach = firstFraction(adaptive, (s) => s.targets[key], inCi);
      const adErr = Math.abs(median(adaptive.map((r) => r.fit ? (r.steps.at(-1)?.targets[key] ?? NaN) : NaN)) - fullV);
      const adFrac = median(adaptive.map((r) => r.compute_fraction));
      const rnd = firstFraction(random, (s) => Math.abs(s.targets[key] - fullV), (v) => v <= adErr);
      const rndAdaptiveErr = Math.abs(medianAt(random, adFrac, (s) => s.targets[key]) - fullV);
      console.log(`(2) target ${key} (adaptive objective ${objective}); curve of the median estimate, adaptive at a 20% budget:`);
      console.log(
        `    ${[0.01, 0.02, 0.05, 0.1, 0.2].map((f) => `${pct(f)}: ${f4(medianAt(adaptive, f, (s) => s.targets[key]))}`).join('   ')}`,
      );
      console.log(`    random (to 100%): ${[0.01, 0.05, 0.1, 0.2, 0.5, 1].map((f) => `${pct(f)}: ${f4(medianAt(random, f, (s) => s.targets[key]))}`).join('   ')}`);
      console.log(
        `    adaptive median inside the full 95% CI from ${Number.isFinite(reach) ? pct(reach) : 'never (within 20%)'} of the compute (goal <= 20%: ${verdict(reach <= 0.2)})`,
      );
      console.log(
        `    adaptive's median error at ${pct(adFrac)}: ${f4(adErr)}; random at the same compute: ${f4(rndAdaptiveErr)}; random reaches ${f4(adErr)} at ` +
          `${Number.isFinite(rnd) ? pct(rnd) : 'never'} = ${Number.isFinite(rnd) ? (rnd / adFrac).toFixed(1) : '-'}x (goal >= 2x: ${verdict(!(rnd < 2 * adFrac))})  [${((Date.now() - t2) / 1000).toFixed(0)} s]`,
      );
    }

    if (!args.includes('--skip-timing')) {
      // (3) one adaptive replay of compute_chinchilla with 1,000 resamples per refit step.
      const spec = loadFitSpec(path.join(REPO_ROOT, 'configs/fits/paper', 'compute_chinchilla.yaml'));
      const problem = replayProblem(prepareFit(csv.rows, spec, { columns: csv.columns }), { holdoutTop: 0.1 });
      const target = replayTarget(problem, 'auto');
      const t3 = Date.now();
      const a = runStrategy(problem, { strategy: 'adaptive', budget: 0.1, batch: BATCH, seed: 3, bootstrap: 1000, target });
      const ms = Date.now() - t3;
      const b = runStrategy(problem, { strategy: 'adaptive', budget: 0.1, batch: BATCH, seed: 3, bootstrap: 1000, target });
      const same = JSON.stringify(a.chosen) === JSON.stringify(b.chosen);
      console.log(
        `\n(3) adaptive replay of compute_chinchilla (444 points), 10% budget, 1,000 resamples per refit: ${a.steps.length} refits, ${a.chosen.length} runs, ` +
          `wall ${(ms / 1000).toFixed(1)} s (goal < 120 s: ${verdict(ms < 120_000)}; ${load()}); same seed, same choices: ${verdict(same)}`,
      );
    }
  } finally {
    await pool.close();
  }
  console.log(`\nbench/replay: ${failures} goal(s) missed; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

void main();
