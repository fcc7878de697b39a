import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResult } from '../../spec';
import type {
  AttemptEnd,
  AttemptRow,
  AttemptWrite,
  DataPoint,
  EvaluationRow,
  ResultRow,
  ResultsStore,
  RunRow,
  RunState,
  StoreOptions,
  SweepRow,
} from '../../store/types';

/**
 * The behaviour every ResultsStore must have, run against one implementation.
 *
 * `open` may be called several times (the concurrency tests open a second handle, as a second
 * worker would); every handle it returns must share one underlying database. The suite never
 * assumes that database is empty: each test writes under its own unique sweep names, so it can
 * run against a shared server. Every handle the suite opens, it closes. `open` passes its
 * options (the test-only fault hooks) to the store.
 */
export function describeStoreContract(name: string, open: (options?: StoreOptions) => Promise<ResultsStore>): void {
  describe(`ResultsStore contract: ${name}`, () => {
    let store: ResultsStore;
    const extra: ResultsStore[] = [];
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await Promise.all([store, ...extra].filter(Boolean).map((s) => s.close()));
    });
    const another = async (options?: StoreOptions) => {
      const s = await open(options);
      extra.push(s);
      return s;
    };

    describe('sweeps', () => {
      it('upsertSweep is idempotent and getSweep round-trips the row', async () => {
        const row = sweep(uniq('sw'));
        await store.upsertSweep(row);
        await store.upsertSweep(row);
        expect(await store.getSweep(row.name)).toEqual(row);
        expect((await store.listSweeps()).filter((s) => s.name === row.name)).toEqual([row]);
      });

      it('a second upsert replaces spec and hash but keeps the first createdAt', async () => {
        const row = sweep(uniq('sw'));
        await store.upsertSweep(row);
        const extended = { ...row, specHash: 'h2', spec: { axes: { seed: [0, 1, 2] } }, createdAt: ts(99) };
        await store.upsertSweep(extended);
        expect(await store.getSweep(row.name)).toEqual({ ...extended, createdAt: row.createdAt });
      });

      it('getSweep of an unknown name is undefined', async () => {
        expect(await store.getSweep(uniq('missing'))).toBeUndefined();
      });
    });

    describe('runs', () => {
      it('upsertRun is idempotent: the same row twice is one row', async () => {
        const s = uniq('sw');
        const r = run(s, 'resnet18-a1b2c3', 'pending');
        await store.upsertRun(r);
        await store.upsertRun(r);
        expect(await store.getRun(s, r.runId)).toEqual(r);
        expect(await store.listRuns(s)).toEqual([r]);
      });

      it('an upsert replaces the whole row, clearing optional fields it omits', async () => {
        const s = uniq('sw');
        const failed: RunRow = {
          ...run(s, 'r1', 'failed'),
          attempts: 1,
          failureClass: 'preempted',
          message: 'evicted by a higher-priority job',
          gpuSeconds: 123.25,
          updatedAt: ts(5),
        };
        await store.upsertRun(failed);
        expect(await store.getRun(s, 'r1')).toEqual(failed);
        const retrying: RunRow = { ...run(s, 'r1', 'running'), attempts: 2, gpuSeconds: 130.5, updatedAt: ts(6) };
        await store.upsertRun(retrying);
        const got = await store.getRun(s, 'r1');
        expect(got).toEqual(retrying);
        expect(got?.failureClass).toBeUndefined();
        expect(got?.message).toBeUndefined();
      });

      it('runs are keyed by (sweep, run id): the same cell in two sweeps is two rows', async () => {
        const [a, b] = [uniq('sw'), uniq('sw')];
        await store.upsertRun(run(a, 'same-id', 'succeeded'));
        await store.upsertRun(run(b, 'same-id', 'failed'));
        expect((await store.getRun(a, 'same-id'))?.state).toBe('succeeded');
        expect((await store.getRun(b, 'same-id'))?.state).toBe('failed');
        expect(await store.listRuns(a)).toHaveLength(1);
      });

      it('listRuns filters by state', async () => {
        const s = uniq('sw');
        const states: RunState[] = ['pending', 'running', 'running', 'succeeded', 'failed', 'cancelled', 'succeeded'];
        const rows = states.map((st, i) => run(s, `run-${i}`, st));
        for (const r of rows) await store.upsertRun(r);
        await store.upsertRun(run(uniq('other'), 'run-0', 'succeeded'));
        expect(byRunId(await store.listRuns(s))).toEqual(byRunId(rows));
        expect(byRunId(await store.listRuns(s, {}))).toEqual(byRunId(rows));
        for (const st of ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const) {
          const got = await store.listRuns(s, { state: st });
          expect(byRunId(got)).toEqual(byRunId(rows.filter((r) => r.state === st)));
        }
        expect(await store.listRuns(uniq('empty'))).toEqual([]);
      });

      it('getRun of an unknown run is undefined', async () => {
        expect(await store.getRun(uniq('sw'), 'nope')).toBeUndefined();
      });

      it('axis values keep their types (string, number, boolean)', async () => {
        const s = uniq('sw');
        const r: RunRow = {
          ...run(s, 'typed', 'pending'),
          axes: { arch: 'vit_b_16', width: 0.5, spc: 100, pretrained: false },
        };
        await store.upsertRun(r);
        expect((await store.getRun(s, 'typed'))?.axes).toStrictEqual(r.axes);
      });
    });

    describe('attempts', () => {
      it('upsertAttempt is keyed by (run id, attempt) and replaces on repeat', async () => {
        const s = uniq('sw');
        const a1: AttemptRow = attempt(s, 'r1', 1);
        await store.upsertAttempt(a1);
        await store.upsertAttempt(a1);
        const a1done: AttemptRow = {
          ...a1,
          state: 'failed',
          failureClass: 'oom',
          message: 'OOMKilled',
          exitCode: 137,
          finishedAt: ts(20),
          gpuSeconds: 61.5,
        };
        await store.upsertAttempt(a1done);
        const a2: AttemptRow = {
          ...attempt(s, 'r1', 2),
          state: 'succeeded',
          exitCode: 0,
          finishedAt: ts(40),
          gpuSeconds: 900,
        };
        await store.upsertAttempt(a2);
        await store.upsertAttempt(attempt(s, 'r2', 1));

        const r1 = byAttempt(await store.listAttempts(s, 'r1'));
        expect(r1).toEqual([a1done, a2]);
        // Exit code 0 is a value, not an absence.
        expect(r1[1].exitCode).toBe(0);
        expect(await store.listAttempts(s)).toHaveLength(3);
        expect(await store.listAttempts(s, 'nope')).toEqual([]);
      });

      it('a running attempt has no finishedAt, failure class, message or exit code', async () => {
        const s = uniq('sw');
        const a = attempt(s, 'r1', 1);
        await store.upsertAttempt(a);
        const [got] = await store.listAttempts(s, 'r1');
        expect(got).toEqual(a);
        for (const k of ['finishedAt', 'failureClass', 'message', 'exitCode'] as const) expect(got[k]).toBeUndefined();
      });
    });

    describe('results and data points', () => {
      it('recordResult round-trips the whole result (metrics, artifacts, checkpoints)', async () => {
        const s = uniq('sw');
        const row = result(s, 'r1', 1, withCheckpoints);
        await store.recordResult(row);
        await store.recordResult(row);
        expect(await store.listResults(s)).toEqual([row]);
      });

      it('listDataPoints gives the final result plus one point per checkpoint', async () => {
        const s = uniq('sw');
        const row = result(s, 'r1', 2, withCheckpoints);
        await store.recordResult(row);
        const points = byPoint(await store.listDataPoints(s));
        const base = { sweep: s, runId: 'r1', axes: row.axes };
        expect(points).toEqual(
          byPoint([
            {
              ...base,
              metrics: withCheckpoints.metrics,
              n_params: 11689512,
              n_samples_seen: 128000000,
              total_flops: 4.6e17,
            },
            {
              ...base,
              epoch: 10,
              metrics: { V1: 0.1, IT: 0.2, acc: 0.3 },
              n_params: 11689512,
              n_samples_seen: 12800000,
              total_flops: 4.6e16,
            },
            {
              ...base,
              epoch: 50,
              metrics: { V1: 0.2, IT: 0.35, acc: 0.6 },
              n_params: 11689512,
              n_samples_seen: 64000000,
              total_flops: 2.3e17,
            },
          ]),
        );
        expect(points.find((p) => p.epoch === undefined)).toBeDefined();
      });

      it('a second recordResult for a run replaces its result and its checkpoints', async () => {
        const s = uniq('sw');
        await store.recordResult(result(s, 'r1', 1, withCheckpoints));
        const replacement: JobResult = {
          metrics: { V1: 0.3, IT: 0.5, acc: 0.8 },
          n_params: 11689512,
          checkpoints: [{ epoch: 70, metrics: { V1: 0.25, IT: 0.45, acc: 0.7 } }],
        };
        const row2 = result(s, 'r1', 3, replacement);
        await store.recordResult(row2);
        expect(await store.listResults(s)).toEqual([row2]);
        const points = byPoint(await store.listDataPoints(s));
        expect(points.map((p) => p.epoch)).toEqual([undefined, 70]);
        expect(points[0].metrics).toEqual(replacement.metrics);

        // Replacing with a result without checkpoints leaves exactly the final point.
        const row3 = result(s, 'r1', 4, { metrics: { V1: 0.31, IT: 0.51, acc: 0.81 } });
        await store.recordResult(row3);
        expect(await store.listDataPoints(s)).toEqual([
          { sweep: s, runId: 'r1', axes: row3.axes, metrics: row3.result.metrics },
        ]);
      });

      it('results and data points are per sweep and per run', async () => {
        const [a, b] = [uniq('sw'), uniq('sw')];
        await store.recordResult(result(a, 'r1', 1, withCheckpoints));
        await store.recordResult(result(a, 'r2', 1, { metrics: { V1: 0.4 }, n_params: 5e6 }));
        await store.recordResult(result(b, 'r1', 1, { metrics: { V1: 0.9 } }));
        expect(await store.listResults(a)).toHaveLength(2);
        expect(await store.listDataPoints(a)).toHaveLength(4);
        expect(await store.listDataPoints(b)).toEqual([
          { sweep: b, runId: 'r1', axes: { arch: 'resnet18', seed: 0 }, metrics: { V1: 0.9 } },
        ]);
        expect(await store.listDataPoints(uniq('empty'))).toEqual([]);
        expect(await store.listResults(uniq('empty'))).toEqual([]);
      });

      it('a repeated checkpoint epoch keeps its last entry instead of failing the result', async () => {
        const s = uniq('sw');
        const row = result(s, 'r1', 1, {
          metrics: { V1: 0.5 },
          checkpoints: [
            { epoch: 10, metrics: { V1: 0.1 } },
            { epoch: 20, metrics: { V1: 0.2 } },
            { epoch: 10, metrics: { V1: 0.15 } },
          ],
        });
        await store.recordResult(row);
        const points = byPoint(await store.listDataPoints(s));
        expect(points.map((p) => [p.epoch, p.metrics.V1])).toEqual([
          [undefined, 0.5],
          [10, 0.15],
          [20, 0.2],
        ]);
      });

      it('large and fractional measures survive exactly', async () => {
        const s = uniq('sw');
        const big: JobResult = {
          metrics: { acc: 0.123456789012345, loss: 1e-12, neg: -3.5 },
          n_params: 175_000_000_000,
          n_samples_seen: 3.0e11,
          total_flops: 3.14e23,
        };
        const row = { ...result(s, 'big', 1, big), gpuSeconds: 1234567.891 };
        await store.recordResult(row);
        expect(await store.listResults(s)).toEqual([row]);
        const [p] = await store.listDataPoints(s);
        expect(p.total_flops).toBe(3.14e23);
        expect(p.n_params).toBe(175_000_000_000);
        expect(p.metrics.acc).toBe(0.123456789012345);
      });
    });

    describe("an attempt's launch and end are one transaction each", () => {
      /** Every row the store holds for one sweep, in a stable order. */
      const snapshot = async (h: ResultsStore, s: string) => ({
        runs: byRunId(await h.listRuns(s)),
        attempts: byAttempt(await h.listAttempts(s)),
        results: await h.listResults(s),
        points: byPoint(await h.listDataPoints(s)),
      });

      it('launchAttempt records the attempt and the run running; a replay changes nothing', async () => {
        const s = uniq('sw');
        await store.upsertRun(run(s, 'r1', 'pending'));
        const start = launch(s, 'r1', 1);
        await store.launchAttempt(start);
        const once = await snapshot(store, s);
        expect(once).toEqual({ runs: [start.run], attempts: [start.attempt], results: [], points: [] });
        await store.launchAttempt(start);
        expect(await snapshot(store, s)).toEqual(once);
      });

      it('finishAttempt records result, attempt and run; a replay changes nothing', async () => {
        const s = uniq('sw');
        await store.launchAttempt(launch(s, 'r1', 1));
        const end = succeeded(s, 'r1', 1);
        await store.finishAttempt(end);
        const once = await snapshot(store, s);
        expect(once.runs).toEqual([end.run]);
        expect(once.attempts).toEqual([end.attempt]);
        expect(once.results).toEqual([end.result]);
        expect(once.points.map((p) => p.epoch)).toEqual([undefined, 10, 50]);
        await store.finishAttempt(end);
        await store.finishAttempt(end);
        expect(await snapshot(store, s)).toEqual(once);
      });

      it('finishAttempt without a result records the failed attempt and keeps an earlier result', async () => {
        const s = uniq('sw');
        await store.launchAttempt(launch(s, 'r1', 1));
        await store.finishAttempt(succeeded(s, 'r1', 1));
        const kept = await store.listResults(s);
        // Re-submitted: attempt 2 runs and is preempted (retryable: the run stays running).
        await store.launchAttempt(launch(s, 'r1', 2));
        const end: AttemptEnd = {
          attempt: {
            ...attempt(s, 'r1', 2),
            state: 'failed',
            failureClass: 'preempted',
            message: 'evicted',
            exitCode: 143,
            finishedAt: ts(45),
            gpuSeconds: 7.5,
          },
          run: {
            ...run(s, 'r1', 'running'),
            attempts: 2,
            failureClass: 'preempted',
            message: 'evicted',
            gpuSeconds: 3608,
            updatedAt: ts(45),
          },
        };
        await store.finishAttempt(end);
        const after = await snapshot(store, s);
        expect(after.runs).toEqual([end.run]);
        expect(after.attempts).toEqual([succeeded(s, 'r1', 1).attempt, end.attempt]);
        expect(after.results).toEqual(kept);
      });

      it('a write that fails inside finishAttempt leaves result, attempt and run unchanged', async () => {
        const s = uniq('sw');
        await store.launchAttempt(launch(s, 'r1', 1));
        await store.finishAttempt(succeeded(s, 'r1', 1));
        await store.launchAttempt(launch(s, 'r1', 2));
        const before = await snapshot(store, s);
        const end = succeeded(s, 'r1', 2, { metrics: { V1: 0.9 }, checkpoints: [{ epoch: 70, metrics: { V1: 0.8 } }] });
        // The last write (the run) violates NOT NULL: the result and attempt written before it roll back.
        const bad: AttemptEnd = { ...end, run: { ...end.run, state: null as unknown as RunState } };
        await expect(store.finishAttempt(bad)).rejects.toThrow();
        expect(await snapshot(store, s)).toEqual(before);
        // The same end with a good run row then goes through whole.
        await store.finishAttempt(end);
        const after = await snapshot(store, s);
        expect(after.results).toEqual([end.result]);
        expect(after.attempts[1]).toEqual(end.attempt);
        expect(after.runs).toEqual([end.run]);
        expect(after.points.map((p) => p.epoch)).toEqual([undefined, 70]);
      });

      it('a failure injected between the writes rolls back every write before it', async () => {
        let failAfter: AttemptWrite | undefined;
        const calls: AttemptWrite[] = [];
        const faulty = await another({
          testHooks: {
            betweenWrites: (written) => {
              calls.push(written);
              if (written === failAfter) throw new Error(`injected failure after ${written}`);
            },
          },
        });
        const s = uniq('sw');
        await store.upsertRun(run(s, 'r1', 'pending'));
        const empty = await snapshot(store, s);

        failAfter = 'attempt';
        await expect(faulty.launchAttempt(launch(s, 'r1', 1))).rejects.toThrow('injected failure after attempt');
        expect(calls).toEqual(['attempt']);
        expect(await snapshot(store, s)).toEqual(empty);

        failAfter = undefined;
        await faulty.launchAttempt(launch(s, 'r1', 1));
        const launched = await snapshot(store, s);
        expect(launched.attempts).toEqual([launch(s, 'r1', 1).attempt]);

        for (const at of ['result', 'attempt'] as const) {
          calls.length = 0;
          failAfter = at;
          await expect(faulty.finishAttempt(succeeded(s, 'r1', 1))).rejects.toThrow(`injected failure after ${at}`);
          expect(calls).toEqual(at === 'result' ? ['result'] : ['result', 'attempt']);
          expect(await snapshot(store, s)).toEqual(launched);
        }

        calls.length = 0;
        failAfter = undefined;
        await faulty.finishAttempt(succeeded(s, 'r1', 1));
        expect(calls).toEqual(['result', 'attempt']);
        expect((await snapshot(store, s)).results).toEqual([succeeded(s, 'r1', 1).result]);
      });

      it('rows naming different runs or attempts are refused before anything is written', async () => {
        const s = uniq('sw');
        const end = succeeded(s, 'r1', 1);
        await expect(store.finishAttempt({ ...end, run: { ...end.run, runId: 'r2' } })).rejects.toThrow(
          'run.sweep/run.runId',
        );
        await expect(store.finishAttempt({ ...end, result: { ...end.result!, sweep: uniq('sw') } })).rejects.toThrow(
          'result.sweep/result.runId',
        );
        await expect(store.finishAttempt({ ...end, result: { ...end.result!, attempt: 2 } })).rejects.toThrow(
          'result.attempt 2',
        );
        await expect(
          store.launchAttempt({ ...launch(s, 'r1', 1), run: { ...end.run, sweep: uniq('sw') } }),
        ).rejects.toThrow('run.sweep/run.runId');
        expect(await snapshot(store, s)).toEqual({ runs: [], attempts: [], results: [], points: [] });
      });

      it('concurrent replays of one end from two handles leave exactly its rows', async () => {
        const second = await another();
        const s = uniq('sw');
        const handles = [store, second];
        await store.launchAttempt(launch(s, 'r1', 1));
        const end = succeeded(s, 'r1', 1);
        await Promise.all(Array.from({ length: 16 }, (_, i) => handles[i % 2].finishAttempt(end)));
        const after = await snapshot(second, s);
        expect(after.runs).toEqual([end.run]);
        expect(after.attempts).toEqual([end.attempt]);
        expect(after.results).toEqual([end.result]);
        expect(after.points).toHaveLength(3);
      });
    });

    describe('sweep instance id and job hashes', () => {
      it('instanceId round-trips and the first non-null one wins on later upserts', async () => {
        const row: SweepRow = { ...sweep(uniq('sw')), instanceId: 'inst-first' };
        await store.upsertSweep(row);
        expect(await store.getSweep(row.name)).toEqual(row);
        // Re-registering (another instance id) or extending (none) never moves it.
        await store.upsertSweep({ ...row, specHash: 'h2', instanceId: 'inst-second' });
        await store.upsertSweep({ ...row, specHash: 'h3', instanceId: undefined });
        const got = await store.getSweep(row.name);
        expect(got).toEqual({ ...row, specHash: 'h3' });
        expect(got?.instanceId).toBe('inst-first');
        expect((await store.listSweeps()).find((x) => x.name === row.name)?.instanceId).toBe('inst-first');
        expect((await (await another()).getSweep(row.name))?.instanceId).toBe('inst-first');
      });

      it('a sweep row without an instance id has none, and the first upsert with one fills it in', async () => {
        const row = sweep(uniq('sw'));
        await store.upsertSweep(row);
        const bare = await store.getSweep(row.name);
        expect(bare).toEqual(row);
        expect(bare && 'instanceId' in bare).toBe(false);
        await store.upsertSweep({ ...row, instanceId: 'inst-late' });
        await store.upsertSweep({ ...row, instanceId: 'inst-later' });
        expect((await store.getSweep(row.name))?.instanceId).toBe('inst-late');
      });

      it('concurrent first registrations from two handles settle on one instance id for good', async () => {
        const second = await another();
        const name = uniq('sw');
        const handles = [store, second];
        await Promise.all(
          Array.from({ length: 12 }, (_, i) => handles[i % 2].upsertSweep({ ...sweep(name), instanceId: `inst-${i}` })),
        );
        const winner = (await store.getSweep(name))?.instanceId;
        expect(winner).toMatch(/^inst-\d+$/);
        await second.upsertSweep({ ...sweep(name), instanceId: 'inst-late' });
        expect((await second.getSweep(name))?.instanceId).toBe(winner);
      });

      it('upsertRun: jobHash round-trips through getRun and listRuns; omitted keeps it, given replaces it', async () => {
        const s = uniq('sw');
        const r: RunRow = { ...run(s, 'r1', 'running'), jobHash: 'job-aaa' };
        await store.upsertRun(r);
        await store.upsertRun(run(s, 'r2', 'pending'));
        expect(await store.getRun(s, 'r1')).toEqual(r);
        expect(byRunId(await store.listRuns(s))).toEqual([r, run(s, 'r2', 'pending')]);
        expect(await store.listRuns(s, { state: 'running' })).toEqual([r]);
        const r2 = await store.getRun(s, 'r2');
        expect(r2 && 'jobHash' in r2).toBe(false);

        // An upsert without a hash keeps the stored one but still clears the other optional fields.
        await store.upsertRun({ ...r, failureClass: 'oom', message: 'OOMKilled' });
        const failedNoHash: RunRow = { ...run(s, 'r1', 'failed'), updatedAt: ts(7) };
        await store.upsertRun(failedNoHash);
        expect(await store.getRun(s, 'r1')).toEqual({ ...failedNoHash, jobHash: 'job-aaa' });

        await store.upsertRun({ ...failedNoHash, jobHash: 'job-bbb' });
        expect((await store.getRun(s, 'r1'))?.jobHash).toBe('job-bbb');
        expect((await store.listRuns(s, { state: 'failed' }))[0]?.jobHash).toBe('job-bbb');
      });

      it('upsertAttempt: jobHash round-trips through listAttempts; omitted keeps it, given replaces it', async () => {
        const s = uniq('sw');
        const a1: AttemptRow = { ...attempt(s, 'r1', 1), jobHash: 'job-aaa' };
        await store.upsertAttempt(a1);
        await store.upsertAttempt(attempt(s, 'r1', 2));
        expect(byAttempt(await store.listAttempts(s, 'r1'))).toEqual([a1, attempt(s, 'r1', 2)]);
        expect(await store.listAttempts(s)).toContainEqual(a1);

        const done: AttemptRow = { ...attempt(s, 'r1', 1), state: 'failed', exitCode: 1, finishedAt: ts(12) };
        await store.upsertAttempt(done);
        expect((await store.listAttempts(s, 'r1'))[0]).toEqual({ ...done, jobHash: 'job-aaa' });

        await store.upsertAttempt({ ...done, jobHash: 'job-bbb' });
        await store.upsertAttempt({ ...attempt(s, 'r1', 2), jobHash: 'job-ccc' });
        expect(byAttempt(await store.listAttempts(s)).map((a) => a.jobHash)).toEqual(['job-bbb', 'job-ccc']);
      });

      it('recordResult: jobHash round-trips through listResults and a new result replaces it whole', async () => {
        const s = uniq('sw');
        const row: ResultRow = { ...result(s, 'r1', 1, withCheckpoints), jobHash: 'job-aaa' };
        await store.recordResult(row);
        expect(await store.listResults(s)).toEqual([row]);
        const withHash: ResultRow = { ...result(s, 'r1', 2, { metrics: { V1: 0.5 } }), jobHash: 'job-bbb' };
        await store.recordResult(withHash);
        expect(await store.listResults(s)).toEqual([withHash]);
        // A result written without a hash must not inherit the previous result's.
        const noHash = result(s, 'r1', 3, { metrics: { V1: 0.6 } });
        await store.recordResult(noHash);
        const [got] = await store.listResults(s);
        expect(got).toEqual(noHash);
        expect('jobHash' in got).toBe(false);
        expect((await store.listDataPoints(s)).map((p) => p.metrics.V1)).toEqual([0.6]);
      });

      it('launchAttempt and finishAttempt write the job hash of the attempt, run and result', async () => {
        const s = uniq('sw');
        const start = launch(s, 'r1', 1);
        await store.launchAttempt({
          attempt: { ...start.attempt, jobHash: 'job-aaa' },
          run: { ...start.run, jobHash: 'job-aaa' },
        });
        expect((await store.listAttempts(s, 'r1'))[0]?.jobHash).toBe('job-aaa');
        expect((await store.getRun(s, 'r1'))?.jobHash).toBe('job-aaa');

        // The end's attempt and run carry no hash: the launch's stays; the result carries its own.
        const end = succeeded(s, 'r1', 1);
        await store.finishAttempt({ ...end, result: { ...end.result!, jobHash: 'job-aaa' } });
        expect(await store.listAttempts(s, 'r1')).toEqual([{ ...end.attempt, jobHash: 'job-aaa' }]);
        expect(await store.getRun(s, 'r1')).toEqual({ ...end.run, jobHash: 'job-aaa' });
        expect(await store.listResults(s)).toEqual([{ ...end.result!, jobHash: 'job-aaa' }]);

        // Attempt 2 under a changed job definition: every row it writes says so.
        const start2 = launch(s, 'r1', 2);
        await store.launchAttempt({
          attempt: { ...start2.attempt, jobHash: 'job-bbb' },
          run: { ...start2.run, jobHash: 'job-bbb' },
        });
        const end2 = succeeded(s, 'r1', 2);
        await store.finishAttempt({
          attempt: { ...end2.attempt, jobHash: 'job-bbb' },
          run: { ...end2.run, jobHash: 'job-bbb' },
          result: { ...end2.result!, jobHash: 'job-bbb' },
        });
        expect(byAttempt(await store.listAttempts(s)).map((a) => [a.attempt, a.jobHash])).toEqual([
          [1, 'job-aaa'],
          [2, 'job-bbb'],
        ]);
        expect((await store.listRuns(s))[0]?.jobHash).toBe('job-bbb');
        expect((await store.listResults(s)).map((r) => [r.attempt, r.jobHash])).toEqual([[2, 'job-bbb']]);
      });
    });

    describe('evaluations', () => {
      it('upsertEvaluation round-trips every field; listEvaluations filters by run, evaluator and state', async () => {
        const [s, other] = [uniq('sw'), uniq('sw')];
        const failed: EvaluationRow = {
          ...evaluation(s, 'r1', 'ev-a', 40),
          state: 'failed',
          attempts: 2,
          failureClass: 'oom',
          message: 'OOMKilled while scoring IT',
          result: undefined,
          jobHash: 'job-eval-a',
          gpuSeconds: 12.75,
        };
        delete failed.result;
        const ok = evaluation(s, 'r1', 'ev-b', 41, evalResult);
        const r2 = { ...evaluation(s, 'r2', 'ev-a', 42), state: 'running' as const, result: undefined };
        delete r2.result;
        for (const e of [failed, ok, r2]) await store.upsertEvaluation(e);
        await store.upsertEvaluation(evaluation(other, 'r1', 'ev-a', 43));

        expect(await store.listEvaluations(s)).toEqual([failed, ok, r2]);
        expect(await store.listEvaluations(s, {})).toEqual([failed, ok, r2]);
        expect(await store.listEvaluations(s, { runId: 'r1' })).toEqual([failed, ok]);
        expect(await store.listEvaluations(s, { evaluator: 'ev-a' })).toEqual([failed, r2]);
        expect(await store.listEvaluations(s, { state: 'succeeded' })).toEqual([ok]);
        expect(await store.listEvaluations(s, { runId: 'r1', evaluator: 'ev-a', state: 'failed' })).toEqual([failed]);
        expect(await store.listEvaluations(s, { runId: 'r2', state: 'failed' })).toEqual([]);
        expect(await store.listEvaluations(uniq('empty'))).toEqual([]);
        const [got] = await store.listEvaluations(s, { runId: 'r1', evaluator: 'ev-a' });
        expect('result' in got).toBe(false);
        expect(got.jobHash).toBe('job-eval-a');
      });

      it('an upsert replaces the whole row (optional fields it omits are cleared); a replay changes nothing', async () => {
        const s = uniq('sw');
        const running: EvaluationRow = {
          sweep: s,
          runId: 'r1',
          evaluator: 'ev-a',
          state: 'running',
          attempts: 1,
          jobHash: 'job-1',
          message: 'scoring',
          gpuSeconds: 0,
          updatedAt: ts(40),
        };
        await store.upsertEvaluation(running);
        await store.upsertEvaluation(running);
        expect(await store.listEvaluations(s)).toEqual([running]);
        const done = evaluation(s, 'r1', 'ev-a', 45, evalResult);
        await store.upsertEvaluation(done);
        await store.upsertEvaluation(done);
        const rows = await store.listEvaluations(s);
        expect(rows).toEqual([done]);
        expect(rows[0].message).toBeUndefined();
        expect(rows[0].jobHash).toBeUndefined();
        expect(rows[0].updatedAt).toBe(ts(45));
      });

      it('a succeeded evaluation rewritten as succeeded keeps its first updatedAt (a retry is not a newer evaluator)', async () => {
        const s = uniq('sw');
        await store.recordResult(result(s, 'r1', 1, withCheckpoints));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-old', 40, { metrics: { V1: 0.4 } }));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-new', 50, { metrics: { V1: 0.5 } }));
        // The old evaluator's write is retried late, with a later clock: it must not become the newest.
        const retried = { ...evaluation(s, 'r1', 'ev-old', 60, { metrics: { V1: 0.41 } }), gpuSeconds: 99 };
        await store.upsertEvaluation(retried);
        expect(await store.listEvaluations(s, { evaluator: 'ev-old' })).toEqual([{ ...retried, updatedAt: ts(40) }]);
        expect((await store.listDataPoints(s)).map((p) => p.metrics.V1)).toEqual([0.5]);
      });

      it('refuses a row it could not use, naming the field, and writes nothing', async () => {
        const s = uniq('sw');
        const noResult = { ...evaluation(s, 'r1', 'ev-a', 40), result: undefined };
        await expect(store.upsertEvaluation(noResult)).rejects.toThrow(/result is required/);
        await expect(
          store.upsertEvaluation({ ...evaluation(s, 'r1', 'ev-a', 40), updatedAt: 'yesterday' }),
        ).rejects.toThrow(/updatedAt/);
        await expect(store.upsertEvaluation({ ...evaluation(s, 'r1', 'ev-a', 40), attempts: -1 })).rejects.toThrow(
          /attempts/,
        );
        await expect(store.upsertEvaluation({ ...evaluation(s, 'r1', '', 40) })).rejects.toThrow(/evaluator/);
        expect(await store.listEvaluations(s)).toEqual([]);
      });

      it('data points come from the newest succeeded evaluation; runs without one keep their training points', async () => {
        const s = uniq('sw');
        await store.recordResult(result(s, 'r1', 1, withCheckpoints));
        await store.recordResult(result(s, 'r2', 1, { metrics: { V1: 0.9 }, n_params: 5e6 }));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-a', 40, { metrics: { V1: 0.61, IT: 0.62 } }));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-b', 50, { metrics: { V1: 0.71, IT: 0.72 } }));
        // Newer, but not succeeded: neither counts.
        await store.upsertEvaluation({ ...evaluation(s, 'r1', 'ev-c', 55), state: 'running', result: undefined });
        await store.upsertEvaluation({
          ...evaluation(s, 'r1', 'ev-d', 56, { metrics: { V1: 0.01 } }),
          state: 'failed',
          failureClass: 'bad-result',
        });
        const training = { arch: 'resnet18', seed: 0 };
        expect(byPoint(await store.listDataPoints(s))).toEqual([
          {
            sweep: s,
            runId: 'r1',
            axes: training,
            metrics: { V1: 0.71, IT: 0.72 },
            n_params: 11689512,
            n_samples_seen: 128000000,
            total_flops: 4.6e17,
          },
          { sweep: s, runId: 'r2', axes: training, metrics: { V1: 0.9 }, n_params: 5e6 },
        ]);

        // A tie in time goes to the greater evaluator string.
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-0', 50, { metrics: { V1: 0.8 } }));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-z', 50, { metrics: { V1: 0.9 } }));
        expect((await store.listDataPoints(s)).filter((p) => p.runId === 'r1').map((p) => p.metrics.V1)).toEqual([0.9]);
      });

      it('an explicit evaluator gives its points, and runs without its evaluation contribute nothing', async () => {
        const s = uniq('sw');
        await store.recordResult(result(s, 'r1', 1, withCheckpoints));
        await store.recordResult(result(s, 'r2', 1, { metrics: { V1: 0.9 } }));
        await store.recordResult(result(s, 'r3', 1, { metrics: { V1: 0.3 } }));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-a', 40, { metrics: { V1: 0.61 } }));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-b', 50, { metrics: { V1: 0.71 } }));
        await store.upsertEvaluation(evaluation(s, 'r2', 'ev-b', 50, { metrics: { V1: 0.72 } }));
        // r3's ev-a evaluation failed: it has none of ev-a's points.
        await store.upsertEvaluation({ ...evaluation(s, 'r3', 'ev-a', 45, { metrics: { V1: 0.2 } }), state: 'failed' });

        const V1 = (ps: DataPoint[]) => byPoint(ps).map((p) => [p.runId, p.metrics.V1]);
        expect(V1(await store.listDataPoints(s, { evaluator: 'ev-a' }))).toEqual([['r1', 0.61]]);
        expect(V1(await store.listDataPoints(s, { evaluator: 'ev-b' }))).toEqual([
          ['r1', 0.71],
          ['r2', 0.72],
        ]);
        expect(await store.listDataPoints(s, { evaluator: 'ev-unknown' })).toEqual([]);
        // Without one: the newest per run, and r3 (no succeeded evaluation) from training.
        expect(V1(await store.listDataPoints(s))).toEqual([
          ['r1', 0.71],
          ['r2', 0.72],
          ['r3', 0.3],
        ]);
        expect(V1(await store.listDataPoints(s, {}))).toEqual(V1(await store.listDataPoints(s)));
      });

      it('an evaluate-only run (no training result) gets its points from the evaluation and its run row', async () => {
        const s = uniq('sw');
        await store.upsertRun(run(s, 'pretrained', 'succeeded'));
        await store.upsertEvaluation(evaluation(s, 'pretrained', 'ev-a', 40, evalResult));
        const axes = { arch: 'resnet18', samples_per_class: 100, seed: 0 };
        const base = { sweep: s, runId: 'pretrained', axes };
        expect(byPoint(await store.listDataPoints(s))).toEqual([
          { ...base, metrics: { V1: 0.3, IT: 0.5 }, n_params: 25557032, total_flops: 1e18 },
          { ...base, epoch: 5, metrics: { V1: 0.15, IT: 0.25 }, n_params: 25557032, n_samples_seen: 6.4e6 },
        ]);
        expect(await store.listDataPoints(s, { evaluator: 'ev-a' })).toHaveLength(2);
        expect(await store.listResults(s)).toEqual([]);
      });

      it('counts missing from the evaluation come from the training result; its own counts win', async () => {
        const s = uniq('sw');
        await store.recordResult(result(s, 'r1', 1, { ...withCheckpoints, checkpoints: [] }));
        await store.recordResult(result(s, 'r2', 1, { ...withCheckpoints, checkpoints: [] }));
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-a', 40, { metrics: { IT: 0.5 } }));
        await store.upsertEvaluation(
          evaluation(s, 'r2', 'ev-a', 40, { metrics: { IT: 0.6 }, n_params: 7, total_flops: 3e19 }),
        );
        const axes = { arch: 'resnet18', seed: 0 };
        expect(byPoint(await store.listDataPoints(s))).toEqual([
          {
            sweep: s,
            runId: 'r1',
            axes,
            metrics: { IT: 0.5 },
            n_params: 11689512,
            n_samples_seen: 128000000,
            total_flops: 4.6e17,
          },
          {
            sweep: s,
            runId: 'r2',
            axes,
            metrics: { IT: 0.6 },
            n_params: 7,
            n_samples_seen: 128000000,
            total_flops: 3e19,
          },
        ]);
      });

      it("an evaluation's checkpoints are points; their counts fall back to the training checkpoint of the same epoch", async () => {
        const s = uniq('sw');
        await store.recordResult(result(s, 'r1', 1, withCheckpoints));
        await store.upsertEvaluation(
          evaluation(s, 'r1', 'ev-a', 40, {
            metrics: { IT: 0.5 },
            checkpoints: [
              // No counts: the training checkpoint at epoch 10 has them.
              { epoch: 10, metrics: { IT: 0.1 } },
              // Its own counts win over training's epoch 50.
              { epoch: 50, n_samples_seen: 1e7, total_flops: 2e16, metrics: { IT: 0.3 } },
              // No training checkpoint at 70: no counts (never the final result's).
              { epoch: 70, metrics: { IT: 0.4 } },
              // A repeated epoch keeps its last entry.
              { epoch: 10, metrics: { IT: 0.15 } },
            ],
          }),
        );
        const base = { sweep: s, runId: 'r1', axes: { arch: 'resnet18', seed: 0 }, n_params: 11689512 };
        expect(byPoint(await store.listDataPoints(s))).toEqual([
          { ...base, metrics: { IT: 0.5 }, n_samples_seen: 128000000, total_flops: 4.6e17 },
          { ...base, epoch: 10, metrics: { IT: 0.15 }, n_samples_seen: 12800000, total_flops: 4.6e16 },
          { ...base, epoch: 50, metrics: { IT: 0.3 }, n_samples_seen: 1e7, total_flops: 2e16 },
          { ...base, epoch: 70, metrics: { IT: 0.4 } },
        ]);
        // The evaluation replaces the training checkpoints: epoch 50's training metrics are gone.
        const points = await store.listDataPoints(s);
        expect(points.some((p) => p.metrics.V1 !== undefined)).toBe(false);
        // Data points come back ordered: the final point first, then checkpoints by epoch.
        expect(points.map((p) => p.epoch)).toEqual([undefined, 10, 50, 70]);
      });

      it('listEvaluators counts succeeded runs per evaluator, newest first', async () => {
        const s = uniq('sw');
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-a', 40, { metrics: { V1: 1 } }));
        await store.upsertEvaluation(evaluation(s, 'r2', 'ev-a', 42, { metrics: { V1: 1 } }));
        await store.upsertEvaluation({ ...evaluation(s, 'r3', 'ev-a', 44), state: 'failed', result: undefined });
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-b', 50, { metrics: { V1: 1 } }));
        await store.upsertEvaluation({ ...evaluation(s, 'r2', 'ev-c', 30), state: 'running', result: undefined });
        await store.upsertEvaluation(evaluation(uniq('other'), 'r1', 'ev-x', 59, { metrics: { V1: 1 } }));
        expect(await store.listEvaluators(s)).toEqual([
          { evaluator: 'ev-b', succeeded: 1, latest: ts(50) },
          { evaluator: 'ev-a', succeeded: 2, latest: ts(44) },
          { evaluator: 'ev-c', succeeded: 0, latest: ts(30) },
        ]);
        expect(await store.listEvaluators(uniq('empty'))).toEqual([]);
      });
    });

    describe('fits', () => {
      it('saveFit versions per (sweep, name) and latestFits returns the newest of each', async () => {
        const [s, other] = [uniq('sw'), uniq('sw')];
        expect(await store.latestFits(s)).toEqual([]);
        expect(await store.saveFit({ sweep: s, name: 'IT', nResults: 10, stage: 'point', fit: { a: 1 } })).toBe(1);
        expect(
          await store.saveFit({
            sweep: s,
            name: 'IT',
            nResults: 10,
            stage: 'bootstrap',
            fit: { a: 1, ci: [0.9, 1.1] },
          }),
        ).toBe(2);
        expect(await store.saveFit({ sweep: s, name: 'V1', nResults: 12, stage: 'point', fit: { a: 2 } })).toBe(1);
        expect(await store.saveFit({ sweep: s, name: 'IT', nResults: 20, stage: 'point', fit: { a: 3 } })).toBe(3);
        expect(await store.saveFit({ sweep: other, name: 'IT', nResults: 1, stage: 'point', fit: null })).toBe(1);

        const latest = [...(await store.latestFits(s))].sort((x, y) => x.name.localeCompare(y.name));
        expect(latest.map(({ createdAt: _c, ...f }) => f)).toEqual([
          { sweep: s, name: 'IT', version: 3, nResults: 20, stage: 'point', fit: { a: 3 } },
          { sweep: s, name: 'V1', version: 1, nResults: 12, stage: 'point', fit: { a: 2 } },
        ]);
        for (const f of latest) expect(Number.isNaN(Date.parse(f.createdAt))).toBe(false);
      });
    });

    describe('reports', () => {
      it('saveReport versions per sweep; getReport gives the newest, or the version asked for', async () => {
        const [s, other] = [uniq('sw'), uniq('sw')];
        expect(await store.getReport(s)).toBeUndefined();
        const fits = [{ name: 'IT', version: 3, final: true, params: { E: 0.5 } }];
        expect(await store.saveReport({ sweep: s, html: '<p>first – α</p>', fits })).toBe(1);
        expect(await store.saveReport({ sweep: s, html: '<p>second</p>' })).toBe(2);
        expect(await store.saveReport({ sweep: other, html: '<p>other</p>' })).toBe(1);

        const newest = await store.getReport(s);
        expect(newest).toMatchObject({ sweep: s, version: 2, html: '<p>second</p>' });
        // A report saved without fits reads back without them (not as null).
        expect(newest && 'fits' in newest).toBe(false);
        const first = await store.getReport(s, 1);
        expect(first).toMatchObject({ sweep: s, version: 1, html: '<p>first – α</p>', fits });
        expect(Number.isNaN(Date.parse(first?.createdAt ?? ''))).toBe(false);
        expect(await store.getReport(s, 3)).toBeUndefined();
        expect((await store.getReport(other))?.html).toBe('<p>other</p>');
      });

      it('refuses a page over MAX_REPORT_HTML_BYTES of UTF-8, naming the field, and stores nothing', async () => {
        const s = uniq('sw');
        // 8 MiB / 3 + 1 three-byte characters: under the limit in characters, over it in bytes.
        const html = '€'.repeat(Math.floor((8 * 1024 * 1024) / 3) + 1);
        await expect(store.saveReport({ sweep: s, html })).rejects.toThrow(/html is over 8388608 bytes/);
        expect(await store.getReport(s)).toBeUndefined();
      });

      it('changeStamp moves with every write a report reads, and only with the sweep\'s own', async () => {
        const [s, other] = [uniq('sw'), uniq('sw')];
        const stamps = [await store.changeStamp(s)];
        const moved = async () => {
          const now = await store.changeStamp(s);
          expect(stamps).not.toContain(now);
          stamps.push(now);
        };
        // Nothing written: the same stamp, and another sweep's writes do not move it.
        expect(await store.changeStamp(s)).toBe(stamps[0]);
        await store.upsertRun(run(other, 'r1', 'running'));
        await store.recordResult(result(other, 'r1', 1, { metrics: { V1: 0.1 } }));
        expect(await store.changeStamp(s)).toBe(stamps[0]);

        await store.upsertSweep(sweep(s));
        await moved();
        // Extended or re-submitted: a new spec.
        await store.upsertSweep({ ...sweep(s), specHash: 'h2' });
        await moved();
        await store.upsertRun(run(s, 'r1', 'running'));
        await moved();
        await store.upsertRun({ ...run(s, 'r1', 'succeeded'), updatedAt: ts(50) });
        await moved();
        await store.recordResult(result(s, 'r1', 1, { metrics: { V1: 0.1 } }));
        await moved();
        // A result replaced by a later attempt's.
        await store.recordResult(result(s, 'r1', 2, { metrics: { V1: 0.2 } }));
        await moved();
        await store.upsertEvaluation(evaluation(s, 'r1', 'ev-a', 40));
        await moved();
        await store.saveFit({ sweep: s, name: 'IT', nResults: 1, stage: 'point', fit: {} });
        await moved();
        await store.saveReport({ sweep: s, html: '<p>r</p>' });
        await moved();
        expect(await store.changeStamp(s)).toBe(stamps.at(-1));
      });
    });

    describe('concurrent writers (two handles, as two workers)', () => {
      it('concurrent upserts of the same keys never duplicate rows', async () => {
        const second = await another();
        const s = uniq('sw');
        const handles = [store, second];
        const r = run(s, 'contended', 'running');
        const a = attempt(s, 'contended', 1);
        const res = result(s, 'contended', 1, withCheckpoints);
        await Promise.all(
          Array.from({ length: 24 }, (_, i) => {
            const h = handles[i % 2];
            return Promise.all([h.upsertSweep(sweep(s)), h.upsertRun(r), h.upsertAttempt(a), h.recordResult(res)]);
          }),
        );
        expect((await second.listSweeps()).filter((x) => x.name === s)).toHaveLength(1);
        expect(await store.listRuns(s)).toEqual([r]);
        expect(await second.listAttempts(s)).toEqual([a]);
        expect(await store.listResults(s)).toEqual([res]);
        expect(await second.listDataPoints(s)).toHaveLength(3);
      });

      it('concurrent saveFit calls get distinct, gapless versions', async () => {
        const second = await another();
        const s = uniq('sw');
        const handles = [store, second];
        const versions = await Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            handles[i % 2].saveFit({ sweep: s, name: 'IT', nResults: i, stage: 'point', fit: { i } }),
          ),
        );
        expect([...versions].sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
        const [latest] = await second.latestFits(s);
        expect(latest.version).toBe(16);
      });

      it('a second handle reads what the first wrote', async () => {
        const s = uniq('sw');
        await store.upsertSweep(sweep(s));
        await store.upsertRun(run(s, 'r1', 'succeeded'));
        const second = await another();
        expect(await second.getSweep(s)).toEqual(sweep(s));
        expect((await second.getRun(s, 'r1'))?.state).toBe('succeeded');
      });
    });
  });
}

