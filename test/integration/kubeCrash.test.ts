import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimCluster, type KubeSim } from '../../sim/kube-sim';
import type { Pod } from '../../sim/kube-sim/types';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { expandGrid, SweepSpecSchema } from '../../spec';
import { SqliteStore } from '../../store/sqlite';
import { workflowBundlePath } from '../../worker/bundle';
import { startDevServer } from '../../worker/devServer';
import { REPO_ROOT } from '../../worker/settings';
import { progressQuery, type SweepSummary } from '../../contract';
import { waitFor } from './helpers/harness';
import { tally } from './helpers/kube';

/** Trainer runs of 300-600 simulated seconds take 3-6 s at this scale: the kills find them running. */
const TIME_SCALE = 100;

// Only retryable faults (trainer and cluster preemptions, node loss, a flaky API), so every run
// ends with exactly one result.
const SPEC = SweepSpecSchema.parse({
  name: 'kube-crash',
  grid: { arch: ['alexnet', 'resnet18', 'resnet50', 'efficientnet_b0'], dataset: ['imagenet'], samples_per_class: [10, 30, 100], epochs: [10], seed: [0, 1] },
  job: {
    image: 'ghcr.io/scaling-sweep/trainer:latest',
    command: ['node', 'sim/trainer/main.ts'],
    args: ['--seconds-per-eflop=100000', '--min-seconds=300', '--max-seconds=600', '--p-preempt=0.2', '--fault-seed=3'],
    resources: { gpus: 1, cpu: 4, memory: '16Gi' },
  },
  // A long TTL (simulated seconds): finished Jobs must outlive the worker's downtime to be re-attached.
  executor: { kind: 'kubernetes', namespace: 'default', ttlSecondsAfterFinished: 86_400 },
  concurrency: { maxRuns: 10, maxGpus: 12 },
  retry: { maxAttempts: 10, backoff: { initial: '200ms', max: '1s' }, nonRetryableExitCodes: [3] },
  timeouts: { run: '4h', pending: '2m' },
  metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
});

interface LaunchLog {
  msg?: string;
  runId?: string;
  attempt?: number;
  adopted?: boolean;
}

