/**
 * The synthetic trainer's model: what a training run of one sweep cell would take and
 * report. Pure (no I/O, no timers, no Node built-ins) so the local executor's process
 * (sim/trainer/main.ts) and the Kubernetes simulator plan the very same run.
 *
 * Ground truth: misalignment y = 1 - score follows a chinchilla law in parameters N and
 * samples seen D, y = E + A (N/1e5)^-alpha + B (D/1e4)^-beta (the paper's scalers), with
 * a sizable floor E for the neural regions (they saturate) and E = 0 for behaviour (it
 * keeps improving), plus seeded Gaussian noise on the score.
 */
import { datasetSamples, lookupArchitecture, lookupDataset, ARCHITECTURES, DATASETS } from '../../spec/architectures';
import type { Architecture, Dataset } from '../../spec/architectures';
import { hash53, mulberry32 } from '../../spec/hash';
// Type-only: spec/result pulls in zod, which the trainer's fast start does not need.
import type { Checkpoint, JobResult } from '../../spec/result';

export interface TrainerKnobs {
  /** Wall seconds per 1e18 training FLOPs (the time scale). */
  secondsPerEflop: number;
  minSeconds: number;
  maxSeconds: number;
  /** Per-attempt fault probabilities; their sum must be <= 1. */
  pPreempt: number;
  pOom: number;
  pUserError: number;
  pBadOutput: number;
  pHang: number;
  /** Seeds the fault draws, so a sweep can replay the same failure pattern. */
  faultSeed: number;
  /** Faults are drawn for attempts 1..faultAttempts only, so retries succeed. */
  faultAttempts: number;
  /** Standard deviation of the Gaussian noise added to every score. */
  noise: number;
}

export const DEFAULT_KNOBS: Readonly<TrainerKnobs> = Object.freeze({
  secondsPerEflop: 1,
  minSeconds: 0.1,
  maxSeconds: 60,
  pPreempt: 0,
  pOom: 0,
  pUserError: 0,
  pBadOutput: 0,
  pHang: 0,
  faultSeed: 0,
  faultAttempts: 1,
  noise: 0.01,
});

export type TrainerFault = 'none' | 'preempt' | 'oom' | 'user-error' | 'bad-output' | 'hang';

export interface TrainerPlan {
  /** Seconds this attempt trains for: the epochs left after `startEpoch`. */
  durationSeconds: number;
  fault: TrainerFault;
  /** Seconds into the run the fault strikes (= durationSeconds for none / bad-output). */
  faultAtSeconds: number;
  /** The result the run computes (also for faulty runs: what it would have reported). */
  result: JobResult;
  /** What the job writes: the result as JSON, or malformed text for bad-output. */
  resultText: string;
  /** Whole epochs the run trains, one checkpoint after each (0: epochs is not a whole number, no checkpoints). */
  epochs: number;
  /** Epochs already done when this attempt starts (resumed from a checkpoint; 0 from scratch). */
  startEpoch: number;
  secondsPerEpoch: number;
  /** Samples seen and FLOPs spent per epoch (a checkpoint's counts are these x its epoch). */
  samplesPerEpoch: number;
  flopsPerEpoch: number;
}

/** Where an attempt resumes: the epoch of its run's last checkpoint. */
export interface TrainerResume {
  fromEpoch: number;
}

export interface TrainerRun {
  sweep: string;
  runId: string;
  attempt: number;
  axes: Record<string, string | number | boolean>;
}

/** Exit code of an injected user error (list it in the sweep's retry.nonRetryableExitCodes). */
export const USER_ERROR_EXIT_CODE = 3;
/** Exit code for a run the trainer cannot make sense of (bad flags, env or axes). */
export const USAGE_EXIT_CODE = 2;

/** How a faulty job ends, so a simulator can mirror the real process (null: it does not end). */
export function faultExit(fault: TrainerFault): { code: number } | { signal: 'SIGTERM' | 'SIGKILL' } | null {
  switch (fault) {
    case 'none':
    case 'bad-output':
      return { code: 0 };
    case 'preempt':
      return { signal: 'SIGTERM' };
    case 'oom':
      return { signal: 'SIGKILL' };
    case 'user-error':
      return { code: USER_ERROR_EXIT_CODE };
    case 'hang':
      return null;
  }
}

// ---------------------------------------------------------------- ground truth

export interface RegionLaw {
  /** Irreducible misalignment: the score saturates at 1 - E. */
  E: number;
  A: number;
  alpha: number;
  B: number;
  beta: number;
}

