/**
 * Benchmarks of the scaling-law engine on the paper's data (../shared/data/benchmark_scores.csv).
 * Prints, with wall time, target and agreement check:
 *  (a) one exhaustive 4,500-start chinchilla fit (444 points)            target <= 5 s
 *  (b) the 1,000-bootstrap compute_chinchilla analysis                   target <= 60 s
 *  (c) the 1,000-bootstrap compute_neuro analysis                        target <= 5 s
 *  (d) a warm-started refit of 1,000 points                              target <= 100 ms
 * Agreement: reduced-start ("basins") resample fits against the whole grid on >= 20 resamples.
 *
 * Run: npx tsx bench/fit.ts [--data file.csv] [--check N]
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { loadFitSpec } from '../spec/load';
import {
  fitDataset,
  fitPoint,
  gridStarts,
  HuberLseObjective,
  LSE_PARAM_NAMES,
  paramVector,
  prepareFit,
  synthesizeRows,
  type FitResult,
} from '../scaling';
import { DEFAULT_PAPER_CSV, FitPool, REPO_ROOT, fitDatasetParallel, readCsvFile } from '../fitting';

const args = process.argv.slice(2);
const argValue = (flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const dataFile = argValue('--data') ?? DEFAULT_PAPER_CSV;
const checkCount = Number(argValue('--check') ?? 20);
const REL_TOL = 1e-9;

const csv = readCsvFile(dataFile);
const spec = (name: string) => loadFitSpec(path.join(REPO_ROOT, 'configs/fits/paper', `${name}.yaml`));
const chinchilla = spec('compute_chinchilla');
const neuro = spec('compute_neuro');
const base = { columns: csv.columns };
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
let failures = 0;

/** The machine is shared: print the 1-minute load average next to each wall time. */
const load = () => `load avg ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`;

function report(label: string, ms: number, targetMs: number, unit: 's' | 'ms', check: string, checkOk: boolean, note = ''): void {
  const within = ms <= targetMs;
  if (!within || !checkOk) failures++;
  const shown = unit === 's' ? secs(ms) : `${ms.toFixed(1)} ms`;
  const target = unit === 's' ? `${targetMs / 1000} s` : `${targetMs} ms`;
  console.log(
    `${label}\n    wall ${shown}${note}  (target <= ${target}: ${within ? 'MET' : 'MISSED'}; ${load()})\n    check: ${check} -> ${checkOk ? 'OK' : 'FAILED'}`,
  );
}

/** Best loss of resample b fitted from every grid start (the reference), on the pool. */
async function exhaustiveResampleLosses(pool: FitPool, prep: ReturnType<typeof prepareFit>, ids: number[]): Promise<Map<number, number>> {
  const grid = gridStarts(prep.cfg.form, prep.cfg.init);
  const out = new Map<number, number>();
  await Promise.all(
    ids.map(async (b) => {
      const r = await pool.run({ kind: 'resamples', data: prep.data, seed: prep.seed, from: b, to: b + 1, starts: grid, search: prep.search });
      if (r.kind === 'resamples') out.set(b, r.fits[0].f);
    }),
  );
  return out;
}

