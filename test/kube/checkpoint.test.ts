// The Kubernetes executor's and kube-sim's side of the training lifecycle: the checkpoint claim
// mounted at /checkpoints with subPath <sweep>/<runId> (read-only for evaluate), the SWEEP_* env,
// evaluate Jobs named apart from training ones, job.gracePeriod as terminationGracePeriodSeconds
// and kube-sim honouring it, and the acceptance case: a 10-epoch run preempted after epoch 6
// resumes on its retry from the checkpoint its first pod left on the claim.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1EnvVar } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesExecutor } from '../../activities/executors/kubernetes';
import { attemptLabels, buildJob, jobNameFor, jobNameOf, LABELS } from '../../activities/executors/kubernetes/jobBuilder';
import type { JobOutcome, LaunchRequest } from '../../activities/executors/types';
import { startKubeSim, type KubeSim, type KubeSimOptions } from '../../sim/kube-sim';
import { validateJob } from '../../sim/kube-sim/validation';
import { CHECKPOINT_FILE } from '../../sim/trainer/checkpoint';
import { parseJobResult } from '../../spec';
import { kubeConfigFrom, kubeSpec, launchRequest, testWatch } from './helpers';

let sim: KubeSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function start(opts: KubeSimOptions = {}): Promise<KubeSim> {
  sim = await startKubeSim({ gpus: 4, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5, ...opts });
  return sim;
}

function executor(s: KubeSim = sim!): KubernetesExecutor {
  return new KubernetesExecutor({
    kubeConfig: kubeConfigFrom(s.kubeconfig),
    retry: { initialDelayMs: 10, maxDelayMs: 200, attempts: 12 },
    watch: testWatch,
  });
}

const envOf = (req: LaunchRequest): Record<string, string | undefined> =>
  Object.fromEntries((buildJob(req).spec!.template.spec!.containers[0].env as V1EnvVar[]).map((e) => [e.name, e.value]));

const AXES = { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 10, seed: 0 };