export const REGIONS = ['V1', 'V2', 'V4', 'IT', 'Behavioral'] as const;
export type Region = (typeof REGIONS)[number];
export type TrainerMetric = Region | 'acc';

/**
 * Hand-calibrated to the ranges of the paper's CSV (IT tops out near 0.5, V4 near 0.6,
 * behaviour climbs from ~0.03 to ~0.55 across six decades of compute). alpha > beta in
 * every law, so the compute-optimal recipe puts more of the compute into data, as the
 * paper found.
 */
export const GROUND_TRUTH = {
  form: 'chinchilla',
  /** y = E + A (nParams / scalers.nParams)^-alpha + B (nSamplesSeen / scalers.nSamplesSeen)^-beta */
  scalers: { nParams: 1e5, nSamplesSeen: 1e4 },
  /** Scores are clamped into [scoreMin, scoreMax] after the noise. */
  scoreMin: 0.001,
  scoreMax: 0.999,
  laws: {
    V1: { E: 0.78, A: 0.3, alpha: 0.5, B: 0.25, beta: 0.4 },
    V2: { E: 0.67, A: 0.6, alpha: 0.5, B: 0.4, beta: 0.4 },
    V4: { E: 0.4, A: 0.8, alpha: 0.5, B: 0.5, beta: 0.4 },
    IT: { E: 0.47, A: 1.0, alpha: 0.5, B: 0.6, beta: 0.4 },
    Behavioral: { E: 0, A: 0.8, alpha: 0.15, B: 0.66, beta: 0.09 },
    acc: { E: 0.12, A: 0.6, alpha: 0.35, B: 2.5, beta: 0.3 },
  } satisfies Record<TrainerMetric, RegionLaw>,
} as const;

const METRICS: readonly TrainerMetric[] = [...REGIONS, 'acc'];

/** Noise-free misalignment of one metric (may exceed 1 for tiny runs; the score is clamped). */
export function groundTruthMisalignment(metric: TrainerMetric, nParams: number, nSamplesSeen: number): number {
  const l = GROUND_TRUTH.laws[metric];
  const n = nParams / GROUND_TRUTH.scalers.nParams;
  const d = nSamplesSeen / GROUND_TRUTH.scalers.nSamplesSeen;
  return l.E + l.A * n ** -l.alpha + l.B * d ** -l.beta;
}

/** Noise-free score, clamped like the trainer's. */
export function groundTruthScore(metric: TrainerMetric, nParams: number, nSamplesSeen: number): number {
  return clampScore(1 - groundTruthMisalignment(metric, nParams, nSamplesSeen));
}

function clampScore(s: number): number {
  return Math.min(GROUND_TRUTH.scoreMax, Math.max(GROUND_TRUTH.scoreMin, s));
}

// ---------------------------------------------------------------- knobs

const FLAGS: Record<string, keyof TrainerKnobs> = {
  'seconds-per-eflop': 'secondsPerEflop',
  'min-seconds': 'minSeconds',
  'max-seconds': 'maxSeconds',
  'p-preempt': 'pPreempt',
  'p-oom': 'pOom',
  'p-user-error': 'pUserError',
  'p-bad-output': 'pBadOutput',
  'p-hang': 'pHang',
  'fault-seed': 'faultSeed',
  'fault-attempts': 'faultAttempts',
  noise: 'noise',
};

/**
 * Parses `--flag=value` / `--flag value` knobs over DEFAULT_KNOBS. A tiny parser rather
 * than node:util's parseArgs so this module stays free of Node built-ins. Throws on an
 * unknown flag, a missing or non-numeric value, or knobs that make no sense together.
 */
export function parseTrainerArgs(argv: readonly string[]): TrainerKnobs {
  const knobs: TrainerKnobs = { ...DEFAULT_KNOBS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}" (knobs are --flag=value)`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const key = FLAGS[flag];
    if (!Object.prototype.hasOwnProperty.call(FLAGS, flag) || key === undefined) {
      throw new Error(
        `unknown flag --${flag}; known: ${Object.keys(FLAGS)
          .map((f) => `--${f}`)
          .join(', ')}`,
      );
    }
    let raw: string | undefined;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else raw = argv[++i];
    if (raw === undefined || raw.trim() === '') throw new Error(`flag --${flag} needs a value`);
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(`flag --${flag}: "${raw}" is not a finite number`);
    knobs[key] = value;
  }
  validateKnobs(knobs);
  return knobs;
}

