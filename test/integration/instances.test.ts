import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../activities/executors/local';
import { SweepSpecSchema, type SweepSpecInput } from '../../spec';
import { SqliteStore } from '../../store/sqlite';
import { createSweepWorker } from '../../worker';
import { REPO_ROOT } from '../../worker/settings';
import type { SweepSummary } from '../../contract';
import { sweepCli } from './helpers/cli';
import { readLaunches } from './helpers/launchLog';
import { startHarness, type Harness } from './helpers/harness';

// The job writes its first argument (`tag`) and its pid into its result: which command and
// which process produced a result is in the result itself.
const spec = (tag: number, over: Partial<SweepSpecInput> = {}) =>
  SweepSpecSchema.parse({
    name: 'again',
    grid: { x: [1, 2, 3, 4] },
    job: { command: ['node', 'test/fixtures/resultJob.mjs'], args: [String(tag)], resources: { gpus: 0 } },
    concurrency: { maxRuns: 4 },
    metrics: ['score', 'tag', 'pid'],
    ...over,
  });

describe('a sweep never reuses another sweep’s attempt or result', () => {
  let h: Harness;
  let second: { worker: Worker; store: SqliteStore; running: Promise<void> } | undefined;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    second?.worker.shutdown();
    await second?.running.catch(() => undefined);
    await second?.store.close();
    await h?.stop();
  });
  const launches = () => readLaunches(h.dirs.launchLog);
  const run = async (tag: number) =>
    (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/again',
      args: [spec(tag)],
    })) as SweepSummary;

  it('same store: an unchanged spec reruns nothing; a changed job.args reruns every run with the new command', async () => {
    expect((await run(1)).byState.succeeded).toBe(4);
    expect(launches()).toHaveLength(4);
    const firstInstance = (await h.store.getSweep('again'))?.instanceId;
    expect(firstInstance).toMatch(/^[0-9a-f]{12}$/);

    // Unchanged: nothing runs, and `sweep plan` says so before anything starts.
    const sameFile = join(h.dirs.root, 'again-1.json');
    writeFileSync(sameFile, JSON.stringify(spec(1)));
    const same = await sweepCli(['plan', sameFile], { ...h.childEnv, SWEEP_DB: h.dirs.db, NO_COLOR: '1' });
    expect(same.stdout).toMatch(/4 of 4 runs reused \(succeeded, same job definition\)/);
    expect((await run(1)).byState.succeeded).toBe(4);
    expect(launches()).toHaveLength(4);

    // Changed args: every run reruns, at attempt 2, and every result is the new command's.
    const changedFile = join(h.dirs.root, 'again-2.json');
    writeFileSync(changedFile, JSON.stringify(spec(2)));
    const preview = await sweepCli(['plan', changedFile], { ...h.childEnv, SWEEP_DB: h.dirs.db, NO_COLOR: '1' });
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout).toMatch(
      /0 of 4 runs reused \(succeeded, same job definition\); 4 rerun because the job definition changed/,
    );
    expect((await run(2)).byState.succeeded).toBe(4);
    const rerun = launches().slice(4);
    expect(rerun.map((l) => l.attempt)).toEqual([2, 2, 2, 2]);
    const results = await h.store.listResults('again');
    expect(results.map((r) => r.result.metrics.tag)).toEqual([2, 2, 2, 2]);
    expect(new Set(results.map((r) => r.result.metrics.pid))).toEqual(new Set(rerun.map((l) => l.pid)));
    // Results and attempts record the job definition that produced them.
    const hashes = new Set(results.map((r) => r.jobHash));
    expect(hashes.size).toBe(1);
    const attempts = await h.store.listAttempts('again');
    expect(new Set(attempts.filter((a) => a.attempt === 2).map((a) => a.jobHash))).toEqual(hashes);
    expect(attempts.filter((a) => a.attempt === 1).every((a) => a.jobHash && !hashes.has(a.jobHash))).toBe(true);
    expect((await h.store.getSweep('again'))?.instanceId).toBe(firstInstance);
  }, 180_000);

  it('a fresh results store under the same name: every job runs again and no old result appears', async () => {
    // The same server, executor registry and sweep name; only the store is new (SWEEP_DB elsewhere).
    h.worker.shutdown();
    await new Promise((r) => setTimeout(r, 500));
    const store = new SqliteStore(join(h.dirs.root, 'fresh.db'));
    const { worker } = await createSweepWorker({
      connection: h.env.nativeConnection,
      clientConnection: h.env.connection,
      namespace: h.namespace,
      store,
      executors: { local: new LocalExecutor({ dir: h.dirs.local, cwd: REPO_ROOT, launchLog: h.dirs.launchLog }) },
      reportDir: h.dirs.reports,
    });
    second = { worker, store, running: worker.run() };
    const before = launches().length;
    const summary = (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/again',
      args: [spec(2)],
    })) as SweepSummary;
    expect(summary.byState.succeeded).toBe(4);
    const fresh = launches().slice(before);
    // Attempt 1 of every run, launched anew: the old instance's attempt-1 folders were not adopted.
    expect(fresh.map((l) => l.attempt)).toEqual([1, 1, 1, 1]);
    const results = await store.listResults('again');
    expect(new Set(results.map((r) => r.result.metrics.pid))).toEqual(new Set(fresh.map((l) => l.pid)));
    expect((await store.getSweep('again'))?.instanceId).not.toBe((await h.store.getSweep('again'))?.instanceId);
  }, 180_000);
});
