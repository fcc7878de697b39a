/**
 * Kube-sim counterparts of instances.test.ts (issue 15: a sweep never reuses another sweep
 * instance's Job or result) and terminatedRun.test.ts (issue 16: a run terminated from outside
 * fails as `terminated`, its Job is deleted, and the sweep completes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker as WorkerT } from '@temporalio/worker';
import { KubernetesExecutor } from '../../activities/executors/kubernetes';
import { startKubeSim, type KubeSim } from '../../sim/kube-sim';
import type { Job, Pod } from '../../sim/kube-sim/types';
import { SweepSpecSchema, type SweepSpecInput } from '../../spec';
import { SqliteStore } from '../../store/sqlite';
import { createSweepWorker } from '../../worker';
import { startDevServer } from '../../worker/devServer';
import { runWorkflowId, type SweepSummary } from '../../contract';
import { temporalOk } from './helpers/cli';
import { waitFor } from './helpers/harness';

/** Simulated seconds per real second: a 100 s trainer run takes 1 s. */
const TIME_SCALE = 100;
const INSTANCE_LABEL = 'scaling-sweep.io/instance';
const SWEEP_LABEL = 'scaling-sweep.io/sweep';

// Every run trains exactly {{secs}} simulated seconds, with no faults.
const base = (name: string, secs: number[]): SweepSpecInput => ({
  name,
  grid: { arch: ['resnet18'], dataset: ['imagenet'], samples_per_class: [10], epochs: [10], secs },
  job: {
    image: 'ghcr.io/scaling-sweep/trainer:latest',
    command: ['node', 'sim/trainer/main.ts'],
    args: ['--seconds-per-eflop=0', '--min-seconds={{secs}}', '--max-seconds={{secs}}'],
    resources: { gpus: 1, cpu: 4, memory: '16Gi' },
  },
  // A long TTL (simulated): the first sweep's finished Jobs are still there when the second starts.
  executor: { kind: 'kubernetes', namespace: 'default', ttlSecondsAfterFinished: 86_400 },
  concurrency: { maxRuns: 4, maxGpus: 8 },
  retry: { maxAttempts: 2, backoff: { initial: '200ms', max: '1s' } },
  timeouts: { run: '4h', pending: '1m' },
  reconcile: { interval: '2s' },
  metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
});
const AGAIN = SweepSpecSchema.parse(base('kube-again', [100, 110, 120, 130]));
/** One short run and one that would take 1000 s real: it is terminated while its Job runs. */
const LONG = 100_000;
const TERM = SweepSpecSchema.parse(base('kube-term', [100, LONG]));

