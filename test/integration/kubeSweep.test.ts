import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker as WorkerT } from '@temporalio/worker';
import { KubernetesExecutor } from '../../activities/executors/kubernetes';
import { startKubeSim, type KubeSim } from '../../sim/kube-sim';
import type { Pod } from '../../sim/kube-sim/types';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { expandGrid, SweepSpecSchema, type FailureClass, type SweepSpec, type SweepSpecInput } from '../../spec';
import { SqliteStore } from '../../store/sqlite';
import { createSweepWorker } from '../../worker';
import { startDevServer } from '../../worker/devServer';
import type { SweepSummary } from '../../contract';
import { acceptableAttemptClasses, simAttemptClass, simAttemptsByRun, storedAttemptClasses, tally, type AttemptClass } from './helpers/kube';

/** Simulated seconds per real second: trainer runs of 100-300 simulated seconds take 1-3 s. */
const TIME_SCALE = 100;

const TRAINER_ARGS = [
  '--seconds-per-eflop=30000',
  '--min-seconds=100',
  '--max-seconds=300',
  '--p-preempt=0.15',
  '--p-oom=0.06',
  '--p-user-error=0.06',
  '--p-bad-output=0.04',
  '--fault-seed=1',
];

const FAULTS: SweepSpecInput = {
  name: 'kube-faults',
  grid: {
    arch: ['alexnet', 'resnet18', 'resnet34', 'efficientnet_b0', 'convnext_tiny'],
    dataset: ['imagenet'],
    samples_per_class: [10, 30, 100],
    epochs: [10],
    seed: [0, 1, 2, 3],
  },
  job: {
    image: 'ghcr.io/scaling-sweep/trainer:latest',
    command: ['node', 'sim/trainer/main.ts'],
    args: TRAINER_ARGS,
    resources: { gpus: 1, cpu: 4, memory: '16Gi' },
  },
  executor: { kind: 'kubernetes', namespace: 'default', imagePullGrace: '2s', ttlSecondsAfterFinished: 86_400 },
  concurrency: { maxRuns: 14, maxGpus: 16 },
  // Default retryOn (preempted, node-lost, infrastructure, unknown): image, oom, user-error and
  // bad-result are not retried. Enough attempts that no retryable run runs out of them.
  retry: { maxAttempts: 10, backoff: { initial: '200ms', max: '1s' }, nonRetryableExitCodes: [3] },
  // run: the Job's activeDeadlineSeconds (simulated); pending: the executor's unschedulable limit (real).
  timeouts: { run: '2h', pending: '45s' },
  metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
};

/** Same trainer, an image the sim never pulls: every run must fail with class `image`. */
const IMAGES: SweepSpecInput = {
  ...FAULTS,
  name: 'kube-images',
  grid: { arch: ['resnet18', 'resnet50'], dataset: ['imagenet'], samples_per_class: [10], epochs: [10], seed: [0, 1] },
  job: { ...FAULTS.job!, image: 'registry.example.com/lab/trainer-does-not-exist:v1' },
  concurrency: { maxRuns: 4 },
};

/**
 * Sweeps whose trainer always fails the same non-retryable way (on every attempt, so a cluster
 * preemption cannot take the fault away): the faults sweep's random draws alone left user-error or
 * bad-result unexercised in a few runs out of a hundred, which made the coverage checks flaky.
 */
const forced = (name: string, flag: string): SweepSpecInput => ({
  ...FAULTS,
  name,
  grid: { arch: ['resnet18'], dataset: ['imagenet'], samples_per_class: [10], epochs: [10], seed: [0, 1] },
  job: { ...FAULTS.job!, args: ['--seconds-per-eflop=30000', '--min-seconds=100', '--max-seconds=300', `${flag}=1`, '--fault-attempts=10'] },
  concurrency: { maxRuns: 2 },
});
const FORCED: Record<'user-error' | 'bad-result', SweepSpecInput> = {
  'user-error': forced('kube-user-error', '--p-user-error'),
  'bad-result': forced('kube-bad-result', '--p-bad-output'),
};

const RETRYABLE_BY_DEFAULT: readonly FailureClass[] = ['preempted', 'node-lost', 'infrastructure', 'unknown'];