/** Throws with a message naming the knob when knobs are out of range. */
export function validateKnobs(k: TrainerKnobs): void {
  const probs: (keyof TrainerKnobs)[] = ['pPreempt', 'pOom', 'pUserError', 'pBadOutput', 'pHang'];
  for (const key of Object.keys(DEFAULT_KNOBS) as (keyof TrainerKnobs)[]) {
    if (typeof k[key] !== 'number' || !Number.isFinite(k[key])) throw new Error(`knob ${key} must be a finite number`);
  }
  for (const p of probs) if (k[p] < 0 || k[p] > 1) throw new Error(`knob ${p} must be within [0, 1], got ${k[p]}`);
  const sum = probs.reduce((s, p) => s + k[p], 0);
  if (sum > 1 + 1e-9) throw new Error(`fault probabilities sum to ${sum}, more than 1`);
  if (k.secondsPerEflop < 0) throw new Error('knob secondsPerEflop must be >= 0');
  if (k.minSeconds < 0 || k.maxSeconds < k.minSeconds) throw new Error('knobs need 0 <= minSeconds <= maxSeconds');
  if (!Number.isInteger(k.faultAttempts) || k.faultAttempts < 0)
    throw new Error('knob faultAttempts must be an integer >= 0');
  if (!Number.isInteger(k.faultSeed)) throw new Error('knob faultSeed must be an integer');
  if (k.noise < 0) throw new Error('knob noise must be >= 0');
}

// ---------------------------------------------------------------- planning

/** Epoch fractions of the intermediate checkpoints; the final model is the result itself (one data point each). */
const CHECKPOINT_FRACTIONS = [0.25, 0.5] as const;

