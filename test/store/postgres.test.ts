import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../store/postgres';
import type { RunRow } from '../../store/types';
import { describeStoreContract } from './contract';
import { describeCrashInjection } from './crash';
import { startTestPg, type TestPg } from './pgServer';

// A real server, never a mock: started here (initdb as the `postgres` user) or SWEEP_TEST_PG_URL.
let server: TestPg | undefined;
beforeAll(async () => {
  server = await startTestPg();
}, 90_000);
afterAll(async () => {
  await server?.stop();
});

const started = (): TestPg => {
  if (!server) throw new Error('test Postgres did not start (see the beforeAll error above)');
  return server;
};
const serverUrl = (): string => started().url;

describeStoreContract('postgres', (options) => PostgresStore.open(serverUrl(), options));
describeCrashInjection('postgres', serverUrl);

describe('PostgresStore specifics', () => {
  it('workers starting together on an empty database migrate it exactly once', async () => {
    const url = await started().createDatabase(`sweep_race_${Date.now().toString(36)}`);
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(url)));
    try {
      await stores[0].upsertRun({
        sweep: 's',
        runId: 'r',
        axes: {},
        state: 'pending',
        attempts: 0,
        gpus: 1,
        gpuSeconds: 0,
        updatedAt: new Date().toISOString(),
      });
      expect(await stores[5].listRuns('s')).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    // Reopening an up-to-date database is a no-op.
    await (await PostgresStore.open(url)).close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const m = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM sweep_schema_migrations');
      // Four steps: the first schema, instance ids and job hashes, evaluations, then reports.
      expect(m.rows[0].n).toBe(4);
    } finally {
      await c.end();
    }
  });

  it('stores JSON columns as jsonb', async () => {
    await (await PostgresStore.open(serverUrl())).close();
    const c = new pg.Client({ connectionString: serverUrl() });
    await c.connect();
    try {
      const { rows } = await c.query<{ col: string; data_type: string }>(
        `SELECT table_name || '.' || column_name AS col, data_type FROM information_schema.columns
          WHERE table_schema = current_schema()
            AND column_name IN ('spec', 'axes', 'result', 'metrics', 'fit')`,
      );
      expect(rows.length).toBeGreaterThanOrEqual(6);
      for (const r of rows) expect(r, r.col).toMatchObject({ data_type: 'jsonb' });
    } finally {
      await c.end();
    }
  });

  it('open fails clearly on an unreachable server', async () => {
    await expect(PostgresStore.open('postgres://nobody@127.0.0.1:1/none')).rejects.toThrow();
  });

  it('upgrades a database made by the previous version, keeping its rows and gaining the new columns', async () => {
    const url = await started().createDatabase(`sweep_old_${Date.now().toString(36)}`);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      // The previous version's migration table and its one step, as a deployed database has them.
      await c.query(`CREATE TABLE sweep_schema_migrations (
        version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      await c.query(OLD_MIGRATION_1);
      await c.query(`INSERT INTO sweep_schema_migrations (version) VALUES (1)`);
      await c.query(`
        INSERT INTO sweeps VALUES ('old', 'h0', '{"a":1}', '2024-01-01T00:00:00.000Z');
        INSERT INTO runs VALUES ('old', 'r1', '{"seed":0}', 'succeeded', 1, NULL, NULL, 1, 10.5,
          '2024-01-01T00:01:00.000Z');
        INSERT INTO attempts VALUES ('old', 'r1', 1, 'job-r1-a1', 'succeeded', NULL, NULL, 0,
          '2024-01-01T00:00:30.000Z', '2024-01-01T00:01:00.000Z', 10.5);
        INSERT INTO results VALUES ('old', 'r1', 1, '{"seed":0}', '{"metrics":{"V1":0.5}}', 10.5,
          '2024-01-01T00:01:00.000Z');`);
    } finally {
      await c.end();
    }

    // Two workers upgrading at once: the advisory lock lets exactly one apply the step.
    const [s1, s2] = await Promise.all([PostgresStore.open(url), PostgresStore.open(url)]);
    try {
      await s2.close();
      const sweepRow = { name: 'old', specHash: 'h0', spec: { a: 1 }, createdAt: '2024-01-01T00:00:00.000Z' };
      expect(await s1.getSweep('old')).toStrictEqual(sweepRow);
      const runGot = await s1.getRun('old', 'r1');
      expect(runGot).toStrictEqual({
        sweep: 'old',
        runId: 'r1',
        axes: { seed: 0 },
        state: 'succeeded',
        attempts: 1,
        gpus: 1,
        gpuSeconds: 10.5,
        updatedAt: '2024-01-01T00:01:00.000Z',
      });
      const [attemptGot] = await s1.listAttempts('old');
      expect(attemptGot).toMatchObject({ jobName: 'job-r1-a1', exitCode: 0, gpuSeconds: 10.5 });
      expect(attemptGot.jobHash).toBeUndefined();
      const [resultGot] = await s1.listResults('old');
      expect(resultGot).toMatchObject({ attempt: 1, result: { metrics: { V1: 0.5 } } });
      expect(resultGot.jobHash).toBeUndefined();

      await s1.upsertSweep({ ...sweepRow, instanceId: 'inst-1' });
      await s1.upsertRun({ ...(runGot as RunRow), jobHash: 'job-aaa' });
      await s1.upsertAttempt({ ...attemptGot, jobHash: 'job-aaa' });
      await s1.recordResult({ ...resultGot, jobHash: 'job-aaa' });
      expect((await s1.getSweep('old'))?.instanceId).toBe('inst-1');
      expect((await s1.getRun('old', 'r1'))?.jobHash).toBe('job-aaa');
      expect((await s1.listAttempts('old'))[0].jobHash).toBe('job-aaa');
      expect((await s1.listResults('old'))[0].jobHash).toBe('job-aaa');

      // The evaluations table exists: an old run can be re-scored, and its points follow the evaluation.
      const ev = {
        sweep: 'old',
        runId: 'r1',
        evaluator: 'ev-a',
        state: 'succeeded' as const,
        attempts: 1,
        result: { metrics: { V1: 0.7 } },
        gpuSeconds: 1,
        updatedAt: '2024-02-01T00:00:00.000Z',
      };
      await s1.upsertEvaluation(ev);
      expect(await s1.listEvaluations('old')).toStrictEqual([ev]);
      expect(await s1.listDataPoints('old')).toStrictEqual([
        { sweep: 'old', runId: 'r1', axes: { seed: 0 }, metrics: { V1: 0.7 } },
      ]);

      // The reports table exists: an old sweep's final report can be kept and read back.
      expect(await s1.getReport('old')).toBeUndefined();
      expect(await s1.saveReport({ sweep: 'old', html: '<p>old</p>' })).toBe(1);
      expect((await s1.getReport('old'))?.html).toBe('<p>old</p>');
    } finally {
      await s1.close();
    }
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    try {
      const m = await check.query<{ v: number[] }>(
        'SELECT array_agg(version ORDER BY version) AS v FROM sweep_schema_migrations',
      );
      expect(m.rows[0].v).toEqual([1, 2, 3, 4]);
    } finally {
      await check.end();
    }
  });
});

/** Migration step 1 of the version before instance ids and job hashes (store/postgres.ts at 91c90f8), verbatim. */
const OLD_MIGRATION_1 = `
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
  `;
