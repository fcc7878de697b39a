import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimClock } from './clock';
import { SimCluster, type ClusterFaults, type SimNodeSpec } from './cluster';
import { SimApiServer, type ApiFaults } from './server';
import { ObjectStore } from './store';
import { trainerWorkload, type Workload } from './workload';

export { axisDurationWorkload, hostPathOf, trainerWorkload } from './workload';

export type { AttemptSummary, ClusterFaults, JobRecord, PodOutcome, PodRecord, SimNodeSpec } from './cluster';
export type { ApiFaults, InjectedErrorRule, SimApiStats } from './server';
export type { SimMount, SimRun, Workload, WorkloadFault, WorkloadInput, WorkloadPlan } from './workload';
export { SimCluster } from './cluster';
export { SimApiServer } from './server';

export interface KubeSimOptions {
  /** Total GPUs, split into nodes of `gpusPerNode` (ignored when `nodes` is given). Default 8. */
  gpus?: number;
  gpusPerNode?: number;
  /** GPU product label of generated nodes (nvidia.com/gpu.product). */
  gpuProduct?: string;
  /** Explicit nodes (heterogeneous clusters). */
  nodes?: SimNodeSpec[];
  /** Port to listen on (0 = any free port). */
  port?: number;
  host?: string;
  /** Simulated seconds per real second (default 1). */
  timeScale?: number;
  /** Simulated seconds from binding to running (default 1). */
  podStartupSeconds?: number;
  /** Images matching this never pull (default: /does-not-exist|unpullable/). */
  imagePullErrorPattern?: RegExp;
  /** Cluster-side random faults. */
  faults?: ClusterFaults;
  /** API-side random faults (500 / 429 / latency / dropped watches). */
  apiFaults?: ApiFaults;
  /** Watch events kept for resuming watches; older resourceVersions get 410 Gone (default 10000). */
  historyLimit?: number;
  goneAs?: 'event' | 'http';
  bookmarkIntervalMs?: number;
  /** Kueue admission quota in GPUs for queue-labelled suspended jobs (default: all GPUs). */
  kueueQuotaGpus?: number;
  /** What containers do (default: the synthetic trainer's plan from SWEEP_RUN and the args). */
  workload?: Workload;
  /** Namespace written into the kubeconfig's context. */
  namespace?: string;
  seed?: number;
  /**
   * Host folder of the PersistentVolumeClaims' files, `<dir>/<namespace>/<claim>` (default: a
   * temporary folder, removed by stop()). Any claim a pod mounts exists, and keeps its files.
   */
  volumesDir?: string;
}

