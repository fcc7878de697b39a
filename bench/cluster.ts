/**
 * bench/cluster: 500 jobs with heavy-tailed (log-normal) durations on 32 simulated GPUs, each
 * launched and watched through the Kubernetes executor against kube-sim over HTTP.
 *
 *   npx tsx bench/cluster.ts [--jobs 500] [--gpus 32] [--time-scale 200] [--window 40] [--order lpt|grid] [--in-process]
 *        [--sim-cpu-prof DIR]   (a V8 CPU profile of the kube-sim process, written to DIR when it stops)
 *        [--burst-only]         (stop once the opening burst of creates is in: its figures alone)
 *
 * kube-sim runs as its own process (sim/kube-sim/main.ts), as a cluster would, so the
 * orchestrator's event loop is the executor's alone; --in-process shares one loop.
 * Prints makespan / lower bound (lower bound = max(total GPU-seconds / GPUs, longest job)) and
 * the orchestration overhead per job. Durations are known up front (the spec's compute
 * estimate stands in for them), so launches go longest-processing-time first (LPT).
 */
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KubernetesExecutor } from '../activities/executors/kubernetes';
import type { LaunchRequest } from '../activities/executors/types';
import { axisDurationWorkload, startKubeSim, type SimApiStats } from '../sim/kube-sim';
import { mulberry32, SweepSpecSchema } from '../spec';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

const JOBS = Number(flag('jobs', '500'));
const GPUS = Number(flag('gpus', '32'));
const TIME_SCALE = Number(flag('time-scale', '200'));
/**
 * In-flight attempts: GPUs plus queued pods, so a freed GPU is refilled by the scheduler at once.
 * The queue must cover the GPUs that free while a completion is detected and its successor
 * created: 8 suffice at 32 GPUs, at 2,000 GPUs (about 200 completions a wall second at time
 * scale 100) 8 queued pods last 40 ms, so the queue is 5 % of the GPUs (at least 8).
 */
const WINDOW = Number(flag('window', String(GPUS + Math.max(8, Math.ceil(GPUS / 20)))));
const ORDER = flag('order', 'lpt');
const SEED = Number(flag('seed', '42'));
const IN_PROCESS = process.argv.includes('--in-process');
const SIM_CPU_PROF = flag('sim-cpu-prof', '');
const GPUS_PER_NODE = 8;
/** Measure the opening burst of creates only, then stop (a quick A/B of the create path). */
const BURST_ONLY = process.argv.includes('--burst-only');

