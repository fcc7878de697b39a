import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { readFileSync } from 'node:fs';
import { loadFitSpec, loadSweepSpec, parseYaml, SpecError } from '../../spec/load';
import { fitRegions } from '../../activities/refit';
import { ReportSourceError, storedSweepSpec } from '../../activities/report';
import { dataPointsToPaperRows } from '../../store/export';
import { openStore } from '../../store/open';
import type { FitSpec } from '../../spec/fitSpec';
import {
  CsvError,
  FitInputError,
  LINEAR_PARAM_NAMES,
  LSE_PARAM_NAMES,
  type FitOutput,
  type FitResult,
} from '../../scaling';
import { DEFAULT_PAPER_CSV, FitPool, fitDatasetParallel, readCsvFile } from '../../fitting';
import type { LongRow } from '../../scaling';
import { UsageError } from '../errors';

export interface FitCommandOptions {
  /** Fit this sweep's data points from the results store (SWEEP_DB) instead of a CSV. */
  sweep?: string;
  data?: string;
  spec: string[];
  bootstrap?: string;
  seed?: string;
  exhaustive?: boolean;
  json?: boolean;
  out?: string;
  workers?: string;
  verify?: string;
}

export interface FitCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
}

function intOption(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < min)
    throw new UsageError(`${flag} must be an integer >= ${min}, got "${value}"`);
  return Number(value);
}

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return String(v ?? '-');
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(4) : v.toPrecision(5);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The readable report of one fit: parameters with 95% intervals, points, loss, recipe. */
export function formatFit(fit: FitResult): string {
  const out: string[] = [];
  const boot = fit.bootstrap;
  out.push(
    `${fit.name}: ${fit.form} of ${fit.y.invert ? '1 - ' : ''}mean(${fit.y.metrics.join(', ')}) on ${fit.x.join(', ')}` +
      `  (${fit.n_points} points, loss ${fit.loss.toPrecision(10)}${boot ? `, ${boot.n} bootstraps, seed ${boot.seed}` : ''})`,
  );
  const names = [
    ...LINEAR_PARAM_NAMES[fit.form],
    ...LSE_PARAM_NAMES[fit.form].filter((n) => !LINEAR_PARAM_NAMES[fit.form].includes(n)),
  ];
  const rows = names.map((n) => {
    const value = fit.params[n] ?? fit.lse_params[n];
    const p = boot?.percentiles[n];
    return [n, fmt(value), p ? fmt(p['p2.5']) : '-', p ? fmt(p.p50) : '-', p ? fmt(p['p97.5']) : '-'];
  });
  out.push(table(['param', 'value', '2.5%', 'median', '97.5%'], rows));
  const v = boot?.verified;
  if (v) {
    out.push(
      `reduced starts checked: ${v.agree}/${v.n} resamples refitted from the whole grid agree (worst relative difference ${v.worst_rel.toExponential(1)})`,
    );
  }
  if (fit.recipe) {
    const r = fit.recipe;
    const rp = r.bootstrap?.percentiles;
    const keys = ['a', 'b', 'G', 'm', 'n', 'a_over_n', 'b_over_n'] as const;
    out.push('compute-optimal recipe: N_opt ~ C^a, D_opt ~ C^b; C = m (N D)^n; a/n, b/n are exponents in FLOPs');
    out.push(
      table(
        ['recipe', 'value', '2.5%', '97.5%'],
        keys.map((k) => [k, fmt(r[k]), rp ? fmt(rp[k]['p2.5']) : '-', rp ? fmt(rp[k]['p97.5']) : '-']),
      ),
    );
  }
  return out.join('\n');
}

/** Where the fit's rows come from: a CSV file, or a sweep in the results store. */
interface FitSource {
  label: string;
  rows: readonly LongRow[];
  columns?: readonly string[];
  rowLabel?: (i: number) => string;
  /** Store data may hold points a law cannot use: left out and counted, as the worker's refit does. */
  excludeUnusable: boolean;
}

/**
 * The fits a --spec file names: a fit spec is one; a sweep spec (a mapping with `fits`) gives
 * all of its own, so `sweep fit <sweep> --spec sweep.yaml` fits exactly what the sweep refits.
 */
function specsOf(file: string): FitSpec[] {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8'), file).value;
  } catch {
    return [loadFitSpec(file)]; // loadFitSpec reports the read or YAML error with its position
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && 'fits' in value) {
    const fits = loadSweepSpec(file).fits;
    if (!fits.length) throw new UsageError(`${file}: the sweep spec has no fits`);
    return fits;
  }
  return [loadFitSpec(file)];
}

/** The sweep's data points from the store, as fit rows; and its stored spec's fits when no --spec is given. */
async function storeSource(sweep: string, specFiles: string[]): Promise<{ source: FitSource; specs: FitSpec[] }> {
  const store = await openStore(process.env.SWEEP_DB);
  try {
    let specs: FitSpec[];
    if (specFiles.length) specs = specFiles.flatMap(specsOf);
    else {
      try {
        specs = (await storedSweepSpec(store, sweep)).fits;
      } catch (e) {
        if (e instanceof ReportSourceError) throw new UsageError(`${e.message}: give --spec <fit.yaml>`);
        throw e;
      }
      if (!specs.length) throw new UsageError(`sweep ${sweep} has no fits in its stored spec: give --spec <fit.yaml>`);
    }
    const points = await store.listDataPoints(sweep);
    if (!points.length && !(await store.getSweep(sweep))) throw new UsageError(`sweep ${sweep} is not in the results store`);
    const rows = dataPointsToPaperRows(points, { metrics: fitRegions(specs) });
    return { source: { label: `sweep ${sweep}`, rows, excludeUnusable: true }, specs };
  } finally {
    await store.close();
  }
}

