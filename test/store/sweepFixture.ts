/**
 * A sweep written into a results store exactly as the worker writes it (registerSweep's row,
 * each attempt's launch and end with its result), for the report tests. Scores follow a known
 * law with no noise, so a fit must recover it: y = 1 - V1 = E + A (total_flops / 1e13)^-alpha.
 */
import { SweepSpecSchema, type SweepSpec, type SweepSpecInput } from '../../spec';
import type { ResultsStore } from '../../store/types';

export const LAW = { E: 0.3, A: 0.5, alpha: 0.3 } as const;
export const FIT_NAME = 'v1_flops';

export const flopsOf = (i: number): number => 1e14 * 10 ** (i / 2);
export const scoreAt = (flops: number): number => 1 - (LAW.E + LAW.A * (flops / 1e13) ** -LAW.alpha);

export function fixtureSpecInput(name: string): SweepSpecInput {
  return {
    name,
    grid: { arch: ['resnet18'], seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    job: { command: ['true'], resources: { gpus: 1, cpu: 1, memory: '1Gi' } },
    executor: { kind: 'local' },
    metrics: ['V1'],
    fits: [{ name: FIT_NAME, form: 'power_law', x: 'total_flops', scalers: { total_flops: 1e13 }, y: { metrics: ['V1'] }, bootstrap: 20 }],
  };
}

export const fixtureSpec = (name: string): SweepSpec => SweepSpecSchema.parse(fixtureSpecInput(name));

const at = (i: number, s: number) => new Date(Date.UTC(2026, 0, 1, 0, i, s)).toISOString();

/** The sweep's row, as the registerSweep activity writes it. */
export async function registerFixtureSweep(store: ResultsStore, spec: SweepSpec): Promise<void> {
  await store.upsertSweep({ name: spec.name, specHash: 'spec-hash-1', spec, instanceId: 'inst-1', createdAt: at(0, 0) });
}

export const runIdOf = (i: number): string => `resnet18-${i}-0a1b2c3d`;

/** Run `i` (seed i): launched, then ended succeeded with its result (or failed as oom). */
export async function recordFixtureRun(store: ResultsStore, spec: SweepSpec, i: number, outcome: 'succeeded' | 'failed' = 'succeeded'): Promise<void> {
  const sweep = spec.name;
  const runId = runIdOf(i);
  const axes = { arch: 'resnet18', seed: i };
  const base = { sweep, runId, attempt: 1, jobName: `job-${i}`, startedAt: at(i + 1, 0), jobHash: 'job-hash-1' };
  await store.launchAttempt({
    attempt: { ...base, state: 'running', gpuSeconds: 0 },
    run: { sweep, runId, axes, state: 'running', attempts: 1, gpus: 1, gpuSeconds: 0, updatedAt: at(i + 1, 0), jobHash: 'job-hash-1' },
  });
  const flops = flopsOf(i);
  const run = { sweep, runId, axes, attempts: 1, gpus: 1, gpuSeconds: 1800 + i, updatedAt: at(i + 1, 30), jobHash: 'job-hash-1' };
  const attempt = { ...base, finishedAt: at(i + 1, 30), gpuSeconds: 1800 + i };
  if (outcome === 'failed') {
    await store.finishAttempt({
      attempt: { ...attempt, state: 'failed', failureClass: 'oom', message: 'OOMKilled' },
      run: { ...run, state: 'failed', failureClass: 'oom', message: 'OOMKilled' },
    });
    return;
  }
  await store.finishAttempt({
    attempt: { ...attempt, state: 'succeeded', exitCode: 0 },
    run: { ...run, state: 'succeeded' },
    result: {
      sweep,
      runId,
      attempt: 1,
      axes,
      result: { metrics: { V1: scoreAt(flops) }, n_params: 11_689_512, n_samples_seen: 1e6 * (i + 1), total_flops: flops },
      gpuSeconds: 1800 + i,
      recordedAt: at(i + 1, 30),
      jobHash: 'job-hash-1',
    },
  });
}
