import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import type { AxisValue, FailureClass, JobResult } from '../spec';
import { mergeEvaluationPoints } from './evaluationPoints';
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

/**
 * Schema migrations, applied in order under an advisory lock. Append only: a deployed
 * cluster database is upgraded by running the steps it has not seen yet.
 * Measures (GPU-seconds, n_params, FLOPs) are double precision: FLOP counts overflow int8.
 * No foreign keys: activities may record a run before its sweep row lands (retries, races).
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sweeps (
    name        text PRIMARY KEY,
    spec_hash   text NOT NULL,
    spec        jsonb NOT NULL,
    created_at  timestamptz NOT NULL
  );
  CREATE TABLE runs (
    sweep          text NOT NULL,
    run_id         text NOT NULL,
    axes           jsonb NOT NULL,
    state          text NOT NULL,
    attempts       integer NOT NULL,
    failure_class  text,
    message        text,
    gpus           double precision NOT NULL,
    gpu_seconds    double precision NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (sweep, run_id)
  );
  CREATE INDEX runs_sweep_state ON runs (sweep, state);
  CREATE TABLE attempts (
    sweep          text NOT NULL,
    run_id         text NOT NULL,
    attempt        integer NOT NULL,
    job_name       text NOT NULL,
    state          text NOT NULL,
    failure_class  text,
    message        text,
    exit_code      integer,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    gpu_seconds    double precision NOT NULL,
    PRIMARY KEY (sweep, run_id, attempt)
  );
  CREATE TABLE results (
    sweep        text NOT NULL,
    run_id       text NOT NULL,
    attempt      integer NOT NULL,
    axes         jsonb NOT NULL,
    result       jsonb NOT NULL,
    gpu_seconds  double precision NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (sweep, run_id)
  );
  CREATE TABLE checkpoints (
    sweep           text NOT NULL,
    run_id          text NOT NULL,
    epoch           integer NOT NULL,
    n_samples_seen  double precision,
    total_flops     double precision,
    metrics         jsonb NOT NULL,
    PRIMARY KEY (sweep, run_id, epoch)
  );
  CREATE TABLE fit_heads (
    sweep    text NOT NULL,
    name     text NOT NULL,
    version  integer NOT NULL,
    PRIMARY KEY (sweep, name)
  );
  CREATE TABLE fits (
    sweep       text NOT NULL,
    name        text NOT NULL,
    version     integer NOT NULL,
    n_results   integer NOT NULL,
    stage       text NOT NULL,
    fit         jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (sweep, name, version)
  );
  `,
  // 2: the sweep instance (issue 15) and the job hash behind each run, attempt and result.
  // IF NOT EXISTS: a column added by hand (or a half-recorded step) does not wedge the upgrade.
  `
  ALTER TABLE sweeps ADD COLUMN IF NOT EXISTS instance_id text;
  ALTER TABLE runs ADD COLUMN IF NOT EXISTS job_hash text;
  ALTER TABLE attempts ADD COLUMN IF NOT EXISTS job_hash text;
  ALTER TABLE results ADD COLUMN IF NOT EXISTS job_hash text;
  `,
  // 3: evaluations (issue 9), one row per (run, evaluator): re-scoring adds rows beside the old ones.
  `
  CREATE TABLE IF NOT EXISTS evaluations (
    sweep          text NOT NULL,
    run_id         text NOT NULL,
    evaluator      text NOT NULL,
    state          text NOT NULL,
    attempts       integer NOT NULL,
    failure_class  text,
    message        text,
    result         jsonb,
    job_hash       text,
    gpu_seconds    double precision NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (sweep, run_id, evaluator)
  );
  `,
  // 4: the sweep's rendered reports (issue 12), versioned per sweep, readable from any machine.
  `
  CREATE TABLE IF NOT EXISTS reports (
    sweep       text NOT NULL,
    version     integer NOT NULL,
    html        text NOT NULL,
    fits        jsonb,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (sweep, version)
  );
  `,
];

/** Arbitrary but fixed: every worker and every test serialises migrations on this key. */
const MIGRATION_LOCK_KEY = 0x5ca1e5;

