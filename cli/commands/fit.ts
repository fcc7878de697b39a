import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { loadFitSpec, SpecError } from '../../spec/load';
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
import { UsageError } from '../errors';

export interface FitCommandOptions {
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

/** `sweep fit`, callable without commander (tests). Returns the fits; throws UsageError on bad input. */
export async function runFitCommand(o: FitCommandOptions, io: FitCommandIo): Promise<FitOutput> {
  if (!o.spec?.length) throw new UsageError('give at least one --spec <fit.yaml>');
  const bootstrap = intOption(o.bootstrap, '--bootstrap', 0);
  const seed = intOption(o.seed, '--seed', -(2 ** 31));
  const workers = intOption(o.workers, '--workers', 1);
  const verify = intOption(o.verify, '--verify', 0);
  const dataFile = o.data ?? DEFAULT_PAPER_CSV;
  const specs: FitSpec[] = o.spec.map((f) => loadFitSpec(f));
  // Start the workers now: their start-up overlaps reading and parsing the CSV.
  const pool = new FitPool(workers);
  try {
    return await fitAll(o, io, specs, dataFile, pool, { bootstrap, seed, verify });
  } finally {
    await pool.close();
  }
}

async function fitAll(
  o: FitCommandOptions,
  io: FitCommandIo,
  specs: FitSpec[],
  dataFile: string,
  pool: FitPool,
  overrides: { bootstrap?: number; seed?: number; verify?: number },
): Promise<FitOutput> {
  const { bootstrap, seed, verify } = overrides;
  let csv;
  try {
    csv = readCsvFile(dataFile);
  } catch (e) {
    if (e instanceof CsvError) throw new UsageError(`${dataFile}: ${e.message}`);
    throw new UsageError(`cannot read --data ${dataFile}: ${(e as Error).message}`);
  }
  const rowLabel = (i: number) => `${path.basename(dataFile)} line ${csv.lines[i]}`;
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
      fit = await fitDatasetParallel(csv.rows, spec, {
        pool,
        bootstrap,
        seed,
        exhaustive: o.exhaustive,
        verify,
        columns: csv.columns,
        rowLabel,
        onProgress: progress,
      });
    } catch (e) {
      if (e instanceof FitInputError) throw new UsageError(`${dataFile}: ${e.message}`);
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
    .description("fit scaling laws (PAPER_METHOD.md) to a CSV in the paper's layout or `sweep export` output")
    .option('--data <csv>', `benchmark scores CSV (default: ${DEFAULT_PAPER_CSV})`)
    .requiredOption('--spec <fit.yaml...>', 'fit spec(s); repeat or list several')
    .option('--bootstrap <n>', "bootstrap resamples (default: the spec's)")
    .option('--seed <s>', "bootstrap seed (default: the spec's)")
    .option('--exhaustive', 'run the whole init grid on every resample too (the reference procedure; slow)')
    .option('--json', 'print {"fits": [...]} as JSON instead of tables')
    .option('--out <dir>', 'also write <dir>/fit.json')
    .option('--verify <n>', 'also refit n resamples from the whole grid to check the reduced starts')
    .option('--workers <n>', 'worker threads (default: available cores)')
    .action(async (o: FitCommandOptions) => {
      try {
        await runFitCommand(o, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
      } catch (e) {
        if (e instanceof SpecError || e instanceof UsageError) throw e;
        if (e instanceof FitInputError || e instanceof CsvError) throw new UsageError(e.message);
        throw e;
      }
    });
}