describe('job builder: the checkpoint contract', () => {
  const spec = kubeSpec({}, { checkpointPvc: 'sweep-checkpoints', checkpointUri: 's3://bucket/ckpt/' });

  it('mounts the claim at /checkpoints with subPath <sweep>/<runId>, and sets the SWEEP_* env', () => {
    const req = { ...launchRequest(spec, 'run-1-abcdef12'), resume: true };
    const pod = buildJob(req).spec!.template.spec!;
    expect(pod.volumes).toContainEqual({ name: 'checkpoints', persistentVolumeClaim: { claimName: 'sweep-checkpoints' } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'checkpoints', mountPath: '/checkpoints', subPath: 'kube-test/run-1-abcdef12' });
    const env = envOf(req);
    expect(env).toMatchObject({
      SWEEP_STAGE: 'train',
      SWEEP_CHECKPOINT_DIR: '/checkpoints',
      SWEEP_CHECKPOINT_URI: 's3://bucket/ckpt/kube-test/run-1-abcdef12',
      SWEEP_RESUME: '1',
    });
    expect(env.SWEEP_TRAIN_RESULT).toBeUndefined();
    expect(validateJob(JSON.parse(JSON.stringify(buildJob(req))))).toEqual([]);
  });

  it('no claim, no URI, no earlier attempt: none of those variables, and no checkpoint volume', () => {
    const req = launchRequest(kubeSpec(), 'run-1-abcdef12');
    const env = envOf(req);
    expect(env.SWEEP_STAGE).toBe('train');
    for (const k of ['SWEEP_CHECKPOINT_DIR', 'SWEEP_CHECKPOINT_URI', 'SWEEP_RESUME', 'SWEEP_TRAIN_RESULT']) expect(env[k], k).toBeUndefined();
    expect(buildJob(req).spec!.template.spec!.volumes!.map((v) => v.name)).not.toContain('checkpoints');
  });

  it('evaluate: the claim read-only, SWEEP_STAGE=evaluate and SWEEP_TRAIN_RESULT, a Job name of its own', () => {
    const trainResult = JSON.stringify({ metrics: { acc: 0.5 }, n_params: 10 });
    const train = launchRequest(spec, 'run-1-abcdef12');
    const req: LaunchRequest = { ...train, stage: 'evaluate', evaluator: '3f9a1c2e5d', trainResult };
    const job = buildJob(req);
    const pod = job.spec!.template.spec!;
    expect(pod.volumes).toContainEqual({ name: 'checkpoints', persistentVolumeClaim: { claimName: 'sweep-checkpoints', readOnly: true } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'checkpoints', mountPath: '/checkpoints', subPath: 'kube-test/run-1-abcdef12', readOnly: true });
    expect(envOf(req)).toMatchObject({ SWEEP_STAGE: 'evaluate', SWEEP_CHECKPOINT_DIR: '/checkpoints', SWEEP_TRAIN_RESULT: trainResult });
    // Golden names: training's never change (adoption finds Jobs by name); evaluate's carry the evaluator.
    expect(jobNameOf({ sweep: 's', runId: 'r', attempt: 1 })).toBe(jobNameFor('s', 'r', 1));
    expect(jobNameOf({ sweep: 's', runId: 'r', attempt: 1 })).toBe('s-r-43140413-a1');
    expect(job.metadata!.name).toBe('kube-test-run-1-abcdef12-b5537606-e3f9a1c2e-1');
    expect(job.metadata!.name).not.toBe(buildJob(train).metadata!.name);
    expect(jobNameOf({ ...req, evaluator: 'ffff0000' })).not.toBe(job.metadata!.name);
    // Two evaluators equal in their first 8 characters still differ (the hash covers the whole evaluator).
    expect(jobNameOf({ ...req, evaluator: '3f9a1c2e5e' })).not.toBe(job.metadata!.name);
    expect(jobNameOf({ ...req, evaluator: 'Not/Safe!' })).toMatch(/^kube-test-run-1-abcdef12-[0-9a-f]{8}-e[0-9a-f]{8}-1$/);
    expect(attemptLabels(req)).toMatchObject({ [LABELS.stage]: 'evaluate', [LABELS.evaluator]: '3f9a1c2e5d' });
    expect(attemptLabels(train)[LABELS.stage]).toBeUndefined();
    expect(validateJob(JSON.parse(JSON.stringify(job)))).toEqual([]);
  });

  it('job.gracePeriod is terminationGracePeriodSeconds (default 30)', () => {
    expect(buildJob(launchRequest(kubeSpec(), 'r1')).spec!.template.spec!.terminationGracePeriodSeconds).toBe(30);
    const base = kubeSpec();
    const spec45 = kubeSpec({ job: { ...base.job!, gracePeriod: '45s' } });
    expect(buildJob(launchRequest(spec45, 'r1')).spec!.template.spec!.terminationGracePeriodSeconds).toBe(45);
    const spec2m = kubeSpec({ job: { ...base.job!, gracePeriod: '1500ms' } });
    expect(buildJob(launchRequest(spec2m, 'r1')).spec!.template.spec!.terminationGracePeriodSeconds).toBe(2);
  });

  it('kube-sim refuses a subPath that climbs out of its volume, and a negative grace period', () => {
    const job = JSON.parse(JSON.stringify(buildJob(launchRequest(spec, 'r1')))) as { spec: { template: { spec: Record<string, unknown> & { containers: { volumeMounts: { subPath?: string }[] }[] } } } };
    job.spec.template.spec.containers[0].volumeMounts.find((m) => m.subPath)!.subPath = '../other-run';
    job.spec.template.spec.terminationGracePeriodSeconds = -1;
    expect(validateJob(job).map((c) => c.field)).toEqual([
      'spec.template.spec.containers[0].volumeMounts[1].subPath',
      'spec.template.spec.terminationGracePeriodSeconds',
    ]);
  });
});

