import type { Command } from 'commander';
import path from 'node:path';
import { DEFAULT_GPU_FLOPS_PER_SECOND } from '../../spec/compute';
import { loadFitSpec, SpecError } from '../../spec/load';
import { CsvError, FitInputError, prepareFit } from '../../scaling';
import {
  REPLAY_STRATEGIES,
  checkReplayOptions,
  replayProblem,
  replayStudy,
  type ReplayObjective,
  type ReplayOptions,
  type ReplayOutput,
  type ReplayStrategy,
} from '../../scaling/replay';
import { DEFAULT_PAPER_CSV, FitPool, fitDatasetParallel } from '../../fitting';
import { readDataCsv } from './fit';
import { UsageError } from '../errors';
import { mkdir, writeFile } from 'node:fs/promises';
import { renderStudyReport } from '../../report/render';

export interface ReplayCommandOptions {
  data?: string;
  spec: string;
  strategy?: string;
  budget?: string;
  holdoutTop?: string;
  batch?: string;
  seeds?: string;
  seed?: string;
  bootstrap?: string;
  fullBootstrap?: string;
  objective?: string;
  costPower?: string;
  /** Sustained FLOP/s of one GPU, to read a budget given in GPU-hours (default: the planner's). */
  gpuFlops?: string;
  json?: boolean;
  workers?: string;
  /** Write an HTML report with the study-efficiency figure here. */
  report?: string;
}

export interface ReplayCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const OBJECTIVES: readonly ReplayObjective[] = ['auto', 'recipe', 'exponent', 'prediction'];

function intOption(value: string | undefined, flag: string, dflt: number): number {
  if (value === undefined) return dflt;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`${flag} must be an integer, got "${value}"`);
  return Number(value);
}

/** A budget in GPU-hours (`40h`), read against the candidates' compute once the data is loaded. */
export interface GpuHoursBudget {
  gpuHours: number;
}

/** "0.1", "10%", "40h" (GPU-hours), or a comma list of them. */
export function parseBudgets(value: string): (number | GpuHoursBudget)[] {
  if (value.length > 1_000) throw new UsageError('--budget: at most 1,000 characters');
  return value.split(',').map((part) => {
    const t = part.trim();
    const hours = /^(.+?)\s*(h|gpuh|gpu-hours?)$/i.exec(t);
    if (hours) {
      const h = Number(hours[1]);
      if (!(Number.isFinite(h) && h > 0)) throw new UsageError(`--budget: "${part}" is not a positive number of GPU-hours`);
      return { gpuHours: h };
    }
    const pct = t.endsWith('%');
    const v = Number(pct ? t.slice(0, -1) : t);
    if (!t || !Number.isFinite(v)) throw new UsageError(`--budget: "${part}" is not a fraction (0.1), a percentage (10%) of the candidates' compute, or GPU-hours (40h)`);
    return pct ? v / 100 : v;
  });
}

/** GPU-hours as a fraction of the candidates' compute (FLOPs) at `gpuFlops` FLOP/s per GPU. */
export function gpuHoursFraction(b: GpuHoursBudget, candidateFlops: number, gpuFlops: number): number {
  const fraction = (b.gpuHours * 3600 * gpuFlops) / candidateFlops;
  if (!(fraction <= 1))
    throw new UsageError(
      `--budget: ${b.gpuHours} GPU-hours is more than all the candidates' compute (${Number((candidateFlops / gpuFlops / 3600).toPrecision(3))} GPU-hours at ${gpuFlops} FLOP/s per GPU)`,
    );
  return fraction;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : v.toPrecision(4);
}

