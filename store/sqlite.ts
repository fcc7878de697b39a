import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { mergeEvaluationPoints, type SucceededEvaluation } from './evaluationPoints';
import {
  checkAttemptRows,
  checkEvaluationRow,
  checkHistoryMax,
  checkReportRow,
  FIT_HISTORY_SPACING,
  type AttemptEnd,
  type AttemptRow,
  type AttemptStart,
  type DataPoint,
  type EvaluationRow,
  type EvaluationState,
  type EvaluatorSummary,
  type FitRow,
  type ReportRow,
  type ResultRow,
  type ResultsStore,
  type RunRow,
  type RunState,
  type StoreOptions,
  type StoreTestHooks,
  type SweepRow,
} from './types';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sweeps (
  name TEXT PRIMARY KEY, spec_hash TEXT NOT NULL, spec TEXT NOT NULL, created_at TEXT NOT NULL, instance_id TEXT);
CREATE TABLE IF NOT EXISTS runs (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, axes TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL, failure_class TEXT, message TEXT, gpus INTEGER NOT NULL,
  gpu_seconds REAL NOT NULL, updated_at TEXT NOT NULL, job_hash TEXT, PRIMARY KEY (sweep, run_id));
CREATE TABLE IF NOT EXISTS attempts (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, attempt INTEGER NOT NULL, job_name TEXT NOT NULL,
  state TEXT NOT NULL, failure_class TEXT, message TEXT, exit_code INTEGER, started_at TEXT NOT NULL,
  finished_at TEXT, gpu_seconds REAL NOT NULL, job_hash TEXT, PRIMARY KEY (sweep, run_id, attempt));
CREATE TABLE IF NOT EXISTS results (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, attempt INTEGER NOT NULL, axes TEXT NOT NULL,
  result TEXT NOT NULL, gpu_seconds REAL NOT NULL, recorded_at TEXT NOT NULL, job_hash TEXT,
  PRIMARY KEY (sweep, run_id));
CREATE TABLE IF NOT EXISTS data_points (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, epoch INTEGER NOT NULL, axes TEXT NOT NULL, metrics TEXT NOT NULL,
  n_params REAL, n_samples_seen REAL, total_flops REAL, PRIMARY KEY (sweep, run_id, epoch));
CREATE TABLE IF NOT EXISTS evaluations (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, evaluator TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  failure_class TEXT, message TEXT, result TEXT, job_hash TEXT, gpu_seconds REAL NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (sweep, run_id, evaluator));
CREATE TABLE IF NOT EXISTS fits (
  sweep TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, n_results INTEGER NOT NULL,
  stage TEXT NOT NULL, fit TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (sweep, name, version));
CREATE TABLE IF NOT EXISTS reports (
  sweep TEXT NOT NULL, version INTEGER NOT NULL, html TEXT NOT NULL, fits TEXT, created_at TEXT NOT NULL,
  PRIMARY KEY (sweep, version));