const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
/** Fixed, millisecond-precision ISO timestamps: every store must give them back unchanged. */
const ts = (minute: number) => new Date(Date.UTC(2024, 4, 1, 12, minute, 0, 250)).toISOString();

const sweep = (name: string): SweepRow => ({
  name,
  specHash: 'h1',
  spec: { name, axes: { arch: ['resnet18', 'vit_b_16'], seed: [0] }, nested: [{ a: null }] },
  createdAt: ts(0),
});

const run = (s: string, runId: string, state: RunState): RunRow => ({
  sweep: s,
  runId,
  axes: { arch: 'resnet18', samples_per_class: 100, seed: 0 },
  state,
  attempts: state === 'pending' ? 0 : 1,
  gpus: 1,
  gpuSeconds: 0,
  updatedAt: ts(1),
});

const attempt = (s: string, runId: string, n: number): AttemptRow => ({
  sweep: s,
  runId,
  attempt: n,
  jobName: `sweep-${runId}-a${n}`,
  state: 'running',
  startedAt: ts(n * 10),
  gpuSeconds: 0,
});

/** Attempt n of a run launched: the attempt and the run both `running`. */
const launch = (s: string, runId: string, n: number) => ({
  attempt: attempt(s, runId, n),
  run: { ...run(s, runId, 'running'), attempts: n, updatedAt: ts(n * 10) },
});

