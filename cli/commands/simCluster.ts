import type { Command } from 'commander';
import { runSimCluster } from '../../sim/kube-sim';
import { UsageError } from '../errors';

interface SimClusterFlags {
  gpus: string;
  gpusPerNode: string;
  gpuProduct?: string;
  port: string;
  host: string;
  timeScale: string;
  kubeconfig?: string;
  namespace: string;
  podStartup: string;
  pPreempt: string;
  pOom: string;
  nodeLossPerHour: string;
  apiErrorRate: string;
  apiThrottleRate: string;
  watchDropMean?: string;
  latencyMs: string;
  kueueQuota?: string;
  seed: string;
}

/** Parse a numeric flag, refusing junk with a message naming the flag. */
function num(flag: string, raw: string, check: (n: number) => boolean = (n) => n >= 0): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${flag}: "${raw}" is not a valid value`);
  return n;
}

export function registerSimClusterCommand(program: Command): void {
  program
    .command('sim-cluster')
    .description('run kube-sim: a simulated GPU cluster behind a Kubernetes API server; prints a kubeconfig for it')
    .option('--gpus <n>', 'total simulated GPUs', '16')
    .option('--gpus-per-node <n>', 'GPUs per simulated node', '8')
    .option('--gpu-product <name>', 'nvidia.com/gpu.product label of the nodes', 'NVIDIA-A100-SXM4-80GB')
    .option('--port <n>', 'port to listen on (0: any free port)', '0')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--time-scale <x>', 'simulated seconds per real second', '1')
    .option('--kubeconfig <file>', 'also write the kubeconfig to this file')
    .option('--namespace <ns>', "the kubeconfig context's namespace", 'default')
    .option('--pod-startup <s>', 'simulated seconds from binding to running', '1')
    .option('--p-preempt <p>', 'probability that a started pod is preempted', '0')
    .option('--p-oom <p>', 'probability that a started pod is OOM-killed', '0')
    .option('--node-loss-per-hour <r>', 'node losses per simulated hour', '0')
    .option('--api-error-rate <p>', 'fraction of API requests answered 500', '0')
    .option('--api-throttle-rate <p>', 'fraction of API requests answered 429', '0')
    .option('--watch-drop-mean <s>', 'mean real seconds before a watch stream is cut')
    .option('--latency-ms <ms>', 'added latency per API request', '0')
    .option('--kueue-quota <gpus>', 'GPU quota of the Kueue-style admission (default: all GPUs)')
    .option('--seed <n>', 'seed of the random faults', '1')
    .action(async (o: SimClusterFlags) => {
      const prob = (n: number) => n >= 0 && n <= 1;
      await runSimCluster({
        gpus: num('gpus', o.gpus, (n) => Number.isInteger(n) && n > 0),
        gpusPerNode: num('gpus-per-node', o.gpusPerNode, (n) => Number.isInteger(n) && n > 0),
        gpuProduct: o.gpuProduct,
        port: num('port', o.port, (n) => Number.isInteger(n) && n >= 0 && n < 65536),
        host: o.host,
        timeScale: num('time-scale', o.timeScale, (n) => n > 0),
        kubeconfigPath: o.kubeconfig,
        namespace: o.namespace,
        podStartupSeconds: num('pod-startup', o.podStartup),
        faults: {
          preemptProbability: num('p-preempt', o.pPreempt, prob),
          oomProbability: num('p-oom', o.pOom, prob),
          nodeLossPerHour: num('node-loss-per-hour', o.nodeLossPerHour),
        },
        apiFaults: {
          errorRate: num('api-error-rate', o.apiErrorRate, prob),
          throttleRate: num('api-throttle-rate', o.apiThrottleRate, prob),
          latencyMs: num('latency-ms', o.latencyMs),
          ...(o.watchDropMean !== undefined ? { watchDropMeanSeconds: num('watch-drop-mean', o.watchDropMean, (n) => n > 0) } : {}),
        },
        ...(o.kueueQuota !== undefined ? { kueueQuotaGpus: num('kueue-quota', o.kueueQuota) } : {}),
        seed: num('seed', o.seed, Number.isInteger),
      });
      // The server keeps the process alive until SIGINT / SIGTERM.
    });
}