describe('kube-sim: claims keep their files, grace periods are honoured', () => {
  it('acceptance: a 10-epoch run preempted after epoch 6 resumes on its retry from the claim', async () => {
    await start();
    const ex = executor();
    const base = kubeSpec({}, { checkpointPvc: 'ckpt' });
    // 10 epochs of 2 simulated seconds (0.2 s real at time scale 10).
    const spec = kubeSpec({ job: { ...base.job!, args: ['--min-seconds=20', '--max-seconds=20', '--noise=0'] } }, { checkpointPvc: 'ckpt' });
    const first = launchRequest(spec, 'resume-run-1', 1, AXES);
    await ex.launch(first);
    const watching = ex.watch(first, () => undefined, new AbortController().signal);
    const file = join(sim!.cluster.claimDir('ckpt'), 'kube-test', 'resume-run-1', CHECKPOINT_FILE);
    const epochOf = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { epoch: number }).epoch : 0);
    await sim!.cluster.waitFor(() => epochOf() >= 6, 20_000);
    const pod1 = sim!.cluster.podsOf('resume-run-1', 1)[0].metadata.name;
    sim!.cluster.preemptPod(pod1);
    const out1 = await watching;
    expect(out1).toMatchObject({ status: 'failed', failureClass: 'preempted' });
    const saved = epochOf();
    expect(saved).toBeGreaterThanOrEqual(6);
    expect(saved).toBeLessThan(10);
    const log1 = sim!.cluster.podLog('default', pod1);

    const second: LaunchRequest = { ...launchRequest(spec, 'resume-run-1', 2, AXES), resume: true };
    await ex.launch(second);
    const out2: JobOutcome = await ex.watch(second, () => undefined, new AbortController().signal);
    if (out2.status !== 'succeeded') throw new Error(JSON.stringify(out2));
    const parsed = parseJobResult(out2.resultText, spec.metrics);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.result.metrics.resumed_from_epoch).toBe(saved);
    const pod2 = sim!.cluster.podsOf('resume-run-1', 2)[0].metadata.name;
    const log2 = sim!.cluster.podLog('default', pod2);
    if (!log1.ok || !log2.ok) throw new Error('pod logs unavailable');
    expect(log2.text).toContain(`attempt 2 resumed at epoch ${saved} of 10`);
    const done = (log: string) => [...log.matchAll(/epoch (\d+)\/10 done/g)].map((m) => Number(m[1]));
    expect(done(log1.text)).toEqual(Array.from({ length: saved }, (_, i) => i + 1));
    expect(done(log2.text)).toEqual(Array.from({ length: 10 - saved }, (_, i) => saved + 1 + i));
    expect(done(log1.text).length + 1 + done(log2.text).length).toBeLessThanOrEqual(11);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ epoch: 10, attempt: 2, epochsRun: 10 });
    // GPU-seconds (simulated, 1 GPU): attempt 1 ran >= 6 epochs of 2 s, attempt 2 the rest, not the whole 20 s again.
    expect(out1.gpuSeconds).toBeGreaterThanOrEqual(12);
    expect(out2.gpuSeconds).toBeGreaterThanOrEqual((10 - saved) * 2 - 0.5);
    expect(out2.gpuSeconds).toBeLessThan(20 - 6 * 2 + 2);
    expect(out1.gpuSeconds + out2.gpuSeconds).toBeGreaterThanOrEqual(20 - 0.5);
  }, 60_000);

  it('a pod that ignores the preemption’s SIGTERM runs on through the grace period, then is SIGKILLed: preempted', async () => {
    await start({ workload: () => ({ durationSeconds: 10_000, fault: 'none', resultText: '{"metrics":{}}', ignoresSigterm: true }) });
    const ex = executor();
    const base = kubeSpec();
    const spec = kubeSpec({ job: { ...base.job!, gracePeriod: '20s' } });
    const req = launchRequest(spec, 'stubborn-1');
    await ex.launch(req);
    const watching = ex.watch(req, () => undefined, new AbortController().signal);
    const name = await sim!.cluster.waitFor(() => sim!.cluster.podsOf('stubborn-1', 1).find((p) => p.status.phase === 'Running')?.metadata.name, 10_000);
    const t0 = sim!.simNow().getTime();
    sim!.cluster.preemptPod(name);
    // Still running, already marked as disrupted.
    const pod = sim!.cluster.findPod(name)!;
    expect(pod.status.phase).toBe('Running');
    expect(pod.status.conditions?.find((c) => c.type === 'DisruptionTarget')?.status).toBe('True');
    const out = await watching;
    expect(out).toMatchObject({ status: 'failed', failureClass: 'preempted', exitCode: 137 });
    const finished = new Date(sim!.cluster.attemptOutcome('stubborn-1', 1)!.pod.finishedAt!).getTime();
    expect(finished - t0).toBeGreaterThanOrEqual(20_000); // simulated ms: the whole grace period
    expect(finished - t0).toBeLessThan(30_000);
  }, 30_000);

  it('a deleted pod that ignores SIGTERM stays (terminating) until its grace period ends; one that does not goes at once', async () => {
    await start({
      workload: ({ run }) => ({ durationSeconds: 10_000, fault: 'none', resultText: '{"metrics":{}}', ignoresSigterm: run?.runId === 'stubborn-2' }),
    });
    const ex = executor();
    const base = kubeSpec();
    const spec = kubeSpec({ job: { ...base.job!, gracePeriod: '10s' } });
    const running = (runId: string) => sim!.cluster.waitFor(() => sim!.cluster.podsOf(runId, 1).find((p) => p.status.phase === 'Running')?.metadata.name, 10_000);
    const stubborn = launchRequest(spec, 'stubborn-2');
    const meek = launchRequest(spec, 'meek-2');
    await ex.launch(stubborn);
    await ex.launch(meek);
    const [s, m] = [await running('stubborn-2'), await running('meek-2')];
    const t0 = sim!.simNow().getTime();
    await ex.cancel(stubborn);
    await ex.cancel(meek);
    await sim!.cluster.waitFor(() => !sim!.cluster.findPod(m), 5000);
    const terminating = sim!.cluster.findPod(s);
    expect(terminating?.metadata.deletionTimestamp).toBeDefined();
    expect(terminating?.status.phase).toBe('Running');
    await sim!.cluster.waitFor(() => !sim!.cluster.findPod(s), 10_000);
    expect(sim!.simNow().getTime() - t0).toBeGreaterThanOrEqual(10_000);
  }, 30_000);
});
