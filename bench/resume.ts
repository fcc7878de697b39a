/**
 * bench/resume: GPU-seconds lost per preemption with and without resume, on the synthetic
 * trainer at a realistic checkpoint interval.
 *
 *   npx tsx bench/resume.ts [--trials 24] [--hours 8] [--epochs 16] [--time-scale 4000] [--seed 7]
 *
 * Each trial is one run of the synthetic trainer (`--hours` on 1 GPU, `--epochs` epochs with a
 * checkpoint after each: 8 h / 16 = one every 30 min, a common interval for multi-hour jobs) as
 * a Kubernetes Job on kube-sim (the trainer's plan and checkpoint file, in simulated time), with
 * the checkpoint claim mounted. Attempt 1 is preempted (SIGTERM, as kube-sim's preemption) at a
 * uniformly random point in 5%..95% of the run; attempt 2 is launched with `resume: true`
 * (SWEEP_RESUME=1: the trainer resumes after the last checkpointed epoch) or without (it trains
 * from scratch). Lost = GPU-seconds of both attempts (as the executor counts them, container
 * start to end) - GPU-seconds of an uninterrupted run. Both modes use the same preemption
 * points. Not modelled: restart costs beyond the pod start-up (image pull, data loader warm-up,
 * reading the checkpoint), the same with and without resume.
 */
import { KubernetesExecutor } from '../activities/executors/kubernetes';
import type { JobOutcome, LaunchRequest } from '../activities/executors/types';
import { startKubeSim, type KubeSim } from '../sim/kube-sim';
import { jobHashOf, mulberry32, resourcesFor, SweepSpecSchema } from '../spec';
import { KubeConfig } from '@kubernetes/client-node';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

const TRIALS = Number(flag('trials', '24'));
const HOURS = Number(flag('hours', '8'));
const EPOCHS = Number(flag('epochs', '16'));
const TIME_SCALE = Number(flag('time-scale', '2000'));
const SEED = Number(flag('seed', '7'));
const RUN_SECONDS = HOURS * 3600;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const spec = SweepSpecSchema.parse({
  name: 'bench-resume',
  grid: { arch: ['resnet50'], epochs: [EPOCHS], seed: [0] },
  job: {
    image: 'ghcr.io/scaling-sweep/trainer:latest',
    command: ['node', 'sim/trainer/main.ts'],
    // The run's length is pinned (min = max): the checkpoint interval is RUN_SECONDS / EPOCHS.
    args: [`--min-seconds=${RUN_SECONDS}`, `--max-seconds=${RUN_SECONDS}`, '--noise=0'],
    resources: { gpus: 1, cpu: 8, memory: '32Gi' },
  },
  executor: { kind: 'kubernetes', namespace: 'default', checkpointPvc: 'bench-checkpoints' },
  timeouts: { run: '48h', pending: '1h' },
  metrics: ['V1', 'IT'],
});
if (!spec.job) throw new Error('bench spec has no job');
const job = spec.job;

