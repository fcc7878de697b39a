import { KubeConfig } from '@kubernetes/client-node';
import { jobHashOf, resourcesFor, SweepSpecSchema, type AxisValue, type SweepSpecInput } from '../../spec';
import type { LaunchRequest } from '../../activities/executors/types';

type KubeExecutorInput = Extract<NonNullable<SweepSpecInput['executor']>, { kind: 'kubernetes' }>;

/** A parsed spec with the kubernetes executor; `over` replaces top-level fields. */
export function kubeSpec(over: Partial<SweepSpecInput> = {}, executor: Partial<KubeExecutorInput> = {}) {
  return SweepSpecSchema.parse({
    name: 'kube-test',
    grid: { arch: ['resnet18'], dataset: ['imagenet'], samples_per_class: [10], epochs: [1], seed: [0] },
    job: {
      image: 'ghcr.io/scaling-sweep/trainer:latest',
      command: ['node', 'sim/trainer/main.ts'],
      args: ['--seconds-per-eflop=1', '--min-seconds=2', '--max-seconds=4'],
      resources: { gpus: 1, cpu: 4, memory: '16Gi' },
    },
    retry: { nonRetryableExitCodes: [3] },
    timeouts: { run: '10m', pending: '2s' },
    metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
    ...over,
    executor: { kind: 'kubernetes', namespace: 'default', imagePullGrace: '1s', ...executor },
  });
}

export function launchRequest(
  spec: ReturnType<typeof kubeSpec>,
  runId: string,
  attempt = 1,
  axes: Record<string, AxisValue> = { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 1, seed: 0 },
): LaunchRequest {
  return {
    sweep: spec.name,
    // No instance: Job names as before instances existed (other tests pin them); instance tests set one.
    instance: '',
    jobHash: jobHashOf(spec.job!, resourcesFor(spec, axes)),
    runId,
    attempt,
    axes,
    resources: resourcesFor(spec, axes),
    spec: { job: spec.job!, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
  };
}

export function kubeConfigFrom(yaml: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}

/**
 * Executor watch tuning for tests: short server-side watch timeouts and reconnect backoff, and a
 * short linger, so an informer left by a test stops soon after its sim.
 */
export const testWatch = { tickMs: 100, watchTimeoutSeconds: 5, backoffInitialMs: 20, backoffMaxMs: 300, settleMs: 500, lingerMs: 2000 } as const;
