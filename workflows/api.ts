import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AxisValue, Resources, SweepSpec, SweepSpecInput } from '../spec/sweepSpec';
import type { FailureClass } from '../spec/failure';
import type { LedgerState } from './ledger';

export const TASK_QUEUE = 'scaling-sweeps';
export const sweepWorkflowId = (name: string) => `sweep/${name}`;
export const runWorkflowId = (sweep: string, runId: string) => `sweep/${sweep}/${runId}`;

export type RunStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** What a `sweepRun` child gets: its cell and the parts of the spec a run needs. */
export interface RunInput {
  sweep: string;
  /** The sweep instance (see LaunchRequest.instance). */
  instance: string;
  /** Hash of this run's job definition (`jobHashOf`). */
  jobHash: string;
  parentWorkflowId: string;
  runId: string;
  axes: Record<string, AxisValue>;
  resources: Resources;
  spec: Pick<SweepSpec, 'job' | 'evaluate' | 'executor' | 'timeouts' | 'retry' | 'metrics'>;
  /** `rescore`: only the evaluate stage, on the checkpoints training already saved. */
  mode?: 'run' | 'rescore';
  /** Hash of the evaluate block (`evaluatorHashOf`), when the spec has one. */
  evaluator?: string;
  /** First attempt number (> 1 when `retryFailed` reruns a failed run). */
  firstAttempt: number;
}

/** Signal from a run to its sweep (by workflow id, so it reaches the sweep after continue-as-new). */
export interface RunFinished {
  runId: string;
  state: Exclude<RunStatus, 'pending' | 'running'>;
  attempts: number;
  failureClass?: FailureClass;
  message?: string;
  gpuSeconds: number;
  durationMs: number;
}

export interface RunOutcome extends RunFinished {
  attemptClasses: FailureClass[];
}

export interface FitSummary {
  name: string;
  form: string;
  nPoints: number;
  stage: 'point' | 'bootstrap';
  /** Linear-form parameters and, after the bootstrap, their 95% intervals. */
  params: Record<string, number>;
  intervals?: Record<string, [number, number]>;
  version: number;
  /** Points this fit could not use and left out (NaN, 1 - score <= 0 with y.invert, x <= 0 on a log axis). */
  nExcluded?: number;
  /**
   * Set when this fit could not run this time (too few points, no usable data, optimiser failure):
   * then `params` is empty and `version` 0. The next refit tries again.
   */
  error?: string;
  /** Made by the sweep's final refit (only those are reported as final). */
  final?: boolean;
}

export interface Progress {
  sweep: string;
  total: number;
  byState: Record<RunStatus, number>;
  paused: boolean;
  cancelling: boolean;
  maxRuns: number;
  maxGpus?: number;
  gpuHours: number;
  /** Estimated seconds until done, from the mean run time so far; undefined before any run ends. */
  etaSeconds?: number;
  recentFailures: { runId: string; failureClass?: FailureClass; message?: string; attempts: number }[];
  fits: FitSummary[];
  /** Why the last live refit failed as a whole (cleared by the next one that runs). */
  refitError?: string;
  continuedAsNew: number;
  /** Continuing as new: waiting for a running refit (or update) to end first. */
  continuing?: boolean;
  /** The sweep is still checking its spec (no grid yet). */
  starting?: boolean;
  /** An adaptive study: GPU-hours spent of its budget, its target's interval, why it stopped, cells skipped. */
  study?: { spentGpuHours: number; budgetGpuHours: number; skipped: number; stop?: string; ciWidth?: number };
}

/**
 * The `runs` query answers for the window only (runs in flight, the last failures): per-run
 * state of the rest lives in the store (`sweep runs <name>`) and in each run's search
 * attributes (`temporal workflow list --query "SweepName='<name>'"`). `total` counts every run
 * in the state asked.
 */
export interface RunsPage {
  total: number;
  /** Set when `runs` lists only part of `total` (see above). */
  note?: string;
  runs: { runId: string; axes: Record<string, AxisValue>; state: RunStatus; attempts: number; failureClass?: FailureClass; message?: string }[];
}