describe('sweep identity and runs closed behind the sweep, on kube-sim', () => {
  let server: Awaited<ReturnType<typeof startDevServer>>;
  let sim: KubeSim;
  let dir: string;
  let kc: KubeConfig;
  const workers: { worker: WorkerT; store: SqliteStore; running: Promise<void> }[] = [];
  const current = () => workers[workers.length - 1];

  const startWorker = async (db: string) => {
    const store = new SqliteStore(join(dir, db));
    const { worker } = await createSweepWorker({
      connection: server.env.nativeConnection,
      clientConnection: server.env.connection,
      namespace: 'default',
      store,
      executors: { kubernetes: new KubernetesExecutor(kc) },
      reportDir: join(dir, 'out'),
    });
    workers.push({ worker, store, running: worker.run() });
    return store;
  };
  const stopWorker = async (w: (typeof workers)[number]) => {
    if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    await w.running.catch(() => undefined);
  };
  const runSweep = async (spec: typeof AGAIN) =>
    (await server.env.client.workflow.execute('sweep', { taskQueue: 'scaling-sweeps', workflowId: `sweep/${spec.name}`, args: [spec] })) as SweepSummary;
  const jobsOf = (sweep: string) => sim.store.list<Job>('Job').filter((j) => j.metadata.labels?.[SWEEP_LABEL] === sweep);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sweep-kube-identity-'));
    [server, sim] = await Promise.all([startDevServer(), startKubeSim({ gpus: 8, gpusPerNode: 2, timeScale: TIME_SCALE, podStartupSeconds: 5, seed: 5 })]);
    kc = new KubeConfig();
    kc.loadFromString(sim.kubeconfig);
    await startWorker('a.db');
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) {
      await stopWorker(w);
      await w.store.close();
    }
    await sim?.stop();
    await server?.env.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a fresh results store under the same name: every run gets a new Job of the new instance, and no old result or attempt appears', async () => {
    const storeA = current().store;
    expect((await runSweep(AGAIN)).byState.succeeded).toBe(4);
    const instanceA = (await storeA.getSweep(AGAIN.name))?.instanceId;
    expect(instanceA).toMatch(/^[0-9a-f]{12}$/);
    const jobsA = jobsOf(AGAIN.name);
    // The first instance's Jobs are still in the cluster (finished, within their TTL): a second
    // sweep of the same name could collide with them.
    expect(jobsA).toHaveLength(4);
    expect(jobsA.every((j) => j.metadata.labels?.[INSTANCE_LABEL] === instanceA)).toBe(true);
    const namesA = new Set((await storeA.listAttempts(AGAIN.name)).map((a) => a.jobName));
    expect(namesA).toEqual(new Set(jobsA.map((j) => j.metadata.name)));

    // Same server, same cluster, same sweep name; only the store is new.
    await stopWorker(current());
    const storeB = await startWorker('b.db');
    expect((await runSweep(AGAIN)).byState.succeeded).toBe(4);
    const instanceB = (await storeB.getSweep(AGAIN.name))?.instanceId;
    expect(instanceB).toMatch(/^[0-9a-f]{12}$/);
    expect(instanceB).not.toBe(instanceA);

    // Every run's Job was created again: 8 Jobs ever, 8 distinct names, the second 4 of instance B.
    const history = sim.cluster.jobHistory().filter((r) => r.run?.sweep === AGAIN.name);
    expect(history).toHaveLength(8);
    expect(new Set(history.map((r) => r.name)).size).toBe(8);
    const second = history.filter((r) => r.labels[INSTANCE_LABEL] === instanceB);
    expect(second).toHaveLength(4);
    expect(history.filter((r) => r.labels[INSTANCE_LABEL] === instanceA)).toHaveLength(4);
    expect(new Set(second.map((r) => r.run?.runId))).toEqual(new Set(history.filter((r) => r.labels[INSTANCE_LABEL] === instanceA).map((r) => r.run?.runId)));
    // Each of the new Jobs actually ran its trainer to success.
    for (const r of second) expect(r.pods.map((p) => p.outcome?.phase), r.name).toEqual(['Succeeded']);

    // Store B's attempts and results are the new Jobs', none of store A's.
    const attemptsB = await storeB.listAttempts(AGAIN.name);
    expect(attemptsB).toHaveLength(4);
    const namesB = new Set(attemptsB.map((a) => a.jobName));
    expect(namesB).toEqual(new Set(second.map((r) => r.name)));
    expect([...namesB].filter((n) => namesA.has(n))).toEqual([]);
    const resultsB = await storeB.listResults(AGAIN.name);
    expect(resultsB).toHaveLength(4);
    const runToJobB = new Map(attemptsB.map((a) => [`${a.runId}#${a.attempt}`, a.jobName]));
    for (const r of resultsB) expect(namesA.has(runToJobB.get(`${r.runId}#${r.attempt}`) ?? ''), r.runId).toBe(false);
    // Store A is untouched by the second sweep.
    expect(await storeA.listAttempts(AGAIN.name)).toHaveLength(4);
  }, 90_000);

  it('a run terminated from outside fails as `terminated`, its Job is deleted, and the sweep completes', async () => {
    const store = current().store;
    const handle = await server.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: `sweep/${TERM.name}`, args: [TERM] });
    // The long run, with its pod running in the cluster.
    const run = await waitFor(
      'the long run to be running in the cluster',
      async () => {
        const r = (await store.listRuns(TERM.name)).find((x) => x.axes.secs === LONG && x.state === 'running');
        return r && sim.cluster.podsOf(r.runId, 1, TERM.name).some((p: Pod) => p.status.phase === 'Running') ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const [job] = sim.cluster.jobsForAttempt(run.runId, 1, TERM.name);
    expect(job.deletedAt).toBeUndefined();
    const t0 = Date.now();
    await temporalOk({ address: server.address, namespace: 'default' }, [
      'workflow',
      'terminate',
      '--workflow-id',
      runWorkflowId(TERM.name, run.runId),
      '--reason',
      'pressed Terminate',
    ]);
    const summary = (await handle.result()) as SweepSummary;
    const closedMs = Date.now() - t0;
    console.log(`kube terminate: sweep completed ${closedMs} ms after the terminate`);
    // Within the reconcile interval (2 s) plus a minute.
    expect(closedMs).toBeLessThan(62_000);
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 1, cancelled: 0 });
    const row = await store.getRun(TERM.name, run.runId);
    expect({ state: row?.state, failureClass: row?.failureClass }).toEqual({ state: 'failed', failureClass: 'terminated' });
    expect(row?.message).toMatch(/pressed Terminate/);
    const attempts = await store.listAttempts(TERM.name, run.runId);
    expect(attempts.map((a) => [a.attempt, a.state, a.failureClass])).toEqual([[1, 'failed', 'terminated']]);
    // Its Job (and pod) is gone from the cluster, long before the trainer would have ended.
    await waitFor('the terminated run’s Job to be deleted', () => !sim.store.list<Job>('Job').some((j) => j.metadata.name === job.name), { timeoutMs: 20_000, intervalMs: 100 });
    await waitFor('the terminated run’s pod to be gone', () => sim.cluster.podsOf(run.runId, 1, TERM.name).length === 0, { timeoutMs: 20_000, intervalMs: 100 });
    const [after] = sim.cluster.jobsForAttempt(run.runId, 1, TERM.name);
    expect(after.deletedAt).toBeTruthy();
    expect(after.pods.map((p) => p.outcome?.phase)).not.toContain('Succeeded');
    // No second Job for the run: `terminated` is not retried by default.
    expect(sim.cluster.attemptSummaries().filter((a) => a.sweep === TERM.name && a.runId === run.runId)).toHaveLength(1);
  }, 90_000);
});
