/**
 * kube-sim as its own process (benchmarks run it beside the orchestrator, on another core):
 *
 *   node --import tsx sim/kube-sim/main.ts --gpus 32 [--gpus-per-node 8] [--time-scale 200]
 *        [--port 0] [--pod-startup 1] [--history 10000] [--workload trainer|axis-duration]
 *
 * Prints one JSON line {"url", "kubeconfig"} on stdout once listening; runs until SIGTERM / SIGINT.
 */
import { axisDurationWorkload, startKubeSim, trainerWorkload } from './index';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

const workloadName = flag('workload', 'trainer');
if (workloadName !== 'trainer' && workloadName !== 'axis-duration') {
  process.stderr.write(`--workload: "${workloadName}" is not one of trainer, axis-duration\n`);
  process.exit(2);
}
const sim = await startKubeSim({
  gpus: Number(flag('gpus', '16')),
  gpusPerNode: Number(flag('gpus-per-node', '8')),
  timeScale: Number(flag('time-scale', '1')),
  port: Number(flag('port', '0')),
  podStartupSeconds: Number(flag('pod-startup', '1')),
  historyLimit: Number(flag('history', '10000')),
  workload: workloadName === 'trainer' ? trainerWorkload() : axisDurationWorkload(),
});
process.stdout.write(`${JSON.stringify({ url: sim.url, kubeconfig: sim.kubeconfig })}\n`);
const stop = () => void sim.stop().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
