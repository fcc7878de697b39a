import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite';
import { expandGrid, SweepSpecSchema } from '../../spec';
import { startDevServer } from '../../worker/devServer';
import { REPO_ROOT } from '../../worker/settings';
import { progressQuery, type SweepSummary } from '../../contract';
import { workflowBundlePath } from '../../worker/bundle';
import { attemptKeys, launchKeys, readLaunches } from './helpers/launchLog';

const SPEC = SweepSpecSchema.parse({
  name: 'crash',
  grid: { arch: ['alexnet', 'resnet18', 'resnet50', 'efficientnet_b0'], dataset: ['imagenet'], samples_per_class: [10, 30, 100], epochs: [10], seed: [0, 1] },
  job: {
    image: 'trainer:test',
    command: ['node', '--import', 'tsx', 'sim/trainer/main.ts'],
    args: ['--seconds-per-eflop=2', '--min-seconds=2', '--max-seconds=4'],
  },
  concurrency: { maxRuns: 6 },
  timeouts: { run: '2m' },
  metrics: ['V1', 'IT', 'Behavioral'],
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the worker is killed with SIGKILL during a sweep', () => {
  let server: Awaited<ReturnType<typeof startDevServer>>;
  let dir: string;
  let worker: ChildProcess | undefined;
  const env = () => ({
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    SWEEP_DB: join(dir, 'results.db'),
    SWEEP_LOCAL_DIR: join(dir, 'local'),
    SWEEP_LAUNCH_LOG: join(dir, 'launches.log'),
    SWEEP_LOG_LEVEL: 'warn',
  });
  const startWorker = () => {
    const p = spawn(process.execPath, ['bin/sweep.js', 'worker'], { cwd: REPO_ROOT, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr?.on('data', (d: Buffer) => writeFileSync(join(dir, 'worker.err'), d, { flag: 'a' }));
    return p;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sweep-crash-'));
    await workflowBundlePath(); // build once, so every restart is quick
    server = await startDevServer();
  }, 120_000);

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await server?.env.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes after 3 kills: one result per run, no attempt launched twice', async () => {
    worker = startWorker();
    const handle = await server.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/crash', args: [SPEC] });
    let kills = 0;
    while (kills < 3) {
      // Kill while jobs are running, so there is something to re-attach to.
      for (let i = 0; i < 200; i++) {
        const p = await handle.query(progressQuery).catch(() => undefined);
        if (p && p.byState.running >= 3) break;
        await sleep(250);
      }
      await sleep(1500);
      worker.kill('SIGKILL');
      await new Promise((r) => worker?.once('exit', r));
      kills++;
      worker = startWorker();
    }
    const summary = (await handle.result()) as SweepSummary;
    expect(kills).toBe(3);
    expect(summary.byState.succeeded).toBe(24);

    const store = new SqliteStore(join(dir, 'results.db'));
    try {
      const cells = expandGrid(SPEC).map((c) => c.runId);
      expect(cells).toHaveLength(24);
      const results = await store.listResults('crash');
      expect(results.map((r) => r.runId).sort()).toEqual([...cells].sort());
      // The processes: exactly one per run, attempt 1. A restarted worker re-attached to the jobs it
      // found running instead of launching them again, and no run needed a second attempt.
      expect(launchKeys(readLaunches(join(dir, 'launches.log')))).toEqual(attemptKeys(cells));
    } finally {
      await store.close();
    }
  }, 420_000);

  it('an adaptive study survives a kill: it stops at its budget, every run recorded once, the rest skipped', async () => {
    const spec = SweepSpecSchema.parse({
      name: 'crash-adapt',
      grid: { arch: ['alexnet', 'resnet18', 'resnet50', 'efficientnet_b0', 'convnext_tiny'], dataset: ['imagenet'], samples_per_class: [10, 30, 100, 300], epochs: [10] },
      job: { command: ['node', '--import', 'tsx', 'sim/trainer/main.ts', '--seconds-per-eflop=0.01', '--min-seconds=2', '--max-seconds=3'], resources: { gpus: 1 } },
      concurrency: { maxRuns: 4 },
      timeouts: { run: '2m' },
      metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
      fits: [{ name: 'neuro', form: 'power_law', x: 'total_flops', y: { metrics: ['V1', 'V2', 'V4', 'IT'] }, bootstrap: 30 }],
      refit: { every: 100, bootstrap: 30 },
      strategy: { kind: 'adaptive', target: 'neuro', objective: 'exponent', parameter: 'alpha', budget: { gpuHours: 0.5 }, batch: 4 },
    });
    if (!worker || worker.exitCode !== null) worker = startWorker();
    const handle = await server.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/crash-adapt', args: [spec] });
    for (let kills = 0; kills < 1; kills++) {
      for (let i = 0; i < 240; i++) {
        const p = await handle.query(progressQuery).catch(() => undefined);
        if (p && p.byState.running >= 2) break;
        await sleep(250);
      }
      await sleep(1000);
      worker.kill('SIGKILL');
      await new Promise((r) => worker?.once('exit', r));
      worker = startWorker();
    }
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.study?.stop).toBeDefined();
    expect(summary.study!.spentGpuHours).toBeLessThanOrEqual(spec.strategy!.budget.gpuHours);
    expect(summary.study!.skipped).toBeGreaterThan(0);
    expect(summary.byState.failed + summary.byState.cancelled + summary.byState.pending).toBe(0);
    expect(summary.byState.succeeded + summary.study!.skipped).toBe(20);

    const store = new SqliteStore(join(dir, 'results.db'));
    try {
      const ran = (await store.listRuns('crash-adapt')).map((r) => r.runId);
      expect(ran).toHaveLength(summary.byState.succeeded);
      const results = await store.listResults('crash-adapt');
      expect(results.map((r) => r.runId).sort()).toEqual([...ran].sort());
      // One process per run that ran, attempt 1: none launched twice across the kills.
      const launches = readLaunches(join(dir, 'launches.log')).filter((l) => ran.includes(l.runId));
      expect(launchKeys(launches)).toEqual(attemptKeys(ran));
    } finally {
      await store.close();
    }
  }, 420_000);
});
