import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointRecord, clearCheckpoint, saveCheckpoint } from '../trainer/checkpoint';
import { mulberry32 } from '../../spec/hash';
import { SimClock } from './clock';
import { deepCopy, ObjectStore } from './store';
import { containerStatus, GPU, GPU_PRODUCT_LABEL, gpuRequest, IMAGE_REF, isTerminal, KUEUE_QUEUE_LABEL, rand5, setCondition, toleratesAll } from './podSpec';
import type { AttemptSummary, JobRecord, PodOutcome, PodRecord } from './records';
import type { Job, Node, Pod, Service } from './types';
import { containerEnv, parseRun, USER_ERROR_EXIT_CODE, type SimMount, type Workload, type WorkloadInput } from './workload';

export { GPU, GPU_PRODUCT_LABEL, gpuRequest, isTerminal, KUEUE_QUEUE_LABEL } from './podSpec';
export type { AttemptSummary, JobRecord, PodOutcome, PodRecord } from './records';


export interface SimNodeSpec {
  name: string;
  gpus: number;
  product?: string;
  labels?: Record<string, string>;
  taints?: { key: string; effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule'; value?: string }[];
}

/** Random faults the cluster injects by itself (explicit triggers are methods on SimCluster). */
export interface ClusterFaults {
  /** Probability that a started pod is preempted at a uniformly random point of its run. */
  preemptProbability?: number;
  /** Probability that a started pod is OOM-killed at a uniformly random point of its run. */
  oomProbability?: number;
  /** Node losses per simulated hour across the cluster (a node with running pods disappears). */
  nodeLossPerHour?: number;
  /** Simulated seconds until a lost node comes back. */
  nodeRestoreSeconds?: number;
}

export interface ClusterOptions {
  nodes: SimNodeSpec[];
  clock: SimClock;
  store: ObjectStore;
  workload: Workload;
  /** Simulated seconds from binding to the container running (image pull, container start). */
  podStartupSeconds: number;
  /** Images matching this never pull (ErrImagePull / ImagePullBackOff forever). */
  imagePullErrorPattern: RegExp;
  faults: ClusterFaults;
  /** Kueue-style admission of suspended jobs labelled with a queue: GPU quota (default: all GPUs). */
  kueueQuotaGpus?: number;
  seed: number;
  /**
   * Host folder holding every PersistentVolumeClaim's files, `<volumesDir>/<namespace>/<claim>`:
   * a claim keeps its files across pods (a checkpoint written by one attempt is there for the next).
   */
  volumesDir: string;
}

/** Store index of pods by the uids of their owners (the job controller's lookup of a Job's pods). */
const POD_OWNER_INDEX = 'pod-owner';
/** Store index of the pods waiting for the scheduler (Pending, unbound, not being deleted). */
const POD_UNBOUND_INDEX = 'pod-unbound';

/** Grace period of a pod that names none, as on a real cluster. */
const DEFAULT_GRACE_SECONDS = 30;
/** The job controller's share of an event-loop turn while its queue is long (see syncJobSoon). */
const JOB_QUEUE_SLICE_MS = 1;
/** The job controller's annotation and label for an Indexed Job pod's index. */
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';

/** An Indexed Job pod's index (undefined for other pods). */
export function indexOfPod(p: Pod): number | undefined {
  const v = p.metadata.annotations?.[COMPLETION_INDEX];
  return v === undefined ? undefined : Number(v);
}

interface PodRuntime {
  /** Creation order: the scheduler's queue is FIFO, like the real one within a priority. */
  seq: number;
  record: PodRecord;
  gpus: number;
  timers: NodeJS.Timeout[];
  log: string[];
  /** What the workload was planned from (re-planned at container start when it checkpoints). */
  input: WorkloadInput;
  /** The last epoch whose checkpoint was saved. */
  savedEpoch?: number;
  /** Got SIGTERM and ignored it: killed when its grace period ends. */
  terminating?: boolean;
  /** The scheduler's capacity key when it last found no room for the pod. */
  unschedulableAt?: string;
}

interface JobRuntime {
  record: JobRecord;
  deadline?: NodeJS.Timeout;
  ttl?: NodeJS.Timeout;
  /** Pods already counted as failed or succeeded (a pod is counted once). */
  counted: Set<string>;
  failed: number;
  succeeded: number;
  /** Being deleted: the controller must not replace the pods it is losing. */
  deleting?: boolean;
}

/**
 * The simulated cluster behind the API: nodes with GPUs, a scheduler, the job controller, the
 * kubelet (pod lifecycle running the workload plan), Kueue-like admission, TTL GC and faults.
 * Every state change goes through the ObjectStore so watches see it.
 */
export class SimCluster extends EventEmitter {
  private readonly store: ObjectStore;
  private readonly clock: SimClock;
  private readonly rnd: () => number;
  private readonly pods = new Map<string, PodRuntime>();
  private readonly jobs = new Map<string, JobRuntime>();
  private readonly jobRecords: JobRecord[] = [];
  private readonly used = new Map<string, number>();
  private readonly lostNodes = new Map<string, Node>();
  private scheduleQueued = false;
  /** The job controller's workqueue: Jobs created whose first reconcile (their pods) is still to run. */
  private readonly jobQueue = new Map<string, { namespace: string; name: string }>();
  private jobQueueArmed = false;
  /** readyNodes() as of the Node kind's last change. */
  private readyCache?: { at: number; nodes: Readonly<Node>[]; key: string };
  private kueueJobsCreated = 0;
  /** Bumped whenever GPUs free or nodes come and go: pods found unschedulable before are looked at again. */
  private capacityEpoch = 0;
  private podSeq = 0;
  private nodeLossTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly opts: ClusterOptions) {
    super();
    this.setMaxListeners(0);
    this.store = opts.store;
    this.clock = opts.clock;
    this.rnd = mulberry32(opts.seed);
    // Lookups by owner and the scheduler's queue, without a scan of every pod (O(pods) per create
    // and per completion was most of the sim's time at 4,000 Jobs).
    this.store.addIndex('Pod', POD_OWNER_INDEX, (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid));
    this.store.addIndex('Pod', POD_UNBOUND_INDEX, (o) => {
      const p = o as Pod;
      return p.status.phase === 'Pending' && !p.spec.nodeName && !p.metadata.deletionTimestamp ? ['unbound'] : [];
    });
    for (const n of opts.nodes) this.addNode(n);
    this.store.subscribe(() => this.emit('change'));
    this.armNodeLoss();
  }

  /** The simulated clock, as an RFC 3339 timestamp. */
  now(): string {
    return this.clock.iso();
  }

  get timeScale(): number {
    return this.clock.timeScale;
  }

  // ---- nodes -------------------------------------------------------------------------------

