// Results are bounded on Kubernetes too: a result past MAX_RESULT_BYTES (1 MiB) fails the run as
// bad-result, and the pod-log fallback never asks the API for more than the limit + 1 byte.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KubernetesExecutor } from '../../activities/executors/kubernetes';
import { startKubeSim, type KubeSim, type Workload } from '../../sim/kube-sim';
import { kubeConfigFrom, kubeSpec, launchRequest, testWatch } from './helpers';

const MiB = 1024 * 1024;

let sim: KubeSim | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await sim?.stop();
  sim = undefined;
});

async function outcomeOf(workload: Workload, runId: string) {
  sim = await startKubeSim({ gpus: 4, gpusPerNode: 4, timeScale: 10, podStartupSeconds: 0.5, workload });
  const ex = new KubernetesExecutor({
    kubeConfig: kubeConfigFrom(sim.kubeconfig),
    retry: { initialDelayMs: 10, maxDelayMs: 200, attempts: 12 },
    watch: testWatch,
  });
  const req = launchRequest(kubeSpec(), runId);
  await ex.launch(req);
  return ex.watch(req, () => {}, new AbortController().signal);
}

const big = (bytes: number) => `{"metrics":{"acc":0.9},"pad":"${'x'.repeat(bytes)}"}`;

describe('result size limit on Kubernetes', () => {
  it('a 2 MiB result in the pod log (no termination message) fails as bad-result; the log is read with limitBytes', async () => {
    const logReads = vi.spyOn(CoreV1Api.prototype, 'readNamespacedPodLog');
    const out = await outcomeOf(
      () => ({ durationSeconds: 1, fault: 'none', resultText: big(2 * MiB), writesResultFile: false }),
      'big-log',
    );
    expect(out).toEqual({
      status: 'failed',
      failureClass: 'bad-result',
      message: 'result (last line of the pod log) is over the limit of 1048576 bytes (1 MiB)',
      exitCode: 0,
      gpuSeconds: expect.any(Number),
    });
    expect(logReads).toHaveBeenCalled();
    for (const [params] of logReads.mock.calls) expect(params).toMatchObject({ limitBytes: MiB + 1 });
  });

  it('long log lines before a small result do not hide it: the last line alone is read again', async () => {
    const result = '{"metrics":{"acc":0.9},"run":"noisy"}';
    const noisy = `${'a'.repeat(700_000)}\n${'b'.repeat(700_000)}\n${result}`;
    const out = await outcomeOf(
      () => ({ durationSeconds: 1, fault: 'none', resultText: noisy, writesResultFile: false }),
      'noisy',
    );
    expect(out).toMatchObject({ status: 'succeeded', resultText: result });
  });
});