/** Attempt n of a run succeeded with result `r`: the three rows of its end. */
const succeeded = (s: string, runId: string, n: number, r: JobResult = withCheckpoints): AttemptEnd => ({
  attempt: { ...attempt(s, runId, n), state: 'succeeded', exitCode: 0, finishedAt: ts(n * 10 + 5), gpuSeconds: 3600.5 },
  run: { ...run(s, runId, 'succeeded'), attempts: n, gpuSeconds: 3600.5 * n, updatedAt: ts(n * 10 + 5) },
  result: result(s, runId, n, r),
});

const withCheckpoints: JobResult = {
  metrics: { V1: 0.22, V2: 0.29, V4: 0.5, IT: 0.42, Behavioral: 0.31, acc: 0.71 },
  n_params: 11689512,
  n_samples_seen: 128000000,
  total_flops: 4.6e17,
  artifacts: { checkpoint: 's3://bucket/run/ep100.pt' },
  checkpoints: [
    { epoch: 10, n_samples_seen: 12800000, total_flops: 4.6e16, metrics: { V1: 0.1, IT: 0.2, acc: 0.3 } },
    { epoch: 50, n_samples_seen: 64000000, total_flops: 2.3e17, metrics: { V1: 0.2, IT: 0.35, acc: 0.6 } },
  ],
};

