import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../store/sqlite';
import { utf8Exceeds, type RunRow } from '../../store/types';
import { describeStoreContract } from './contract';
import { describeCrashInjection } from './crash';

// A file, never :memory:, because the contract opens several handles onto one database (as
// several workers on one machine would).
const dir = mkdtempSync(join(tmpdir(), 'sweep-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'nested', 'results.sqlite');

describeStoreContract('sqlite', (options) => SqliteStore.open(file, options));
describeCrashInjection('sqlite', () => file);

describe('SqliteStore specifics', () => {
  it('creates the parent directory and reopens an existing database with its data', async () => {
    const f = join(dir, 'a', 'b', 'reopen.sqlite');
    const s1 = await SqliteStore.open(f);
    await s1.upsertSweep({ name: 'kept', specHash: 'h', spec: { a: 1 }, createdAt: new Date(0).toISOString() });
    await s1.close();
    const s2 = await SqliteStore.open(f);
    try {
      expect(await s2.getSweep('kept')).toEqual({
        name: 'kept',
        specHash: 'h',
        spec: { a: 1 },
        createdAt: new Date(0).toISOString(),
      });
    } finally {
      await s2.close();
    }
  });

  it('opens a database made by the previous version, keeps its rows and gains the new columns', async () => {
    const f = join(dir, 'old-schema.sqlite');
    const old = new Database(f);
    old.exec(OLD_SCHEMA);
    old.exec(`
      INSERT INTO sweeps VALUES ('old', 'h0', '{"a":1}', '2024-01-01T00:00:00.000Z');
      INSERT INTO runs VALUES ('old', 'r1', '{"seed":0}', 'succeeded', 1, NULL, NULL, 1, 10.5, '2024-01-01T00:01:00.000Z');
      INSERT INTO attempts VALUES ('old', 'r1', 1, 'job-r1-a1', 'succeeded', NULL, NULL, 0,
        '2024-01-01T00:00:30.000Z', '2024-01-01T00:01:00.000Z', 10.5);
      INSERT INTO results VALUES ('old', 'r1', 1, '{"seed":0}', '{"metrics":{"V1":0.5}}', 10.5,
        '2024-01-01T00:01:00.000Z');
      INSERT INTO data_points VALUES ('old', 'r1', -1, '{"seed":0}', '{"V1":0.5}', NULL, NULL, NULL);`);
    old.close();

    // Two handles open it at once, as two workers after an upgrade: neither trips on the other's ALTER.
    const [s1, s2] = await Promise.all([SqliteStore.open(f), SqliteStore.open(f)]);
    try {
      await s2.close();
      const sweepRow = { name: 'old', specHash: 'h0', spec: { a: 1 }, createdAt: '2024-01-01T00:00:00.000Z' };
      expect(await s1.getSweep('old')).toStrictEqual(sweepRow);
      const runRow = {
        sweep: 'old',
        runId: 'r1',
        axes: { seed: 0 },
        state: 'succeeded',
        attempts: 1,
        gpus: 1,
        gpuSeconds: 10.5,
        updatedAt: '2024-01-01T00:01:00.000Z',
      };
      const runGot = await s1.getRun('old', 'r1');
      expect(runGot).toEqual(runRow);
      expect(runGot?.jobHash).toBeUndefined();
      const [attemptGot] = await s1.listAttempts('old');
      expect(attemptGot).toMatchObject({ jobName: 'job-r1-a1', exitCode: 0, gpuSeconds: 10.5 });
      expect(attemptGot.jobHash).toBeUndefined();
      const [resultGot] = await s1.listResults('old');
      expect(resultGot).toMatchObject({ attempt: 1, result: { metrics: { V1: 0.5 } } });
      expect(resultGot.jobHash).toBeUndefined();
      expect(await s1.listDataPoints('old')).toHaveLength(1);

      // The new fields can be written onto the old rows.
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
      expect(await s1.listDataPoints('old')).toEqual([
        { sweep: 'old', runId: 'r1', axes: { seed: 0 }, metrics: { V1: 0.7 } },
      ]);

      // The reports table exists: an old sweep's final report can be kept and read back.
      expect(await s1.getReport('old')).toBeUndefined();
      expect(await s1.saveReport({ sweep: 'old', html: '<p>old</p>' })).toBe(1);
      expect((await s1.getReport('old'))?.html).toBe('<p>old</p>');
    } finally {
      await s1.close();
    }
    const cols = new Database(f, { readonly: true });
    try {
      const names = (t: string) =>
        (cols.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
      expect(names('sweeps')).toContain('instance_id');
      for (const t of ['runs', 'attempts', 'results']) expect(names(t), t).toContain('job_hash');
      expect(names('evaluations')).toContain('evaluator');
    } finally {
      cols.close();
    }
  });
});

/** The schema of the version before instance ids and job hashes (store/sqlite.ts at 91c90f8), verbatim. */
const OLD_SCHEMA = `
CREATE TABLE IF NOT EXISTS sweeps (
  name TEXT PRIMARY KEY, spec_hash TEXT NOT NULL, spec TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, axes TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL, failure_class TEXT, message TEXT, gpus INTEGER NOT NULL,
  gpu_seconds REAL NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (sweep, run_id));
CREATE TABLE IF NOT EXISTS attempts (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, attempt INTEGER NOT NULL, job_name TEXT NOT NULL,
  state TEXT NOT NULL, failure_class TEXT, message TEXT, exit_code INTEGER, started_at TEXT NOT NULL,
  finished_at TEXT, gpu_seconds REAL NOT NULL, PRIMARY KEY (sweep, run_id, attempt));
CREATE TABLE IF NOT EXISTS results (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, attempt INTEGER NOT NULL, axes TEXT NOT NULL,
  result TEXT NOT NULL, gpu_seconds REAL NOT NULL, recorded_at TEXT NOT NULL, PRIMARY KEY (sweep, run_id));
CREATE TABLE IF NOT EXISTS data_points (
  sweep TEXT NOT NULL, run_id TEXT NOT NULL, epoch INTEGER NOT NULL, axes TEXT NOT NULL, metrics TEXT NOT NULL,
  n_params REAL, n_samples_seen REAL, total_flops REAL, PRIMARY KEY (sweep, run_id, epoch));
CREATE TABLE IF NOT EXISTS fits (
  sweep TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, n_results INTEGER NOT NULL,
  stage TEXT NOT NULL, fit TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (sweep, name, version));
`;

describe('utf8Exceeds (the report size check, made before storing)', () => {
  it('counts UTF-8 bytes, not characters, at the limit', () => {
    expect(utf8Exceeds('a'.repeat(10), 10)).toBe(false);
    expect(utf8Exceeds('a'.repeat(11), 10)).toBe(true);
    // Three 3-byte characters are 9 bytes; four are 12.
    expect(utf8Exceeds('€€€', 10)).toBe(false);
    expect(utf8Exceeds('€€€€', 10)).toBe(true);
    // A surrogate pair (two code units) is 4 bytes: 2 pairs = 8 bytes, 3 pairs = 12.
    expect(utf8Exceeds('😀😀', 10)).toBe(false);
    expect(utf8Exceeds('😀😀😀', 10)).toBe(true);
    expect(utf8Exceeds('', 0)).toBe(false);
  });
});
