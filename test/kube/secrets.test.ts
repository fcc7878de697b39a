import { afterEach, describe, expect, it } from 'vitest';
import { buildJob } from '../../activities/executors/kubernetes/jobBuilder';
import { KubernetesExecutor } from '../../activities/executors/kubernetes';
import { startKubeSim, type KubeSim } from '../../sim/kube-sim';
import type { Job } from '../../sim/kube-sim/types';
import { SweepSpecSchema } from '../../spec';
import { kubeConfigFrom, kubeSpec, launchRequest } from './helpers';

let sim: KubeSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const secretSpec = () => {
  const base = kubeSpec();
  return kubeSpec({
    job: {
      ...base.job!,
      env: { HF_TOKEN: { secretKeyRef: { name: 'hf', key: 'token' } }, RUN_TAG: 'run-{{seed}}' },
      envFrom: [{ secret: 'wandb' }, { configMap: 'train-config' }],
    },
  });
};

describe('secrets and config on Kubernetes', () => {
  it('a secretKeyRef env value becomes valueFrom.secretKeyRef; envFrom names the Secret and ConfigMap', () => {
    const job = buildJob(launchRequest(secretSpec(), 'sec-run'));
    const c = job.spec!.template.spec!.containers[0];
    expect(c.env!.find((e) => e.name === 'HF_TOKEN')).toEqual({ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } });
    expect(c.env!.find((e) => e.name === 'RUN_TAG')).toEqual({ name: 'RUN_TAG', value: 'run-0' });
    expect(c.envFrom).toEqual([{ secretRef: { name: 'wandb' } }, { configMapRef: { name: 'train-config' } }]);
    // Single-node Jobs are as before: no rank env, no Indexed mode.
    expect(job.spec!.completionMode).toBeUndefined();
    expect(c.env!.some((e) => e.name === 'MASTER_ADDR')).toBe(false);
  });

  it('kube-sim accepts the Job and keeps the reference', async () => {
    sim = await startKubeSim({ gpus: 4, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5 });
    const ex = new KubernetesExecutor({ kubeConfig: kubeConfigFrom(sim.kubeconfig), retry: { initialDelayMs: 10, maxDelayMs: 200, attempts: 5 } });
    const { jobName } = await ex.launch(launchRequest(secretSpec(), 'sec-sim'));
    const stored = sim.store.get<Job>('Job', 'default', jobName)!;
    expect(stored.spec.template.spec.containers[0].env!.find((e) => e.name === 'HF_TOKEN')).toEqual({ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'token' } } });
  });

  it('the spec refuses malformed references, naming the field', () => {
    const r = SweepSpecSchema.safeParse({
      name: 'x',
      grid: { seed: [0] },
      job: { command: ['t'], env: { T: { secretKeyRef: { name: 'Bad_Name', key: 'k' } } } },
    });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.some((i) => i.path.join('.').startsWith('job.env.T'))).toBe(true);
    expect(SweepSpecSchema.safeParse({ name: 'x', grid: { seed: [0] }, job: { command: ['t'], resources: { nodes: 0 } } }).success).toBe(false);
    expect(SweepSpecSchema.safeParse({ name: 'x', grid: { seed: [0] }, job: { command: ['t'], envFrom: [{ secret: 'a', configMap: 'b' }] } }).success).toBe(false);
  });
});
