/**
 * The Kubernetes executor's shared informer against kube-sim's faults: dropped watches, 410 Gone,
 * bursts of 500 / 429 and an API server restart mid-run. Every attempt must still end with the
 * trainer's result, each launched exactly once (Jobs counted in the sim), and the namespace
 * watched by at most two streams (Jobs, pods) at any time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesExecutor } from '../../activities/executors/kubernetes';
import type { JobOutcome, LaunchRequest } from '../../activities/executors/types';
import { startKubeSim, type KubeSim, type KubeSimOptions } from '../../sim/kube-sim';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { kubeConfigFrom, kubeSpec, launchRequest, testWatch } from './helpers';

let sim: KubeSim | undefined;
const executors: KubernetesExecutor[] = [];
afterEach(async () => {
  for (const ex of executors.splice(0)) ex.close();
  await sim?.stop();
  sim = undefined;
});

async function start(opts: KubeSimOptions = {}): Promise<KubeSim> {
  sim = await startKubeSim({ gpus: 8, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5, ...opts });
  return sim;
}

function executor(s: KubeSim = sim!): KubernetesExecutor {
  const ex = new KubernetesExecutor({
    kubeConfig: kubeConfigFrom(s.kubeconfig),
    retry: { initialDelayMs: 10, maxDelayMs: 200, attempts: 30, budgetMs: 30_000 },
    watch: testWatch,
  });
  executors.push(ex);
  return ex;
}

const expectedText = (req: LaunchRequest) =>
  planTraining({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, axes: req.axes as Record<string, string | number | boolean> }, parseTrainerArgs(req.spec.job!.args)).resultText;

/** `n` attempts of the trainer running `seconds` (simulated; 1/10 of it in real time). */
function requests(prefix: string, n: number, seconds: [number, number] = [20, 30]): LaunchRequest[] {
  const base = kubeSpec();
  const spec = kubeSpec({ job: { ...base.job!, args: [...base.job!.args, `--min-seconds=${seconds[0]}`, `--max-seconds=${seconds[1]}`] } });
  return Array.from({ length: n }, (_, i) => launchRequest(spec, `${prefix}-${i}`, 1, { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 1, seed: i }));
}

async function runAll(ex: KubernetesExecutor, reqs: LaunchRequest[]): Promise<JobOutcome[]> {
  return Promise.all(
    reqs.map(async (r) => {
      await ex.launch(r);
      return ex.watch(r, () => undefined, new AbortController().signal);
    }),
  );
}

/** Right outcomes, one Job per attempt, never more than the informer's two watches in the namespace. */
function expectClean(reqs: LaunchRequest[], outcomes: JobOutcome[]): void {
  for (const [i, o] of outcomes.entries()) expect(o, JSON.stringify(o)).toMatchObject({ status: 'succeeded', resultText: expectedText(reqs[i]) });
  for (const r of reqs) expect(sim!.cluster.jobsForAttempt(r.runId, 1), r.runId).toHaveLength(1);
  expect(sim!.cluster.jobHistory()).toHaveLength(reqs.length);
  expect(sim!.api.stats.watchesPeakByNamespace.default).toBeLessThanOrEqual(2);
}

/** Both streams are back (the informer did not stop on the fault). */
const rewatched = () => sim!.cluster.waitFor(() => (sim!.api.openWatches() === 2 ? true : undefined), 10_000);

/** Wait until every attempt's pod is running (the faults then strike attempts in flight). */
const allRunning = (reqs: LaunchRequest[]) =>
  sim!.cluster.waitFor(() => (reqs.every((r) => sim!.cluster.podsOf(r.runId, 1).some((p) => p.status.phase === 'Running')) ? true : undefined), 15_000);

describe('the shared informer under API faults', () => {
  it('dropped watches: it reconnects from the last resourceVersion, without relisting', async () => {
    await start();
    const ex = executor();
    const reqs = requests('drop', 6);
    const run = runAll(ex, reqs);
    await allRunning(reqs);
    const dropper = setInterval(() => sim!.api.dropWatches(), 300);
    let outcomes: JobOutcome[];
    try {
      outcomes = await run;
    } finally {
      clearInterval(dropper);
    }
    expectClean(reqs, outcomes);
    const s = sim!.api.stats;
    expect(s.watchesDropped).toBeGreaterThan(2);
    expect(s.watchesOpened).toBeGreaterThan(2);
    // A drop is not a 410: the two initial lists were the only namespace-wide ones.
    expect(s.lists.namespaceWide).toBe(2);
    await rewatched();
  });

  it('410 Gone (injected, and from a compacted history): it relists, and the attempts still end right', async () => {
    await start({ historyLimit: 20 });
    const ex = executor();
    const reqs = requests('gone', 6);
    const run = runAll(ex, reqs);
    await allRunning(reqs);
    // The next watches are answered 410; then the history is compacted under the open ones.
    sim!.api.injectErrors({ code: 410, count: 2 });
    sim!.api.dropWatches();
    await sim!.cluster.waitFor(() => (sim!.api.stats.injected410 >= 2 ? true : undefined), 10_000);
    const node = sim!.store.list('Node')[0];
    sim!.store.put(node);
    sim!.store.compact();
    sim!.api.dropWatches();
    const outcomes = await run;
    expectClean(reqs, outcomes);
    const s = sim!.api.stats;
    expect(s.gone).toBeGreaterThanOrEqual(3);
    // Relisted after each 410: more than the two initial lists.
    expect(s.lists.namespaceWide).toBeGreaterThanOrEqual(4);
    await rewatched();
  });

  it('bursts of 500 and 429 (watches included): the informer keeps reconnecting; client-node 1.4 would have stopped', async () => {
    await start();
    const ex = executor();
    const reqs = requests('burst', 6);
    const run = runAll(ex, reqs);
    await allRunning(reqs);
    sim!.api.injectErrors({ code: 500, count: 12 });
    sim!.api.injectErrors({ code: 429, count: 12, retryAfterSeconds: 0 });
    sim!.api.dropWatches();
    const outcomes = await run;
    expectClean(reqs, outcomes);
    const s = sim!.api.stats;
    expect(s.injected500).toBe(12);
    expect(s.injected429).toBe(12);
    expect(s.lists.namespaceWide).toBe(2);
    await rewatched();
  });

  it('an API server restart mid-run (state kept): the informer resumes its watches', async () => {
    await start();
    const ex = executor();
    const reqs = requests('restart', 6);
    const run = runAll(ex, reqs);
    await allRunning(reqs);
    await sim!.restart({ downMs: 500 });
    const outcomes = await run;
    expectClean(reqs, outcomes);
    expect(sim!.api.stats.restarts).toBe(1);
    expect(sim!.api.stats.lists.namespaceWide).toBe(2);
    await rewatched();
  });

  it('an API server restart that loses the watch history: the informer relists once per stream', async () => {
    await start();
    const ex = executor();
    const reqs = requests('restart-gone', 6);
    const run = runAll(ex, reqs);
    await allRunning(reqs);
    await sim!.restart({ downMs: 300, loseHistory: true });
    const outcomes = await run;
    expectClean(reqs, outcomes);
    expect(sim!.api.stats.lists.namespaceWide).toBe(4);
    await rewatched();
  });
});