function compareResamples(fit: FitResult, reference: Map<number, number>): { worst: number; agree: number } {
  let worst = 0;
  let agree = 0;
  for (const [b, f] of reference) {
    const d = rel(fit.bootstrap?.losses?.[b] ?? NaN, f);
    if (d <= REL_TOL) agree++;
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return { worst, agree };
}

async function main(): Promise<void> {
  console.log(`scaling-law engine benchmark: ${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores, node ${process.version}`);
  console.log(`data: ${dataFile} (${csv.rows.length} rows)\n`);

  // (a) one exhaustive 4,500-start chinchilla point fit; includes starting the worker pool.
  let t = performance.now();
  const pool = new FitPool();
  await pool.ready();
  const msStartup = performance.now() - t;
  const a = await fitDatasetParallel(csv.rows, chinchilla, { ...base, pool, bootstrap: 0, keepPoints: false });
  const msA = performance.now() - t;
  const prep = prepareFit(csv.rows, chinchilla, base);
  const obj = new HuberLseObjective(prep.data);
  const grad = new Float64Array(obj.dim);
  const lossAt = obj.evaluate(paramVector(LSE_PARAM_NAMES.chinchilla, a.lse_params), grad);
  const gmax = Math.max(...Array.from(grad, Math.abs));
  report(
    `(a) exhaustive chinchilla fit: ${a.search?.starts} starts x ${a.n_points} points (2 workers, incl. pool start-up)`,
    msA,
    5000,
    's',
    `loss ${a.loss.toPrecision(12)} re-evaluated ${lossAt.toPrecision(12)}, max|grad| ${gmax.toExponential(2)} at the optimum, ${a.search?.basins.length} distinct minima`,
    rel(lossAt, a.loss) < 1e-12 && gmax < 1e-7,
    ` (worker start-up ${secs(msStartup)} + fit ${secs(msA - msStartup)})`,
  );

  // (b) 1,000 bootstraps, basins mode (the point fit runs the whole grid again, as a user's run would).
  t = performance.now();
  const b = await fitDatasetParallel(csv.rows, chinchilla, { ...base, pool, bootstrap: 1000, keepPoints: false });
  const msB = performance.now() - t;
  const step = Math.max(1, Math.floor(1000 / checkCount));
  const ids = Array.from({ length: checkCount }, (_, k) => k * step);
  t = performance.now();
  const refB = await exhaustiveResampleLosses(pool, prepareFit(csv.rows, chinchilla, base), ids);
  const cmpB = compareResamples(b, refB);
  report(
    `(b) compute_chinchilla, 1,000 bootstraps (full grid on the original fit, distinct minima on resamples)`,
    msB,
    60000,
    's',
    `original fit loss equals (a): rel diff ${rel(b.loss, a.loss).toExponential(1)}; ${cmpB.agree}/${ids.length} resamples refitted from all 4,500 starts ` +
      `agree within ${REL_TOL} (worst rel diff ${cmpB.worst.toExponential(1)}; reference took ${secs(performance.now() - t)})`,
    rel(b.loss, a.loss) <= REL_TOL && cmpB.agree === ids.length,
  );
  const r = b.recipe;
  if (r) console.log(`    recipe: a/n ${r.a_over_n.toFixed(3)} [${r.bootstrap?.percentiles.a_over_n['p2.5'].toFixed(3)}, ${r.bootstrap?.percentiles.a_over_n['p97.5'].toFixed(3)}], b/n ${r.b_over_n.toFixed(3)}`);

  // (c) compute_neuro, 1,000 bootstraps.
  t = performance.now();
  const c = await fitDatasetParallel(csv.rows, neuro, { ...base, pool, bootstrap: 1000, keepPoints: false });
  const msC = performance.now() - t;
  const refC = await exhaustiveResampleLosses(pool, prepareFit(csv.rows, neuro, base), ids);
  const cmpC = compareResamples(c, refC);
  report(
    `(c) compute_neuro, 1,000 bootstraps (${c.n_points} points, 150-start grid)`,
    msC,
    5000,
    's',
    `${cmpC.agree}/${ids.length} resamples refitted from all 150 starts agree within ${REL_TOL} (worst rel diff ${cmpC.worst.toExponential(1)})`,
    cmpC.agree === ids.length,
  );

  // (d) live refit: a sweep had 900 results and a fit; 100 more arrive; refit warm-started, point fit only.
  const truth = paramVector(LSE_PARAM_NAMES.chinchilla, a.lse_params);
  const rows = synthesizeRows({ form: 'chinchilla', lse: truth, n: 1000, seed: 7, noise: 0.03 });
  const liveSpec = { ...chinchilla, name: 'live', y: { ...chinchilla.y, metrics: ['IT'] }, selection: { ...chinchilla.selection, groupBy: undefined, archFamiliesSamples: false } };
  const previous = fitDataset(rows.slice(0, 900), liveSpec, { bootstrap: 0, keepPoints: false });
  t = performance.now();
  const d = fitDataset(rows, liveSpec, { bootstrap: 0, warmStart: previous, keepPoints: false });
  const msD = performance.now() - t;
  const prepD = prepareFit(rows, liveSpec, { bootstrap: 0 });
  const exhaustiveD = fitPoint(prepD);
  report(
    `(d) warm-started chinchilla refit of 1,000 points (${d.search?.starts} starts from the previous fit's minima, in-process)`,
    msD,
    100,
    'ms',
    `loss ${d.loss.toPrecision(12)} vs the 4,500-start fit ${exhaustiveD.best.f.toPrecision(12)}: rel diff ${rel(d.loss, exhaustiveD.best.f).toExponential(1)}`,
    rel(d.loss, exhaustiveD.best.f) <= REL_TOL,
  );
  await pool.close();
  console.log(failures ? `\n${failures} target(s) or check(s) missed` : '\nall targets met, all checks agree');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