const result = (s: string, runId: string, n: number, r: JobResult): ResultRow => ({
  sweep: s,
  runId,
  attempt: n,
  axes: { arch: 'resnet18', seed: 0 },
  result: r,
  gpuSeconds: 3600.5,
  recordedAt: ts(30 + n),
});

/** A succeeded evaluation of `runId` by `evaluator` at ts(minute) with result `r` (default: one metric). */
const evaluation = (
  s: string,
  runId: string,
  evaluator: string,
  minute: number,
  r: JobResult = { metrics: { V1: 0.5 } },
): EvaluationRow => ({
  sweep: s,
  runId,
  evaluator,
  state: 'succeeded',
  attempts: 1,
  result: r,
  gpuSeconds: 60.5,
  updatedAt: ts(minute),
});

/** An evaluate job's result with its own counts and one checkpoint. */
const evalResult: JobResult = {
  metrics: { V1: 0.3, IT: 0.5 },
  n_params: 25557032,
  total_flops: 1e18,
  artifacts: { scores: 's3://bucket/eval/scores.json' },
  checkpoints: [{ epoch: 5, n_samples_seen: 6.4e6, metrics: { V1: 0.15, IT: 0.25 } }],
};

const byRunId = (rows: RunRow[]) => [...rows].sort((a, b) => a.runId.localeCompare(b.runId));
const byAttempt = (rows: AttemptRow[]) =>
  [...rows].sort((a, b) => a.runId.localeCompare(b.runId) || a.attempt - b.attempt);
/** Final point first, then checkpoints by epoch: stores may return points in any order. */
const byPoint = (rows: DataPoint[]) =>
  [...rows].sort((a, b) => a.runId.localeCompare(b.runId) || (a.epoch ?? -1) - (b.epoch ?? -1));