export interface KubeSim {
  /** Base URL of the API server, e.g. http://127.0.0.1:43117 */
  url: string;
  /** A kubeconfig (YAML) pointing at the sim; load with KubeConfig.loadFromString. */
  kubeconfig: string;
  /** The simulated cluster: fault triggers (preemptPod, oomPod, loseNode...) and inspection (jobHistory...). */
  cluster: SimCluster;
  /** The API server: injectErrors, dropWatches, stats. */
  api: SimApiServer;
  store: ObjectStore;
  /** Simulated seconds per real second. */
  timeScale: number;
  /** The cluster's (simulated) clock: timestamps the sim writes are on it. */
  simNow(): Date;
  /** Host folder of the claims' files. */
  volumesDir: string;
  /**
   * Restart the API server mid-run: every connection and watch is cut, nothing answers for
   * `downMs`, then it listens on the same URL; the cluster keeps its state (and keeps running),
   * and with `loseHistory` no watch can resume (410 Gone: clients must relist).
   */
  restart(opts?: { downMs?: number; loseHistory?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export function simNodes(gpus: number, gpusPerNode = 8, product?: string): SimNodeSpec[] {
  const nodes: SimNodeSpec[] = [];
  for (let i = 0, left = gpus; left > 0; i++, left -= gpusPerNode)
    nodes.push({ name: `sim-gpu-node-${i}`, gpus: Math.min(gpusPerNode, left), product });
  return nodes;
}

export function kubeconfigFor(url: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kube-sim',
    '  cluster:',
    `    server: ${url}`,
    // The sim speaks plain HTTP; the client refuses http:// unless TLS verification is off.
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: kube-sim',
    '  user:',
    '    token: kube-sim',
    'contexts:',
    '- name: kube-sim',
    '  context:',
    '    cluster: kube-sim',
    '    user: kube-sim',
    `    namespace: ${namespace}`,
    'current-context: kube-sim',
    '',
  ].join('\n');
}

/** Start a simulated GPU cluster behind a Kubernetes API server on localhost. */
export async function startKubeSim(opts: KubeSimOptions = {}): Promise<KubeSim> {
  const seed = opts.seed ?? 1;
  const clock = new SimClock(opts.timeScale ?? 1);
  const store = new ObjectStore(opts.historyLimit ?? 10_000);
  const ownVolumes = opts.volumesDir === undefined;
  const volumesDir = opts.volumesDir ?? mkdtempSync(join(tmpdir(), 'kube-sim-volumes-'));
  const dropVolumes = () => {
    if (ownVolumes) rmSync(volumesDir, { recursive: true, force: true });
  };
  const cluster = new SimCluster({
    nodes: opts.nodes ?? simNodes(opts.gpus ?? 8, opts.gpusPerNode ?? 8, opts.gpuProduct),
    clock,
    store,
    workload: opts.workload ?? trainerWorkload(),
    podStartupSeconds: opts.podStartupSeconds ?? 1,
    imagePullErrorPattern: opts.imagePullErrorPattern ?? /does-not-exist|unpullable/,
    faults: opts.faults ?? {},
    kueueQuotaGpus: opts.kueueQuotaGpus,
    seed,
    volumesDir,
  });
  const api = new SimApiServer(store, cluster, {
    port: opts.port ?? 0,
    host: opts.host ?? '127.0.0.1',
    faults: opts.apiFaults ?? {},
    goneAs: opts.goneAs ?? 'event',
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 5_000,
    seed,
  });
  let url: string;
  try {
    url = await api.listen();
  } catch (e) {
    cluster.stop();
    dropVolumes();
    throw e;
  }
  return {
    url,
    kubeconfig: kubeconfigFor(url, opts.namespace),
    cluster,
    api,
    store,
    timeScale: clock.timeScale,
    simNow: () => new Date(clock.nowMs()),
    volumesDir,
    restart: (o) => api.restart(o),
    async stop() {
      cluster.stop();
      await api.close();
      dropVolumes();
    },
  };
}

export type RunSimClusterOptions = KubeSimOptions & {
  gpus: number;
  /** Write the kubeconfig here as well as printing it. */
  kubeconfigPath?: string;
  /** Where to print (default: stdout). */
  print?: (text: string) => void;
  /** Stop and exit on SIGINT / SIGTERM (default true; tests embedding it say false). */
  handleSignals?: boolean;
};

/** Standalone sim (the `sweep sim-cluster` command): start, print a kubeconfig, run until signalled. */
export async function runSimCluster(opts: RunSimClusterOptions): Promise<KubeSim> {
  const sim = await startKubeSim(opts);
  const print = opts.print ?? ((t: string) => process.stdout.write(t));
  if (opts.kubeconfigPath) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(opts.kubeconfigPath, sim.kubeconfig, { mode: 0o600 });
  }
  const { total } = sim.cluster.gpuUsage();
  print(`# kube-sim: ${total} simulated GPUs at ${sim.url} (time scale ${sim.timeScale}x)\n`);
  if (opts.kubeconfigPath) print(`# kubeconfig written to ${opts.kubeconfigPath}: export KUBECONFIG=${opts.kubeconfigPath}\n`);
  print(sim.kubeconfig);
  if (opts.handleSignals !== false) {
    const shutdown = () => {
      void sim.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  }
  return sim;
}