describe('the Kubernetes worker is killed with SIGKILL during a sweep on kube-sim', () => {
  let server: Awaited<ReturnType<typeof startDevServer>>;
  let sim: KubeSim;
  let dir: string;
  let worker: ChildProcess | undefined;
  const errLog = () => join(dir, 'worker.err');
  const startWorker = () => {
    const p = spawn(process.execPath, ['bin/sweep.js', 'worker', '--executor', 'kubernetes'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        KUBECONFIG: join(dir, 'kubeconfig.yaml'),
        TEMPORAL_ADDRESS: server.address,
        SWEEP_DB: join(dir, 'results.db'),
        SWEEP_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    p.stderr?.on('data', (d: Buffer) => appendFileSync(errLog(), d));
    return p;
  };
  /** The worker's `launched` log lines (JSON, one per launch, `adopted` when the Job was there). */
  const launches = (): LaunchLog[] =>
    existsSync(errLog())
      ? readFileSync(errLog(), 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as LaunchLog)
          .filter((l) => l.msg === 'launched')
      : [];
  const runningAttempts = () =>
    sim.cluster
      .attemptSummaries()
      .filter((a) => a.sweep === SPEC.name && sim.cluster.podsOf(a.runId, a.attempt, a.sweep).some((p: Pod) => p.status.phase === 'Running'))
      .map((a) => `${a.runId}#${a.attempt}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sweep-kube-crash-'));
    await workflowBundlePath(); // build once, so every restart is quick
    [server, sim] = await Promise.all([
      startDevServer(),
      runSimCluster({
        gpus: 12,
        gpusPerNode: 2,
        timeScale: TIME_SCALE,
        podStartupSeconds: 5,
        seed: 11,
        kubeconfigPath: join(dir, 'kubeconfig.yaml'),
        handleSignals: false,
        print: () => undefined,
        faults: { preemptProbability: 0.05, nodeLossPerHour: 4, nodeRestoreSeconds: 120 },
        apiFaults: { errorRate: 0.02, throttleRate: 0.02, retryAfterSeconds: 1, watchDropMeanSeconds: 5 },
      }),
    ]);
  }, 120_000);

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await sim?.stop();
    await server?.env.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-attaches to the running Jobs after each of 2 kills: no attempt gets a second Job, one result per run', async () => {
    const t0 = Date.now();
    worker = startWorker();
    const handle = await server.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: `sweep/${SPEC.name}`, args: [SPEC] });
    const killedWhileRunning: string[] = [];
    let kills = 0;
    while (kills < 2) {
      // Kill while several Jobs run (and the sweep knows it), so there is something to re-attach to.
      await waitFor(
        'running jobs',
        async () => {
          const p = await handle.query(progressQuery);
          return p.byState.running >= 4 && runningAttempts().length >= 3;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      const adoptedBefore = launches().filter((l) => l.adopted).length;
      killedWhileRunning.push(...runningAttempts());
      worker.kill('SIGKILL');
      await new Promise((r) => worker?.once('exit', r));
      kills++;
      worker = startWorker();
      // The restarted worker's retried attempts find their Jobs and adopt them.
      await waitFor('an adopted job', () => launches().filter((l) => l.adopted).length > adoptedBefore, { timeoutMs: 60_000, intervalMs: 250 });
    }
    const summary = (await handle.result()) as SweepSummary;
    const seconds = (Date.now() - t0) / 1000;
    const cells = expandGrid(SPEC);
    expect(kills).toBe(2);
    expect(summary.byState.succeeded).toBe(cells.length);

    const all = sim.cluster.attemptSummaries().filter((a) => a.sweep === SPEC.name);
    // No attempt ever had two Jobs, in particular none of those running when the worker died.
    expect(all.filter((a) => a.jobs !== 1)).toEqual([]);
    expect(killedWhileRunning.length).toBeGreaterThanOrEqual(6);
    const adopted = launches().filter((l) => l.adopted);
    for (const key of killedWhileRunning) {
      const [runId, attempt] = key.split('#');
      const jobs = sim.cluster.jobsForAttempt(runId, Number(attempt), SPEC.name);
      expect(jobs, key).toHaveLength(1);
      expect(jobs[0].pods, key).toHaveLength(1);
    }
    // Each attempt whose pod was running at a kill was picked up by the restarted worker through
    // its existing Job (launch answered 409 and adopted it), not launched anew.
    const adoptedKeys = new Set(adopted.map((l) => `${l.runId}#${l.attempt}`));
    expect(killedWhileRunning.filter((k) => !adoptedKeys.has(k))).toEqual([]);

    const store = new SqliteStore(join(dir, 'results.db'));
    try {
      const results = await store.listResults(SPEC.name);
      expect(results.map((r) => r.runId).sort()).toEqual(cells.map((c) => c.runId).sort());
      const byKey = new Map(all.map((a) => [`${a.runId}#${a.attempt}`, a]));
      for (const r of results) {
        const a = byKey.get(`${r.runId}#${r.attempt}`);
        expect(a?.outcome?.phase, r.runId).toBe('Succeeded');
        expect(r.result, r.runId).toEqual(JSON.parse(a!.resultText!) as unknown);
      }
      // The store has every attempt the sim saw, once.
      const attempts = await store.listAttempts(SPEC.name);
      expect(attempts.map((a) => `${a.runId}#${a.attempt}`).sort()).toEqual(all.map((a) => `${a.runId}#${a.attempt}`).sort());
      const retried = tally(attempts.flatMap((a) => (a.failureClass ? [a.failureClass] : [])));
      // The trainer's planned preemptions (7 of 24 first attempts with fault seed 3) were each seen and
      // retried: attempt 1 of each of those runs failed as preempted (or its node was lost first, a
      // cluster fault that strikes at random) and a later attempt succeeded.
      const knobs = parseTrainerArgs(SPEC.job!.args);
      const planned = cells.filter((c) => planTraining({ sweep: SPEC.name, runId: c.runId, attempt: 1, axes: c.axes }, knobs).fault === 'preempt');
      expect(planned).toHaveLength(7);
      for (const c of planned) {
        const first = attempts.find((a) => a.runId === c.runId && a.attempt === 1);
        expect(['preempted', 'node-lost'], c.runId).toContain(first?.failureClass);
        expect(attempts.filter((a) => a.runId === c.runId).length, c.runId).toBeGreaterThanOrEqual(2);
      }
      console.log(
        `kube crash: ${seconds.toFixed(1)} s; ${kills} kills with ${killedWhileRunning.length} attempts running; ${adopted.length} adopted launches; ` +
          `${attempts.length} attempts (failed and retried: ${JSON.stringify(retried)}); API ${JSON.stringify(sim.api.stats)}`,
      );
    } finally {
      await store.close();
    }
  }, 240_000);
});
