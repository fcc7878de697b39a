import { ApiException, BatchV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { InfrastructureError, withApiRetry } from '../../activities/executors/kubernetes/apiRetry';
import { buildJob } from '../../activities/executors/kubernetes/jobBuilder';
import { JobNameConflictError, KubernetesExecutor } from '../../activities/executors/kubernetes';
import type { JobOutcome, JobPhase, LaunchRequest } from '../../activities/executors/types';
import { JobGoneError } from '../../activities/executors/types';
import { startKubeSim, type KubeSim, type KubeSimOptions } from '../../sim/kube-sim';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { DEFAULT_RETRY_ON, parseJobResult, type FailureClass } from '../../spec';
import { kubeConfigFrom, kubeSpec, launchRequest, testWatch } from './helpers';

let sim: KubeSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function start(opts: KubeSimOptions = {}): Promise<KubeSim> {
  sim = await startKubeSim({ gpus: 8, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5, ...opts });
  return sim;
}

function executor(s: KubeSim = sim!): KubernetesExecutor {
  return new KubernetesExecutor({
    kubeConfig: kubeConfigFrom(s.kubeconfig),
    retry: { initialDelayMs: 10, maxDelayMs: 200, attempts: 12 },
    watch: testWatch,
  });
}

/** Launch and watch to the end, recording phases. */
async function runAttempt(ex: KubernetesExecutor, req: LaunchRequest, signal = new AbortController().signal) {
  const phases: JobPhase[] = [];
  const launched = await ex.launch(req);
  const outcome = await ex.watch(req, (p) => phases.push(p), signal);
  return { launched, outcome, phases };
}

const expectedText = (req: LaunchRequest) =>
  planTraining({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, axes: req.axes as Record<string, string | number | boolean> }, parseTrainerArgs(req.spec.job!.args)).resultText;

const failure = (o: JobOutcome) => (o.status === 'failed' ? o.failureClass : 'succeeded');

/** Wait for the attempt's pod to be Running in the sim; returns its name. */
const runningPod = (runId: string, attempt = 1) =>
  sim!.cluster.waitFor(() => sim!.cluster.podsOf(runId, attempt).find((p) => p.status.phase === 'Running')?.metadata.name, 10_000);

describe('KubernetesExecutor against kube-sim', () => {
  it('runs an attempt to success; the result is exactly what the sim trainer produced', async () => {
    await start();
    const spec = kubeSpec();
    const req = launchRequest(spec, 'ok-run-1');
    const { launched, outcome, phases } = await runAttempt(executor(), req);
    expect(launched.adopted).toBe(false);
    expect(launched.jobName).toBe('kube-test-ok-run-1-0221d96c-a1'); // golden (jobBuilder.test.ts): adoption finds Jobs by name
    expect(outcome.status).toBe('succeeded');
    if (outcome.status !== 'succeeded') return;
    expect(outcome.resultText).toBe(expectedText(req));
    expect(outcome.resultText).toBe(sim!.cluster.attemptOutcome('ok-run-1', 1)!.pod.plan.resultText);
    expect(parseJobResult(outcome.resultText, spec.metrics).ok).toBe(true);
    // GPU-seconds in cluster (simulated) time: the planned 2-4 s on one GPU.
    expect(outcome.gpuSeconds).toBeGreaterThan(1.5);
    expect(outcome.gpuSeconds).toBeLessThan(6);
    expect(phases.map((p) => p.phase)).toContain('running');
    expect(phases[phases.length - 1]).toMatchObject({ phase: 'succeeded', pod: expect.stringMatching(/^kube-test-ok-run-1-/), node: expect.stringMatching(/^sim-gpu-node-/) });
    expect(sim!.cluster.jobsForAttempt('ok-run-1', 1)).toHaveLength(1);
  });

  it('classifies every failure class', async () => {
    // One GPU per node, so losing a node takes exactly one attempt with it.
    await start({ gpus: 16, gpusPerNode: 1 });
    const ex = executor();
    const base = kubeSpec();
    const withArgs = (extra: string[]) => kubeSpec({ job: { ...base.job!, args: [...base.job!.args, '--max-seconds=60', '--min-seconds=30', ...extra] } });
    // A pod that ends keeps its node until collected, and frees its GPU: had the node-loss case's pod
    // been scheduled onto such a node, losing it would collect the ended pod too (then rightly classed
    // node-lost). So the triggers that end a pod wait until that case's pod holds a node of its own.
    const nodeCasePlaced = () => runningPod('f-node');
    const cases: { name: string; req: LaunchRequest; trigger?: (runId: string) => Promise<void>; want: string }[] = [
      {
        name: 'pre',
        req: launchRequest(withArgs([]), 'f-pre'),
        trigger: async (r) => {
          await nodeCasePlaced();
          sim!.cluster.preemptPod(await runningPod(r));
        },
        want: 'preempted',
      },
      {
        name: 'oom',
        req: launchRequest(withArgs([]), 'f-oom'),
        trigger: async (r) => {
          await nodeCasePlaced();
          sim!.cluster.oomPod(await runningPod(r));
        },
        want: 'oom',
      },
      {
        name: 'node',
        req: launchRequest(withArgs([]), 'f-node'),
        trigger: async (r) => {
          const pod = sim!.cluster.findPod(await runningPod(r))!;
          sim!.cluster.loseNode(pod.spec.nodeName!, 'delete');
        },
        want: 'node-lost',
      },
      {
        name: 'exit1',
        req: launchRequest(withArgs([]), 'f-exit1'),
        trigger: async (r) => {
          await nodeCasePlaced();
          sim!.cluster.failPod(await runningPod(r), 1);
        },
        want: 'unknown',
      },
      { name: 'user', req: launchRequest(withArgs(['--p-user-error=1']), 'f-user'), want: 'user-error' },
      { name: 'trainer-oom', req: launchRequest(withArgs(['--p-oom=1']), 'f-toom'), want: 'oom' },
      { name: 'trainer-preempt', req: launchRequest(withArgs(['--p-preempt=1']), 'f-tpre'), want: 'preempted' },
      { name: 'hang', req: launchRequest(kubeSpec({ job: { ...base.job!, args: [...base.job!.args, '--p-hang=1'] }, timeouts: { run: '5s', pending: '2s' } }), 'f-hang'), want: 'timeout' },
      { name: 'image', req: launchRequest(kubeSpec({ job: { ...base.job!, image: 'ghcr.io/x/does-not-exist:1' } }), 'f-image'), want: 'image' },
      { name: 'badref', req: launchRequest(kubeSpec({ job: { ...base.job!, image: 'Not A Valid::Ref' } }), 'f-badref'), want: 'image' },
      {
        name: 'unsched',
        req: launchRequest(kubeSpec({ job: { ...base.job!, resources: { gpus: 1, cpu: 1, memory: '1Gi', gpuType: 'NVIDIA-H100-80GB-HBM3' } } }), 'f-unsched'),
        want: 'unschedulable',
      },
    ];
    const results = await Promise.all(
      cases.map(async (c) => {
        const watched = runAttempt(ex, c.req);
        await c.trigger?.(c.req.runId);
        const { outcome } = await watched;
        return { name: c.name, got: failure(outcome), want: c.want, outcome };
      }),
    );
    for (const r of results) expect(`${r.name}: ${r.got}`, JSON.stringify(r.outcome)).toBe(`${r.name}: ${r.want}`);
    const user = results.find((r) => r.name === 'user')!.outcome;
    expect(user).toMatchObject({ status: 'failed', exitCode: 3 });
    // Pending failures delete their Job so it does not hold a place in the cluster.
    for (const id of ['f-image', 'f-unsched']) expect(sim!.cluster.jobsForAttempt(id, 1)[0].deletedAt).toBeTruthy();
  });

  it('without a termination message the result is the last line of the pod log', async () => {
    await start({ workload: ({ run }) => ({ durationSeconds: 2, fault: 'none', resultText: `{"metrics":{"acc":0.9},"run":"${run?.runId}"}`, writesResultFile: false }) });
    const { outcome } = await runAttempt(executor(), launchRequest(kubeSpec(), 'log-only'));
    expect(outcome).toMatchObject({ status: 'succeeded', resultText: '{"metrics":{"acc":0.9},"run":"log-only"}' });
    expect(sim!.cluster.attemptOutcome('log-only', 1)!.pod.outcome!.message).toBeUndefined();
  });

  it('a malformed result still succeeds at the executor; validation (the caller) rejects it', async () => {
    await start();
    const base = kubeSpec();
    const req = launchRequest(kubeSpec({ job: { ...base.job!, args: [...base.job!.args, '--p-bad-output=1'] } }), 'bad-out');
    const { outcome } = await runAttempt(executor(), req);
    expect(outcome.status).toBe('succeeded');
    if (outcome.status === 'succeeded') {
      expect(outcome.resultText).toBe(expectedText(req).trim());
      expect(parseJobResult(outcome.resultText, []).ok).toBe(false);
    }
  });

  it('launch is idempotent: a second launch adopts the Job, no second Job; a foreign Job under the name is refused', async () => {
    await start();
    const ex = executor();
    const req = launchRequest(kubeSpec(), 'idem');
    const first = await ex.launch(req);
    const second = await ex.launch(req);
    const third = await executor().launch(req);
    expect(first.adopted).toBe(false);
    expect(second).toEqual({ jobName: first.jobName, adopted: true });
    expect(third.adopted).toBe(true);
    expect(sim!.cluster.jobsForAttempt('idem', 1)).toHaveLength(1);
    const outcome = await ex.watch(req, () => undefined, new AbortController().signal);
    expect(outcome.status).toBe('succeeded');

    // A lost create response (500 after... or a retry of a create that went through) adopts too.
    const req2 = launchRequest(kubeSpec(), 'idem-2');
    const batch = kubeConfigFrom(sim!.kubeconfig).makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({ namespace: 'default', body: buildJob(req2) });
    expect(await ex.launch(req2)).toMatchObject({ adopted: true });
    expect(sim!.cluster.jobsForAttempt('idem-2', 1)).toHaveLength(1);

    const foreign = buildJob(launchRequest(kubeSpec(), 'someone-else'));
    foreign.metadata!.name = buildJob(launchRequest(kubeSpec(), 'victim')).metadata!.name;
    await batch.createNamespacedJob({ namespace: 'default', body: foreign });
    await expect(ex.launch(launchRequest(kubeSpec(), 'victim'))).rejects.toBeInstanceOf(JobNameConflictError);
  });

  it('adopt-only launch (attempt launched before) re-attaches, and never recreates a Job that is gone', async () => {
    await start();
    const ex = executor();
    const req = launchRequest(kubeSpec(), 'adopt-only');
    await expect(ex.launch(req, { adoptOnly: true })).rejects.toBeInstanceOf(JobGoneError);
    expect(sim!.cluster.jobsForAttempt('adopt-only', 1)).toHaveLength(0);
    const first = await ex.launch(req);
    expect(await ex.launch(req, { adoptOnly: true })).toEqual({ jobName: first.jobName, adopted: true });
    await ex.cancel(req); // deleted, as TTL collection would
    await expect(ex.launch(req, { adoptOnly: true })).rejects.toBeInstanceOf(JobGoneError);
    expect(sim!.cluster.jobsForAttempt('adopt-only', 1)).toHaveLength(1);
  });

  it('re-attaches after a worker restart: a new executor watches the running attempt to its end', async () => {
    await start();
    const base = kubeSpec();
    const req = launchRequest(kubeSpec({ job: { ...base.job!, args: [...base.job!.args, '--min-seconds=20', '--max-seconds=20'] } }), 'reattach');
    const worker1 = new AbortController();
    const first = executor();
    await first.launch(req);
    const dying = first.watch(req, () => undefined, worker1.signal);
    await runningPod('reattach');
    worker1.abort(new Error('worker killed'));
    await expect(dying).rejects.toThrow('worker killed');

    const second = executor();
    const phases: JobPhase[] = [];
    expect(await second.launch(req)).toMatchObject({ adopted: true });
    const outcome = await second.watch(req, (p) => phases.push(p), new AbortController().signal);
    expect(phases[0].phase).toBe('running');
    expect(outcome).toMatchObject({ status: 'succeeded', resultText: expectedText(req) });
    const jobs = sim!.cluster.jobsForAttempt('reattach', 1);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].pods).toHaveLength(1);
  });

  it('survives dropped watches, 410 Gone relists, and API 500s / 429s', async () => {
    await start({
      historyLimit: 20,
      apiFaults: { errorRate: 0.15, throttleRate: 0.1, retryAfterSeconds: 0, watchDropMeanSeconds: 0.3 },
      goneAs: 'http',
    });
    const ex = executor();
    const base = kubeSpec();
    const spec = kubeSpec({ job: { ...base.job!, args: [...base.job!.args, '--min-seconds=15', '--max-seconds=25'] } });
    const reqs = Array.from({ length: 8 }, (_, i) => launchRequest(spec, `flaky-${i}`, 1, { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 1, seed: i }));
    // Every tick: drop the watches, write one event the executor has not seen (a no-op Node update),
    // then compact the history past it. Each reconnect therefore resumes from a resourceVersion that
    // is gone, and must answer the 410 with a relist (not left to timing: with the history merely
    // compacted, an executor that had caught up would reconnect at the newest version and never see one).
    const compactor = setInterval(() => {
      sim!.api.dropWatches();
      const node = sim!.store.list('Node')[0];
      if (node) sim!.store.put(node);
      sim!.store.compact();
    }, 700);
    try {
      const outcomes = await Promise.all(reqs.map((r) => runAttempt(ex, r)));
      for (const [i, { outcome }] of outcomes.entries()) expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'succeeded', resultText: expectedText(reqs[i]) });
    } finally {
      clearInterval(compactor);
    }
    const s = sim!.api.stats;
    expect(s.injected500).toBeGreaterThan(0);
    expect(s.injected429).toBeGreaterThan(0);
    expect(s.watchesDropped).toBeGreaterThan(0);
    expect(s.gone).toBeGreaterThan(0);
    for (const r of reqs) expect(sim!.cluster.jobsForAttempt(r.runId, 1)).toHaveLength(1);
  });

  it('persistent API errors become InfrastructureError; Retry-After is honoured', async () => {
    await start();
    const ex = new KubernetesExecutor({ kubeConfig: kubeConfigFrom(sim!.kubeconfig), retry: { initialDelayMs: 5, maxDelayMs: 20, attempts: 3 } });
    sim!.api.injectErrors({ code: 500, count: 100, method: 'POST' });
    const err = await ex.launch(launchRequest(kubeSpec(), 'down')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfrastructureError);
    expect((err as InfrastructureError).failureClass).toBe('infrastructure');
    expect((err as Error).message).toMatch(/HTTP 500/);

    let calls = 0;
    const t0 = Date.now();
    const v = await withApiRetry('x', async () => {
      if (calls++ === 0) throw new ApiException(429, 'Too Many Requests', '{}', { 'retry-after': '0.3' });
      return 'ok';
    });
    expect(v).toBe('ok');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    // Non-transient errors are not retried.
    calls = 0;
    await expect(withApiRetry('y', async () => (calls++, Promise.reject(new ApiException(422, 'Invalid', '{}', {}))))).rejects.toBeInstanceOf(ApiException);
    expect(calls).toBe(1);
  });

  it('cancel deletes the Job and its pods (background propagation); cancelling again is a no-op', async () => {
    await start();
    const ex = executor();
    const base = kubeSpec();
    const req = launchRequest(kubeSpec({ job: { ...base.job!, args: [...base.job!.args, '--min-seconds=100', '--max-seconds=100'] } }), 'cancel-me');
    await ex.launch(req);
    await runningPod('cancel-me');
    await ex.cancel(req);
    expect(sim!.cluster.jobsForAttempt('cancel-me', 1)[0].deletedAt).toBeTruthy();
    expect(sim!.cluster.podsOf('cancel-me', 1)).toHaveLength(0);
    expect(sim!.cluster.gpuUsage().used).toBe(0);
    await ex.cancel(req);
  });

  it('Kueue: a queued (suspended) Job is admitted by the sim and runs to success', async () => {
    await start({ kueueQuotaGpus: 1 });
    const ex = executor();
    const spec = kubeSpec({}, { queue: 'gpu-queue' });
    const reqs = [launchRequest(spec, 'kq-1'), launchRequest(spec, 'kq-2')];
    const phases: JobPhase[] = [];
    const outcomes = await Promise.all(reqs.map(async (r) => (await ex.launch(r), ex.watch(r, (p) => phases.push(p), new AbortController().signal))));
    for (const o of outcomes) expect(o.status).toBe('succeeded');
    expect(phases.some((p) => p.message?.includes('queued'))).toBe(true);
  });

  it('a mini sweep with cluster faults, flaky API and worker restarts: retryable runs succeed with the trainer\'s results, no attempt has two Jobs', async () => {
    await start({
      gpus: 8,
      gpusPerNode: 2,
      timeScale: 20,
      faults: { preemptProbability: 0.1, nodeLossPerHour: 150, nodeRestoreSeconds: 5 },
      apiFaults: { errorRate: 0.05, throttleRate: 0.05, retryAfterSeconds: 0, watchDropMeanSeconds: 0.5 },
    });
    const base = kubeSpec();
    const spec = kubeSpec({
      job: { ...base.job!, args: ['--seconds-per-eflop=1', '--min-seconds=3', '--max-seconds=8', '--p-preempt=0.2', '--p-oom=0.1', '--p-user-error=0.1', '--p-bad-output=0.1', '--fault-seed=3'] },
    });
    const maxAttempts = 8;
    const runOne = async (i: number) => {
      const axes = { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 1, seed: i };
      const classes: (FailureClass | 'succeeded')[] = [];
      const messages: string[] = [];
      let req = launchRequest(spec, `mini-${i}`, 1, axes);
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        req = launchRequest(spec, `mini-${i}`, attempt, axes);
        let ex = executor();
        await ex.launch(req);
        if (i % 4 === 0) {
          // The worker dies mid-attempt; a new one adopts and re-attaches.
          const dying = new AbortController();
          const w = ex.watch(req, () => undefined, dying.signal).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 100));
          dying.abort(new Error('SIGKILL'));
          await w;
          ex = executor();
          expect((await ex.launch(req)).adopted).toBe(true);
        }
        const outcome = await ex.watch(req, () => undefined, new AbortController().signal);
        if (outcome.status === 'succeeded') {
          const parsed = parseJobResult(outcome.resultText, spec.metrics);
          expect(outcome.resultText).toBe(sim!.cluster.attemptOutcome(req.runId, attempt)!.pod.plan.resultText.trim());
          classes.push(parsed.ok ? 'succeeded' : 'bad-result');
          return { req, classes };
        }
        classes.push(outcome.failureClass);
        messages.push(outcome.message);
        if (!DEFAULT_RETRY_ON.includes(outcome.failureClass)) return { req, classes };
        await ex.cancel(req);
      }
      throw new Error(`${req.runId}: ${maxAttempts} retryable failures: ${messages.join(' / ')}`);
    };
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => runOne(i)));
    const args = parseTrainerArgs(spec.job!.args);
    for (const { req, classes } of results) {
      const last = classes[classes.length - 1];
      const attempt = classes.length;
      const fault = planTraining({ sweep: req.sweep, runId: req.runId, attempt, axes: req.axes as Record<string, string | number> }, args).fault;
      // A final failure is the trainer's own, non-retryable fault of that attempt; everything else succeeds.
      const expected = { oom: 'oom', 'user-error': 'user-error', 'bad-output': 'bad-result' } as Record<string, string>;
      if (last !== 'succeeded') expect(`${req.runId}: ${last}`).toBe(`${req.runId}: ${expected[fault] ?? 'succeeded'}`);
      for (let a = 1; a <= attempt; a++) expect(sim!.cluster.jobsForAttempt(req.runId, a), `${req.runId} attempt ${a}`).toHaveLength(1);
    }
    expect(results.filter((r) => r.classes.includes('succeeded')).length).toBeGreaterThan(8);
    // The sim's own summary agrees: one Job per attempt, and the attempts the loop made.
    const summaries = sim!.cluster.attemptSummaries();
    expect(summaries.every((a) => a.jobs === 1)).toBe(true);
    expect(summaries.length).toBe(results.reduce((n, r) => n + r.classes.length, 0));
    expect(results.some((r) => r.classes.length > 1)).toBe(true);
  });
});