  addNode(n: SimNodeSpec): void {
    this.capacityEpoch++;
    const now = this.clock.iso();
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        uid: randomUUID(),
        resourceVersion: '0',
        creationTimestamp: now,
        labels: {
          'kubernetes.io/hostname': n.name,
          'kubernetes.io/os': 'linux',
          [GPU_PRODUCT_LABEL]: n.product ?? 'NVIDIA-A100-SXM4-80GB',
          'nvidia.com/gpu.count': String(n.gpus),
          ...n.labels,
        },
      },
      spec: { taints: n.taints ?? [] },
      status: {
        capacity: { cpu: '96', memory: '1024Gi', pods: '110', [GPU]: String(n.gpus) },
        allocatable: { cpu: '95', memory: '1000Gi', pods: '110', [GPU]: String(n.gpus) },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastTransitionTime: now }],
      },
    };
    this.store.put(node);
    this.used.set(n.name, this.used.get(n.name) ?? 0);
    this.scheduleSoon();
  }

  /**
   * Schedulable nodes, read in place (copying every node on every scheduler pass was the sim's
   * bottleneck at 250 nodes), and recomputed only when a node changed; `key` names that set.
   */
  private readyNodes(): { nodes: Readonly<Node>[]; key: string } {
    const at = this.store.lastChange('Node');
    if (this.readyCache?.at !== at) {
      const nodes = this.store.scan<Node>('Node', (n) => !n.spec.unschedulable && n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
      this.readyCache = { at, nodes, key: `${nodes.length}/${nodes.reduce((m, n) => Math.max(m, Number(n.metadata.resourceVersion)), 0)}` };
    }
    return this.readyCache;
  }

  totalGpus(): number {
    return this.store.scan<Node>('Node').reduce((s, n) => s + Number(n.status.allocatable[GPU] ?? 0), 0);
  }

  /**
   * Lose a node. `delete`: the node object and its pods disappear (pods go away without a final
   * status). `notready`: the node turns NotReady and its pods fail with reason NodeLost.
   */
  loseNode(name: string, mode: 'delete' | 'notready' = 'delete'): void {
    this.capacityEpoch++;
    const node = this.store.get<Node>('Node', undefined, name);
    if (!node) throw new Error(`no node ${name}`);
    const victims = this.store.list<Pod>('Pod', undefined, (p) => p.spec.nodeName === name && !isTerminal(p));
    if (mode === 'delete') {
      this.lostNodes.set(name, node);
      this.store.delete('Node', undefined, name);
      for (const p of victims) this.removePod(p, { phase: 'Deleted', reason: 'NodeLost' });
      // Terminal pods on the node are garbage collected too.
      for (const p of this.store.list<Pod>('Pod', undefined, (p) => p.spec.nodeName === name)) this.removePod(p, { phase: 'Deleted', reason: 'NodeLost' });
    } else {
      const now = this.clock.iso();
      node.status.conditions = setCondition(node.status.conditions, {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
        lastTransitionTime: now,
      });
      node.spec.taints = [...(node.spec.taints ?? []), { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }];
      this.store.put(node);
      for (const p of victims)
        this.terminatePod(p, {
          phase: 'Failed',
          reason: 'NodeLost',
          exitCode: 137,
          message: `Node ${name} which was running pod ${p.metadata.name} is unresponsive`,
          disruption: 'DeletionByTaintManager',
        });
    }
    this.scheduleSoon();
  }

  /** Bring a lost node back (Ready, empty). */
  restoreNode(name: string): void {
    this.capacityEpoch++;
    const lost = this.lostNodes.get(name);
    const existing = this.store.get<Node>('Node', undefined, name);
    this.lostNodes.delete(name);
    if (existing) {
      existing.spec.taints = (existing.spec.taints ?? []).filter((t) => t.key !== 'node.kubernetes.io/unreachable');
      existing.status.conditions = setCondition(existing.status.conditions, { type: 'Ready', status: 'True', reason: 'KubeletReady', lastTransitionTime: this.clock.iso() });
      this.store.put(existing);
    } else if (lost) {
      const spec: SimNodeSpec = { name, gpus: Number(lost.status.capacity[GPU]), product: lost.metadata.labels?.[GPU_PRODUCT_LABEL] };
      this.used.set(name, 0);
      this.addNode(spec);
    }
    this.scheduleSoon();
  }

  private armNodeLoss(): void {
    const rate = this.opts.faults.nodeLossPerHour ?? 0;
    if (rate <= 0 || this.stopped) return;
    const waitSeconds = (-Math.log(1 - this.rnd()) / rate) * 3600;
    this.nodeLossTimer = this.clock.after(waitSeconds, () => {
      const busy = [...new Set(this.store.list<Pod>('Pod', undefined, (p) => p.status.phase === 'Running').map((p) => p.spec.nodeName!))];
      if (busy.length > 0) {
        const victim = busy[Math.floor(this.rnd() * busy.length)];
        this.loseNode(victim, 'delete');
        this.clock.after(this.opts.faults.nodeRestoreSeconds ?? 60, () => this.restoreNode(victim));
      }
      this.armNodeLoss();
    });
  }

  // ---- jobs --------------------------------------------------------------------------------

  /** Admit a validated job body: fill metadata and status, store it, start its controller. The result is read-only. */
  createJob(body: Job): Readonly<Job> {
    const now = this.clock.iso();
    const job: Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { ...body.metadata, uid: randomUUID(), resourceVersion: '0', generation: 1, creationTimestamp: now },
      spec: { backoffLimit: 6, completions: 1, parallelism: 1, ...body.spec },
      status: {},
    };
    if (job.spec.suspend)
      job.status.conditions = [{ type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended', lastTransitionTime: now, lastProbeTime: now }];
    const container = job.spec.template.spec.containers[0];
    const record: JobRecord = {
      namespace: job.metadata.namespace!,
      name: job.metadata.name,
      uid: job.metadata.uid,
      createdAt: now,
      labels: { ...job.metadata.labels },
      run: parseRun(containerEnv(container)),
      pods: [],
    };
    this.jobRecords.push(record);
    if (job.metadata.labels?.[KUEUE_QUEUE_LABEL] !== undefined) this.kueueJobsCreated++;
    this.jobs.set(ObjectStore.key(job.metadata.namespace, job.metadata.name), { record, counted: new Set(), failed: 0, succeeded: 0 });
    const stored = this.store.put(job, true);
    this.admitQueued();
    this.syncJobSoon(job.metadata.namespace!, job.metadata.name);
    // Read-only (the API answers with it at once): a copy per create was GC work for nothing.
    return this.store.peek<Job>('Job', stored.metadata.namespace, stored.metadata.name) ?? stored;
  }

  /** Store a validated Service (kube-sim only names pods by it: there is no DNS). */
  createService(body: Service): Service {
    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { ...body.metadata, uid: randomUUID(), resourceVersion: '0', creationTimestamp: this.clock.iso() },
      spec: { ...body.spec, ...(body.spec.clusterIP ? {} : { clusterIP: `10.96.${Math.floor(this.rnd() * 250)}.${Math.floor(this.rnd() * 250)}` }) },
      status: { loadBalancer: {} },
    };
    return this.store.put(svc);
  }

  /** Services in a namespace (or all). */
  services(namespace?: string): Service[] {
    return this.store.list<Service>('Service', namespace);
  }

  /** Apply a changed spec (PATCH): only `suspend`, labels and annotations are mutable here. */
  updateJob(job: Job): Job {
    const stored = this.store.put(job);
    this.syncJob(job.metadata.namespace!, job.metadata.name);
    return this.store.get<Job>('Job', stored.metadata.namespace, stored.metadata.name) ?? stored;
  }

  deleteJob(namespace: string, name: string, propagation: 'Background' | 'Foreground' | 'Orphan'): Job | undefined {
    const rt = this.jobs.get(ObjectStore.key(namespace, name));
    const job = this.store.get<Job>('Job', namespace, name);
    if (!job) return undefined;
    const pods = this.ownedPods(job);
    if (rt) rt.deleting = true;
    if (propagation === 'Foreground') for (const p of pods) this.deleteGracefully(p, { phase: 'Deleted', reason: 'Deleted' });
    const gone = this.store.delete<Job>('Job', namespace, name);
    if (rt) {
      this.clock.cancel(rt.deadline);
      this.clock.cancel(rt.ttl);
      rt.record.deletedAt = this.clock.iso();
      this.jobs.delete(ObjectStore.key(namespace, name));
    }
    if (propagation === 'Background') for (const p of pods) this.deleteGracefully(p, { phase: 'Deleted', reason: 'Deleted' });
    // The garbage collector: objects the Job owns go with it (unless orphaned).
    if (propagation !== 'Orphan')
      for (const svc of this.store.list<Service>('Service', namespace, (o) => o.metadata.ownerReferences?.some((r) => r.uid === job.metadata.uid) ?? false))
        this.store.delete('Service', namespace, svc.metadata.name);
    if (propagation === 'Orphan')
      for (const p of pods) {
        p.metadata.ownerReferences = (p.metadata.ownerReferences ?? []).filter((o) => o.uid !== job.metadata.uid);
        this.store.put(p);
      }
    this.admitQueued();
    this.scheduleSoon();
    return gone;
  }

  private ownedPods(job: Job): Pod[] {
    return this.store.listIndexed<Pod>(POD_OWNER_INDEX, job.metadata.uid);
  }

  private isFinished(job: Job): boolean {
    return (job.status.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  }

  /** The job controller's reconcile for one job. */
  private syncJob(namespace: string, name: string): void {
    const job = this.store.get<Job>('Job', namespace, name);
    const rt = this.jobs.get(ObjectStore.key(namespace, name));
    if (!job || !rt || rt.deleting || this.isFinished(job)) return;
    // Read in place (the reconcile only reads its pods; removePod reads the stored one afresh).
    const pods = this.store.scanIndexed<Pod>(POD_OWNER_INDEX, job.metadata.uid) as Pod[];
    const active = pods.filter((p) => !isTerminal(p));
    const now = this.clock.iso();
    if (job.spec.suspend) {
      for (const p of active) this.removePod(p, { phase: 'Deleted', reason: 'JobSuspended' });
      if (job.status.startTime) {
        // Suspending stops the deadline clock; resuming starts it afresh (startTime is reset).
        this.clock.cancel(rt.deadline);
        const cur = this.store.get<Job>('Job', namespace, name) ?? job;
        cur.status.startTime = undefined;
        cur.status.active = undefined;
        cur.status.conditions = setCondition(cur.status.conditions, { type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended', lastTransitionTime: now });
        this.store.put(cur);
      }
      return;
    }
    let changed = false;
    if (!job.status.startTime) {
      job.status.startTime = now;
      if ((job.status.conditions ?? []).some((c) => c.type === 'Suspended'))
        job.status.conditions = setCondition(job.status.conditions, { type: 'Suspended', status: 'False', reason: 'JobResumed', message: 'Job resumed', lastTransitionTime: now });
      changed = true;
      if (job.spec.activeDeadlineSeconds !== undefined)
        rt.deadline = this.clock.after(job.spec.activeDeadlineSeconds, () => this.deadlineExceeded(namespace, name));
    }
    for (const p of pods) {
      if (rt.counted.has(p.metadata.name) || !isTerminal(p)) continue;
      rt.counted.add(p.metadata.name);
      if (p.status.phase === 'Succeeded') rt.succeeded++;
      else rt.failed++;
    }
    if (rt.succeeded >= (job.spec.completions ?? 1)) {
      this.finishJob(job, rt, 'Complete', 'CompletionsReached', 'Reached expected number of succeeded pods');
      return;
    }
    if (rt.failed > (job.spec.backoffLimit ?? 6)) {
      this.finishJob(job, rt, 'Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      return;
    }
    let activeCount = active.length;
    if (job.spec.completionMode === 'Indexed') {
      // One pod per index not yet succeeded nor running, up to parallelism.
      const n = job.spec.completions ?? 1;
      const par = job.spec.parallelism ?? n;
      const taken = new Set(pods.filter((p) => !isTerminal(p) || p.status.phase === 'Succeeded').map((p) => indexOfPod(p)));
      for (let i = 0; i < n && activeCount < par; i++) {
        if (taken.has(i)) continue;
        this.createPod(job, rt, i);
        activeCount++;
        changed = true;
      }
    } else if (activeCount === 0) {
      this.createPod(job, rt);
      activeCount = 1;
      changed = true;
    }
    const counts = { active: activeCount, failed: rt.failed || undefined, succeeded: rt.succeeded || undefined };
    if (changed || job.status.active !== counts.active || job.status.failed !== counts.failed) {
      job.status = { ...job.status, ...counts, ready: pods.filter((p) => p.status.phase === 'Running').length };
      this.store.put(job, true);
    }
  }

  private finishJob(job: Job, rt: JobRuntime, type: 'Complete' | 'Failed', reason: string, message: string): void {
    const now = this.clock.iso();
    this.clock.cancel(rt.deadline);
    // Newer controllers add the interim condition first; clients key on the final one.
    const interim = type === 'Complete' ? 'SuccessCriteriaMet' : 'FailureTarget';
    job.status.conditions = setCondition(job.status.conditions, { type: interim, status: 'True', reason, message, lastTransitionTime: now, lastProbeTime: now });
    job.status.conditions = setCondition(job.status.conditions, { type, status: 'True', reason, message, lastTransitionTime: now, lastProbeTime: now });
    job.status.active = undefined;
    job.status.ready = 0;
    job.status.failed = rt.failed || undefined;
    job.status.succeeded = rt.succeeded || undefined;
    if (type === 'Complete') job.status.completionTime = now;
    rt.record.finished = { type, reason, at: now };
    this.store.put(job, true);
    if (type === 'Failed')
      for (const p of this.ownedPods(job).filter((p) => !isTerminal(p))) this.removePod(p, { phase: 'Deleted', reason });
    if (job.spec.ttlSecondsAfterFinished !== undefined)
      rt.ttl = this.clock.after(job.spec.ttlSecondsAfterFinished, () => this.deleteJob(job.metadata.namespace!, job.metadata.name, 'Background'));
    this.admitQueued();
    this.scheduleSoon();
  }

  private deadlineExceeded(namespace: string, name: string): void {
    const job = this.store.get<Job>('Job', namespace, name);
    const rt = this.jobs.get(ObjectStore.key(namespace, name));
    if (!job || !rt || this.isFinished(job)) return;
    this.finishJob(job, rt, 'Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline');
  }

  /** Kueue in miniature: unsuspend queued jobs, oldest first, while their GPUs fit the quota. */
  private admitQueued(): void {
    // No queue-labelled Job was ever created: nothing to admit (and no scan of every Job per create).
    if (this.kueueJobsCreated === 0) return;
    const quota = this.opts.kueueQuotaGpus ?? this.totalGpus();
    const jobs = this.store.list<Job>('Job', undefined, (j) => j.metadata.labels?.[KUEUE_QUEUE_LABEL] !== undefined && !this.isFinished(j));
    if (jobs.length === 0) return;
    let used = jobs.filter((j) => !j.spec.suspend).reduce((s, j) => s + gpuRequest(j.spec.template.spec) * (j.spec.parallelism ?? 1), 0);
    for (const j of jobs.filter((j) => j.spec.suspend).sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp))) {
      const need = gpuRequest(j.spec.template.spec) * (j.spec.parallelism ?? 1);
      if (used + need > quota) break;
      used += need;
      j.spec.suspend = false;
      j.metadata.annotations = { ...j.metadata.annotations, 'kueue.x-k8s.io/admitted-by': 'kube-sim' };
      this.store.put(j);
      this.syncJob(j.metadata.namespace!, j.metadata.name);
    }
  }

  // ---- pods --------------------------------------------------------------------------------

  private createPod(job: Job, rt: JobRuntime, index?: number): void {
    const tpl = deepCopy(job.spec.template);
    const name = index === undefined ? `${job.metadata.name}-${rand5(this.rnd)}` : `${job.metadata.name}-${index}-${rand5(this.rnd)}`;
    const c = tpl.spec.containers[0];
    if (index !== undefined) {
      // As the job controller: the index as annotation, label and JOB_COMPLETION_INDEX; a stable hostname.
      tpl.metadata = { ...tpl.metadata, annotations: { ...tpl.metadata?.annotations, [COMPLETION_INDEX]: String(index) }, labels: { ...tpl.metadata?.labels, [COMPLETION_INDEX]: String(index) } };
      tpl.spec.hostname ??= `${job.metadata.name}-${index}`;
      for (const ct of tpl.spec.containers)
        ct.env = [...(ct.env ?? []), { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } }];
    }
    const env = containerEnv(c);
    const input: WorkloadInput = { container: c, env, args: c.args ?? [], run: parseRun(env), mounts: this.claimMounts(job.metadata.namespace ?? 'default', tpl.spec, c) };
    const plan = this.opts.workload(input);
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: job.metadata.namespace,
        uid: randomUUID(),
        resourceVersion: '0',
        creationTimestamp: this.clock.iso(),
        labels: {
          ...tpl.metadata?.labels,
          'batch.kubernetes.io/job-name': job.metadata.name,
          'job-name': job.metadata.name,
          'batch.kubernetes.io/controller-uid': job.metadata.uid,
          'controller-uid': job.metadata.uid,
        },
        annotations: { ...tpl.metadata?.annotations },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: tpl.spec,
      status: { phase: 'Pending', conditions: [] },
    };
    const record: PodRecord = { name, plan };
    rt.record.pods.push(record);
    this.pods.set(ObjectStore.key(pod.metadata.namespace, name), { seq: this.podSeq++, record, gpus: gpuRequest(pod.spec), timers: [], log: [], input });
    this.store.put(pod, true);
    this.scheduleSoon();
  }

  /** The host folder of a claim (made on first use, as a provisioner would). */
  claimDir(claim: string, namespace = 'default'): string {
    return join(this.opts.volumesDir, namespace, claim);
  }

  /** The container's PVC mounts resolved to host folders (subPath folders made, as the kubelet does). */
  private claimMounts(namespace: string, spec: Pod['spec'], c: Pod['spec']['containers'][number]): SimMount[] {
    const out: SimMount[] = [];
    for (const m of c.volumeMounts ?? []) {
      const pvc = spec.volumes?.find((v) => v.name === m.name)?.persistentVolumeClaim;
      if (!pvc) continue;
      // The API refused absolute and ".." subPaths already (validation.ts).
      const hostPath = m.subPath ? join(this.claimDir(pvc.claimName, namespace), m.subPath) : this.claimDir(pvc.claimName, namespace);
      mkdirSync(hostPath, { recursive: true });
      out.push({ mountPath: m.mountPath, hostPath, readOnly: m.readOnly === true || pvc.readOnly === true });
    }
    return out;
  }

  /** The trainer's checkpoint after `epoch`, into the claim's folder (as the trainer process writes it). */
  private saveEpoch(p0: Pod, epoch: number): void {
    const rt = this.runtime(p0);
    const plan = rt?.record.plan;
    const ck = plan?.checkpointing;
    if (!rt || !plan || !ck || !plan.epochs || (rt.savedEpoch ?? 0) >= epoch) return;
    rt.savedEpoch = epoch;
    const run = rt.input.run;
    if (ck.readOnly) {
      rt.log.push(`trainer: epoch ${epoch}/${plan.epochs} done, cannot save checkpoint: read-only file system`);
      return;
    }
    try {
      saveCheckpoint(
        ck.dir,
        checkpointRecord({
          runId: run?.runId ?? '',
          epoch,
          epochs: plan.epochs,
          attempt: run?.attempt ?? 0,
          epochsRun: ck.epochsRunBefore + (epoch - (plan.startEpoch ?? 0)),
          n_samples_seen: (plan.samplesPerEpoch ?? 0) * epoch,
          total_flops: (plan.flopsPerEpoch ?? 0) * epoch,
        }),
      );
      rt.log.push(`trainer: epoch ${epoch}/${plan.epochs} done, checkpoint saved`);
    } catch (e) {
      rt.log.push(`trainer: epoch ${epoch}/${plan.epochs} done, cannot save checkpoint: ${(e as Error).message}`);
    }
  }

  private runtime(p: Pod): PodRuntime | undefined {
    return this.pods.get(ObjectStore.key(p.metadata.namespace, p.metadata.name));
  }

  /**
   * The job controller reconciles a created Job behind the API, as kube-controller-manager does
   * from its watch: the create is answered before its pods exist. The queue drains at most
   * JOB_QUEUE_SLICE_MS per event-loop turn, so the requests that arrived meanwhile are answered
   * first: a real API server answers a burst of creates without waiting for the controller (which
   * has its own cores, and a client rate limit of its own), and here both share one thread.
   */
  private syncJobSoon(namespace: string, name: string): void {
    this.jobQueue.set(ObjectStore.key(namespace, name), { namespace, name });
    this.armJobQueue();
  }

  /** One drain of the queue in a later turn, if it holds Jobs and none is armed yet. */
  private armJobQueue(): void {
    if (this.jobQueueArmed || this.stopped || this.jobQueue.size === 0) return;
    this.jobQueueArmed = true;
    setImmediate(() => {
      this.jobQueueArmed = false;
      if (this.stopped) return;
      const until = performance.now() + JOB_QUEUE_SLICE_MS;
      for (const [key, job] of this.jobQueue) {
        this.jobQueue.delete(key);
        this.syncJob(job.namespace, job.name);
        if (performance.now() >= until) break;
      }
      this.armJobQueue();
    });
  }

  scheduleSoon(): void {
    if (this.scheduleQueued || this.stopped) return;
    this.scheduleQueued = true;
    setImmediate(() => {
      this.scheduleQueued = false;
      if (!this.stopped) this.schedule();
    });
  }

  /** Best fit by free GPUs for one pod, counting `used` (a tentative copy during a gang's placement). */
  private fitNode(pod: Pod, need: number, nodes: Node[], used: Map<string, number>): { node: Node } | { counts: { selector: number; taint: number; gpu: number } } {
    const counts = { selector: 0, taint: 0, gpu: 0 };
    let best: Node | undefined;
    let bestFree = Infinity;
    const sel = Object.entries(pod.spec.nodeSelector ?? {});
    for (const n of nodes) {
      if (!sel.every(([k, v]) => n.metadata.labels?.[k] === v)) {
        counts.selector++;
        continue;
      }
      if (!toleratesAll(pod.spec, n)) {
        counts.taint++;
        continue;
      }
      const free = Number(n.status.allocatable[GPU] ?? 0) - (used.get(n.metadata.name) ?? 0);
      if (free < need) {
        counts.gpu++;
        continue;
      }
      if (free < bestFree) {
        best = n;
        bestFree = free;
      }
    }
    return best ? { node: best } : { counts };
  }

  /** Mark a pod (read in place) unschedulable with `message`; copied and stored only when the message changes. */
  private markUnschedulable(current: Readonly<Pod>, message: string): void {
    const prev = current.status.conditions?.find((c) => c.type === 'PodScheduled');
    if (prev?.message === message) return;
    const pod = deepCopy(current) as Pod;
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: this.clock.iso(), lastProbeTime: null });
    this.store.put(pod);
  }

  /** The Indexed Job a pod belongs to when it runs as a gang (parallelism > 1): its pods bind together or not at all. */
  private gangOf(pod: Pod): Job | undefined {
    const owner = pod.metadata.ownerReferences?.find((r) => r.kind === 'Job');
    const job = owner ? this.store.peek<Job>('Job', pod.metadata.namespace, owner.name) : undefined;
    return job && job.spec.completionMode === 'Indexed' && (job.spec.parallelism ?? 1) > 1 ? (job as Job) : undefined;
  }

  /** One scheduler pass: bind pending pods, oldest first, best fit by free GPUs; a gang only when every pod of it fits. */
  private schedule(): void {
    const ready = this.readyNodes();
    const nodes = ready.nodes as Node[];
    // Pods are read in place and copied only when bound or marked (copying every pending pod on
    // every pass, and re-fitting pods nothing has freed room for, dominated the sim at 2,000 GPUs).
    const pending = this.store
      .scanIndexed<Pod>(POD_UNBOUND_INDEX, 'unbound')
      .map((p) => ({ p: p as Pod, seq: this.runtime(p as Pod)?.seq ?? 0 }))
      .sort((a, b) => a.seq - b.seq)
      .map((e) => e.p);
    // Capacity as of this pass: a pod found unschedulable under the same key still is (room only
    // shrank since), with the same message.
    const capacityKey = `${this.capacityEpoch}/${ready.key}`;
    const unschedulable = (counts: { selector: number; taint: number; gpu: number }, prefix = '') => {
      const parts = [
        counts.gpu && `${counts.gpu} Insufficient ${GPU}`,
        counts.selector && `${counts.selector} node(s) didn't match Pod's node affinity/selector`,
        counts.taint && `${counts.taint} node(s) had untolerated taint`,
      ].filter(Boolean);
      return `${prefix}0/${nodes.length} nodes are available: ${parts.join(', ')}. preemption: 0/${nodes.length} nodes are available.`;
    };
    const gangsDone = new Set<string>();
    // Room only shrinks within a pass: a pod that fits nowhere fails as every later pod with the
    // same needs does, with the same counts (re-fitting each against every node was the pass's cost).
    const missBySignature = new Map<string, { selector: number; taint: number; gpu: number }>();
    for (const pod of pending) {
      const rt = this.runtime(pod);
      if (!rt) continue;
      const gang = this.gangOf(pod);
      if (gang) {
        if (gangsDone.has(gang.metadata.uid)) continue;
        gangsDone.add(gang.metadata.uid);
        const members = pending.filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === gang.metadata.uid));
        const bound = this.ownedPods(gang).filter((p) => !isTerminal(p) && p.spec.nodeName).length;
        const size = gang.spec.parallelism ?? 1;
        const label = `gang of ${size} pods (${gang.metadata.name}): `;
        if (members.length + bound < size) continue; // not all created yet
        const tentative = new Map(this.used);
        const placed: [Pod, Node, PodRuntime][] = [];
        let miss: { selector: number; taint: number; gpu: number } | undefined;
        for (const m of members) {
          const mrt = this.runtime(m);
          if (!mrt) continue;
          const fit = this.fitNode(m, mrt.gpus, nodes, tentative);
          if (!('node' in fit)) {
            miss = fit.counts;
            break;
          }
          tentative.set(fit.node.metadata.name, (tentative.get(fit.node.metadata.name) ?? 0) + mrt.gpus);
          placed.push([m, fit.node, mrt]);
        }
        if (miss) {
          const message = unschedulable(miss, `${label}${placed.length}/${members.length} pending pods fit: `);
          for (const m of members) this.markUnschedulable(m, message);
          continue;
        }
        for (const [m, n, mrt] of placed) {
          this.used.set(n.metadata.name, (this.used.get(n.metadata.name) ?? 0) + mrt.gpus);
          this.bind(deepCopy(m), n, mrt);
        }
        continue;
      }
      if (rt.unschedulableAt === capacityKey) continue;
      const signature = `${rt.gpus}|${JSON.stringify(pod.spec.nodeSelector ?? {})}|${JSON.stringify(pod.spec.tolerations ?? [])}`;
      const known = missBySignature.get(signature);
      const fit = known ? { counts: known } : this.fitNode(pod, rt.gpus, nodes, this.used);
      if (!('node' in fit)) {
        missBySignature.set(signature, fit.counts);
        rt.unschedulableAt = capacityKey;
        this.markUnschedulable(pod, unschedulable(fit.counts));
        continue;
      }
      this.used.set(fit.node.metadata.name, (this.used.get(fit.node.metadata.name) ?? 0) + rt.gpus);
      this.bind(deepCopy(pod), fit.node, rt);
    }
  }

  private bind(pod: Pod, node: Node, rt: PodRuntime): void {
    const now = this.clock.iso();
    const c = pod.spec.containers[0];
    pod.spec.nodeName = node.metadata.name;
    rt.record.node = node.metadata.name;
    pod.status.hostIP = `10.0.0.${1 + (this.nodeIndex(node.metadata.name) % 250)}`;
    pod.status.startTime = now;
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'PodScheduled', status: 'True', lastTransitionTime: now, lastProbeTime: null });
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'Initialized', status: 'True', lastTransitionTime: now });
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${c.name}]`, lastTransitionTime: now });
    const invalid = !IMAGE_REF.test(c.image);
    const unpullable = !invalid && this.opts.imagePullErrorPattern.test(c.image);
    pod.status.containerStatuses = [
      containerStatus(c.name, c.image, {
        waiting: invalid
          ? { reason: 'InvalidImageName', message: `Failed to apply default image tag "${c.image}": couldn't parse image name "${c.image}": invalid reference format` }
          : { reason: 'ContainerCreating' },
      }),
    ];
    this.store.put(pod, true);
    if (invalid) return;
    if (unpullable) {
      // ErrImagePull, then ImagePullBackOff, alternating forever as the kubelet retries.
      const flip = (n: number) => {
        const p = this.livePod(pod);
        if (!p) return;
        const reason = n % 2 === 0 ? 'ErrImagePull' : 'ImagePullBackOff';
        p.status.containerStatuses = [
          containerStatus(c.name, c.image, {
            waiting: {
              reason,
              message:
                reason === 'ErrImagePull'
                  ? `failed to pull and unpack image "${c.image}": failed to resolve reference "${c.image}": not found`
                  : `Back-off pulling image "${c.image}"`,
            },
          }),
        ];
        this.store.put(p);
        rt.timers.push(this.clock.after(Math.min(300, 10 * 2 ** n), () => flip(n + 1)));
      };
      rt.timers.push(this.clock.after(this.opts.podStartupSeconds, () => flip(0)));
      return;
    }
    rt.timers.push(this.clock.after(this.opts.podStartupSeconds, () => this.startContainer(pod)));
  }

  private nodeIndex(name: string): number {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return h;
  }

  /** The pod as currently stored, if it still exists and is not terminal. */
  private livePod(p: Pod): Pod | undefined {
    const cur = this.store.get<Pod>('Pod', p.metadata.namespace, p.metadata.name);
    return cur && !isTerminal(cur) ? cur : undefined;
  }

  private startContainer(p0: Pod): void {
    const pod = this.livePod(p0);
    const rt = this.runtime(p0);
    if (!pod || !rt) return;
    const now = this.clock.iso();
    const c = pod.spec.containers[0];
    // A checkpointing workload reads its checkpoint as it starts, not when its pod was created.
    if (rt.record.plan.checkpointing) rt.record.plan = this.opts.workload(rt.input);
    const plan = rt.record.plan;
    pod.status.phase = 'Running';
    pod.status.podIP = `10.244.${Math.floor(this.rnd() * 250)}.${Math.floor(this.rnd() * 250)}`;
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'ContainersReady', status: 'True', lastTransitionTime: now });
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'Ready', status: 'True', lastTransitionTime: now });
    pod.status.containerStatuses = [{ ...containerStatus(c.name, c.image, { running: { startedAt: now } }), ready: true, started: true }];
    rt.record.startedAt = now;
    const run = parseRun(containerEnv(c));
    rt.log.push(`${now} trainer: ${run ? `run ${run.runId} attempt ${run.attempt}` : 'no SWEEP_RUN'} starting on ${pod.spec.nodeName} (planned ${plan.durationSeconds.toFixed(1)} s)`);
    rt.log.push(...(plan.startLog ?? []));
    // As the trainer: training from scratch drops a checkpoint an earlier run left on the claim.
    if (plan.checkpointing && !plan.checkpointing.readOnly && !plan.startEpoch && clearCheckpoint(plan.checkpointing.dir))
      rt.log.push('trainer: training from scratch: removed the checkpoint found in SWEEP_CHECKPOINT_DIR');
    this.store.put(pod, true);

    // The workload's own fault, or the cluster's random ones, whichever strikes first.
    const end = plan.fault !== 'none' && plan.fault !== 'bad-output' && plan.faultAtSeconds !== undefined ? plan.faultAtSeconds : plan.durationSeconds;
    // A checkpoint after each epoch that ends before the workload does (the last one: at its finish).
    if (plan.checkpointing && plan.epochs && plan.secondsPerEpoch) {
      const start = plan.startEpoch ?? 0;
      for (let e = start + 1; e <= plan.epochs; e++) {
        const at = (e - start) * plan.secondsPerEpoch;
        if (at >= end - 1e-9 * Math.max(1, end)) break;
        rt.timers.push(this.clock.after(at, () => this.saveEpoch(pod, e)));
      }
    }
    const f = this.opts.faults;
    const randomFault =
      this.rnd() < (f.preemptProbability ?? 0) ? 'preempt' : this.rnd() < (f.oomProbability ?? 0) ? 'oom' : undefined;
    if (randomFault) {
      const at = this.rnd() * plan.durationSeconds;
      if (plan.fault === 'hang' || at < end) {
        rt.timers.push(this.clock.after(at, () => (randomFault === 'preempt' ? this.preemptPod(pod.metadata.name, pod.metadata.namespace) : this.oomPod(pod.metadata.name, pod.metadata.namespace))));
        return;
      }
    }
    if (plan.fault === 'hang') return; // runs until the job's deadline deletes it
    rt.timers.push(this.clock.after(end, () => this.finishContainer(pod)));
  }

  /** The container exits as its plan says. */
  private finishContainer(p0: Pod): void {
    const pod = this.livePod(p0);
    const rt = this.runtime(p0);
    if (!pod || !rt) return;
    const plan = rt.record.plan;
    const text = plan.resultText;
    switch (plan.fault) {
      case 'oom':
        return this.oomPod(pod.metadata.name, pod.metadata.namespace);
      case 'preempt':
        return this.preemptPod(pod.metadata.name, pod.metadata.namespace, this.rnd() < 0.5 ? 'PreemptionByScheduler' : 'EvictionByEvictionAPI');
      case 'user-error':
        rt.log.push(text);
        return this.terminatePod(pod, { phase: 'Failed', reason: 'Error', exitCode: plan.exitCode ?? USER_ERROR_EXIT_CODE });
      default:
        // The last epoch's checkpoint, then the result to SWEEP_RESULT_FILE (= the termination message), also logged.
        if (plan.epochs) this.saveEpoch(pod, plan.epochs);
        rt.log.push(text);
        return this.terminatePod(pod, { phase: 'Succeeded', reason: 'Completed', exitCode: 0, ...(plan.writesResultFile === false ? {} : { message: text }) });
    }
  }

  /** SIGTERM -> SIGKILL of a pod: its terminationGracePeriodSeconds. */
  private graceSeconds(pod: Pod): number {
    const g = pod.spec.terminationGracePeriodSeconds;
    return typeof g === 'number' && Number.isFinite(g) && g >= 0 ? g : DEFAULT_GRACE_SECONDS;
  }

  /**
   * A running container that ignores SIGTERM gets it now and SIGKILL after the grace period:
   * `then` runs at that point (the pod keeps running, and checkpointing, until then). True when
   * the grace phase began (or is under way); false when the container dies by the SIGTERM at once.
   */
  private sigtermIgnored(pod: Pod, then: (p: Pod) => void): boolean {
    const rt = this.runtime(pod);
    if (!rt?.record.plan.ignoresSigterm || pod.status.phase !== 'Running') return false;
    if (rt.terminating) return true;
    rt.terminating = true;
    const grace = this.graceSeconds(pod);
    rt.log.push(`${this.clock.iso()} workload: received SIGTERM, ignored it (killed after the grace period of ${grace} s)`);
    rt.timers.push(
      this.clock.after(grace, () => {
        const cur = this.livePod(pod);
        if (!cur) return;
        rt.log.push(`${this.clock.iso()} kubelet: grace period of ${grace} s over: SIGKILL`);
        then(cur);
      }),
    );
    return true;
  }

  /** Preempt a pod: DisruptionTarget condition, then SIGTERM (exit 143) and Failed; SIGKILL (137) after the grace period if it ignores SIGTERM. */
  preemptPod(name: string, namespace?: string, reason: 'PreemptionByScheduler' | 'EvictionByEvictionAPI' = 'PreemptionByScheduler'): void {
    const pod = this.findPod(name, namespace);
    if (!pod || isTerminal(pod)) return;
    const rt = this.runtime(pod);
    if (!rt?.terminating && rt?.record.plan.ignoresSigterm && pod.status.phase === 'Running') {
      // The condition is set when the disruption begins, before the container goes.
      const msg = reason === 'EvictionByEvictionAPI' ? 'Eviction API: evicting' : 'Preempted in order to admit critical pod';
      pod.status.conditions = setCondition(pod.status.conditions, { type: 'DisruptionTarget', status: 'True', reason, message: msg, lastTransitionTime: this.clock.iso() });
      this.store.put(pod);
    }
    if (this.sigtermIgnored(pod, (p) => this.terminatePod(p, { phase: 'Failed', reason: 'Error', exitCode: 137, disruption: reason }))) return;
    rt?.log.push('trainer: received SIGTERM, exiting');
    this.terminatePod(pod, { phase: 'Failed', reason: 'Error', exitCode: 143, disruption: reason });
  }

  /** OOM-kill a running pod's container (exit 137, reason OOMKilled). */
  oomPod(name: string, namespace?: string): void {
    const pod = this.findPod(name, namespace);
    if (!pod || isTerminal(pod)) return;
    this.runtime(pod)?.log.push('trainer: CUDA out of memory (killed)');
    this.terminatePod(pod, { phase: 'Failed', reason: 'OOMKilled', exitCode: 137 });
  }

  /** Make a pod's container exit with a given code (tests: user errors, unknown failures). */
  failPod(name: string, exitCode: number, namespace?: string): void {
    const pod = this.findPod(name, namespace);
    if (!pod || isTerminal(pod)) return;
    this.terminatePod(pod, { phase: 'Failed', reason: 'Error', exitCode });
  }

  /** Make index `index` of an attempt's Indexed Job fail with `exitCode` (tests: one failed node of a gang). Returns the pod's name. */
  failIndex(runId: string, attempt: number, index: number, exitCode = 1): string | undefined {
    const pod = this.podsOf(runId, attempt).find((p) => indexOfPod(p) === index && !isTerminal(p));
    if (!pod) return undefined;
    this.failPod(pod.metadata.name, exitCode, pod.metadata.namespace);
    return pod.metadata.name;
  }

  /** A pod by name, in `namespace` or (when absent) in any namespace. */
  findPod(name: string, namespace?: string): Pod | undefined {
    if (namespace !== undefined) return this.store.get<Pod>('Pod', namespace, name);
    return this.store.list<Pod>('Pod', undefined, (p) => p.metadata.name === name)[0];
  }

  /** Pods (live objects) of one attempt, found through the job the sim recorded for it. */
  podsOf(runId: string, attempt: number, sweep?: string): Pod[] {
    const names = new Set(this.jobsForAttempt(runId, attempt, sweep).flatMap((j) => j.pods.map((p) => p.name)));
    return this.store.list<Pod>('Pod', undefined, (p) => names.has(p.metadata.name));
  }

  /** Delete a pod as `kubectl delete pod` would (it counts as failed for its job). */
  deletePod(name: string, namespace?: string): boolean {
    const pod = this.findPod(name, namespace);
    if (!pod) return false;
    this.deleteGracefully(pod, { phase: 'Deleted', reason: 'Deleted' });
    return true;
  }

  /**
   * A deletion: the pod object goes once its container has (at once for one that dies by
   * SIGTERM; after the grace period, marked with its deletionTimestamp, for one that ignores it).
   */
  private deleteGracefully(pod: Pod, o: PodOutcome): void {
    const rt = this.runtime(pod);
    if (rt?.terminating) return this.removePod(pod, o);
    if (!this.sigtermIgnored(pod, (p) => this.removePod(p, o))) return this.removePod(pod, o);
    pod.metadata.deletionTimestamp = this.clock.iso();
    this.store.put(pod);
  }

  private releaseGpus(pod: Pod, rt: PodRuntime | undefined): void {
    if (!rt || !pod.spec.nodeName || rt.gpus === 0 || isTerminal(pod)) return;
    const n = pod.spec.nodeName;
    this.used.set(n, Math.max(0, (this.used.get(n) ?? 0) - rt.gpus));
    this.capacityEpoch++;
  }

  private terminatePod(pod: Pod, o: PodOutcome): void {
    const rt = this.runtime(pod);
    if (rt) for (const t of rt.timers.splice(0)) this.clock.cancel(t);
    this.releaseGpus(pod, rt);
    const now = this.clock.iso();
    const c = pod.spec.containers[0];
    const prev = pod.status.containerStatuses?.[0];
    const startedAt = prev?.state.running?.startedAt;
    // terminationMessagePolicy FallbackToLogsOnError: a failed container without a message gets its log tail.
    let message = o.message;
    if (message === undefined && o.phase === 'Failed' && c.terminationMessagePolicy === 'FallbackToLogsOnError' && rt && rt.log.length > 0)
      message = rt.log.slice(-80).join('\n').slice(-2048);
    if (o.disruption) {
      const msg = o.disruption === 'DeletionByTaintManager' ? 'Taint manager: deleting due to NoExecute taint' : o.disruption === 'EvictionByEvictionAPI' ? 'Eviction API: evicting' : 'Preempted in order to admit critical pod';
      pod.status.conditions = setCondition(pod.status.conditions, { type: 'DisruptionTarget', status: 'True', reason: o.disruption, message: msg, lastTransitionTime: now });
    }
    pod.status.phase = o.phase === 'Succeeded' ? 'Succeeded' : 'Failed';
    if (o.reason === 'NodeLost') {
      pod.status.reason = 'NodeLost';
      pod.status.message = o.message;
      message = undefined;
    }
    // The kubelet keeps at most 4096 bytes of a termination message.
    if (message !== undefined && Buffer.byteLength(message) > 4096) message = Buffer.from(message).subarray(0, 4096).toString('utf8');
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now });
    pod.status.conditions = setCondition(pod.status.conditions, { type: 'ContainersReady', status: 'False', reason: 'PodCompleted', lastTransitionTime: now });
    pod.status.containerStatuses = [
      {
        ...containerStatus(c.name, c.image, {
          terminated: { exitCode: o.exitCode ?? 1, reason: o.reason, ...(message !== undefined ? { message } : {}), ...(startedAt ? { startedAt } : {}), finishedAt: now },
        }),
        started: false,
      },
    ];
    if (rt) {
      rt.record.finishedAt = now;
      rt.record.outcome = { ...o, message: message ?? o.message };
    }
    this.store.put(pod, true);
    this.syncOwner(pod);
    this.scheduleSoon();
  }

  /** Remove a pod object; a pod that had not finished counts as failed for its job. */
  private removePod(pod: Pod, o: PodOutcome): void {
    const rt = this.runtime(pod);
    if (rt) for (const t of rt.timers.splice(0)) this.clock.cancel(t);
    this.releaseGpus(pod, rt);
    if (rt && !rt.record.outcome) {
      rt.record.outcome = o;
      rt.record.finishedAt = this.clock.iso();
    }
    if (rt && !rt.record.removed) rt.record.removed = { reason: o.reason, at: this.clock.iso() };
    // Deleted objects carry their deletionTimestamp in the DELETED event, as on a real server.
    const cur = this.store.get<Pod>('Pod', pod.metadata.namespace, pod.metadata.name);
    if (cur && !cur.metadata.deletionTimestamp) {
      cur.metadata.deletionTimestamp = this.clock.iso();
      this.store.put(cur);
    }
    const gone = this.store.delete<Pod>('Pod', pod.metadata.namespace, pod.metadata.name);
    if (gone && !isTerminal(pod) && o.reason !== 'JobSuspended') {
      const owner = pod.metadata.ownerReferences?.find((r) => r.kind === 'Job');
      const jrt = owner && this.jobs.get(ObjectStore.key(pod.metadata.namespace, owner.name));
      if (jrt && !jrt.counted.has(pod.metadata.name)) {
        // Job tracking with finalizers: a pod deleted before finishing is a failed pod.
        jrt.counted.add(pod.metadata.name);
        jrt.failed++;
      }
    }
    this.syncOwner(pod);
    this.scheduleSoon();
  }

  private syncOwner(pod: Pod): void {
    const owner = pod.metadata.ownerReferences?.find((r) => r.kind === 'Job');
    if (owner) this.syncJob(pod.metadata.namespace!, owner.name);
  }

  // ---- inspection --------------------------------------------------------------------------

  /** The pod's log as the kubelet would serve it, or an error when it has not started. */
  podLog(namespace: string, name: string): { ok: true; text: string } | { ok: false; message: string } {
    const pod = this.store.get<Pod>('Pod', namespace, name);
    const rt = this.pods.get(ObjectStore.key(namespace, name));
    if (!pod || !rt) return { ok: false, message: `pods "${name}" not found` };
    const waiting = pod.status.containerStatuses?.[0]?.state.waiting;
    if (pod.status.phase === 'Pending' || waiting)
      return { ok: false, message: `container "${pod.spec.containers[0].name}" in pod "${name}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}` };
    return { ok: true, text: rt.log.map((l) => `${l}\n`).join('') };
  }

  /** Every job ever created, in creation order (including deleted ones). */
  jobHistory(): JobRecord[] {
    return this.jobRecords.map((r) => structuredClone(r));
  }

  /**
   * Jobs ever created for one attempt (more than one means a duplicate launch). Run ids are the
   * cell's, so two sweeps over the same cell share them: name the sweep to tell them apart.
   */
  jobsForAttempt(runId: string, attempt: number, sweep?: string): JobRecord[] {
    return this.jobHistory().filter((r) => r.run?.runId === runId && r.run.attempt === attempt && (sweep === undefined || r.run.sweep === sweep));
  }

  /** The trainer's plan and the pod's outcome of one attempt (its last pod). */
  attemptOutcome(runId: string, attempt: number, sweep?: string): { job: string; pod: PodRecord } | undefined {
    const jobs = this.jobsForAttempt(runId, attempt, sweep);
    const job = jobs[jobs.length - 1];
    const pod = job?.pods[job.pods.length - 1];
    return job && pod ? { job: job.name, pod } : undefined;
  }

  /**
   * Every attempt the sim ever saw (from the jobs' SWEEP_RUN), per (sweep, run, attempt), in
   * first-launch order: the integration test compares these with what the orchestrator recorded.
   */
  attemptSummaries(): AttemptSummary[] {
    const byKey = new Map<string, AttemptSummary>();
    for (const j of this.jobRecords) {
      if (!j.run) continue;
      const key = `${j.run.sweep}\u0000${j.run.runId}\u0000${j.run.attempt}`;
      const pod = j.pods[j.pods.length - 1];
      const prev = byKey.get(key);
      byKey.set(key, {
        sweep: j.run.sweep,
        runId: j.run.runId,
        attempt: j.run.attempt,
        jobs: (prev?.jobs ?? 0) + 1,
        jobName: j.name,
        ...(pod ? { fault: pod.plan.fault, resultText: pod.plan.resultText } : {}),
        ...(pod?.outcome ? { outcome: { ...pod.outcome } } : {}),
        ...(pod?.removed ? { removedReason: pod.removed.reason } : {}),
      });
    }
    return [...byKey.values()];
  }

  gpuUsage(): { total: number; used: number } {
    let used = 0;
    for (const v of this.used.values()) used += v;
    return { total: this.totalGpus(), used };
  }

  /**
   * Resolve with the first truthy value `probe` returns (sync or async), checked after every
   * state change and every 50 ms; reject after `timeoutMs` (real).
   */
  waitFor<R>(probe: () => R, timeoutMs = 10_000): Promise<Exclude<Awaited<R>, undefined | null | false | 0 | ''>> {
    type Out = Exclude<Awaited<R>, undefined | null | false | 0 | ''>;
    return new Promise<Out>((resolve, reject) => {
      let busy = false;
      let done = false;
      const check = () => {
        if (busy || done) return;
        busy = true;
        Promise.resolve()
          .then(probe)
          .then(
            (v) => {
              busy = false;
              if (v && !done) {
                cleanup();
                resolve(v as Out);
              }
            },
            (e: unknown) => {
              busy = false;
              cleanup();
              reject(e instanceof Error ? e : new Error(String(e)));
            },
          );
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`kube-sim waitFor: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      const poll = setInterval(check, 50);
      const cleanup = () => {
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }

  stop(): void {
    this.stopped = true;
    this.clock.cancel(this.nodeLossTimer);
    this.clock.stop();
    this.removeAllListeners();
  }
}