/** `sweep fit`, callable without commander (tests). Returns the fits; throws UsageError on bad input. */
export async function runFitCommand(o: FitCommandOptions, io: FitCommandIo): Promise<FitOutput> {
  const specFiles = o.spec ?? [];
  if (o.sweep === undefined && !specFiles.length) throw new UsageError('give at least one --spec <fit.yaml>');
  if (o.sweep !== undefined && o.data !== undefined) throw new UsageError('give a sweep or --data <csv>, not both');
  const bootstrap = intOption(o.bootstrap, '--bootstrap', 0);
  const seed = intOption(o.seed, '--seed', -(2 ** 31));
  const workers = intOption(o.workers, '--workers', 1);
  const verify = intOption(o.verify, '--verify', 0);
  let specs: FitSpec[];
  let source: FitSource;
  if (o.sweep !== undefined) ({ source, specs } = await storeSource(o.sweep, specFiles));
  else {
    specs = specFiles.map((f) => loadFitSpec(f));
    source = csvSource(o.data ?? DEFAULT_PAPER_CSV);
  }
  const pool = new FitPool(workers);
  try {
    return await fitAll(o, io, specs, source, pool, { bootstrap, seed, verify });
  } finally {
    await pool.close();
  }
}

/** The `--data` CSV, or a usage error that names the file and what is wrong with it. */
export function readDataCsv(dataFile: string): ReturnType<typeof readCsvFile> {
  try {
    return readCsvFile(dataFile);
  } catch (e) {
    if (e instanceof CsvError) throw new UsageError(`${dataFile}: ${e.message}`);
    throw new UsageError(`cannot read --data ${dataFile}: ${(e as Error).message}`);
  }
}

function csvSource(dataFile: string): FitSource {
  const csv = readDataCsv(dataFile);
  const lines = csv.lines;
  return {
    label: dataFile,
    rows: csv.rows,
    columns: csv.columns,
    rowLabel: (i: number) => `${path.basename(dataFile)} line ${lines[i]}`,
    excludeUnusable: false,
  };
}

async function fitAll(
  o: FitCommandOptions,
  io: FitCommandIo,
  specs: FitSpec[],
  source: FitSource,
  pool: FitPool,
  overrides: { bootstrap?: number; seed?: number; verify?: number },
): Promise<FitOutput> {
  const { bootstrap, seed, verify } = overrides;
  const showProgress = io.progress ?? Boolean(process.stderr.isTTY);
  const fits: FitResult[] = [];
  for (const spec of specs) {
    // One bar per phase: the grid starts of the point fit, then the resamples.
    let bar: cliProgress.SingleBar | null = null;
    let barPhase = '';
    const progress = (done: number, total: number, phase: 'starts' | 'bootstrap') => {
      if (!showProgress || total < 20) return;
      if (phase !== barPhase) {
        bar?.stop();
        barPhase = phase;
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${spec.name} ${phase} [{bar}] {value}/{total} {duration_formatted}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0);
      }
      bar?.update(done);
    };
    let fit: FitResult;
    try {
      fit = await fitDatasetParallel(source.rows, spec, {
        pool,
        bootstrap,
        seed,
        exhaustive: o.exhaustive,
        verify,
        columns: source.columns,
        rowLabel: source.rowLabel,
        excludeUnusable: source.excludeUnusable,
        onProgress: progress,
      });
    } catch (e) {
      if (e instanceof FitInputError) throw new UsageError(`${source.label}: ${e.message}`);
      throw e;
    } finally {
      (bar as cliProgress.SingleBar | null)?.stop();
    }
    for (const w of fit.warnings ?? []) io.stderr(`warning: ${w}\n`);
    fits.push(fit);
    if (!o.json) io.stdout(`${formatFit(fit)}\n\n`);
  }
  const output: FitOutput = { fits };
  if (o.json) io.stdout(`${JSON.stringify(output, null, 2)}\n`);
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    const file = path.join(o.out, 'fit.json');
    writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
    io.stderr(`wrote ${file}\n`);
  }
  return output;
}

export function registerFitCommand(program: Command): void {
  program
    .command('fit')
    .argument('[sweep]', "fit this sweep's data points from the results store (SWEEP_DB) instead of a CSV")
    .description("fit scaling laws (PAPER_METHOD.md) to a sweep in the results store, a CSV in the paper's layout or `sweep export` output")
    .option('--data <csv>', `benchmark scores CSV (default: ${DEFAULT_PAPER_CSV})`)
    .option('--spec <file...>', "fit spec(s) or a sweep spec (its fits); repeat or list several (with a sweep: default the stored spec's fits)")
    .option('--bootstrap <n>', "bootstrap resamples (default: the spec's)")
    .option('--seed <s>', "bootstrap seed (default: the spec's)")
    .option('--exhaustive', 'run the whole init grid on every resample too (the reference procedure; slow)')
    .option('--json', 'print {"fits": [...]} as JSON instead of tables')
    .option('--out <dir>', 'also write <dir>/fit.json')
    .option('--verify <n>', 'also refit n resamples from the whole grid to check the reduced starts')
    .option('--workers <n>', 'worker threads (default: available cores)')
    .action(async (sweep: string | undefined, o: FitCommandOptions) => {
      try {
        await runFitCommand({ ...o, sweep }, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
      } catch (e) {
        if (e instanceof SpecError || e instanceof UsageError) throw e;
        if (e instanceof FitInputError || e instanceof CsvError) throw new UsageError(e.message);
        throw e;
      }
    });
}
