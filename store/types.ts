import type { AxisValue, FailureClass, JobResult } from '../spec';

export type RunState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface SweepRow {
  name: string;
  specHash: string;
  spec: unknown;
  createdAt: string;
  /**
   * The sweep instance: an id made by the caller when the sweep is first registered in this
   * store. First writer wins: an upsert never replaces a stored non-null instance id (it only
   * fills one in on a row that has none, e.g. a row from before the column existed), so
   * `getSweep(name)?.instanceId` is stable for the life of the store. Undefined on old rows.
   */
  instanceId?: string;
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
  /**
   * Hash of the job definition behind the run's current state. An upsert with it set replaces
   * the stored one; an upsert without it keeps the stored one (unlike the other optional fields,
   * which an upsert that omits them clears). Undefined on rows written without one.
   */
  jobHash?: string;
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
  /** Hash of the job definition this attempt ran. Upserts as RunRow.jobHash: omitted keeps the stored one. */
  jobHash?: string;
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
  /**
   * Hash of the job definition that produced this result. A new result replaces the row whole,
   * this included (a stale hash must never vouch for a different job's result).
   */
  jobHash?: string;
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

/**
 * One evaluation of a run: the evaluate stage (or a later re-scoring) run by one evaluator on
 * the run's model / checkpoints. Keyed by (sweep, runId, evaluator): a new evaluator's scores
 * are a new row beside the old ones, never a replacement of them.
 */
export interface EvaluationRow {
  sweep: string;
  runId: string;
  /** Hash of the evaluate block that made it. */
  evaluator: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** Evaluate attempts made so far for this (run, evaluator). */
  attempts: number;
  failureClass?: FailureClass;
  message?: string;
  /** The evaluate job's validated result (metrics, optional counts, checkpoints). Required when succeeded. */
  result?: JobResult;
  jobHash?: string;
  gpuSeconds: number;
  /**
   * When it first succeeded / was last written. A succeeded row rewritten as succeeded keeps
   * its stored updatedAt (a retried write must not make an old evaluator the newest).
   */
  updatedAt: string;
}

export type EvaluationState = EvaluationRow['state'];

/** One evaluator of a sweep, for the CLI. */
export interface EvaluatorSummary {
  evaluator: string;
  /** Runs this evaluator has a succeeded evaluation of. */
  succeeded: number;
  /** The newest updatedAt of its rows (any state), ISO 8601. */
  latest: string;
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

/** Refuses a fitHistory `max` the evenly spaced selection cannot use, naming the field. */
export function checkHistoryMax(max: number | undefined): void {
  if (max !== undefined && !(Number.isInteger(max) && max >= 2)) throw new Error(`fitHistory: max must be a whole number >= 2, got ${max}`);
}

/**
 * The evenly spaced selection of fitHistory, as SQL over a numbered list (i = 1..n, in version
 * order) and the bound max: row i is kept where floor((i - 1)(max - 1)/(n - 1)) steps up, which
 * happens exactly max times over 1..n when n > max (the first and the last row included).
 * Integer division in both SQLite and Postgres, so each backend substitutes `$max` by an INTEGER
 * parameter (better-sqlite3 binds a JS number as REAL: SQLite casts it).
 */
export const FIT_HISTORY_SPACING = `n <= $max OR i = 1 OR ((i - 1) * ($max - 1)) / (n - 1) <> ((i - 2) * ($max - 1)) / (n - 1)`;

/**
 * Most UTF-8 bytes of a stored report. The report is bounded (under 2 MB for a 1,000-run sweep:
 * capped run rows, metric columns, fit sections and plotted points); 4x that leaves headroom
 * and still keeps one row far from any database's value limit.
 */
export const MAX_REPORT_HTML_BYTES = 8 * 1024 * 1024;

/** A sweep's rendered report, kept so it can be read from any machine (`sweep report <sweep> --final`). */
export interface ReportRow {
  sweep: string;
  /** 1, 2, ... per sweep, in the order they were saved. */
  version: number;
  /** The self-contained HTML page, at most MAX_REPORT_HTML_BYTES of UTF-8. */
  html: string;
  /**
   * What it was rendered from, as JSON (the final refit's fit summaries), so `sweep report
   * <sweep>` can render the same report again from the store. Undefined when not given.
   */
  fits?: unknown;
  createdAt: string;
}

/**
 * UTF-8 size of `s` compared with `max` without encoding it when the answer is certain: a UTF-16
 * code unit is 1 to 3 bytes (a surrogate pair, two units, is 4), so length bounds the size.
 */
export function utf8Exceeds(s: string, max: number): boolean {
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return Buffer.byteLength(s, 'utf8') > max;
}

/** Refuses a report the store must not keep, naming the field, before any write. */
export function checkReportRow(row: Pick<ReportRow, 'sweep' | 'html'>): void {
  if (typeof row.sweep !== 'string' || row.sweep === '') throw new Error('report: sweep must be a non-empty string');
  if (typeof row.html !== 'string') throw new Error(`report ${row.sweep}: html must be a string`);
  if (utf8Exceeds(row.html, MAX_REPORT_HTML_BYTES))
    throw new Error(`report ${row.sweep}: html is over ${MAX_REPORT_HTML_BYTES} bytes of UTF-8 (MAX_REPORT_HTML_BYTES)`);
}

/** An attempt's launch: the attempt recorded `running`, and its run `running`. */
export interface AttemptStart {
  attempt: AttemptRow;
  run: RunRow;
}

/** An attempt's end: the attempt's final row, its run's new row and, if it succeeded, its result. */
export interface AttemptEnd {
  attempt: AttemptRow;
  run: RunRow;
  result?: ResultRow;
}

/** The writes of `launchAttempt` / `finishAttempt`, in the order they are made. */
export type AttemptWrite = 'result' | 'attempt' | 'run';

/**
 * TEST ONLY fault injection: production code never sets these. The crash tests use
 * `betweenWrites` to SIGKILL the process, or throw, in the middle of a multi-row transaction.
 */
export interface StoreTestHooks {
  /**
   * Called synchronously inside the transaction of `launchAttempt` / `finishAttempt` after each
   * write but the last, with the write just made. Throwing rolls the whole transaction back.
   */
  betweenWrites?: (written: AttemptWrite) => void;
}

export interface StoreOptions {
  /** TEST ONLY: see StoreTestHooks. */
  testHooks?: StoreTestHooks;
}

const EVALUATION_STATES: ReadonlySet<string> = new Set(['running', 'succeeded', 'failed', 'cancelled']);

/** Refuses an evaluation row the store could not use, naming the field, before any write. */
export function checkEvaluationRow(row: EvaluationRow): void {
  const key = `${row.sweep}/${row.runId}/${row.evaluator}`;
  for (const f of ['sweep', 'runId', 'evaluator'] as const)
    if (typeof row[f] !== 'string' || row[f] === '')
      throw new Error(`evaluation ${key}: ${f} must be a non-empty string`);
  if (!EVALUATION_STATES.has(row.state))
    throw new Error(`evaluation ${key}: state ${String(row.state)} is not one of ${[...EVALUATION_STATES].join(', ')}`);
  if (!Number.isInteger(row.attempts) || row.attempts < 0)
    throw new Error(`evaluation ${key}: attempts must be a whole number >= 0, got ${row.attempts}`);
  if (!Number.isFinite(row.gpuSeconds) || row.gpuSeconds < 0)
    throw new Error(`evaluation ${key}: gpuSeconds must be a finite number >= 0, got ${row.gpuSeconds}`);
  if (typeof row.updatedAt !== 'string' || Number.isNaN(Date.parse(row.updatedAt)))
    throw new Error(`evaluation ${key}: updatedAt ${String(row.updatedAt)} is not a timestamp`);
  // A succeeded evaluation is a source of data points: without a result it would silently hide the run's.
  if (row.state === 'succeeded' && (row.result === undefined || row.result === null))
    throw new Error(`evaluation ${key}: result is required when state is succeeded`);
}

/**
 * The rows of one attempt's start or end must name the same run (and the result the same
 * attempt): a mix-up would record one run's result against another. Checked before any write.
 */
export function checkAttemptRows(rows: AttemptStart | AttemptEnd): void {
  const { attempt, run } = rows;
  const result = 'result' in rows ? rows.result : undefined;
  const key = `${attempt.sweep}/${attempt.runId}`;
  if (run.sweep !== attempt.sweep || run.runId !== attempt.runId)
    throw new Error(`run.sweep/run.runId ${run.sweep}/${run.runId} differ from the attempt's ${key}`);
  if (result && (result.sweep !== attempt.sweep || result.runId !== attempt.runId))
    throw new Error(`result.sweep/result.runId ${result.sweep}/${result.runId} differ from the attempt's ${key}`);
  if (result && result.attempt !== attempt.attempt)
    throw new Error(`result.attempt ${result.attempt} differs from attempt.attempt ${attempt.attempt} (${key})`);
}

/**
 * The results store. Every write is an idempotent upsert keyed by its natural key
 * (sweep name; run id; run id + attempt), so activity retries never duplicate rows.
 */
export interface ResultsStore {
  /** Replaces spec and hash; keeps the first createdAt and the first non-null instanceId. */
  upsertSweep(row: SweepRow): Promise<void>;
  upsertRun(row: RunRow): Promise<void>;
  upsertAttempt(row: AttemptRow): Promise<void>;
  /** Records the result and its checkpoints; a second call for the same run replaces them. */
  recordResult(row: ResultRow): Promise<void>;
  /**
   * Records an attempt's launch: upserts `start.attempt` then `start.run` in ONE transaction,
   * so a crash never leaves the attempt `running` under a run that does not say so (or the
   * reverse). Idempotent: a replay (an activity retry) rewrites the same rows.
   */
  launchAttempt(start: AttemptStart): Promise<void>;
  /**
   * Records an attempt's end: `end.result` (as recordResult, with its checkpoints) if given,
   * then `end.attempt`, then `end.run`, all in ONE transaction. A crash or a failed write
   * leaves none of them changed; a replay with the same rows (the retried activity after a
   * worker crash) completes it, and replaying a completed one changes nothing. Without a
   * result, any result the run already has is left as it is. Rows naming different runs are
   * refused before anything is written.
   */
  finishAttempt(end: AttemptEnd): Promise<void>;
  getSweep(name: string): Promise<SweepRow | undefined>;
  listSweeps(): Promise<SweepRow[]>;
  getRun(sweep: string, runId: string): Promise<RunRow | undefined>;
  listRuns(sweep: string, filter?: { state?: RunState }): Promise<RunRow[]>;
  listAttempts(sweep: string, runId?: string): Promise<AttemptRow[]>;
  listResults(sweep: string): Promise<ResultRow[]>;
  /**
   * The sweep's data points, ordered by run id, each run's final point first, then its
   * checkpoints by epoch. A run with at least one SUCCEEDED evaluation gets its points from
   * one evaluation instead of its training result: that of `opts.evaluator` if given, else the
   * newest succeeded one (latest updatedAt; a tie goes to the greatest evaluator string).
   * Metrics (and checkpoints, each a point with its epoch) come from the evaluation's result;
   * n_params / n_samples_seen / total_flops from it when present, else from the training
   * result (a checkpoint's from the training checkpoint of the same epoch). A run with only an
   * evaluation (evaluate-only sweep) gets points from the evaluation alone, with its run row's
   * axes. A run without a succeeded evaluation keeps its training points, EXCEPT when
   * `opts.evaluator` is given: then runs without a succeeded evaluation by that evaluator
   * contribute nothing.
   */
  listDataPoints(sweep: string, opts?: { evaluator?: string }): Promise<DataPoint[]>;
  /**
   * Upserts the evaluation keyed by (sweep, runId, evaluator), replacing the whole row (a
   * succeeded row rewritten as succeeded keeps its updatedAt). Idempotent. Refuses a row that
   * fails checkEvaluationRow.
   */
  upsertEvaluation(row: EvaluationRow): Promise<void>;
  /** The sweep's evaluations, ordered by run id then evaluator. */
  listEvaluations(
    sweep: string,
    filter?: { runId?: string; evaluator?: string; state?: EvaluationState },
  ): Promise<EvaluationRow[]>;
  /** Every evaluator of the sweep, newest (latest) first, ties by evaluator string descending. */
  listEvaluators(sweep: string): Promise<EvaluatorSummary[]>;
  /** Stores a new version of a fit; returns its version number. */
  saveFit(row: Omit<FitRow, 'version' | 'createdAt'>): Promise<number>;
  latestFits(sweep: string): Promise<FitRow[]>;
  /**
   * The stored versions of one fit of `stage`, oldest first; with `max` (>= 2) at most `max` of
   * them, evenly spaced over the versions, the first and the newest always among them (the
   * report's study path reads a long history without loading every version).
   */
  fitHistory(sweep: string, name: string, opts: { stage: FitRow['stage']; max?: number }): Promise<FitRow[]>;
  /** Stores a new version of the sweep's report; returns its version. Refuses a row failing checkReportRow. */
  saveReport(row: Omit<ReportRow, 'version' | 'createdAt'>): Promise<number>;
  /** The sweep's report of that version, or its newest without one; undefined if none. */
  getReport(sweep: string, version?: number): Promise<ReportRow | undefined>;
  /**
   * An opaque token that changes whenever the sweep's spec (its hash), runs, results,
   * evaluations, fits or reports change (counts and newest timestamps: one cheap query), so a watcher re-reads the
   * store only when there is something new.
   */
  changeStamp(sweep: string): Promise<string>;
  close(): Promise<void>;
}