`;

/**
 * Columns added after the first release, as [table, column, type]. A database made before them
 * gains them on open (CREATE TABLE IF NOT EXISTS leaves an existing table as it is). Append only.
 */
const ADDED_COLUMNS: readonly (readonly [string, string, string])[] = [
  ['sweeps', 'instance_id', 'TEXT'],
  ['runs', 'job_hash', 'TEXT'],
  ['attempts', 'job_hash', 'TEXT'],
  ['results', 'job_hash', 'TEXT'],
];

/** The run's own final result is stored with this epoch so it sorts apart from checkpoints. */
const FINAL_EPOCH = -1;

interface RunDb {
  sweep: string;
  run_id: string;
  axes: string;
  state: RunState;
  attempts: number;
  failure_class: string | null;
  message: string | null;
  gpus: number;
  gpu_seconds: number;
  updated_at: string;
  job_hash: string | null;
}
interface AttemptDb {
  sweep: string;
  run_id: string;
  attempt: number;
  job_name: string;
  state: AttemptRow['state'];
  failure_class: string | null;
  message: string | null;
  exit_code: number | null;
  started_at: string;
  finished_at: string | null;
  gpu_seconds: number;
  job_hash: string | null;
}
interface EvaluationDb {
  sweep: string;
  run_id: string;
  evaluator: string;
  state: EvaluationState;
  attempts: number;
  failure_class: string | null;
  message: string | null;
  result: string | null;
  job_hash: string | null;
  gpu_seconds: number;
  updated_at: string;
}
interface PointDb {
  sweep: string;
  run_id: string;
  epoch: number;
  axes: string;
  metrics: string;
  n_params: number | null;
  n_samples_seen: number | null;
  total_flops: number | null;
}
interface SweepDb {
  name: string;
  spec_hash: string;
  spec: string;
  created_at: string;
  instance_id: string | null;
}

const orUndef = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

const toSweep = (r: SweepDb): SweepRow => ({
  name: r.name,
  specHash: r.spec_hash,
  spec: JSON.parse(r.spec),
  createdAt: r.created_at,
  ...(r.instance_id === null ? {} : { instanceId: r.instance_id }),
});

/** `{ jobHash }` when the column holds one, else nothing (so rows without one compare equal). */
const jobHashOf = (v: string | null): { jobHash?: string } => (v === null ? {} : { jobHash: v });

/** The embedded results store: one SQLite file, shared safely by several worker processes (WAL). */
/** A `fits` row as SQLite returns it. */
interface FitDbRow {
  sweep: string;
  name: string;
  version: number;
  n_results: number;
  stage: FitRow['stage'];
  fit: string;
  created_at: string;
}

function fitRowOf(r: FitDbRow): FitRow {
  return { sweep: r.sweep, name: r.name, version: r.version, nResults: r.n_results, stage: r.stage, fit: JSON.parse(r.fit), createdAt: r.created_at };
}

export class SqliteStore implements ResultsStore {
  private readonly db: Database.Database;
  private readonly testHooks: StoreTestHooks;

  constructor(file: string, options: StoreOptions = {}) {
    this.testHooks = options.testHooks ?? {};
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.addMissingColumns();
  }

  /**
   * Brings a database made by an earlier version up to date. IMMEDIATE serialises the check and
   * the ALTER with other processes opening the same file, so two never add the same column.
   */
  private addMissingColumns(): void {
    const missing = () =>
      ADDED_COLUMNS.filter(([table, column]) => {
        const cols = this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
        return !cols.some((c) => c.name === column);
      });
    // The usual case (up to date) takes no write lock.
    if (missing().length === 0) return;
    this.db
      .transaction(() => {
        for (const [table, column, type] of missing())
          this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
      })
      .immediate();
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once per SQL text: compiling a statement costs more than running it. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  static async open(file: string, options: StoreOptions = {}): Promise<SqliteStore> {
    return new SqliteStore(file, options);
  }

  async upsertSweep(row: SweepRow): Promise<void> {
    this.sql(
      // created_at and a stored instance_id keep their first values (first writer wins).
      `INSERT INTO sweeps (name, spec_hash, spec, created_at, instance_id) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET spec_hash = excluded.spec_hash, spec = excluded.spec,
           instance_id = COALESCE(sweeps.instance_id, excluded.instance_id)`,
    ).run(row.name, row.specHash, JSON.stringify(row.spec), row.createdAt, row.instanceId ?? null);
  }

  async upsertRun(row: RunRow): Promise<void> {
    this.writeRun(row);
  }

  async upsertAttempt(row: AttemptRow): Promise<void> {
    this.writeAttempt(row);
  }

  async recordResult(row: ResultRow): Promise<void> {
    this.db.transaction(() => this.writeResult(row)).immediate();
  }

  async launchAttempt(start: AttemptStart): Promise<void> {
    checkAttemptRows(start);
    this.db
      .transaction(() => {
        this.writeAttempt(start.attempt);
        this.testHooks.betweenWrites?.('attempt');
        this.writeRun(start.run);
      })
      .immediate();
  }

  async finishAttempt(end: AttemptEnd): Promise<void> {
    checkAttemptRows(end);
    // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from a read
    // can fail with SQLITE_BUSY at once instead of waiting out busy_timeout.
    this.db
      .transaction(() => {
        if (end.result) {
          this.writeResult(end.result);
          this.testHooks.betweenWrites?.('result');
        }
        this.writeAttempt(end.attempt);
        this.testHooks.betweenWrites?.('attempt');
        this.writeRun(end.run);
      })
      .immediate();
  }

  /** The writes below run inside the caller's transaction, if any (better-sqlite3 is synchronous). */
  private writeRun(row: RunRow): void {
    this.sql(
      `INSERT INTO runs (sweep, run_id, axes, state, attempts, failure_class, message, gpus, gpu_seconds, updated_at,
           job_hash)
         VALUES (@sweep, @runId, @axes, @state, @attempts, @failureClass, @message, @gpus, @gpuSeconds, @updatedAt,
           @jobHash)
         ON CONFLICT (sweep, run_id) DO UPDATE SET axes = excluded.axes, state = excluded.state,
           attempts = excluded.attempts, failure_class = excluded.failure_class, message = excluded.message,
           gpus = excluded.gpus, gpu_seconds = excluded.gpu_seconds, updated_at = excluded.updated_at,
           job_hash = COALESCE(excluded.job_hash, runs.job_hash)`,
    ).run({
      ...row,
      axes: JSON.stringify(row.axes),
      failureClass: row.failureClass ?? null,
      message: row.message ?? null,
      jobHash: row.jobHash ?? null,
    });
  }

  private writeAttempt(row: AttemptRow): void {
    this.sql(
      `INSERT INTO attempts (sweep, run_id, attempt, job_name, state, failure_class, message, exit_code,
           started_at, finished_at, gpu_seconds, job_hash)
         VALUES (@sweep, @runId, @attempt, @jobName, @state, @failureClass, @message, @exitCode, @startedAt,
           @finishedAt, @gpuSeconds, @jobHash)
         ON CONFLICT (sweep, run_id, attempt) DO UPDATE SET job_name = excluded.job_name, state = excluded.state,
           failure_class = excluded.failure_class, message = excluded.message, exit_code = excluded.exit_code,
           finished_at = excluded.finished_at, gpu_seconds = excluded.gpu_seconds,
           job_hash = COALESCE(excluded.job_hash, attempts.job_hash)`,
    ).run({
      ...row,
      failureClass: row.failureClass ?? null,
      message: row.message ?? null,
      exitCode: row.exitCode ?? null,
      finishedAt: row.finishedAt ?? null,
      jobHash: row.jobHash ?? null,
    });
  }

  /** The result row and its data points; callers wrap it in a transaction. */
  private writeResult(row: ResultRow): void {
    const axes = JSON.stringify(row.axes);
    this.sql(
      // The whole row is replaced, job_hash too: a result never keeps another result's hash.
      `INSERT INTO results (sweep, run_id, attempt, axes, result, gpu_seconds, recorded_at, job_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (sweep, run_id) DO UPDATE SET attempt = excluded.attempt, axes = excluded.axes,
             result = excluded.result, gpu_seconds = excluded.gpu_seconds, recorded_at = excluded.recorded_at,
             job_hash = excluded.job_hash`,
    ).run(
      row.sweep,
      row.runId,
      row.attempt,
      axes,
      JSON.stringify(row.result),
      row.gpuSeconds,
      row.recordedAt,
      row.jobHash ?? null,
    );
    this.sql(`DELETE FROM data_points WHERE sweep = ? AND run_id = ?`).run(row.sweep, row.runId);
    const insert = this.sql(
      // A repeated checkpoint epoch keeps its last entry (as in Postgres) instead of failing the result.
      `INSERT INTO data_points (sweep, run_id, epoch, axes, metrics, n_params, n_samples_seen, total_flops)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sweep, run_id, epoch) DO UPDATE SET metrics = excluded.metrics,
           n_samples_seen = excluded.n_samples_seen, total_flops = excluded.total_flops`,
    );
    const r = row.result;
    insert.run(
      row.sweep,
      row.runId,
      FINAL_EPOCH,
      axes,
      JSON.stringify(r.metrics),
      r.n_params ?? null,
      r.n_samples_seen ?? null,
      r.total_flops ?? null,
    );
    for (const c of r.checkpoints ?? []) {
      insert.run(
        row.sweep,
        row.runId,
        c.epoch,
        axes,
        JSON.stringify(c.metrics),
        r.n_params ?? null,
        c.n_samples_seen ?? null,
        c.total_flops ?? null,
      );
    }
  }

  async getSweep(name: string): Promise<SweepRow | undefined> {
    const r = this.sql(`SELECT * FROM sweeps WHERE name = ?`).get(name) as SweepDb | undefined;
    return r && toSweep(r);
  }

  async listSweeps(): Promise<SweepRow[]> {
    const rows = this.sql(`SELECT * FROM sweeps ORDER BY created_at`).all() as SweepDb[];
    return rows.map(toSweep);
  }

  private toRun(r: RunDb): RunRow {
    return {
      sweep: r.sweep,
      runId: r.run_id,
      axes: JSON.parse(r.axes),
      state: r.state,
      attempts: r.attempts,
      failureClass: orUndef(r.failure_class) as RunRow['failureClass'],
      message: orUndef(r.message),
      gpus: r.gpus,
      gpuSeconds: r.gpu_seconds,
      updatedAt: r.updated_at,
      ...jobHashOf(r.job_hash),
    };
  }

  async getRun(sweep: string, runId: string): Promise<RunRow | undefined> {
    const r = this.sql(`SELECT * FROM runs WHERE sweep = ? AND run_id = ?`).get(sweep, runId) as RunDb | undefined;
    return r && this.toRun(r);
  }

  async listRuns(sweep: string, filter: { state?: RunState } = {}): Promise<RunRow[]> {
    const rows = (
      filter.state
        ? this.sql(`SELECT * FROM runs WHERE sweep = ? AND state = ? ORDER BY run_id`).all(sweep, filter.state)
        : this.sql(`SELECT * FROM runs WHERE sweep = ? ORDER BY run_id`).all(sweep)
    ) as RunDb[];
    return rows.map((r) => this.toRun(r));
  }

  async listAttempts(sweep: string, runId?: string): Promise<AttemptRow[]> {
    const rows = (
      runId
        ? this.sql(`SELECT * FROM attempts WHERE sweep = ? AND run_id = ? ORDER BY attempt`).all(sweep, runId)
        : this.sql(`SELECT * FROM attempts WHERE sweep = ? ORDER BY run_id, attempt`).all(sweep)
    ) as AttemptDb[];
    return rows.map((r) => ({
      sweep: r.sweep,
      runId: r.run_id,
      attempt: r.attempt,
      jobName: r.job_name,
      state: r.state,
      failureClass: orUndef(r.failure_class) as AttemptRow['failureClass'],
      message: orUndef(r.message),
      exitCode: orUndef(r.exit_code),
      startedAt: r.started_at,
      finishedAt: orUndef(r.finished_at),
      gpuSeconds: r.gpu_seconds,
      ...jobHashOf(r.job_hash),
    }));
  }

  async listResults(sweep: string): Promise<ResultRow[]> {
    const rows = this.sql(`SELECT * FROM results WHERE sweep = ? ORDER BY run_id`).all(sweep) as {
      sweep: string;
      run_id: string;
      attempt: number;
      axes: string;
      result: string;
      gpu_seconds: number;
      recorded_at: string;
      job_hash: string | null;
    }[];
    return rows.map((r) => ({
      sweep: r.sweep,
      runId: r.run_id,
      attempt: r.attempt,
      axes: JSON.parse(r.axes),
      result: JSON.parse(r.result),
      gpuSeconds: r.gpu_seconds,
      recordedAt: r.recorded_at,
      ...jobHashOf(r.job_hash),
    }));
  }

  async listDataPoints(sweep: string, opts: { evaluator?: string } = {}): Promise<DataPoint[]> {
    // One read transaction: the training points and the evaluations come from one snapshot (WAL),
    // so a concurrent write never mixes a run's old and new rows.
    const read = this.db.transaction(() => {
      const points = this.sql(`SELECT * FROM data_points WHERE sweep = ? ORDER BY run_id, epoch`).all(
        sweep,
      ) as PointDb[];
      const evals = this.sql(
        `SELECT e.run_id, e.evaluator, e.result, e.updated_at, r.axes AS run_axes
           FROM evaluations e LEFT JOIN runs r ON r.sweep = e.sweep AND r.run_id = e.run_id
          WHERE e.sweep = ? AND e.state = 'succeeded' AND e.result IS NOT NULL`,
      ).all(sweep) as {
        run_id: string;
        evaluator: string;
        result: string;
        updated_at: string;
        run_axes: string | null;
      }[];
      return { points, evals };
    });
    const { points, evals } = read();
    const training = points.map((r) => ({
      sweep: r.sweep,
      runId: r.run_id,
      axes: JSON.parse(r.axes),
      ...(r.epoch === FINAL_EPOCH ? {} : { epoch: r.epoch }),
      metrics: JSON.parse(r.metrics),
      n_params: orUndef(r.n_params),
      n_samples_seen: orUndef(r.n_samples_seen),
      total_flops: orUndef(r.total_flops),
    }));
    const succeeded: SucceededEvaluation[] = evals
      .filter((e) => opts.evaluator === undefined || e.evaluator === opts.evaluator)
      .map((e) => ({
        runId: e.run_id,
        evaluator: e.evaluator,
        result: JSON.parse(e.result),
        updatedAtMs: Date.parse(e.updated_at),
        ...(e.run_axes === null ? {} : { runAxes: JSON.parse(e.run_axes) }),
      }));
    return mergeEvaluationPoints(sweep, training, succeeded, opts.evaluator);
  }

  async upsertEvaluation(row: EvaluationRow): Promise<void> {
    checkEvaluationRow(row);
    this.sql(
      // The whole row is replaced, except that a succeeded row rewritten as succeeded keeps its
      // updated_at (SET expressions read the row as it was before this update).
      `INSERT INTO evaluations (sweep, run_id, evaluator, state, attempts, failure_class, message, result, job_hash,
           gpu_seconds, updated_at)
         VALUES (@sweep, @runId, @evaluator, @state, @attempts, @failureClass, @message, @result, @jobHash,
           @gpuSeconds, @updatedAt)
         ON CONFLICT (sweep, run_id, evaluator) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
           failure_class = excluded.failure_class, message = excluded.message, result = excluded.result,
           job_hash = excluded.job_hash, gpu_seconds = excluded.gpu_seconds,
           updated_at = CASE WHEN evaluations.state = 'succeeded' AND excluded.state = 'succeeded'
             THEN evaluations.updated_at ELSE excluded.updated_at END`,
    ).run({
      sweep: row.sweep,
      runId: row.runId,
      evaluator: row.evaluator,
      state: row.state,
      attempts: row.attempts,
      failureClass: row.failureClass ?? null,
      message: row.message ?? null,
      result: row.result === undefined ? null : JSON.stringify(row.result),
      jobHash: row.jobHash ?? null,
      gpuSeconds: row.gpuSeconds,
      updatedAt: row.updatedAt,
    });
  }

  async listEvaluations(
    sweep: string,
    filter: { runId?: string; evaluator?: string; state?: EvaluationState } = {},
  ): Promise<EvaluationRow[]> {
    // One statement for every filter combination: an absent filter is a NULL that matches all.
    const rows = this.sql(
      `SELECT * FROM evaluations WHERE sweep = @sweep AND (@runId IS NULL OR run_id = @runId)
         AND (@evaluator IS NULL OR evaluator = @evaluator) AND (@state IS NULL OR state = @state)
         ORDER BY run_id, evaluator`,
    ).all({
      sweep,
      runId: filter.runId ?? null,
      evaluator: filter.evaluator ?? null,
      state: filter.state ?? null,
    }) as EvaluationDb[];
    return rows.map((r) => {
      const row: EvaluationRow = {
        sweep: r.sweep,
        runId: r.run_id,
        evaluator: r.evaluator,
        state: r.state,
        attempts: r.attempts,
        gpuSeconds: r.gpu_seconds,
        updatedAt: r.updated_at,
      };
      if (r.failure_class !== null) row.failureClass = r.failure_class as EvaluationRow['failureClass'];
      if (r.message !== null) row.message = r.message;
      if (r.result !== null) row.result = JSON.parse(r.result);
      if (r.job_hash !== null) row.jobHash = r.job_hash;
      return row;
    });
  }

  async listEvaluators(sweep: string): Promise<EvaluatorSummary[]> {
    const rows = this.sql(`SELECT evaluator, state, updated_at FROM evaluations WHERE sweep = ?`).all(sweep) as {
      evaluator: string;
      state: EvaluationState;
      updated_at: string;
    }[];
    // Aggregated here, not by MAX(updated_at): text timestamps only sort as times when uniformly written.
    const by = new Map<string, { succeeded: number; latestMs: number }>();
    for (const r of rows) {
      const e = by.get(r.evaluator) ?? { succeeded: 0, latestMs: -Infinity };
      if (r.state === 'succeeded') e.succeeded++;
      e.latestMs = Math.max(e.latestMs, Date.parse(r.updated_at));
      by.set(r.evaluator, e);
    }
    return [...by]
      .sort(([a, x], [b, y]) => y.latestMs - x.latestMs || (a < b ? 1 : a > b ? -1 : 0))
      .map(([evaluator, e]) => ({ evaluator, succeeded: e.succeeded, latest: new Date(e.latestMs).toISOString() }));
  }

  async saveFit(row: Omit<FitRow, 'version' | 'createdAt'>): Promise<number> {
    const save = this.db.transaction(() => {
      const { v } = this.sql(`SELECT COALESCE(MAX(version), 0) + 1 AS v FROM fits WHERE sweep = ? AND name = ?`).get(
        row.sweep,
        row.name,
      ) as { v: number };
      this.sql(
        `INSERT INTO fits (sweep, name, version, n_results, stage, fit, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(row.sweep, row.name, v, row.nResults, row.stage, JSON.stringify(row.fit), new Date().toISOString());
      return v;
    });
    return save.immediate();
  }

  async latestFits(sweep: string): Promise<FitRow[]> {
    const rows = this.sql(
      `SELECT f.* FROM fits f JOIN (SELECT name, MAX(version) AS v FROM fits WHERE sweep = ? GROUP BY name) m
           ON f.name = m.name AND f.version = m.v WHERE f.sweep = ? ORDER BY f.name`,
    ).all(sweep, sweep) as FitDbRow[];
    return rows.map(fitRowOf);
  }

  async fitHistory(sweep: string, name: string, opts: { stage: FitRow['stage']; max?: number }): Promise<FitRow[]> {
    checkHistoryMax(opts.max);
    const rows = this.sql(
      `WITH v AS (SELECT version, ROW_NUMBER() OVER (ORDER BY version) AS i, COUNT(*) OVER () AS n
                    FROM fits WHERE sweep = @sweep AND name = @name AND stage = @stage)
       SELECT f.* FROM fits f JOIN v ON f.version = v.version
        WHERE f.sweep = @sweep AND f.name = @name${opts.max === undefined ? '' : ` AND (${FIT_HISTORY_SPACING.replaceAll('$max', 'CAST(@max AS INTEGER)')})`}
        ORDER BY f.version`,
    ).all({ sweep, name, stage: opts.stage, ...(opts.max === undefined ? {} : { max: opts.max }) }) as FitDbRow[];
    return rows.map(fitRowOf);
  }

  async saveReport(row: Omit<ReportRow, 'version' | 'createdAt'>): Promise<number> {
    checkReportRow(row);
    const save = this.db.transaction(() => {
      const { v } = this.sql(`SELECT COALESCE(MAX(version), 0) + 1 AS v FROM reports WHERE sweep = ?`).get(row.sweep) as {
        v: number;
      };
      this.sql(`INSERT INTO reports (sweep, version, html, fits, created_at) VALUES (?, ?, ?, ?, ?)`).run(
        row.sweep,
        v,
        row.html,
        row.fits === undefined ? null : JSON.stringify(row.fits),
        new Date().toISOString(),
      );
      return v;
    });
    return save.immediate();
  }

  async getReport(sweep: string, version?: number): Promise<ReportRow | undefined> {
    const r = (
      version === undefined
        ? this.sql(`SELECT * FROM reports WHERE sweep = ? ORDER BY version DESC LIMIT 1`).get(sweep)
        : this.sql(`SELECT * FROM reports WHERE sweep = ? AND version = ?`).get(sweep, version)
    ) as { sweep: string; version: number; html: string; fits: string | null; created_at: string } | undefined;
    if (!r) return undefined;
    return {
      sweep: r.sweep,
      version: r.version,
      html: r.html,
      ...(r.fits === null ? {} : { fits: JSON.parse(r.fits) }),
      createdAt: r.created_at,
    };
  }

  async changeStamp(sweep: string): Promise<string> {
    // Primary-key range scans only; no payload column is read.
    const r = this.sql(
      `SELECT (SELECT COUNT(*) || '/' || COALESCE(MAX(updated_at), '') FROM runs WHERE sweep = @s) AS runs,
              (SELECT COUNT(*) || '/' || COALESCE(MAX(recorded_at), '') FROM results WHERE sweep = @s) AS results,
              (SELECT COUNT(*) || '/' || COALESCE(MAX(updated_at), '') FROM evaluations WHERE sweep = @s) AS evals,
              (SELECT COUNT(*) FROM fits WHERE sweep = @s) AS fits,
              (SELECT COUNT(*) FROM reports WHERE sweep = @s) AS reports,
              (SELECT spec_hash FROM sweeps WHERE name = @s) AS spec`,
    ).get({ s: sweep }) as Record<string, string | number | null>;
    return [r.runs, r.results, r.evals, r.fits, r.reports, r.spec ?? ''].join(' ');
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
