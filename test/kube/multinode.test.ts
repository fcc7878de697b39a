import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesExecutor } from '../../activities/executors/kubernetes';
import { jobNameOf } from '../../activities/executors/kubernetes/jobBuilder';
import type { JobPhase, LaunchRequest } from '../../activities/executors/types';
import { startKubeSim, type KubeSim } from '../../sim/kube-sim';
import type { Job } from '../../sim/kube-sim/types';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { totalGpus } from '../../spec';
import { kubeConfigFrom, kubeSpec, launchRequest, testWatch } from './helpers';

let sim: KubeSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const executor = (s: KubeSim) =>
  new KubernetesExecutor({
    kubeConfig: kubeConfigFrom(s.kubeconfig),
    retry: { initialDelayMs: 10, maxDelayMs: 200, attempts: 12 },
    watch: testWatch,
    reapTimeoutMs: 10_000,
  });

/** A 2-node x 4-GPU spec; `args` replace the trainer's timing. */
function gangSpec(args = ['--seconds-per-eflop=1', '--min-seconds=2', '--max-seconds=4'], nodes = 2) {
  const base = kubeSpec();
  return kubeSpec({ job: { ...base.job!, args, resources: { nodes, gpus: 4, cpu: 4, memory: '16Gi' } }, timeouts: { run: '10m', pending: '30s' } });
}

const expectedText = (req: LaunchRequest) =>
  planTraining({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, axes: req.axes as Record<string, string | number | boolean> }, parseTrainerArgs(req.spec.job.args)).resultText;

