/**
 * Issue 8 item 9: the CLI tells the truth. `sweep start --watch` and `sweep watch` exit with how
 * the sweep ended (0 completed, 1 failed, 3 cancelled or terminated), and `status` / `runs`
 * answer for a sweep that has ended after every worker is gone (Temporal's record + the store).
 * Before the fix both watch commands exited 0 whatever happened, and status / runs needed a
 * worker to answer their query. Also: piped tables carry no ANSI escape codes.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Worker } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SweepSpecSchema, type SweepSpecInput } from '../../spec';
import type { ResultsStore } from '../../store/types';
import { createSweepWorker } from '../../worker';
import { progressQuery } from '../../contract';
import { sweepCli } from './helpers/cli';
import { startHarness, waitFor, type Harness } from './helpers/harness';

let h: Harness;
let broken: Worker;
let brokenRun: Promise<void>;

const spec = (name: string, seconds: number, xs: number[]): SweepSpecInput => ({
  name,
  grid: { x: xs },
  job: { image: 'unused:local', command: ['node', 'sim/sleepJob.mjs', `--seconds=${seconds}`], resources: { gpus: 1 } },
  executor: { kind: 'local' },
  concurrency: { maxRuns: 4 },
  metrics: ['score'],
});

function specFile(s: SweepSpecInput): string {
  const file = join(h.dirs.root, `${s.name}.yaml`);
  writeFileSync(file, stringify(s));
  return file;
}

/** The CLI pointed at the harness and its store, with output piped (as in CI or `| grep`). */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000) =>
  sweepCli(args, { ...h.childEnv, SWEEP_DB: h.dirs.db, ...env }, timeoutMs);

beforeAll(async () => {
  h = await startHarness();
  // A second worker, on its own task queue, whose results store refuses to record a sweep (a
  // store that is down, full or read-only): every sweep started there fails.
  const refusing: ResultsStore = Object.create(h.store) as ResultsStore;
  refusing.upsertSweep = () => Promise.reject(ApplicationFailure.nonRetryable('results store is read-only (test)', 'StoreRefused'));
  ({ worker: broken } = await createSweepWorker({
    connection: h.env.nativeConnection,
    clientConnection: h.env.connection,
    namespace: h.namespace,
    taskQueue: 'refusing-store',
    store: refusing,
    executors: { local: h.executor },
    reportDir: h.dirs.reports,
  }));
  brokenRun = broken.run();
});

afterAll(async () => {
  if (broken?.getState() === 'RUNNING') broken.shutdown();
  await brokenRun?.catch(() => undefined);
  await h?.stop();
});

describe('exit codes say how the sweep ended', () => {
  it('completed: `start --watch` exits 0', async () => {
    const r = await cli(['start', specFile(spec('truth-ok', 0, [1, 2, 4])), '--watch']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sweep completed\s*$/);
  });

  it('failed: `start --watch` exits 1 and says why (TEMPORAL_TASK_QUEUE picks the worker)', async () => {
    const r = await cli(['start', specFile(spec('truth-fail', 0, [1, 2])), '--watch'], { TEMPORAL_TASK_QUEUE: 'refusing-store' });
    expect(r.stdout).toContain('started sweep/truth-fail on task queue refusing-store');
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/sweep failed: .*results store is read-only \(test\)/);
  });

  it('refused inside Temporal (InvalidSpec): `watch` exits 1', async () => {
    // Started past the CLI's own checks, as `temporal workflow start` would.
    const bad = { ...SweepSpecSchema.parse(spec('truth-bad', 0, [1])), concurrency: { maxRuns: 0 } };
    await h.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/truth-bad', args: [bad] });
    const r = await cli(['watch', 'truth-bad']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/sweep failed: invalid sweep spec: .*concurrency\.maxRuns/);
  });

  it('cancelled with `sweep cancel`: `start --watch` exits 3', async () => {
    const watching = cli(['start', specFile(spec('truth-cancel', 60, [1, 2])), '--watch']);
    const handle = h.env.client.workflow.getHandle('sweep/truth-cancel');
    await waitFor('both runs running', async () => (await handle.query(progressQuery)).byState.running === 2, { timeoutMs: 60_000, intervalMs: 250 });
    const c = await cli(['cancel', 'truth-cancel']);
    expect(c.code, c.stderr).toBe(0);
    const r = await watching;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(3);
    expect(r.stdout).toMatch(/sweep cancelled\s*$/);
  }, 120_000);

  it('terminated, and no worker ever answered: `watch` exits 3', async () => {
    // No worker polls this queue: watch must neither hang on the query nor call it a success.
    await h.env.client.workflow.start('sweep', { taskQueue: 'nobody-polls', workflowId: 'sweep/truth-term', args: [spec('truth-term', 0, [1])] });
    const watching = cli(['watch', 'truth-term']);
    await new Promise((r) => setTimeout(r, 2_000));
    await h.env.client.workflow.getHandle('sweep/truth-term').terminate('test: terminate while watched');
    const r = await watching;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(3);
    expect(r.stdout).toMatch(/sweep terminated\s*$/);
  }, 60_000);
});

describe('read commands answer for ended sweeps with no worker running', () => {
  beforeAll(async () => {
    broken.shutdown();
    await brokenRun;
    h.worker.shutdown();
    await waitFor('the worker stopped', () => h.worker.getState() === 'STOPPED', { timeoutMs: 30_000 });
  });

  it('`status` of a completed sweep reads the store: counts and outcome', async () => {
    const r = await cli(['status', 'truth-ok', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { status: string; outcome: string; source: string; total: number; byState: Record<string, number> };
    expect(s).toMatchObject({ status: 'COMPLETED', outcome: 'completed', source: 'store', total: 3 });
    expect(s.byState).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0, cancelled: 0 });
    const text = await cli(['status', 'truth-ok']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('sweep/truth-ok (completed, from the results store)');
  });

  it('`status` of a cancelled sweep says cancelled; its runs were cancelled', async () => {
    const r = await cli(['status', 'truth-cancel', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { outcome: string; byState: Record<string, number> };
    expect(s.outcome).toBe('cancelled');
    expect(s.byState.cancelled).toBe(2);
  });

  it('`runs` lists the runs from the store, with attempts', async () => {
    const r = await cli(['runs', 'truth-ok', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const page = JSON.parse(r.stdout) as { total: number; runs: { axes: { x: number }; state: string; attempts: number }[] };
    expect(page.total).toBe(3);
    expect(page.runs.map((x) => x.axes.x).sort((a, b) => a - b)).toEqual([1, 2, 4]);
    expect(page.runs.every((x) => x.state === 'succeeded' && x.attempts === 1)).toBe(true);
    const failed = await cli(['runs', 'truth-cancel', '--state', 'cancelled', '--json']);
    expect((JSON.parse(failed.stdout) as { total: number }).total).toBe(2);
  });

  it('piped tables carry no ANSI escape codes', async () => {
    const r = await cli(['runs', 'truth-ok']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('run id');
    expect(r.stdout).not.toContain('\x1b[');
    const s = await cli(['status', 'truth-ok']);
    expect(s.stdout).toContain('succeeded');
    expect(s.stdout).not.toContain('\x1b[');
  });
});