describe('a sweep of 60 runs through the Kubernetes executor on kube-sim, with cluster and API faults', () => {
  let server: Awaited<ReturnType<typeof startDevServer>>;
  let sim: KubeSim;
  let store: SqliteStore;
  let worker: WorkerT;
  let running: Promise<void>;
  let dir: string;
  let faults: SweepSpec;
  let images: SweepSpec;
  let forcedSpecs: SweepSpec[];
  const summaries: Record<string, SweepSummary> = {};
  const triggered = { lostNodes: 0, preemptedPods: 0, injected: 0, dropped: 0 };
  let seconds = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    dir = mkdtempSync(join(tmpdir(), 'sweep-kube-'));
    faults = SweepSpecSchema.parse(FAULTS);
    images = SweepSpecSchema.parse(IMAGES);
    forcedSpecs = Object.values(FORCED).map((f) => SweepSpecSchema.parse(f));
    [server, sim] = await Promise.all([
      startDevServer(),
      startKubeSim({
        gpus: 16,
        gpusPerNode: 2,
        timeScale: TIME_SCALE,
        podStartupSeconds: 5,
        seed: 7,
        faults: { preemptProbability: 0.08, oomProbability: 0.03, nodeLossPerHour: 6, nodeRestoreSeconds: 120 },
        apiFaults: { errorRate: 0.03, throttleRate: 0.03, retryAfterSeconds: 1, watchDropMeanSeconds: 4, latencyMs: 2, latencyJitterMs: 10 },
      }),
    ]);
    store = new SqliteStore(join(dir, 'results.db'));
    const kc = new KubeConfig();
    kc.loadFromString(sim.kubeconfig);
    ({ worker } = await createSweepWorker({
      connection: server.env.nativeConnection,
      clientConnection: server.env.connection,
      namespace: 'default',
      store,
      executors: { kubernetes: new KubernetesExecutor(kc) },
      reportDir: join(dir, 'out'),
    }));
    running = worker.run();

    const client = server.env.client;
    const handles = await Promise.all(
      [faults, images, ...forcedSpecs].map((spec) => client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: `sweep/${spec.name}`, args: [spec] })),
    );

    // Faults on cue, on top of the random ones: a node lost and a pod preempted while they run,
    // bursts of 500s and 429s, every watch cut.
    const cluster = sim.cluster;
    const runningPod = () => sim.store.list<Pod>('Pod').find((p) => p.status.phase === 'Running');
    const chaos = (async () => {
      const first = await cluster.waitFor(runningPod, 60_000);
      cluster.loseNode(first.spec.nodeName!, 'delete');
      triggered.lostNodes++;
      setTimeout(() => cluster.restoreNode(first.spec.nodeName!), 1500);
      sim.api.injectErrors({ code: 500, count: 4 });
      sim.api.injectErrors({ code: 429, count: 4, retryAfterSeconds: 1 });
      triggered.injected += 8;
      const second = await cluster.waitFor(runningPod, 60_000);
      cluster.preemptPod(second.metadata.name);
      triggered.preemptedPods++;
      sim.api.injectErrors({ code: 503, count: 3, method: 'GET' });
      sim.api.injectErrors({ code: 504, count: 2, method: 'POST' });
      triggered.injected += 5;
      triggered.dropped += sim.api.dropWatches();
      const third = await cluster.waitFor(runningPod, 60_000);
      cluster.loseNode(third.spec.nodeName!, 'delete');
      triggered.lostNodes++;
      setTimeout(() => cluster.restoreNode(third.spec.nodeName!), 1500);
    })();
    // Every 3 s: compact the watch history (resuming watches get 410 Gone and relist) and cut every watch.
    const dropper = setInterval(() => {
      sim.store.compact();
      triggered.dropped += sim.api.dropWatches();
    }, 3000);
    try {
      for (const [i, h] of handles.entries()) summaries[[faults, images, ...forcedSpecs][i].name] = (await h.result()) as SweepSummary;
      await chaos;
    } finally {
      clearInterval(dropper);
    }
    seconds = (Date.now() - t0) / 1000;
  }, 240_000);

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => undefined);
    await store?.close();
    await sim?.stop();
    await server?.env.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records every attempt with the class of what happened to it in the cluster; retryable runs succeed, the others fail with their class', async () => {
    const cells = expandGrid(faults);
    expect(cells.length).toBe(60);
    const simAttempts = simAttemptsByRun(sim.cluster.attemptSummaries(), faults.name);
    const stored = await storedAttemptClasses(store, faults.name);
    const runs = new Map((await store.listRuns(faults.name)).map((r) => [r.runId, r]));
    const seen: AttemptClass[] = [];
    const finals: string[] = [];
    let collectedWithNode = 0;
    for (const c of cells) {
      const sims = simAttempts.get(c.runId) ?? [];
      const got = stored.get(c.runId) ?? [];
      // The same attempts, each with the class of its pod's actual end (trainer or cluster fault).
      expect(got.map((a) => a.attempt), c.runId).toEqual(sims.map((a) => a.attempt));
      expect(got.length, c.runId).toBeGreaterThan(0);
      for (const [k, a] of sims.entries()) {
        const ok = acceptableAttemptClasses(a);
        expect(ok, `${c.runId} attempt ${a.attempt}: ${JSON.stringify(a.outcome)} removed ${a.removedReason}`).toContain(got[k].cls);
        if (got[k].cls !== simAttemptClass(a)) collectedWithNode++;
      }
      const classes = got.map((w) => w.cls);
      seen.push(...classes.filter((x): x is AttemptClass => x !== undefined));
      const last = classes[classes.length - 1];
      const run = runs.get(c.runId);
      // Every attempt before the last failed with a retryable class...
      for (const x of classes.slice(0, -1)) expect(RETRYABLE_BY_DEFAULT, `${c.runId}: ${classes.join(',')}`).toContain(x);
      if (last === 'succeeded') {
        expect(run?.state, c.runId).toBe('succeeded');
      } else {
        // ...and the run ends on a non-retryable class, recorded as the run's failure class.
        expect(['oom', 'user-error', 'bad-result'], `${c.runId}: ${classes.join(',')}`).toContain(last);
        expect(run?.state, c.runId).toBe('failed');
        expect(run?.failureClass, c.runId).toBe(last);
      }
      finals.push(last === 'succeeded' ? 'succeeded' : `failed:${last}`);
    }
    const counts = tally(seen);
    console.log(
      `kube sweep: ${seconds.toFixed(1)} s; attempt classes ${JSON.stringify(counts)}; run ends ${JSON.stringify(tally(finals))}; ended then collected with a lost node ${collectedWithNode}; ` +
        `API ${JSON.stringify(sim.api.stats)}; triggered ${JSON.stringify(triggered)}`,
    );
    // The forced sweeps end every run on their class, whatever the cluster did to earlier attempts.
    const forcedSeen: AttemptClass[] = [];
    for (const [cls, spec] of Object.entries(FORCED)) {
      const forcedRuns = await store.listRuns(spec.name);
      const forcedStored = await storedAttemptClasses(store, spec.name);
      expect(forcedRuns.length, spec.name).toBe(2);
      const forcedSims = simAttemptsByRun(sim.cluster.attemptSummaries(), spec.name);
      for (const r of forcedRuns) {
        const classes = (forcedStored.get(r.runId) ?? []).map((a) => a.cls);
        // The cluster's own random OOM (shared with the faults sweep) can strike a forced run's pod
        // before its trainer fault does: then the run rightly ends oom, as the sim recorded it.
        const simLast = forcedSims.get(r.runId)?.at(-1);
        const want = simLast && simAttemptClass(simLast) === 'oom' ? 'oom' : cls;
        expect({ state: r.state, failureClass: r.failureClass }, `${r.runId}: ${classes.join(',')}`).toEqual({ state: 'failed', failureClass: want });
        forcedSeen.push(...classes.filter((x): x is AttemptClass => x !== undefined));
      }
    }
    // The faults this test claims to survive all happened (in this sweep or the forced ones,
    // which share the cluster: which sweep a lost node or a preemption hits is a matter of timing).
    const all = tally([...seen, ...forcedSeen]);
    for (const cls of ['preempted', 'node-lost', 'oom', 'user-error', 'bad-result'] as const) expect(all[cls] ?? 0, cls).toBeGreaterThan(0);
    expect(sim.api.stats.injected500).toBeGreaterThan(0);
    expect(sim.api.stats.injected429).toBeGreaterThan(0);
    expect(sim.api.stats.watchesDropped).toBeGreaterThan(0);
    expect(sim.api.stats.gone).toBeGreaterThan(0);
    // Retried runs that then succeeded, and the sweep's own summary agrees.
    expect([...stored.values()].some((a) => a.length > 1 && a[a.length - 1].cls === 'succeeded')).toBe(true);
    const s = summaries[faults.name];
    expect(s.byState.succeeded).toBe(finals.filter((f) => f === 'succeeded').length);
    expect(s.byState.failed).toBe(finals.filter((f) => f !== 'succeeded').length);
  });

  it('fails every run of the sweep whose image never pulls with class image, and removes its Jobs', async () => {
    const cells = expandGrid(images);
    const runs = new Map((await store.listRuns(images.name)).map((r) => [r.runId, r]));
    const stored = await storedAttemptClasses(store, images.name);
    const simAttempts = simAttemptsByRun(sim.cluster.attemptSummaries(), images.name);
    expect(runs.size).toBe(cells.length);
    for (const c of cells) {
      expect({ state: runs.get(c.runId)?.state, failureClass: runs.get(c.runId)?.failureClass }, c.runId).toEqual({ state: 'failed', failureClass: 'image' });
      const got = stored.get(c.runId) ?? [];
      const want = simAttempts.get(c.runId) ?? [];
      expect(got.map((a) => a.attempt), c.runId).toEqual(want.map((a) => a.attempt));
      // The last attempt failed on its image; an earlier one can only have lost its node while pulling.
      expect(got[got.length - 1].cls, c.runId).toBe('image');
      for (const [k, a] of want.slice(0, -1).entries()) expect(got[k].cls, c.runId).toBe(simAttemptClass(a));
      for (const a of want) {
        const jobs = sim.cluster.jobsForAttempt(c.runId, a.attempt, images.name);
        expect(jobs, c.runId).toHaveLength(1);
        expect(jobs[0].deletedAt, c.runId).toBeTruthy();
        expect(jobs[0].pods.every((p) => p.startedAt === undefined), c.runId).toBe(true);
      }
    }
    const attempts = await store.listAttempts(images.name);
    expect(attempts.filter((a) => a.failureClass === 'image').every((a) => /ErrImagePull|ImagePullBackOff/.test(a.message ?? ''))).toBe(true);
    expect(summaries[images.name].byState).toMatchObject({ failed: cells.length, succeeded: 0 });
  });

  it('never creates two Jobs for one attempt', () => {
    const all = sim.cluster.attemptSummaries();
    expect(all.length).toBeGreaterThan(60);
    expect(all.filter((a) => a.jobs !== 1)).toEqual([]);
  });

  it("records exactly the results the sim's trainer produced, one per succeeded run", async () => {
    const results = await store.listResults(faults.name);
    const succeeded = (await store.listRuns(faults.name, { state: 'succeeded' })).map((r) => r.runId).sort();
    expect(results.map((r) => r.runId).sort()).toEqual(succeeded);
    expect(succeeded.length).toBeGreaterThan(30);
    const byKey = new Map(sim.cluster.attemptSummaries().filter((a) => a.sweep === faults.name).map((a) => [`${a.runId}#${a.attempt}`, a]));
    const knobs = parseTrainerArgs(TRAINER_ARGS);
    for (const r of results) {
      const a = byKey.get(`${r.runId}#${r.attempt}`);
      expect(a?.outcome?.phase, r.runId).toBe('Succeeded');
      const produced = JSON.parse(a!.resultText!) as unknown;
      expect(r.result, r.runId).toEqual(produced);
      // And that is the trainer model's own plan for the attempt.
      const plan = planTraining({ sweep: faults.name, runId: r.runId, attempt: r.attempt, axes: r.axes as Record<string, string | number | boolean> }, knobs);
      expect(r.result, r.runId).toEqual(JSON.parse(plan.resultText) as unknown);
    }
    expect(await store.listResults(images.name)).toEqual([]);
  });
});