/** The readable table: one row per strategy x budget, medians over seeds. */
export function formatReplay(out: ReplayOutput): string {
  const lines: string[] = [];
  lines.push(
    `${out.fit}: ${out.candidates} candidates, the most expensive ${out.holdout} (${(out.holdout_top * 100).toFixed(0)}%) held out; ` +
      `adaptive objective: ${out.objective}`,
  );
  lines.push(`fit on all candidates: holdout error ${fmt(out.all_candidates.holdout_error)} (R^2 ${fmt(out.all_candidates.holdout_r2)})`);
  const header = ['strategy', 'budget', 'compute', 'holdout err', 'R^2'];
  const targetNames = out.strategies[0]?.targets.map((t) => t.name) ?? [];
  for (const n of targetNames) header.push(n, `${n} 95% CI`, `full ${n} [CI]`, 'in CI');
  const rows = out.strategies.map((s) => {
    const r = [s.strategy, `${(s.budget * 100).toPrecision(3)}%`, `${(s.compute_fraction * 100).toPrecision(3)}%`, fmt(s.holdout_error), fmt(s.holdout_r2)];
    for (const t of s.targets)
      r.push(fmt(t.value), `[${fmt(t.ci[0])}, ${fmt(t.ci[1])}]`, `${fmt(t.full)} [${fmt(t.full_ci[0])}, ${fmt(t.full_ci[1])}]`, `${t.in_full_ci ? 'yes' : 'no'} (${t.seeds_in_full_ci}/${s.seeds})`);
    return r;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line));
  lines.push('(medians over seeds; compute and budget are fractions of the candidates\' total_flops; holdout err = RMSE of the predicted score on the held-out region)');
  return lines.join('\n');
}

