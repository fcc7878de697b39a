/**
 * The contract that workflows, activities, worker and CLI share (as Temporal's samples keep it
 * in shared.ts): the task queue and ids, signals, queries and updates, the run and attempt
 * types, search attributes, what continue-as-new carries, and what an executor is asked.
 * Imports only spec types and Temporal's definers: every other module imports it, never the reverse.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AxisValue, JobTemplate, Resources, SweepSpec, SweepSpecInput } from '../spec/sweepSpec';
import type { FailureClass } from '../spec/failure';

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

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
  /**
   * The sweep instance and job definition (jobHash) the run ran: a sweep takes no other's end (a
   * terminated sweep's run still going when a sweep of the same name starts). Absent from runs of
   * releases before them, and from the reconcile's records.
   */
  instance?: string;
  jobHash?: string;
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

/** An adaptive study's target in its latest fit: the estimate and its 95% interval, when the fit has them. */
export interface StudyTarget {
  value?: number;
  ci?: [number, number];
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
  /** An adaptive study: GPU-hours spent of its budget, its target's estimate and 95% interval (and its width), why it stopped, cells skipped. */
  study?: { spentGpuHours: number; budgetGpuHours: number; skipped: number; stop?: string; ciWidth?: number; target?: StudyTarget };
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
  /** `skipped`: a cell an adaptive study that has stopped never started (`sweep runs` only; the query lists no such cell). */
  runs: { runId: string; axes: Record<string, AxisValue>; state: RunStatus | 'skipped'; attempts: number; failureClass?: FailureClass; message?: string }[];
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
  /** Adaptive study: its target's latest estimate and 95% interval (two numbers and a pair: O(1)). */
  studyTarget?: StudyTarget;
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

// ---- search attributes ------------------------------------------------------------

/** Typed search attributes, so the Web UI and `temporal workflow list --query` filter sweeps and runs. */
export const SweepName = defineSearchAttributeKey('SweepName', SearchAttributeType.KEYWORD);
export const SweepId = defineSearchAttributeKey('SweepId', SearchAttributeType.KEYWORD);
// "RunId" is a reserved system attribute on Temporal servers, so runs carry their id as SweepRunId.
export const RunId = defineSearchAttributeKey('SweepRunId', SearchAttributeType.KEYWORD);
export const RunState = defineSearchAttributeKey('RunState', SearchAttributeType.KEYWORD);
export const Arch = defineSearchAttributeKey('Arch', SearchAttributeType.KEYWORD);
export const Dataset = defineSearchAttributeKey('Dataset', SearchAttributeType.KEYWORD);
export const SamplesPerClass = defineSearchAttributeKey('SamplesPerClass', SearchAttributeType.INT);

export const SEARCH_ATTRIBUTES = [SweepName, SweepId, RunId, RunState, Arch, Dataset, SamplesPerClass];

/** `Name=Type` flags for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_FLAGS = SEARCH_ATTRIBUTES.map(
  (k) => `${k.name}=${k.type === SearchAttributeType.INT ? 'Int' : 'Keyword'}`,
);

// ---- what continue-as-new carries (workflows/ledger.ts drives it) --------------------

export type DoneState = 'succeeded' | 'failed' | 'cancelled';

export interface Failure {
  runId: string;
  failureClass?: string;
  message?: string;
  attempts: number;
}

/** A rerun pass over the grid: `retryFailed` (failed runs, optionally of one class) or `rescore`. */
export type Pass =
  | { kind: 'retry'; failureClass?: string; before: number; at: number }
  | { kind: 'rescore'; runs?: string[]; at: number };

/** A cell vetted for starting (by a pass, or by the store for a re-submitted sweep). */
export interface Vetted {
  id: string;
  /** First attempt number. */
  a: number;
  m?: 'rescore';
}

export interface LedgerState {
  v: 2;
  cursor: number;
  /** Indices >= cursor already started or skipped (first-fit look-ahead; at most AHEAD_SPAN). Written by snapshot(). */
  ahead: number[];
  /** Written by snapshot(). */
  inFlight: { id: string; g: number }[];
  done: Record<DoneState, number>;
  /** Cells a pass picked that have not started yet (at most one page). */
  reruns: Vetted[];
  passes: Pass[];
  /**
   * Runs a retry pass picked while they were still in flight (the store had their failure, their
   * signal had not come): each reruns when that failure's signal arrives. At most the window.
   * Absent in states carried before it existed.
   */
  awaiting?: Vetted[];
  /**
   * Runs in flight whose first start met an execution already open (a run from before this sweep
   * started, or restarted): only their end may be another sweep's. At most the window. Absent in
   * states carried before it existed (then every run in flight then counts as one).
   */
  metOpen?: string[];
  /** A re-submitted sweep: the store says, page by page, which cells at the cursor run and at which attempt. */
  vetMain: boolean;
  recentFailures: Failure[];
  /** Axis lengths of the grid before each `extend`: the grid order is each grid's new cells after the last's. */
  extensions: Record<string, number>[];
}


// ---- pages of cells the store vets for the sweep ----------------------------------

/** A page of cells (run id and job hash) the sweep asks about, and what it asks. */
export type VetRule =
  | { kind: 'resubmit'; rule: ResubmitRule }
  | { kind: 'retry'; failureClass?: FailureClass; before: number }
  | { kind: 'rescore'; runs?: string[] };

export interface VetPick {
  id: string;
  a: number;
  m?: 'rescore';
  /** The state it leaves (a pass's pick is pending again). */
  prior?: 'succeeded' | 'failed' | 'cancelled';
}


// ---- what an executor is asked ------------------------------------------------------

/** Everything an executor needs to start one attempt of one run. */
export interface LaunchRequest {
  sweep: string;
  /**
   * The sweep instance (made when the sweep was first registered in its results store): an
   * attempt left by another instance of a sweep of the same name is never adopted.
   */
  instance: string;
  /** Hash of the job definition this attempt runs (`jobHashOf`); adoption requires it to match. */
  jobHash: string;
  /**
   * Which stage this attempt runs (default train). For `evaluate`, `spec.job` holds the evaluate
   * block (as a job template) and `resources` its resources; jobs get SWEEP_STAGE.
   */
  stage?: 'train' | 'evaluate';
  /** Evaluate stage: hash of the evaluate block; attempts of different evaluators never share a name. */
  evaluator?: string;
  /** Evaluate stage: the training stage's result JSON, given to the job as SWEEP_TRAIN_RESULT. */
  trainResult?: string;
  /**
   * An earlier attempt of this run (same instance and job definition) exists: the job gets
   * SWEEP_RESUME=1 and should resume from its checkpoint directory.
   */
  resume?: boolean;
  /** Training stage of a run with an evaluate stage: a successful attempt leaves the run running. */
  evaluateNext?: boolean;
  runId: string;
  attempt: number;
  axes: Record<string, AxisValue>;
  resources: Resources;
  /** The spec's job template, executor settings, timeouts, retry and metrics. */
  spec: Pick<SweepSpec, 'executor' | 'timeouts' | 'retry' | 'metrics'> & { job: JobTemplate };
}

/** Live state of an attempt, heartbeated and shown in the UI. */
export interface JobPhase {
  phase: 'pending' | 'running' | 'succeeded' | 'failed';
  /** Pod / process the attempt runs as. */
  pod?: string;
  node?: string;
  message?: string;
}

export type JobOutcome =
  | {
      status: 'succeeded';
      /** The raw text the job wrote to its result file (validated by the caller). */
      resultText: string;
      gpuSeconds: number;
    }
  | {
      status: 'failed';
      failureClass: FailureClass;
      message: string;
      exitCode?: number;
      gpuSeconds: number;
    };