function axisNumber(axes: TrainerRun['axes'], name: string, fallback: number): number {
  const v = axes[name];
  if (v === undefined) return fallback;
  // "full" / "all" read as the paper's 0 = full dataset.
  if (name === 'samples_per_class' && typeof v === 'string' && /^(full|all)$/i.test(v.trim())) return 0;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new Error(`axis ${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

function axisString(axes: TrainerRun['axes'], name: string, fallback: string): string {
  const v = axes[name];
  return v === undefined ? fallback : String(v);
}

function resolveArch(name: string): Architecture {
  const a = lookupArchitecture(name);
  if (!a) throw new Error(`unknown arch "${name}"; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  return a;
}

function resolveDataset(name: string): Dataset {
  const d = lookupDataset(name);
  if (!d) throw new Error(`unknown dataset "${name}"; known: ${Object.keys(DATASETS).join(', ')}`);
  return d;
}

/** Standard normal draw (Box-Muller) from a uniform PRNG. */
function gaussian(rng: () => number): number {
  const u = 1 - rng(); // (0, 1]: log(0) would be -Infinity
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * Scores of a model with N params after D samples. The noise is seeded by run, seed axis
 * and epoch only (not by attempt or fault seed): a retried run reports what the first
 * attempt would have, like a deterministic training job.
 */
function scoreMetrics(
  runId: string,
  seed: number,
  epoch: number,
  nParams: number,
  nSeen: number,
  noise: number,
): Record<string, number> {
  const rng = mulberry32(hash53(`${runId}|seed=${seed}|epoch=${epoch}`));
  const out: Record<string, number> = {};
  for (const m of METRICS) {
    out[m] = round4(clampScore(1 - groundTruthMisalignment(m, nParams, nSeen) + noise * gaussian(rng)));
  }
  return out;
}

/** Picks the fault and when it strikes, from this attempt's own PRNG stream. */
function drawFault(run: TrainerRun, knobs: TrainerKnobs, duration: number): { fault: TrainerFault; at: number } {
  if (run.attempt > knobs.faultAttempts) return { fault: 'none', at: duration };
  const rng = mulberry32(hash53(`${run.runId}#attempt=${run.attempt}`, knobs.faultSeed));
  const u = rng();
  const when = rng();
  const table: [TrainerFault, number, number, number][] = [
    // fault, probability, and the window of the run (as fractions) it strikes in
    ['preempt', knobs.pPreempt, 0.05, 0.95], // any time: the node is reclaimed
    ['oom', knobs.pOom, 0.05, 0.5], // early: first big batch / eval
    ['user-error', knobs.pUserError, 0, 0.1], // at start-up: a bug in the script
    ['hang', knobs.pHang, 0.1, 0.9], // stops making progress mid-run
    ['bad-output', knobs.pBadOutput, 1, 1], // writes a broken result at the end
  ];
  let acc = 0;
  for (const [fault, p, lo, hi] of table) {
    acc += p;
    if (u < acc) return { fault, at: duration * (lo + (hi - lo) * when) };
  }
  return { fault: 'none', at: duration };
}

/** Malformed result text, as a job killed mid-write or with a buggy writer would leave. */
function malformed(json: string, variant: number): string {
  const variants = [
    json.slice(0, Math.max(1, Math.floor(json.length / 2))), // truncated
    json.replace(/"IT":\s*[-0-9.e]+/, '"IT": NaN'), // NaN is not JSON
    `epoch 1 done, loss=nan\n${json}`, // log text mixed into the result file
  ];
  return variants[variant % variants.length];
}

/** Whole epochs of an `epochs` axis value, or 0 when it is fractional (no per-epoch checkpoints then). */
export function wholeEpochs(epochs: number): number {
  return Number.isInteger(epochs) && epochs >= 1 ? epochs : 0;
}

/**
 * Plans one attempt of one run. Deterministic: the same run, attempt, knobs and resume point
 * give the same plan. Throws (naming the known values) on an unknown arch or dataset.
 * Axes used: arch (default resnet18), dataset (imagenet), samples_per_class (0 = full set),
 * epochs (1), seed (0). With `resume`, the attempt trains only the epochs after
 * `resume.fromEpoch` (time, and the fault draw, scale with what is left); the result is the
 * same final model, plus the metric `resumed_from_epoch`.
 */
export function planTraining(run: TrainerRun, knobs: TrainerKnobs, resume?: TrainerResume): TrainerPlan {
  validateKnobs(knobs);
  const arch = resolveArch(axisString(run.axes, 'arch', 'resnet18'));
  const dataset = resolveDataset(axisString(run.axes, 'dataset', 'imagenet'));
  const spc = axisNumber(run.axes, 'samples_per_class', 0);
  const epochs = axisNumber(run.axes, 'epochs', 1);
  const seed = axisNumber(run.axes, 'seed', 0);
  if (spc < 0) throw new Error(`axis samples_per_class must be >= 0 (0 = full set), got ${spc}`);
  if (!(epochs > 0)) throw new Error(`axis epochs must be > 0, got ${epochs}`);

  const samples = datasetSamples(dataset, spc);
  const point = (ep: number): { n_samples_seen: number; total_flops: number } => {
    const n_samples_seen = samples * ep;
    return { n_samples_seen, total_flops: 3 * arch.flopsPerSample * n_samples_seen };
  };
  const final = point(epochs);
  const metrics = scoreMetrics(run.runId, seed, epochs, arch.nParams, final.n_samples_seen, knobs.noise);

  // Integer epochs (the result schema's checkpoint.epoch), deduplicated for short runs.
  const ckptEpochs = [
    ...new Set(CHECKPOINT_FRACTIONS.map((f) => Math.max(1, Math.round(epochs * f)))),
  ].filter((e) => Number.isInteger(e) && e < epochs);
  const checkpoints: Checkpoint[] = ckptEpochs.map((ep) => {
    const p = point(ep);
    const m = ep === epochs ? metrics : scoreMetrics(run.runId, seed, ep, arch.nParams, p.n_samples_seen, knobs.noise);
    return { epoch: ep, ...p, metrics: m };
  });

  const whole = wholeEpochs(epochs);
  const startEpoch = resume && whole > 0 ? Math.min(whole, Math.max(0, Math.trunc(resume.fromEpoch))) : 0;
  const result: JobResult = {
    // A metric because the result schema has no other numeric field for it; only resumed runs carry it.
    metrics: startEpoch > 0 ? { ...metrics, resumed_from_epoch: startEpoch } : metrics,
    n_params: arch.nParams,
    n_samples_seen: final.n_samples_seen,
    total_flops: final.total_flops,
    artifacts: { checkpoint: `sim://${run.sweep}/${run.runId}/ep${epochs}.pt` },
    checkpoints,
  };

  const runSeconds = Math.min(
    knobs.maxSeconds,
    Math.max(knobs.minSeconds, (final.total_flops / 1e18) * knobs.secondsPerEflop),
  );
  const durationSeconds = whole > 0 ? (runSeconds * (whole - startEpoch)) / whole : runSeconds;
  const { fault, at } = drawFault(run, knobs, durationSeconds);
  const json = JSON.stringify(result);
  const resultText =
    fault === 'bad-output' ? malformed(json, hash53(`${run.runId}#attempt=${run.attempt}#bad`, knobs.faultSeed)) : json;
  const one = point(1);
  return {
    durationSeconds,
    fault,
    faultAtSeconds: at,
    result,
    resultText,
    epochs: whole,
    startEpoch,
    secondsPerEpoch: whole > 0 ? runSeconds / whole : runSeconds,
    samplesPerEpoch: one.n_samples_seen,
    flopsPerEpoch: one.total_flops,
  };
}