describe('the API budget', () => {
  it('40 attempts on 16 GPUs: at most 2 watches open in the namespace, no polls, <= 4 requests per attempt', async () => {
    await start({ gpus: 16, gpusPerNode: 8 });
    const ex = executor();
    const reqs = requests('budget', 40, [5, 15]);
    expectClean(reqs, await runAll(ex, reqs));
    const s = sim!.api.stats;
    expect(s.watchesPeak).toBeLessThanOrEqual(2);
    expect(s.watchesOpened).toBeLessThanOrEqual(4); // two streams, plus a reconnect each after the 5 s server timeout
    const watches = (s.byVerb['watch jobs'] ?? 0) + (s.byVerb['watch pods'] ?? 0);
    const perAttempt = (s.requests - watches - s.lists.namespaceWide) / reqs.length;
    expect(perAttempt).toBeLessThanOrEqual(4);
    // Each attempt: one create; the trainer writes a termination message, so no log read.
    expect(s.byVerb['create jobs']).toBe(40);
    // No per-Job polling: no Job read, no per-Job pod list.
    expect(s.byVerb['get jobs'] ?? 0).toBe(0);
    expect(s.lists.scoped).toBe(0);
  });

  it('a long, quiet attempt is re-checked ever more rarely: a few reads of its Job and pods, not a poll', async () => {
    await start();
    // 40 s simulated = 4 s wall; quiet re-checks from 100 ms, doubling to 800 ms while they find nothing missed.
    const [req] = requests('quiet', 1, [40, 40]);
    const ex = new KubernetesExecutor({
      kubeConfig: kubeConfigFrom(sim!.kubeconfig),
      retry: { initialDelayMs: 10, maxDelayMs: 200, attempts: 30, budgetMs: 30_000 },
      watch: { ...testWatch, quietRecheckMs: 100, quietRecheckMaxMs: 800 },
    });
    executors.push(ex);
    const t0 = Date.now();
    expectClean([req], await runAll(ex, [req]));
    const wallMs = Date.now() - t0;
    const s = sim!.api.stats;
    const reads = s.byVerb['get jobs'] ?? 0;
    // A poll every 100 ms would have read the Job about wallMs / 100 times (40), with a pod list each.
    expect(wallMs).toBeGreaterThan(3500);
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(reads).toBeLessThanOrEqual(Math.ceil(wallMs / 800) + 4);
    expect(reads).toBeLessThan(wallMs / 100 / 3);
    // Each look reads the Job and lists its pods (a pod may change without its Job).
    expect(s.lists.scoped).toBe(reads);
  });

  it('a fresh executor (a restarted worker) waits for its cache to sync: it adopts the running attempt without a Job read', async () => {
    await start();
    const reqs = requests('fresh', 1);
    await executor().launch(reqs[0]);
    await allRunning(reqs);
    const fresh = executor();
    const before = sim!.api.stats.byVerb['get jobs'] ?? 0;
    const outcome = await fresh.watch(reqs[0], () => undefined, new AbortController().signal);
    expect(outcome).toMatchObject({ status: 'succeeded', resultText: expectedText(reqs[0]) });
    expect(sim!.api.stats.byVerb['get jobs'] ?? 0).toBe(before);
  });

  it('a Job that is not there after the sync is confirmed gone by one read, not guessed', async () => {
    await start();
    const [req] = requests('never', 1);
    const ex = executor();
    const outcome = await ex.watch(req, () => undefined, new AbortController().signal);
    expect(outcome).toMatchObject({ status: 'failed', failureClass: 'node-lost' });
    expect(sim!.api.stats.byVerb['get jobs']).toBe(1);
    expect(sim!.cluster.jobHistory()).toHaveLength(0);
  });
});