/** `sweep replay`, callable without commander (tests). Throws UsageError on bad input. */
export async function runReplayCommand(o: ReplayCommandOptions, io: ReplayCommandIo): Promise<ReplayOutput> {
  if (!o.spec) throw new UsageError('give --spec <fit.yaml>');
  if (o.report !== undefined && !/\.html?$/i.test(o.report)) throw new UsageError(`--report must name an .html file, got "${o.report}"`);
  const strategies = (o.strategy ?? 'adaptive,random,compute-ascending').split(',').map((s) => s.trim()) as ReplayStrategy[];
  for (const s of strategies)
    if (!REPLAY_STRATEGIES.includes(s)) throw new UsageError(`--strategy: "${s}" is not one of ${REPLAY_STRATEGIES.join(', ')}`);
  const objective = (o.objective ?? 'auto') as ReplayObjective;
  if (!OBJECTIVES.includes(objective)) throw new UsageError(`--objective: "${o.objective}" is not one of ${OBJECTIVES.join(', ')}`);
  const holdoutTop = o.holdoutTop === undefined ? 0.1 : Number(o.holdoutTop);
  if (!(holdoutTop >= 0 && holdoutTop < 1)) throw new UsageError(`--holdout-top must be a fraction in [0, 1), got "${o.holdoutTop}"`);
  const budgets = parseBudgets(o.budget ?? '0.1');
  const gpuFlops = o.gpuFlops === undefined ? DEFAULT_GPU_FLOPS_PER_SECOND : Number(o.gpuFlops);
  if (!(Number.isFinite(gpuFlops) && gpuFlops > 0)) throw new UsageError(`--gpu-flops must be a positive number of FLOP/s, got "${o.gpuFlops}"`);
  const options: ReplayOptions = {
    strategies,
    // GPU-hour budgets are read once the candidates' compute is known (below); the rest is checked now.
    budgets: budgets.filter((b): b is number => typeof b === 'number'),
    batch: intOption(o.batch, '--batch', 8),
    seeds: intOption(o.seeds, '--seeds', 5),
    seed0: intOption(o.seed, '--seed', 0),
    bootstrap: intOption(o.bootstrap, '--bootstrap', 200),
    objective,
    costPower: o.costPower === undefined ? undefined : Number(o.costPower),
    onRun: (r) =>
      io.stderr(`  ${r.strategy} budget ${r.budget} seed ${r.seed}: ${r.chosen.length} runs, ${(r.compute_fraction * 100).toFixed(1)}% compute\n`),
  };
  try {
    checkReplayOptions({ ...options, budgets: options.budgets.length ? options.budgets : [1] });
  } catch (e) {
    if (e instanceof FitInputError) throw new UsageError(e.message);
    throw e;
  }
  const fullBootstrap = o.fullBootstrap === undefined ? undefined : intOption(o.fullBootstrap, '--full-bootstrap', 0);
  if (fullBootstrap !== undefined && fullBootstrap < 20) throw new UsageError('--full-bootstrap must be >= 20 (the full-data interval needs resamples)');
  const workers = o.workers === undefined ? undefined : intOption(o.workers, '--workers', 1);
  if (workers !== undefined && workers < 1) throw new UsageError('--workers must be >= 1');
  const spec = loadFitSpec(o.spec);
  const dataFile = o.data ?? DEFAULT_PAPER_CSV;
  const csv = readDataCsv(dataFile);
  const rowLabel = (i: number) => `${path.basename(dataFile)} line ${csv.lines[i]}`;
  const pool = new FitPool(workers);
  try {
    const problem = replayProblem(prepareFit(csv.rows, spec, { columns: csv.columns, rowLabel }), { holdoutTop });
    options.budgets = budgets.map((b) => (typeof b === 'number' ? b : gpuHoursFraction(b, problem.candidateCompute, gpuFlops)));
    io.stderr(`full-data fit of ${spec.name} (${problem.points.length} points)...\n`);
    const full = await fitDatasetParallel(csv.rows, spec, { pool, bootstrap: fullBootstrap, columns: csv.columns, rowLabel, keepPoints: false });
    const out = replayStudy(problem, full, options);
    io.stdout(o.json ? `${JSON.stringify(out, null, 2)}\n` : `${formatReplay(out)}\n`);
    if (o.report) {
      const abs = path.resolve(o.report);
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, await renderStudyReport([out], { source: `${path.basename(dataFile)}, ${path.basename(o.spec)}` }), 'utf8');
      io.stderr(`report: ${abs}\n`);
    }
    return out;
  } catch (e) {
    if (e instanceof FitInputError) throw new UsageError(`${dataFile}: ${e.message}`);
    throw e;
  } finally {
    await pool.close();
  }
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('simulate a scaling study on existing data: what a compute budget buys under each selection strategy')
    .option('--data <csv>', `benchmark scores CSV (default: ${DEFAULT_PAPER_CSV})`)
    .requiredOption('--spec <fit.yaml>', 'the fit spec whose selected points are the candidates')
    .option('--strategy <list>', `comma list of ${REPLAY_STRATEGIES.join(' | ')}`, 'adaptive,random,compute-ascending')
    .option('--budget <list>', "fraction(s) of the candidates' compute (0.1, 5%,10%,20%) or GPU-hours (40h, read at --gpu-flops)", '0.1')
    .option('--gpu-flops <f>', 'sustained FLOP/s of one GPU, for a budget in GPU-hours (the planner\'s default)', String(DEFAULT_GPU_FLOPS_PER_SECOND))
    .option('--holdout-top <f>', 'hold out the most expensive fraction f as the target region', '0.1')
    .option('--batch <k>', 'runs per step (proposed together)', '8')
    .option('--seeds <n>', 'repeat each strategy with seeds 0..n-1 (medians reported)', '5')
    .option('--seed <s>', 'first seed', '0')
    .option('--objective <kind>', 'what adaptive reduces: auto (holdout prediction, or recipe / exponent) | recipe | exponent | prediction', 'auto')
    .option('--bootstrap <n>', 'resamples per adaptive refit and for each final interval', '200')
    .option('--cost-power <p>', 'adaptive ranks by variance reduction / cost^p (default: cost cooling, p = budget left / budget)')
    .option('--full-bootstrap <n>', "resamples of the full-data fit (default: the spec's)")
    .option('--json', 'print the result as JSON (with the error-vs-compute curves)')
    .option('--report <out.html>', 'also write an HTML report with the study-efficiency figure (error against compute, one line per strategy)')
    .option('--workers <n>', 'worker threads for the full-data fit (default: available cores)')
    .action(async (o: ReplayCommandOptions) => {
      try {
        await runReplayCommand(o, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
      } catch (e) {
        if (e instanceof SpecError || e instanceof UsageError) throw e;
        if (e instanceof FitInputError || e instanceof CsvError) throw new UsageError(e.message);
        throw e;
      }
    });
}
