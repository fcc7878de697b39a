/**
 * fitDatasetParallel: scaling/fit.ts's fitDataset with the start grid and the resamples spread
 * over a worker pool. Every start and every resample is computed by the same code as in-process,
 * so the result is identical to fitDataset's (same seed -> same output, any pool size).
 */
import {
  applyVerification,
  assembleResult,
  verifyIds,
  type Verification,
  finishPointFit,
  mergeOutcomes,
  prepareFit,
  resampleStarts,
  type FitOptions,
  type PreparedFit,
} from '../scaling/fit';
import { gridStarts, type BestFit, type StartsOutcome } from '../scaling/multistart';
import type { FitConfig } from '../scaling/config';
import type { LongRow } from '../scaling/select';
import type { FitResult } from '../scaling/types';
import { FitPool } from './pool';
import { runTask } from './runTask';
import type { FitTask, FitTaskResult } from './protocol';

export interface ParallelFitOptions extends FitOptions {
  /** A pool to use (kept open); otherwise one is made for this call and closed after. */
  pool?: FitPool;
  /** Worker count when making a pool (default: available cores). */
  workers?: number;
}

/** Below these sizes the work runs in-process: thread start-up would cost more than it saves. */
const MIN_PARALLEL_STARTS = 64;
const MIN_PARALLEL_RESAMPLE_STARTS = 200;

type Runner = (task: FitTask) => Promise<FitTaskResult>;

async function pointFitParallel(prep: PreparedFit, run: Runner, workers: number, onProgress?: FitOptions['onProgress']) {
  const starts = prep.pointStarts;
  const chunk = Math.max(16, Math.ceil(starts.length / (workers * 8)));
  const parts: Promise<FitTaskResult>[] = [];
  let done = 0;
  for (let i = 0; i < starts.length; i += chunk) {
    const size = Math.min(chunk, starts.length - i);
    parts.push(
      run({ kind: 'starts', data: prep.data, starts: starts.slice(i, i + chunk), search: prep.search }).then((r) => {
        done += size;
        onProgress?.(done, starts.length, 'starts');
        return r;
      }),
    );
  }
  const outcomes = (await Promise.all(parts)).map((r) => {
    if (r.kind !== 'starts') throw new Error('unexpected worker reply');
    return r as StartsOutcome;
  });
  return finishPointFit(prep, mergeOutcomes(outcomes));
}

async function resamplesParallel(
  prep: PreparedFit,
  starts: number[][],
  run: Runner,
  workers: number,
  onProgress?: FitOptions['onProgress'],
): Promise<BestFit[]> {
  const total = prep.bootstrap;
  // Chunks small enough for an even load and a live progress bar, large enough to amortise messaging.
  const chunk = Math.max(1, Math.min(50, Math.ceil(total / (workers * 6))));
  const out: BestFit[] = new Array(total);
  let done = 0;
  const parts: Promise<void>[] = [];
  for (let from = 0; from < total; from += chunk) {
    const to = Math.min(total, from + chunk);
    parts.push(
      run({ kind: 'resamples', data: prep.data, seed: prep.seed, from, to, starts, search: prep.search }).then((r) => {
        if (r.kind !== 'resamples') throw new Error('unexpected worker reply');
        r.fits.forEach((fit, k) => (out[from + k] = fit));
        done += to - from;
        onProgress?.(done, total, 'bootstrap');
      }),
    );
  }
  await Promise.all(parts);
  return out;
}

export async function fitDatasetParallel(rows: readonly LongRow[], config: FitConfig, opts: ParallelFitOptions = {}): Promise<FitResult> {
  const prep = prepareFit(rows, config, opts);
  const inProcess: Runner = async (task) => runTask(task);
  let pool = opts.pool;
  const ownPool = !pool;
  const getRunner = (): { run: Runner; workers: number } => {
    pool ??= new FitPool(opts.workers);
    const p = pool;
    return { run: (task) => p.run(task), workers: p.size };
  };
  try {
    const point =
      prep.pointStarts.length >= MIN_PARALLEL_STARTS
        ? await pointFitParallel(prep, getRunner().run, getRunner().workers, opts.onProgress)
        : await pointFitParallel(prep, inProcess, 1);
    const starts = resampleStarts(prep, point);
    let resamples: BestFit[] = [];
    if (prep.bootstrap > 0) {
      const heavy = prep.bootstrap * starts.length >= MIN_PARALLEL_RESAMPLE_STARTS;
      const runner = heavy ? getRunner() : { run: inProcess, workers: 1 };
      resamples = await resamplesParallel(prep, starts, runner.run, runner.workers, opts.onProgress);
    }
    let verification: Verification | undefined;
    if (opts.verify && !prep.exhaustive && resamples.length) {
      const grid = gridStarts(prep.cfg.form, prep.cfg.init);
      const { run } = getRunner();
      const ids = verifyIds(resamples.length, opts.verify);
      const fits = await Promise.all(
        ids.map((b) => run({ kind: 'resamples', data: prep.data, seed: prep.seed, from: b, to: b + 1, starts: grid, search: prep.search })),
      );
      const full = new Map<number, BestFit>();
      ids.forEach((b, k) => {
        const r = fits[k];
        if (r.kind === 'resamples') full.set(b, r.fits[0]);
      });
      verification = applyVerification(resamples, full);
    }
    return assembleResult(prep, point, resamples, opts, verification);
  } finally {
    if (ownPool && pool) await pool.close();
  }
}