function request(runId: string, attempt: number, resume: boolean): LaunchRequest {
  const axes = { arch: 'resnet50', dataset: 'imagenet', samples_per_class: 0, epochs: EPOCHS, seed: 0 };
  const resources = resourcesFor(spec, axes);
  return {
    sweep: spec.name,
    instance: 'bench',
    jobHash: jobHashOf(job, resources),
    runId,
    attempt,
    axes,
    resources,
    ...(resume ? { resume: true } : {}),
    spec: { job, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
  };
}

async function watchTo(ex: KubernetesExecutor, req: LaunchRequest): Promise<JobOutcome> {
  await ex.launch(req);
  return ex.watch(req, () => undefined, new AbortController().signal);
}

interface Trial {
  /** GPU-seconds of both attempts. */
  total: number;
  /** Of attempt 1: where it was preempted. */
  first: number;
  resumedFrom?: number;
}

/** One trial: attempt 1 preempted at `at` (fraction of the run), attempt 2 with or without resume. */
async function trial(sim: KubeSim, ex: KubernetesExecutor, runId: string, at: number, resume: boolean): Promise<Trial> {
  const first = request(runId, 1, false);
  const watching = watchTo(ex, first);
  const pod = await sim.cluster.waitFor(() => sim.cluster.podsOf(runId, 1).find((p) => p.status.phase === 'Running'), 60_000);
  const started = Date.parse(pod.status.containerStatuses?.[0]?.state.running?.startedAt ?? '');
  // Sleep in real time until the simulated preemption point, then preempt.
  const dueSim = started + at * RUN_SECONDS * 1000;
  await sleep(Math.max(0, (dueSim - sim.simNow().getTime()) / TIME_SCALE));
  sim.cluster.preemptPod(pod.metadata.name);
  const out1 = await watching;
  if (out1.status !== 'failed' || out1.failureClass !== 'preempted') throw new Error(`attempt 1 of ${runId}: ${JSON.stringify(out1)}`);
  const out2 = await watchTo(ex, request(runId, 2, resume));
  if (out2.status !== 'succeeded') throw new Error(`attempt 2 of ${runId}: ${JSON.stringify(out2)}`);
  const resumedFrom = (JSON.parse(out2.resultText) as { metrics: Record<string, number> }).metrics.resumed_from_epoch;
  return { total: out1.gpuSeconds + out2.gpuSeconds, first: out1.gpuSeconds, resumedFrom };
}

async function main(): Promise<void> {
  const sim = await startKubeSim({ gpus: TRIALS * 2, gpusPerNode: 8, timeScale: TIME_SCALE, podStartupSeconds: 30 });
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig);
  const ex = new KubernetesExecutor({ kubeConfig: kc, watch: { tickMs: 100, watchTimeoutSeconds: 5 } });
  const rnd = mulberry32(SEED);
  const points = Array.from({ length: TRIALS }, () => 0.05 + 0.9 * rnd());
  const interval = RUN_SECONDS / EPOCHS;
  process.stdout.write(
    `bench/resume: ${TRIALS} runs of the synthetic trainer, ${HOURS} h on 1 GPU, ${EPOCHS} epochs ` +
      `(checkpoint every ${(interval / 60).toFixed(0)} min), each preempted once at a random point; kube-sim at ${TIME_SCALE}x\n`,
  );
  const t0 = Date.now();
  try {
    // Both modes at once, on their own run ids (and so their own checkpoint folders).
    // Uninterrupted runs alongside measure what a run costs here (timer lag on a loaded machine
    // adds a little to every attempt): the loss is measured against them, not the nominal length.
    const [withResume, without, clean] = await Promise.all([
      Promise.all(points.map((at, i) => trial(sim, ex, `resume-${i}`, at, true))),
      Promise.all(points.map((at, i) => trial(sim, ex, `restart-${i}`, at, false))),
      Promise.all(points.slice(0, Math.max(4, Math.ceil(TRIALS / 4))).map(async (_, i) => (await watchTo(ex, request(`clean-${i}`, 1, false))).gpuSeconds)),
    ]);
    const baseline = mean(clean);
    const row = (label: string, xs: number[]) =>
      `  ${label.padEnd(16)} mean ${mean(xs).toFixed(0).padStart(6)}   median ${quantile(xs, 0.5).toFixed(0).padStart(6)}   p90 ${quantile(xs, 0.9).toFixed(0).padStart(6)}   max ${Math.max(...xs).toFixed(0).padStart(6)}   (${(mean(xs) / RUN_SECONDS * 100).toFixed(1)}% of the run)\n`;
    const lostWith = withResume.map((r) => r.total - baseline);
    const lostWithout = without.map((r) => r.total - baseline);
    process.stdout.write(`an uninterrupted run: ${baseline.toFixed(0)} GPU-seconds measured (${RUN_SECONDS} nominal)\n`);
    process.stdout.write('lost GPU-seconds per preemption:\n');
    process.stdout.write(row('with resume', lostWith));
    process.stdout.write(row('without resume', lostWithout));
    process.stdout.write(
      `expected: with resume, the work since the last checkpoint (${mean(withResume.map((r) => r.first % interval)).toFixed(0)} s on average here; ` +
        `${(interval / 2).toFixed(0)} s = half an interval in the long run); without, all the work up to the preemption (${mean(without.map((r) => r.first)).toFixed(0)} s on average here)\n`,
    );
    process.stdout.write(`resume saves ${(mean(lostWithout) - mean(lostWith)).toFixed(0)} GPU-seconds per preemption (${(mean(lostWithout) / Math.max(1, mean(lostWith))).toFixed(1)}x less lost)\n`);
    const resumed = withResume.filter((r) => r.resumedFrom !== undefined).length;
    process.stdout.write(`attempts 2 that resumed: ${resumed}/${TRIALS} (any other was preempted before its first checkpoint); without resume: ${without.filter((r) => r.resumedFrom !== undefined).length}\n`);
    process.stdout.write(`wall time ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } finally {
    await sim.stop();
  }
}

await main();