/** Log-normal durations (simulated seconds): median 10 min, sigma 1 (heavy right tail), 1 min .. 4 h. */
function durations(n: number, seed: number): number[] {
  const rnd = mulberry32(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(rnd(), 1e-12);
    const u2 = rnd();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    out.push(Math.min(4 * 3600, Math.max(60, 600 * Math.exp(1.0 * z))));
  }
  return out;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface SimHandle {
  url: string;
  kubeconfig: string;
  stop(): Promise<void>;
}

/** kube-sim in a child process (default) or in this one. */
async function startSim(): Promise<SimHandle> {
  const args = ['--gpus', String(GPUS), '--gpus-per-node', String(GPUS_PER_NODE), '--time-scale', String(TIME_SCALE), '--pod-startup', '1', '--history', '50000'];
  if (IN_PROCESS) {
    const sim = await startKubeSim({ gpus: GPUS, gpusPerNode: GPUS_PER_NODE, timeScale: TIME_SCALE, podStartupSeconds: 1, historyLimit: 50_000, workload: axisDurationWorkload() });
    return { url: sim.url, kubeconfig: sim.kubeconfig, stop: () => sim.stop() };
  }
  const main = fileURLToPath(new URL('../sim/kube-sim/main.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [...(SIM_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', SIM_CPU_PROF] : []), '--import', 'tsx', main, ...args, '--workload', 'axis-duration'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`kube-sim exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  const { url, kubeconfig } = JSON.parse(line) as { url: string; kubeconfig: string };
  return {
    url,
    kubeconfig,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The sim's clock now (ms), from its /kube-sim/clock endpoint, and a mapping from our wall clock. */
async function simClock(url: string): Promise<(wallMs: number) => number> {
  const t0 = Date.now();
  const { now } = (await (await fetch(`${url}/kube-sim/clock`)).json()) as { now: string };
  const mid = (t0 + Date.now()) / 2;
  const simAt = Date.parse(now);
  return (wallMs) => simAt + (wallMs - mid) * TIME_SCALE;
}

const ms = (d: Date | string | undefined) => (d ? new Date(d).getTime() : NaN);

async function main(): Promise<void> {
  const dur = durations(JOBS, SEED);
  const sim = await startSim();
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig);
  const executor = new KubernetesExecutor({ kubeConfig: kc });
  const toSim = await simClock(sim.url);

  const spec = SweepSpecSchema.parse({
    name: 'bench-cluster',
    grid: { job: [0] },
    job: { image: 'ghcr.io/scaling-sweep/trainer:latest', command: ['train'], resources: { gpus: 1, cpu: 4, memory: '16Gi' } },
    executor: { kind: 'kubernetes', namespace: 'default', ttlSecondsAfterFinished: 24 * 3600 },
    timeouts: { run: '24h', pending: '24h' },
  });
  const reqs: LaunchRequest[] = dur.map((d, i) => ({
    sweep: spec.name,
    instance: 'bench',
    jobHash: 'bench',
    runId: `job-${String(i).padStart(4, '0')}`,
    attempt: 1,
    axes: { job: i, duration_s: Math.round(d * 1000) / 1000 },
    resources: spec.job!.resources,
    spec: { job: spec.job!, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
  }));
  const order = ORDER === 'lpt' ? [...reqs].sort((a, b) => Number(b.axes.duration_s) - Number(a.axes.duration_s)) : reqs;

  const launchMs: number[] = [];
  /** The opening burst's launches (each slot's first) and the rest, apart: the burst sets the tail. */
  const burstLaunchMs: number[] = [];
  const laterLaunchMs: number[] = [];
  // The opening burst (every slot's first create at once): its wall time and each process's CPU per create.
  const simCpu = async () => ((await (await fetch(`${sim.url}/_sim/stats`)).json()) as { processCpuMicros: number }).processCpuMicros;
  const burstSize = Math.min(WINDOW, order.length);
  const burst = { wallMs: 0, execCpuMicros: 0, simCpuMicros: 0, loopBusy: 0 };
  const execCpu0 = process.cpuUsage();
  // The executor's event loop: busy all through the burst means its one thread sets the pace.
  const elu0 = performance.eventLoopUtilization();
  const simCpu0 = await simCpu();
  const burstT0 = performance.now();
  let burstDone = false;
  const burstLine = () =>
    `  opening burst           ${burstSize} creates in ${(burst.wallMs / 1000).toFixed(2)} s wall (${(burstSize / (burst.wallMs / 1000)).toFixed(0)}/s); ` +
    `CPU per create: executor ${(burst.execCpuMicros / 1000 / burstSize).toFixed(3)} ms, kube-sim ${(burst.simCpuMicros / 1000 / burstSize).toFixed(3)} ms (their watch events included); ` +
    `executor event loop busy ${(100 * burst.loopBusy).toFixed(0)} %`;
  const watchReturnedAt = new Map<string, number>();
  let failures = 0;
  let next = 0;
  const wallStart = Date.now();
  const simStart = toSim(wallStart);

  const slot = async () => {
    let first = true;
    while (next < order.length) {
      const req = order[next++];
      const t0 = performance.now();
      await executor.launch(req);
      launchMs.push(performance.now() - t0);
      (first ? burstLaunchMs : laterLaunchMs).push(performance.now() - t0);
      first = false;
      if (burstLaunchMs.length === burstSize && !burstDone) {
        burstDone = true;
        burst.wallMs = performance.now() - burstT0;
        const c = process.cpuUsage(execCpu0);
        burst.execCpuMicros = c.user + c.system;
        burst.loopBusy = performance.eventLoopUtilization(elu0).utilization;
        burst.simCpuMicros = (await simCpu()) - simCpu0;
        if (BURST_ONLY) {
          console.log(`bench/cluster --burst-only: ${GPUS} simulated GPUs, time scale ${TIME_SCALE}x`);
          console.log(burstLine());
          console.log(`  launch (create Job)     p50 ${(quantile(burstLaunchMs, 0.5)).toFixed(1)} ms, p95 ${(quantile(burstLaunchMs, 0.95)).toFixed(1)} ms wall (the burst's)`);
          console.log(`  watch events            ${(executor.informer('default').stats.events / burstSize).toFixed(2)} per create reached the informer during the burst`);
          // Not executor.close(): the slots' watches would fail and report it.
          await sim.stop();
          process.exit(0);
        }
      }
      const outcome = await executor.watch(req, () => undefined, new AbortController().signal);
      watchReturnedAt.set(req.runId, Date.now());
      if (outcome.status !== 'succeeded') failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, order.length) }, slot));
  const wallSeconds = (Date.now() - wallStart) / 1000;

  // Figures from the cluster's own records (simulated time), read through its API.
  // The API budget as the sim counted it, before our own reads below add to it.
  const stats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as SimApiStats;
  const core = kc.makeApiClient(CoreV1Api);
  const pods: V1Pod[] = (await core.listNamespacedPod({ namespace: 'default' })).items;
  executor.close();
  await sim.stop();
  const runs = pods.map((p) => {
    const term = p.status?.containerStatuses?.[0]?.state?.terminated;
    return { run: p.metadata?.labels?.['scaling-sweep.io/run'] ?? '', node: p.spec?.nodeName ?? '', start: ms(term?.startedAt), end: ms(term?.finishedAt) };
  });
  const lastFinish = Math.max(...runs.map((r) => r.end));
  const makespan = (lastFinish - simStart) / 1000;
  const totalGpuSeconds = dur.reduce((a, b) => a + b, 0);
  const lowerBound = Math.max(totalGpuSeconds / GPUS, Math.max(...dur));
  const busy = runs.reduce((s, r) => s + (r.end - r.start) / 1000, 0);
  // Detection: the container's end (cluster clock) to the executor's watch returning (real ms).
  const detectMs = runs.filter((r) => watchReturnedAt.has(r.run)).map((r) => (toSim(watchReturnedAt.get(r.run)!) - r.end) / TIME_SCALE);

  // GPU handover: on each node, the k-th start after the first GPUS_PER_NODE takes the GPU freed by the k-th end.
  const handovers: number[] = [];
  for (const node of new Set(runs.map((r) => r.node))) {
    const on = runs.filter((r) => r.node === node);
    const ends = on.map((r) => r.end).sort((a, b) => a - b);
    const starts = on.map((r) => r.start).sort((a, b) => a - b);
    starts.slice(GPUS_PER_NODE).forEach((s, k) => handovers.push((s - ends[k]) / 1000));
  }
  const idlePerJob = (makespan * GPUS - totalGpuSeconds) / JOBS;

  const f = (x: number, d = 1) => x.toFixed(d);
  // Per attempt: everything but watches and the informer's namespace-wide (re)lists.
  const perVerb = Object.entries(stats.byVerb)
    .filter(([k]) => !k.startsWith('watch '))
    .sort((a, b) => b[1] - a[1]);
  const outsideRelists = stats.requests - Object.entries(stats.byVerb).reduce((s2, [k, n]) => s2 + (k.startsWith('watch ') ? n : 0), 0) - stats.lists.namespaceWide;
  console.log(`bench/cluster: ${JOBS} jobs, ${GPUS} simulated GPUs (${GPUS / GPUS_PER_NODE} nodes x ${GPUS_PER_NODE}), log-normal durations (median 600 s, sigma 1, 60 s..4 h)`);
  console.log(
    `  order ${ORDER === 'lpt' ? 'longest-processing-time first (durations known from the spec)' : 'grid'}, window ${WINDOW} attempts in flight, ` +
      `time scale ${TIME_SCALE}x, pod startup 1 s, kube-sim ${IN_PROCESS ? 'in process' : 'in its own process'}`,
  );
  console.log(`  total GPU-seconds       ${f(totalGpuSeconds, 0)} s (longest job ${f(Math.max(...dur), 0)} s)`);
  console.log(`  lower bound             ${f(lowerBound, 0)} s = max(total / GPUs, longest)`);
  console.log(`  makespan                ${f(makespan, 0)} s simulated (${f(wallSeconds)} s wall)`);
  console.log(`  makespan / lower bound  ${f(makespan / lowerBound, 4)}  (target <= 1.03)`);
  console.log(`  GPU utilisation         ${f((100 * busy) / (makespan * GPUS), 2)} %`);
  console.log(`  idle per job            ${f(idlePerJob, 2)} GPU-s simulated: (makespan x GPUs - work) / jobs`);
  console.log(`  GPU handover            mean ${f(mean(handovers), 2)} s, p95 ${f(quantile(handovers, 0.95), 2)} s simulated (a GPU frees -> next pod runs; includes 1 s pod startup)`);
  console.log(`  launch (create Job)     p50 ${f(quantile(launchMs, 0.5))} ms, p95 ${f(quantile(launchMs, 0.95))} ms wall`);
  console.log(
    `    of which              the opening burst's ${burstLaunchMs.length}: p50 ${f(quantile(burstLaunchMs, 0.5))} ms, p95 ${f(quantile(burstLaunchMs, 0.95))} ms; ` +
      `the later ${laterLaunchMs.length}: p50 ${f(quantile(laterLaunchMs, 0.5))} ms, p95 ${f(quantile(laterLaunchMs, 0.95))} ms`,
  );
  console.log(burstLine());
  console.log(`  completion detection    p50 ${f(quantile(detectMs, 0.5))} ms, p95 ${f(quantile(detectMs, 0.95))} ms wall (container end -> watch returns)`);
  console.log(
    `  watches                 ${stats.watchesOpened} opened in total, peak ${stats.watchesPeak} open at once ` +
      `(per namespace: ${Object.entries(stats.watchesPeakByNamespace).map(([ns, n]) => `${ns} ${n}`).join(', ')}) (target <= 2 per namespace)`,
  );
  console.log(
    `  API requests / attempt  ${f(outsideRelists / JOBS, 2)} outside relists (target <= 4): ` +
      perVerb.map(([k, n]) => `${k} ${f(n / JOBS, 3)}`).join(', ') +
      `; namespace-wide lists ${stats.lists.namespaceWide} in total`,
  );
  console.log(`  pods                    ${runs.length} for ${JOBS} jobs; failures ${failures}`);
  if (failures > 0 || runs.length !== JOBS) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