export interface SweepSummary {
  sweep: string;
  total: number;
  byState: Record<RunStatus, number>;
  gpuHours: number;
  fits: FitSummary[];
  reportPath?: string;
  study?: Progress['study'];
}

/**
 * What continue-as-new carries: O(window), never O(runs) (the ledger's cursor, in-flight set,
 * counters, passes) plus the sweep's scalars. Every per-run fact lives in the store.
 */
export interface CarriedState extends LedgerState {
  gpuSeconds: number;
  runMsTotal: number;
  runsTimed: number;
  resultsSinceRefit: number;
  resultsTotal: number;
  fits: FitSummary[];
  refitError?: string;
  paused: boolean;
  maxRuns: number;
  maxGpus?: number;
  continuedAsNew: number;
  registered: boolean;
  /** A re-submission's rule, which the store applies page by page to the cells at the cursor. */
  resubmit?: ResubmitRule;
  /** Adaptive study: why it stopped (set once it has), and its target's last interval width. */
  studyStop?: string;
  studyCi?: number;
  /** Estimated GPU-hours of the runs the study has started (what its budget counts). */
  studySpent?: number;
  /** The sweep instance its results store gave it when it was first registered. */
  instance?: string;
  startedAtMs: number;
}

/** The state an earlier release carried (per run): read once, at the first continue-as-new onto this one. */
export interface CarriedStateV1 extends Omit<CarriedState, keyof LedgerState | 'resubmit'> {
  v?: undefined;
  finished: Record<string, { s: 'succeeded' | 'failed' | 'cancelled'; a: number; c?: FailureClass; m?: string }>;
  inFlight: string[];
  requeued?: { runId: string; a: number }[];
  rescoring?: string[];
}

export interface ResubmitRule {
  retryFailed?: { failureClass?: FailureClass };
  rescore?: { runs?: string[] };
}

export interface SweepInputState {
  state?: CarriedState | CarriedStateV1;
  /**
   * A re-submission that reruns only the failed runs of one class (`sweep retry-failed --class`
   * on a sweep that has ended); other failed runs keep their outcome. Without it, a re-submitted
   * sweep reruns every run that did not succeed.
   */
  retryFailed?: { failureClass?: FailureClass };
  /** A re-submission that only re-scores the succeeded runs (all, or `runs`): `sweep rescore` on an ended sweep. */
  rescore?: { runs?: string[] };
}

export const runFinishedSignal = defineSignal<[RunFinished]>('runFinished');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const cancelSignal = defineSignal('cancel');
export const progressQuery = defineQuery<Progress>('progress');
export const fitQuery = defineQuery<FitSummary[]>('fit');
export const runsQuery = defineQuery<RunsPage, [{ state?: RunStatus; offset?: number; limit?: number }?]>('runs');
export const setConcurrencyUpdate = defineUpdate<{ maxRuns: number; maxGpus?: number }, [{ maxRuns?: number; maxGpus?: number }]>(
  'setConcurrency',
);
/** Answers with how many runs rerun and (the first 1,000 of) their ids. */
export const retryFailedUpdate = defineUpdate<{ rerun: string[]; count: number }, [{ failureClass?: FailureClass }]>('retryFailed');
/** Answers with how many cells the grid gained and (the first 1,000 of) their ids. */
export const extendUpdate = defineUpdate<{ added: string[]; count: number }, [{ axes: Record<string, AxisValue[]> }]>('extend');
/**
 * Runs only the evaluate stage again on the succeeded runs (all, or those named), with a new
 * evaluate block if given: evaluations are keyed by (run, evaluator), so the same rescore
 * twice launches nothing the second time.
 */
export const rescoreUpdate = defineUpdate<{ rescoring: string[]; count: number; evaluator: string }, [RescoreRequest]>('rescore');

export interface RescoreRequest {
  /** A new evaluate block (validated by the worker); default: the sweep's own. */
  evaluate?: unknown;
  /** Only these runs (default: every succeeded run). */
  runs?: string[];
}

export type { SweepSpecInput };