type Queryable = Pick<PoolClient, 'query'>;

/** The results store on Postgres, shared by every worker of a cluster deployment. */
function fitRowOf(r: FitDb): FitRow {
  return { sweep: r.sweep, name: r.name, version: r.version, nResults: r.n_results, stage: r.stage, fit: r.fit, createdAt: r.created_at.toISOString() };
}

export class PostgresStore implements ResultsStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly testHooks: StoreTestHooks,
  ) {}

  /** Connects and brings the schema up to date; safe when several workers start at once. */
  static async open(url: string, options: StoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    // An idle client's socket error would otherwise be an unhandled 'error' event and kill the worker.
    pool.on('error', () => {});
    try {
      await migrate(pool);
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new PostgresStore(pool, options.testHooks ?? {});
  }

  async upsertSweep(row: SweepRow): Promise<void> {
    // created_at keeps the first value: re-submitting or extending a sweep must not move its birth date.
    // A stored instance_id is kept too (first writer wins): it names the sweep for the store's life.
    await this.pool.query(
      `INSERT INTO sweeps (name, spec_hash, spec, created_at, instance_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO UPDATE SET spec_hash = EXCLUDED.spec_hash, spec = EXCLUDED.spec,
         instance_id = COALESCE(sweeps.instance_id, EXCLUDED.instance_id)`,
      [row.name, row.specHash, json(row.spec), row.createdAt, row.instanceId ?? null],
    );
  }

  async upsertRun(row: RunRow): Promise<void> {
    await writeRun(this.pool, row);
  }

  async upsertAttempt(row: AttemptRow): Promise<void> {
    await writeAttempt(this.pool, row);
  }

  async recordResult(row: ResultRow): Promise<void> {
    await this.transaction((c) => writeResult(c, row));
  }

  async launchAttempt(start: AttemptStart): Promise<void> {
    checkAttemptRows(start);
    await this.transaction(async (c) => {
      await writeAttempt(c, start.attempt);
      this.testHooks.betweenWrites?.('attempt');
      await writeRun(c, start.run);
    });
  }

  async finishAttempt(end: AttemptEnd): Promise<void> {
    checkAttemptRows(end);
    await this.transaction(async (c) => {
      if (end.result) {
        await writeResult(c, end.result);
        this.testHooks.betweenWrites?.('result');
      }
      await writeAttempt(c, end.attempt);
      this.testHooks.betweenWrites?.('attempt');
      await writeRun(c, end.run);
    });
  }

  async getSweep(name: string): Promise<SweepRow | undefined> {
    const { rows } = await this.pool.query<SweepDb>(`SELECT * FROM sweeps WHERE name = $1`, [name]);
    return rows[0] && toSweep(rows[0]);
  }

  async listSweeps(): Promise<SweepRow[]> {
    const { rows } = await this.pool.query<SweepDb>(`SELECT * FROM sweeps ORDER BY created_at, name`);
    return rows.map(toSweep);
  }

  async getRun(sweep: string, runId: string): Promise<RunRow | undefined> {
    const { rows } = await this.pool.query<RunDb>(`SELECT * FROM runs WHERE sweep = $1 AND run_id = $2`, [
      sweep,
      runId,
    ]);
    return rows[0] && toRun(rows[0]);
  }

  async listRuns(sweep: string, filter?: { state?: RunState }): Promise<RunRow[]> {
    const { rows } = filter?.state
      ? await this.pool.query<RunDb>(`SELECT * FROM runs WHERE sweep = $1 AND state = $2 ORDER BY run_id`, [
          sweep,
          filter.state,
        ])
      : await this.pool.query<RunDb>(`SELECT * FROM runs WHERE sweep = $1 ORDER BY run_id`, [sweep]);
    return rows.map(toRun);
  }

  async listAttempts(sweep: string, runId?: string): Promise<AttemptRow[]> {
    const { rows } =
      runId === undefined
        ? await this.pool.query<AttemptDb>(`SELECT * FROM attempts WHERE sweep = $1 ORDER BY run_id, attempt`, [sweep])
        : await this.pool.query<AttemptDb>(`SELECT * FROM attempts WHERE sweep = $1 AND run_id = $2 ORDER BY attempt`, [
            sweep,
            runId,
          ]);
    return rows.map(toAttempt);
  }

  async listResults(sweep: string): Promise<ResultRow[]> {
    const { rows } = await this.pool.query<ResultDb>(`SELECT * FROM results WHERE sweep = $1 ORDER BY run_id`, [sweep]);
    return rows.map(toResult);
  }

  async listDataPoints(sweep: string, opts: { evaluator?: string } = {}): Promise<DataPoint[]> {
    // Training points and evaluations from one snapshot (REPEATABLE READ), so a concurrent
    // recordResult / upsertEvaluation never shows a run's new rows beside its old ones.
    const { points, evals } = await this.snapshot(async (c) => {
      const points = await c.query<PointDb>(
        `SELECT r.run_id, r.axes, NULL::int AS epoch, r.result->'metrics' AS metrics,
                (r.result->>'n_params')::double precision AS n_params,
                (r.result->>'n_samples_seen')::double precision AS n_samples_seen,
                (r.result->>'total_flops')::double precision AS total_flops
           FROM results r WHERE r.sweep = $1
         UNION ALL
         SELECT c.run_id, r.axes, c.epoch, c.metrics,
                (r.result->>'n_params')::double precision, c.n_samples_seen, c.total_flops
           FROM checkpoints c JOIN results r ON r.sweep = c.sweep AND r.run_id = c.run_id
          WHERE c.sweep = $1
         ORDER BY run_id, epoch NULLS FIRST`,
        [sweep],
      );
      const evals = await c.query<SucceededDb>(
        `SELECT e.run_id, e.evaluator, e.result, e.updated_at, r.axes AS run_axes
           FROM evaluations e LEFT JOIN runs r ON r.sweep = e.sweep AND r.run_id = e.run_id
          WHERE e.sweep = $1 AND e.state = 'succeeded' AND e.result IS NOT NULL
            AND ($2::text IS NULL OR e.evaluator = $2)`,
        [sweep, opts.evaluator ?? null],
      );
      return { points: points.rows, evals: evals.rows };
    });
    const training = points.map((r) => {
      const p: DataPoint = { sweep, runId: r.run_id, axes: r.axes, metrics: r.metrics };
      if (r.epoch !== null) p.epoch = r.epoch;
      // A checkpoint is the same model at an earlier point: it inherits the run's n_params.
      if (r.n_params !== null) p.n_params = r.n_params;
      if (r.n_samples_seen !== null) p.n_samples_seen = r.n_samples_seen;
      if (r.total_flops !== null) p.total_flops = r.total_flops;
      return p;
    });
    const succeeded = evals.map((e) => ({
      runId: e.run_id,
      evaluator: e.evaluator,
      result: e.result,
      updatedAtMs: e.updated_at.getTime(),
      ...(e.run_axes === null ? {} : { runAxes: e.run_axes }),
    }));
    return mergeEvaluationPoints(sweep, training, succeeded, opts.evaluator);
  }

  async upsertEvaluation(row: EvaluationRow): Promise<void> {
    checkEvaluationRow(row);
    // The whole row is replaced, except that a succeeded row rewritten as succeeded keeps its
    // updated_at (SET expressions read the row as it was before this update).
    await this.pool.query(
      `INSERT INTO evaluations (sweep, run_id, evaluator, state, attempts, failure_class, message, result, job_hash,
                                gpu_seconds, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (sweep, run_id, evaluator) DO UPDATE SET
           state = EXCLUDED.state, attempts = EXCLUDED.attempts, failure_class = EXCLUDED.failure_class,
           message = EXCLUDED.message, result = EXCLUDED.result, job_hash = EXCLUDED.job_hash,
           gpu_seconds = EXCLUDED.gpu_seconds,
           updated_at = CASE WHEN evaluations.state = 'succeeded' AND EXCLUDED.state = 'succeeded'
             THEN evaluations.updated_at ELSE EXCLUDED.updated_at END`,
      [
        row.sweep,
        row.runId,
        row.evaluator,
        row.state,
        row.attempts,
        row.failureClass ?? null,
        row.message ?? null,
        row.result === undefined ? null : json(row.result),
        row.jobHash ?? null,
        row.gpuSeconds,
        row.updatedAt,
      ],
    );
  }

  async listEvaluations(
    sweep: string,
    filter: { runId?: string; evaluator?: string; state?: EvaluationState } = {},
  ): Promise<EvaluationRow[]> {
    const { rows } = await this.pool.query<EvaluationDb>(
      `SELECT * FROM evaluations
        WHERE sweep = $1 AND ($2::text IS NULL OR run_id = $2) AND ($3::text IS NULL OR evaluator = $3)
          AND ($4::text IS NULL OR state = $4)
        ORDER BY run_id COLLATE "C", evaluator COLLATE "C"`,
      [sweep, filter.runId ?? null, filter.evaluator ?? null, filter.state ?? null],
    );
    return rows.map(toEvaluation);
  }

  async listEvaluators(sweep: string): Promise<EvaluatorSummary[]> {
    const { rows } = await this.pool.query<{ evaluator: string; succeeded: number; latest: Date }>(
      `SELECT evaluator, (count(*) FILTER (WHERE state = 'succeeded'))::int AS succeeded, max(updated_at) AS latest
         FROM evaluations WHERE sweep = $1 GROUP BY evaluator
        ORDER BY latest DESC, evaluator COLLATE "C" DESC`,
      [sweep],
    );
    return rows.map((r) => ({ evaluator: r.evaluator, succeeded: r.succeeded, latest: r.latest.toISOString() }));
  }

  async saveFit(row: Omit<FitRow, 'version' | 'createdAt'>): Promise<number> {
    return this.transaction(async (c) => {
      // The head row is a per-(sweep, name) counter: its row lock hands out versions without gaps
      // or duplicates when several workers refit at once.
      const head = await c.query<{ version: number }>(
        `INSERT INTO fit_heads (sweep, name, version) VALUES ($1, $2, 1)
         ON CONFLICT (sweep, name) DO UPDATE SET version = fit_heads.version + 1
         RETURNING version`,
        [row.sweep, row.name],
      );
      const version = head.rows[0].version;
      await c.query(
        `INSERT INTO fits (sweep, name, version, n_results, stage, fit, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())`,
        [row.sweep, row.name, version, row.nResults, row.stage, json(row.fit)],
      );
      return version;
    });
  }

  async latestFits(sweep: string): Promise<FitRow[]> {
    const { rows } = await this.pool.query<FitDb>(
      `SELECT DISTINCT ON (name) * FROM fits WHERE sweep = $1 ORDER BY name, version DESC`,
      [sweep],
    );
    return rows.map(fitRowOf);
  }

  async fitHistory(sweep: string, name: string, opts: { stage: FitRow['stage']; max?: number }): Promise<FitRow[]> {
    checkHistoryMax(opts.max);
    const { rows } = await this.pool.query<FitDb>(
      `WITH v AS (SELECT version, ROW_NUMBER() OVER (ORDER BY version) AS i, COUNT(*) OVER () AS n
                    FROM fits WHERE sweep = $1 AND name = $2 AND stage = $3)
       SELECT f.* FROM fits f JOIN v ON f.version = v.version
        WHERE f.sweep = $1 AND f.name = $2${opts.max === undefined ? '' : ` AND (${FIT_HISTORY_SPACING.replaceAll('$max', '$4::bigint')})`}
        ORDER BY f.version`,
      opts.max === undefined ? [sweep, name, opts.stage] : [sweep, name, opts.stage, opts.max],
    );
    return rows.map(fitRowOf);
  }

  async saveReport(row: Omit<ReportRow, 'version' | 'createdAt'>): Promise<number> {
    checkReportRow(row);
    return this.transaction(async (c) => {
      // Serialises versioning per sweep (two workers finishing at once never take one version).
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('sweep-report:' || $1))`, [row.sweep]);
      const { rows } = await c.query<{ version: number }>(
        `INSERT INTO reports (sweep, version, html, fits, created_at)
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, now() FROM reports WHERE sweep = $1
         RETURNING version`,
        [row.sweep, row.html, row.fits === undefined ? null : json(row.fits)],
      );
      return rows[0].version;
    });
  }

  async getReport(sweep: string, version?: number): Promise<ReportRow | undefined> {
    const { rows } =
      version === undefined
        ? await this.pool.query<ReportDb>(`SELECT * FROM reports WHERE sweep = $1 ORDER BY version DESC LIMIT 1`, [sweep])
        : await this.pool.query<ReportDb>(`SELECT * FROM reports WHERE sweep = $1 AND version = $2`, [sweep, version]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      sweep: r.sweep,
      version: r.version,
      html: r.html,
      ...(r.fits === null ? {} : { fits: r.fits }),
      createdAt: r.created_at.toISOString(),
    };
  }

  async changeStamp(sweep: string): Promise<string> {
    // Index range scans on the primary keys; no payload column is read.
    const { rows } = await this.pool.query<{ stamp: string }>(
      `SELECT concat_ws(' ',
         (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM runs WHERE sweep = $1),
         (SELECT count(*) || '/' || coalesce(max(recorded_at)::text, '') FROM results WHERE sweep = $1),
         (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM evaluations WHERE sweep = $1),
         (SELECT count(*) FROM fits WHERE sweep = $1),
         (SELECT count(*) FROM reports WHERE sweep = $1),
         (SELECT spec_hash FROM sweeps WHERE name = $1)) AS stamp`,
      [sweep],
    );
    return rows[0].stamp;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Reads in one REPEATABLE READ snapshot: every statement sees the same committed state. */
  private async snapshot<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  private async transaction<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }
}

/**
 * Applies pending migrations. CREATE TABLE IF NOT EXISTS alone still races (duplicate pg_type
 * rows) when workers start together, so the whole check-and-apply runs under a session lock.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS sweep_schema_migrations (
        version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM sweep_schema_migrations`);
      const current = rows[0].v ?? 0;
      for (let v = current + 1; v <= MIGRATIONS.length; v++) {
        await inTransaction(c, async () => {
          await c.query(MIGRATIONS[v - 1]);
          await c.query(`INSERT INTO sweep_schema_migrations (version) VALUES ($1)`, [v]);
        });
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    c.release();
  }
}

async function writeRun(q: Queryable, row: RunRow): Promise<void> {
  await q.query(
    `INSERT INTO runs (sweep, run_id, axes, state, attempts, failure_class, message, gpus, gpu_seconds, updated_at,
                       job_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (sweep, run_id) DO UPDATE SET
         axes = EXCLUDED.axes, state = EXCLUDED.state, attempts = EXCLUDED.attempts,
         failure_class = EXCLUDED.failure_class, message = EXCLUDED.message, gpus = EXCLUDED.gpus,
         gpu_seconds = EXCLUDED.gpu_seconds, updated_at = EXCLUDED.updated_at,
         job_hash = COALESCE(EXCLUDED.job_hash, runs.job_hash)`,
    [
      row.sweep,
      row.runId,
      json(row.axes),
      row.state,
      row.attempts,
      row.failureClass ?? null,
      row.message ?? null,
      row.gpus,
      row.gpuSeconds,
      row.updatedAt,
      row.jobHash ?? null,
    ],
  );
}

async function writeAttempt(q: Queryable, row: AttemptRow): Promise<void> {
  await q.query(
    `INSERT INTO attempts (sweep, run_id, attempt, job_name, state, failure_class, message, exit_code,
                             started_at, finished_at, gpu_seconds, job_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (sweep, run_id, attempt) DO UPDATE SET
         job_name = EXCLUDED.job_name, state = EXCLUDED.state, failure_class = EXCLUDED.failure_class,
         message = EXCLUDED.message, exit_code = EXCLUDED.exit_code, started_at = EXCLUDED.started_at,
         finished_at = EXCLUDED.finished_at, gpu_seconds = EXCLUDED.gpu_seconds,
         job_hash = COALESCE(EXCLUDED.job_hash, attempts.job_hash)`,
    [
      row.sweep,
      row.runId,
      row.attempt,
      row.jobName,
      row.state,
      row.failureClass ?? null,
      row.message ?? null,
      row.exitCode ?? null,
      row.startedAt,
      row.finishedAt ?? null,
      row.gpuSeconds,
      row.jobHash ?? null,
    ],
  );
}

/** The result row and its checkpoints; callers run it inside a transaction on `c`. */
async function writeResult(c: Queryable, row: ResultRow): Promise<void> {
  // The upsert comes first: its row lock serialises concurrent recordings of one run, so the
  // checkpoint replacement below never interleaves with another writer's.
  // The whole row is replaced, job_hash too: a result never keeps another result's hash.
  await c.query(
    `INSERT INTO results (sweep, run_id, attempt, axes, result, gpu_seconds, recorded_at, job_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (sweep, run_id) DO UPDATE SET
           attempt = EXCLUDED.attempt, axes = EXCLUDED.axes, result = EXCLUDED.result,
           gpu_seconds = EXCLUDED.gpu_seconds, recorded_at = EXCLUDED.recorded_at, job_hash = EXCLUDED.job_hash`,
    [
      row.sweep,
      row.runId,
      row.attempt,
      json(row.axes),
      json(row.result),
      row.gpuSeconds,
      row.recordedAt,
      row.jobHash ?? null,
    ],
  );
  await c.query(`DELETE FROM checkpoints WHERE sweep = $1 AND run_id = $2`, [row.sweep, row.runId]);
  const cps = row.result.checkpoints ?? [];
  if (cps.length === 0) return;
  // One round trip for all checkpoints; a repeated epoch keeps its last entry (DISTINCT ON
  // over descending ordinality) instead of failing the whole result.
  await c.query(
    `INSERT INTO checkpoints (sweep, run_id, epoch, n_samples_seen, total_flops, metrics)
         SELECT DISTINCT ON ((e->>'epoch')::int) $1, $2, (e->>'epoch')::int,
                (e->>'n_samples_seen')::double precision, (e->>'total_flops')::double precision, e->'metrics'
         FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS t(e, i)
         ORDER BY (e->>'epoch')::int, i DESC`,
    [row.sweep, row.runId, json(cps)],
  );
}

async function inTransaction(c: Queryable, fn: () => Promise<void>): Promise<void> {
  await c.query('BEGIN');
  try {
    await fn();
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * JSON parameters are passed pre-serialised: node-postgres would send a JS array as a Postgres
 * array literal, not as JSON.
 */
function json(v: unknown): string {
  return JSON.stringify(v ?? null);
}

interface ReportDb extends QueryResultRow {
  sweep: string;
  version: number;
  html: string;
  fits: unknown;
  created_at: Date;
}
interface SweepDb extends QueryResultRow {
  name: string;
  spec_hash: string;
  spec: unknown;
  created_at: Date;
  instance_id: string | null;
}
interface RunDb extends QueryResultRow {
  sweep: string;
  run_id: string;
  axes: Record<string, AxisValue>;
  state: RunState;
  attempts: number;
  failure_class: FailureClass | null;
  message: string | null;
  gpus: number;
  gpu_seconds: number;
  updated_at: Date;
  job_hash: string | null;
}
interface AttemptDb extends QueryResultRow {
  sweep: string;
  run_id: string;
  attempt: number;
  job_name: string;
  state: AttemptRow['state'];
  failure_class: FailureClass | null;
  message: string | null;
  exit_code: number | null;
  started_at: Date;
  finished_at: Date | null;
  gpu_seconds: number;
  job_hash: string | null;
}
interface ResultDb extends QueryResultRow {
  sweep: string;
  run_id: string;
  attempt: number;
  axes: Record<string, AxisValue>;
  result: JobResult;
  gpu_seconds: number;
  recorded_at: Date;
  job_hash: string | null;
}
interface PointDb extends QueryResultRow {
  run_id: string;
  axes: Record<string, AxisValue>;
  epoch: number | null;
  metrics: Record<string, number>;
  n_params: number | null;
  n_samples_seen: number | null;
  total_flops: number | null;
}
interface SucceededDb extends QueryResultRow {
  run_id: string;
  evaluator: string;
  result: JobResult;
  updated_at: Date;
  run_axes: Record<string, AxisValue> | null;
}
interface EvaluationDb extends QueryResultRow {
  sweep: string;
  run_id: string;
  evaluator: string;
  state: EvaluationState;
  attempts: number;
  failure_class: FailureClass | null;
  message: string | null;
  result: JobResult | null;
  job_hash: string | null;
  gpu_seconds: number;
  updated_at: Date;
}
interface FitDb extends QueryResultRow {
  sweep: string;
  name: string;
  version: number;
  n_results: number;
  stage: FitRow['stage'];
  fit: unknown;
  created_at: Date;
}

const toSweep = (r: SweepDb): SweepRow => ({
  name: r.name,
  specHash: r.spec_hash,
  spec: r.spec,
  createdAt: r.created_at.toISOString(),
  ...(r.instance_id === null ? {} : { instanceId: r.instance_id }),
});

function toRun(r: RunDb): RunRow {
  const row: RunRow = {
    sweep: r.sweep,
    runId: r.run_id,
    axes: r.axes,
    state: r.state,
    attempts: r.attempts,
    gpus: r.gpus,
    gpuSeconds: r.gpu_seconds,
    updatedAt: r.updated_at.toISOString(),
  };
  if (r.failure_class !== null) row.failureClass = r.failure_class;
  if (r.message !== null) row.message = r.message;
  if (r.job_hash !== null) row.jobHash = r.job_hash;
  return row;
}

function toAttempt(r: AttemptDb): AttemptRow {
  const row: AttemptRow = {
    sweep: r.sweep,
    runId: r.run_id,
    attempt: r.attempt,
    jobName: r.job_name,
    state: r.state,
    startedAt: r.started_at.toISOString(),
    gpuSeconds: r.gpu_seconds,
  };
  if (r.failure_class !== null) row.failureClass = r.failure_class;
  if (r.message !== null) row.message = r.message;
  if (r.exit_code !== null) row.exitCode = r.exit_code;
  if (r.finished_at !== null) row.finishedAt = r.finished_at.toISOString();
  if (r.job_hash !== null) row.jobHash = r.job_hash;
  return row;
}

const toResult = (r: ResultDb): ResultRow => ({
  sweep: r.sweep,
  runId: r.run_id,
  attempt: r.attempt,
  axes: r.axes,
  result: r.result,
  gpuSeconds: r.gpu_seconds,
  recordedAt: r.recorded_at.toISOString(),
  ...(r.job_hash === null ? {} : { jobHash: r.job_hash }),
});

function toEvaluation(r: EvaluationDb): EvaluationRow {
  const row: EvaluationRow = {
    sweep: r.sweep,
    runId: r.run_id,
    evaluator: r.evaluator,
    state: r.state,
    attempts: r.attempts,
    gpuSeconds: r.gpu_seconds,
    updatedAt: r.updated_at.toISOString(),
  };
  if (r.failure_class !== null) row.failureClass = r.failure_class;
  if (r.message !== null) row.message = r.message;
  if (r.result !== null) row.result = r.result;
  if (r.job_hash !== null) row.jobHash = r.job_hash;
  return row;
}