const envOf = (pod: { spec: { containers: { env?: { name: string; value?: string; valueFrom?: unknown }[] }[] } }) =>
  Object.fromEntries((pod.spec.containers[0].env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('multi-node runs on kube-sim', () => {
  it('runs a 2-node x 4-GPU attempt as one Indexed Job with a headless Service; the result is index 0s', async () => {
    sim = await startKubeSim({ gpus: 8, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5 });
    const req = launchRequest(gangSpec(), 'gang-ok');
    expect(totalGpus(req.resources)).toBe(8);
    const ex = executor(sim);
    const launched = await ex.launch(req);
    // A second launch adopts: still one Job and one Service (the Service's 409 is fine).
    expect((await ex.launch(req)).adopted).toBe(true);
    const jobs = sim.cluster.jobsForAttempt('gang-ok', 1);
    expect(jobs).toHaveLength(1);
    const job = sim.store.get<Job>('Job', 'default', launched.jobName)!;
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 2, parallelism: 2, backoffLimit: 0 });
    const svcs = sim.cluster.services('default');
    expect(svcs).toHaveLength(1);
    expect(svcs[0].metadata.name).toBe(launched.jobName);
    expect(svcs[0].spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: { 'job-name': launched.jobName } });
    expect(svcs[0].metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: launched.jobName, uid: job.metadata.uid }]);
    expect(job.spec.template.spec.subdomain).toBe(launched.jobName);

    // Both pods bind together, one per 4-GPU node, each with its index, hostname and rank env.
    const pods = await sim.cluster.waitFor(() => {
      const ps = sim!.cluster.podsOf('gang-ok', 1);
      return ps.length === 2 && ps.every((p) => p.spec.nodeName) ? ps : undefined;
    });
    const byIndex = [...pods].sort((a, b) => Number(a.metadata.annotations!['batch.kubernetes.io/job-completion-index']) - Number(b.metadata.annotations!['batch.kubernetes.io/job-completion-index']));
    expect(byIndex.map((p) => p.metadata.annotations!['batch.kubernetes.io/job-completion-index'])).toEqual(['0', '1']);
    expect(byIndex.map((p) => p.spec.hostname)).toEqual([`${launched.jobName}-0`, `${launched.jobName}-1`]);
    expect(new Set(byIndex.map((p) => p.spec.nodeName)).size).toBe(2);
    for (const p of byIndex) {
      const env = envOf(p);
      expect(env.MASTER_ADDR).toBe(`${launched.jobName}-0.${launched.jobName}`);
      expect(env).toMatchObject({ MASTER_PORT: '29500', NNODES: '2', WORLD_SIZE: '2', NPROC_PER_NODE: '4' });
      expect(env.NODE_RANK).toEqual({ fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } });
      expect(p.spec.containers[0].resources?.limits?.['nvidia.com/gpu']).toBe('4');
    }
    expect(sim.cluster.gpuUsage().used).toBe(8);

    const phases: JobPhase[] = [];
    const outcome = await ex.watch(req, (p) => phases.push(p), new AbortController().signal);
    expect(outcome.status).toBe('succeeded');
    if (outcome.status !== 'succeeded') return;
    expect(outcome.resultText).toBe(expectedText(req));
    // Two pods x 4 GPUs x the planned 2-4 simulated seconds.
    expect(outcome.gpuSeconds).toBeGreaterThan(2 * 4 * 1.5);
    expect(outcome.gpuSeconds).toBeLessThan(2 * 4 * 6);
    expect(phases[phases.length - 1]).toMatchObject({ phase: 'succeeded', pod: byIndex[0].metadata.name });

    // Deleting the Job collects its Service.
    await ex.cancel(req);
    expect(sim.cluster.services('default')).toHaveLength(0);
  });

  it('schedules a gang only when every pod fits', async () => {
    sim = await startKubeSim({ gpus: 8, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5 });
    const ex = executor(sim);
    // A 4-GPU single-node run holds one node: the other node alone cannot take the gang.
    const base = kubeSpec();
    const blocker = launchRequest(kubeSpec({ job: { ...base.job!, args: ['--min-seconds=600', '--max-seconds=600'], resources: { gpus: 4, cpu: 4, memory: '16Gi' } } }), 'blocker');
    await ex.launch(blocker);
    await sim.cluster.waitFor(() => sim!.cluster.podsOf('blocker', 1).find((p) => p.status.phase === 'Running'));
    const req = launchRequest(gangSpec(), 'gang-wait');
    await ex.launch(req);
    const pending = await sim.cluster.waitFor(() => {
      const ps = sim!.cluster.podsOf('gang-wait', 1);
      return ps.length === 2 && ps.every((p) => p.status.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False')) ? ps : undefined;
    });
    // Neither pod took the free node: 4 GPUs stay free rather than half a gang holding them.
    expect(pending.every((p) => !p.spec.nodeName)).toBe(true);
    expect(sim.cluster.gpuUsage().used).toBe(4);
    expect(pending[0].status.conditions?.find((c) => c.type === 'PodScheduled')?.message).toMatch(/^gang of 2 pods/);
    await ex.cancel(blocker);
    const bound = await sim.cluster.waitFor(() => {
      const ps = sim!.cluster.podsOf('gang-wait', 1);
      return ps.length === 2 && ps.every((p) => p.spec.nodeName) ? ps : undefined;
    });
    expect(new Set(bound.map((p) => p.spec.nodeName)).size).toBe(2);
    expect((await ex.watch(req, () => undefined, new AbortController().signal)).status).toBe('succeeded');
  });

  it('a failed index fails the attempt, every pod of it goes, and the retry succeeds', async () => {
    sim = await startKubeSim({ gpus: 8, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5 });
    const ex = executor(sim);
    const spec = gangSpec(['--seconds-per-eflop=1', '--min-seconds=120', '--max-seconds=120']);
    const first = launchRequest(spec, 'gang-fail', 1);
    await ex.launch(first);
    await sim.cluster.waitFor(() => sim!.cluster.podsOf('gang-fail', 1).filter((p) => p.status.phase === 'Running').length === 2);
    const watching = ex.watch(first, () => undefined, new AbortController().signal);
    const failedPod = sim.cluster.failIndex('gang-fail', 1, 1, 1);
    expect(failedPod).toMatch(/-1-[a-z0-9]{5}$/);
    const outcome = await watching;
    expect(outcome).toMatchObject({ status: 'failed', failureClass: 'unknown', exitCode: 1 });
    if (outcome.status === 'failed') expect(outcome.message).toMatch(/exit code 1/);
    // All or nothing: by the time the failure is reported, no pod of the attempt is left, nor its Job or Service.
    expect(sim.cluster.podsOf('gang-fail', 1)).toHaveLength(0);
    expect(sim.cluster.services('default')).toHaveLength(0);
    expect(sim.cluster.gpuUsage().used).toBe(0);

    const retry = launchRequest(gangSpec(), 'gang-fail', 2);
    await ex.launch(retry);
    const ok = await ex.watch(retry, () => undefined, new AbortController().signal);
    expect(ok.status).toBe('succeeded');
    if (ok.status === 'succeeded') expect(ok.resultText).toBe(expectedText(retry));
  });

  it('names multi-node Jobs so that every pod hostname <job>-<index> is a 63-character label', () => {
    const req = launchRequest(gangSpec(undefined, 12), 'r'.repeat(80));
    // 12 nodes: the longest hostname is <job>-11; single-node names keep all 63 characters.
    expect(jobNameOf(req)).toHaveLength(60);
    expect(`${jobNameOf(req)}-11`).toHaveLength(63);
    expect(jobNameOf(launchRequest(kubeSpec(), 'r'.repeat(80)))).toHaveLength(63);
  });
});
