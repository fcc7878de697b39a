import type { AxisValue, FailureClass, JobResult } from '../spec';

export type RunState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface SweepRow {
  name: string;
  specHash: string;
  spec: unknown;
  createdAt: string;
}

export interface RunRow {
  sweep: string;
  runId: string;
  axes: Record<string, AxisValue>;
  state: RunState;
  attempts: number;
  failureClass?: FailureClass;
  message?: string;
  gpus: number;
  gpuSeconds: number;
  updatedAt: string;
}

export interface AttemptRow {
  sweep: string;
  runId: string;
  attempt: number;
  jobName: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  failureClass?: FailureClass;
  message?: string;
  exitCode?: number;
  startedAt: string;
  finishedAt?: string;
  gpuSeconds: number;
}

/** A run's final result (one per run; idempotent on run id). */
export interface ResultRow {
  sweep: string;
  runId: string;
  attempt: number;
  axes: Record<string, AxisValue>;
  result: JobResult;
  gpuSeconds: number;
  recordedAt: string;
}

/**
 * One data point for fits and export: a run's final result, or one of its checkpoints
 * (`epoch` set). Metrics are per region / benchmark ("V1", "IT", "Behavioral", "acc", ...).
 */
export interface DataPoint {
  sweep: string;
  runId: string;
  axes: Record<string, AxisValue>;
  epoch?: number;
  metrics: Record<string, number>;
  n_params?: number;
  n_samples_seen?: number;
  total_flops?: number;
}

export interface FitRow {
  sweep: string;
  name: string;
  version: number;
  nResults: number;
  /** 'point' (quick) or 'bootstrap' (with intervals). */
  stage: 'point' | 'bootstrap';
  fit: unknown;
  createdAt: string;
}

/**
 * The results store. Every write is an idempotent upsert keyed by its natural key
 * (sweep name; run id; run id + attempt), so activity retries never duplicate rows.
 */
export interface ResultsStore {
  upsertSweep(row: SweepRow): Promise<void>;
  upsertRun(row: RunRow): Promise<void>;
  upsertAttempt(row: AttemptRow): Promise<void>;
  /** Records the result and its checkpoints; a second call for the same run replaces them. */
  recordResult(row: ResultRow): Promise<void>;
  getSweep(name: string): Promise<SweepRow | undefined>;
  listSweeps(): Promise<SweepRow[]>;
  getRun(sweep: string, runId: string): Promise<RunRow | undefined>;
  listRuns(sweep: string, filter?: { state?: RunState }): Promise<RunRow[]>;
  listAttempts(sweep: string, runId?: string): Promise<AttemptRow[]>;
  listResults(sweep: string): Promise<ResultRow[]>;
  listDataPoints(sweep: string): Promise<DataPoint[]>;
  /** Stores a new version of a fit; returns its version number. */
  saveFit(row: Omit<FitRow, 'version' | 'createdAt'>): Promise<number>;
  latestFits(sweep: string): Promise<FitRow[]>;
  close(): Promise<void>;
}
