import type { BatchV1Api, CoreV1Api, V1Job, V1Pod } from '@kubernetes/client-node';
import type { JobPhase } from '../types';
import { apiCode, InfrastructureError, withApiRetry, type RetryOptions } from './apiRetry';
import { classifyAttempt, type AttemptVerdict } from './classifyPodFailure';
import type { NamespaceInformer } from './informer';
import { COMPLETION_INDEX_ANNOTATION, podSelector } from './jobBuilder';

export interface WatchAttemptOptions {
  /** The namespace's shared informer: the attempt waits on its events, it opens no watch of its own. */
  informer: NamespaceInformer;
  batch: BatchV1Api;
  core: CoreV1Api;
  namespace: string;
  jobName: string;
  pendingTimeoutMs: number;
  imagePullGraceMs: number;
  nonRetryableExitCodes: readonly number[];
  onPhase: (p: JobPhase) => void;
  signal: AbortSignal;
  /**
   * Events of the attempt quiet this long: re-check its Job and pods directly (a GET and a list),
   * in case the informer missed something (default 5 min). Each quiet re-check doubles the wait,
   * up to quietRecheckMaxMs; an event of the attempt sets it back. So a long quiet job costs a few
   * reads (logarithmic in its length), not a poll.
   */
  quietRecheckMs?: number;
  /** Longest wait between quiet re-checks (default 1 h). */
  quietRecheckMaxMs?: number;
  /**
   * The Job says it is over but the pod stream has not caught up with it: how long to wait for the
   * pod's own event before listing the attempt's pods directly (default 5 s).
   */
  settleMs?: number;
  /** Longest wait for the informer's first sync before the attempt fails as infrastructure (default 5 min). */
  syncTimeoutMs?: number;
  /** Longest sleep while a timer (pending timeout, image pull grace) runs (default 1 s). */
  tickMs?: number;
  retry?: RetryOptions;
  /** Pods of the attempt (an Indexed Job's completions; default 1): all must succeed, one failing fails the attempt. */
  nodes?: number;
}

export type FinalVerdict = Exclude<AttemptVerdict, { state: 'pending' | 'running' }>;

export interface WatchAttemptResult {
  verdict: FinalVerdict;
  job?: V1Job;
  /** The pod whose result counts: the only one, or index 0's of a multi-node attempt. */
  pod?: V1Pod;
  /** Every pod of the attempt (the newest of each index). */
  pods: V1Pod[];
}

const ts = (d: Date | string | undefined) => (d ? new Date(d).getTime() : 0);
const rvOf = (o: { metadata?: { resourceVersion?: string } } | undefined) => {
  const v = o?.metadata?.resourceVersion;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
};

/**
 * Follow one attempt (a Job and its pods) until it ends, from the namespace's shared informer:
 * wait for its cache to sync, then re-classify on every change to the attempt's Job or pods.
 * No watch and no periodic poll of its own: one GET only when its events go quiet for long,
 * a pod list only when the Job says it ended and the pod stream lags. `onPhase` hears each new phase.
 */
export async function watchAttempt(o: WatchAttemptOptions): Promise<WatchAttemptResult> {
  const tickMs = o.tickMs ?? 1000;
  const quietMs = o.quietRecheckMs ?? 5 * 60_000;
  const quietMaxMs = Math.max(quietMs, o.quietRecheckMaxMs ?? 60 * 60_000);
  /** The quiet wait now: doubled by each re-check that found the cache right, reset by an event. */
  let quietFor = quietMs;
  const settleMs = o.settleMs ?? 5000;
  const retry: RetryOptions = { ...o.retry, signal: o.signal };
  const inf = o.informer;

  let job: V1Job | undefined;
  let jobSeen = false;
  let jobGone = false;
  /** Job absent from the synced cache, never seen: confirmed by one GET before it counts as gone. */
  let missingConfirmed = false;
  let live = new Map<string, V1Pod>();
  let gone = new Map<string, V1Pod>();
  let recheckedAt = Date.now();
  /** Last event of the attempt from the informer's streams (not from our own re-checks). */
  let heardAt = recheckedAt;
  let rechecking = false;
  let finishedSince: number | undefined;
  let settledListFor: string | undefined;
  let unschedulableSince: number | undefined;
  let containerErrorSince: number | undefined;
  let lastPhase: JobPhase | undefined;
  let wake: (() => void) | undefined;
  let dirty = true;
  const poke = () => {
    dirty = true;
    if (!rechecking) {
      heardAt = Date.now();
      quietFor = quietMs;
    }
    wake?.();
  };

  const ours = (p: V1Pod) => !job?.metadata?.uid || (p.metadata?.ownerReferences ?? []).some((r) => r.uid === job?.metadata?.uid);

  /** The entry (and its version) the last load() read: an unchanged one is not read again. */
  let loadedEntry: ReturnType<typeof inf.entry>;
  let loadedVersion = -1;
  let loadedConfirmed = false;
  /** Our view from the informer's entry: the Job, and the pods owned by it. */
  const load = () => {
    const e = inf.entry(o.jobName);
    if (e !== undefined && e === loadedEntry && e.version === loadedVersion && missingConfirmed === loadedConfirmed) return;
    loadedEntry = e;
    loadedVersion = e?.version ?? -1;
    loadedConfirmed = missingConfirmed;
    job = e?.job;
    if (job) {
      jobSeen = true;
      jobGone = false;
    } else if (e?.jobDeleted) jobGone = true;
    else jobGone = missingConfirmed;
    live = new Map([...(e?.pods ?? [])].filter(([, p]) => ours(p)));
    gone = new Map([...(e?.gone ?? [])].filter(([, p]) => ours(p)));
  };

  /** One direct read of the Job and its pods (a pod changes without its Job: image pull, scheduling), into the shared cache. */
  const recheck = async (): Promise<void> => {
    recheckedAt = Date.now();
    rechecking = true;
    try {
      try {
        const j = await withApiRetry(`read job ${o.jobName}`, () => o.batch.readNamespacedJob({ name: o.jobName, namespace: o.namespace }), retry);
        inf.seedJob(j);
        missingConfirmed = false;
      } catch (e) {
        if (apiCode(e) !== 404) throw e;
        // Never seen: it was not created (or is already garbage collected). Seen: someone deleted it.
        missingConfirmed = true;
      }
      await listPods();
    } finally {
      rechecking = false;
    }
  };

  const listPods = async () => {
    const list = await withApiRetry(`list pods of ${o.jobName}`, () => o.core.listNamespacedPod({ namespace: o.namespace, labelSelector: podSelector(o.jobName) }), retry);
    inf.seedPods(o.jobName, list.items, list.metadata?.resourceVersion);
  };

  const nodes = Math.max(1, o.nodes ?? 1);
  const indexOf = (p: V1Pod) => Number(p.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION] ?? p.metadata?.labels?.[COMPLETION_INDEX_ANNOTATION] ?? 0);
  const terminalPhase = (p: V1Pod | undefined) => p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed';
  /** The newest pod of each index, and whether it went without finishing. */
  const byIndex = (): Map<number, { pod: V1Pod; gone: boolean }> => {
    const out = new Map<number, { pod: V1Pod; gone: boolean }>();
    for (const [m, isGone] of [[gone, true], [live, false]] as const)
      for (const p of m.values()) {
        const i = indexOf(p);
        const prev = out.get(i);
        if (!prev || ts(p.metadata?.creationTimestamp) >= ts(prev.pod.metadata?.creationTimestamp)) out.set(i, { pod: p, gone: isGone });
      }
    return out;
  };

  /**
   * A gang's state as one pod: the first failed one (all or nothing), else one that went
   * unfinished, else index 0 once every index succeeded, else the least advanced (pending first).
   */
  const gangCurrent = (): { pod?: V1Pod; podGone: boolean; result?: V1Pod; pods: V1Pod[] } => {
    const idx = byIndex();
    const pods = [...idx.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e.pod);
    const finishedAt = (p: V1Pod) => ts(p.status?.containerStatuses?.[0]?.state?.terminated?.finishedAt) || Number.MAX_SAFE_INTEGER;
    const failed = pods.filter((p) => p.status?.phase === 'Failed').sort((a, b) => finishedAt(a) - finishedAt(b))[0];
    if (failed) return { pod: failed, podGone: false, pods };
    const lost = [...idx.values()].find((e) => e.gone && !terminalPhase(e.pod));
    if (lost) return { pod: lost.pod, podGone: true, pods };
    const zero = idx.get(0)?.pod;
    const allDone = idx.size >= nodes && pods.every((p) => p.status?.phase === 'Succeeded');
    if (allDone) return { pod: zero, podGone: false, result: zero, pods };
    const waiting = pods.find((p) => p.status?.phase === 'Pending') ?? pods.find((p) => p.status?.phase !== 'Succeeded');
    // Some index has no pod yet and the others are done: the gang is still waiting.
    return { pod: waiting, podGone: false, pods };
  };

  // Pods the attempt has had, newest first; the newest decides.
  const current = (): { pod?: V1Pod; podGone: boolean } => {
    if (nodes > 1) return gangCurrent();
    const newest = (m: Map<string, V1Pod>) => [...m.values()].sort((a, b) => ts(b.metadata?.creationTimestamp) - ts(a.metadata?.creationTimestamp))[0];
    const l = newest(live);
    if (l) return { pod: l, podGone: false };
    const g = newest(gone);
    if (!g) return { podGone: false };
    const terminal = g.status?.phase === 'Succeeded' || g.status?.phase === 'Failed';
    return { pod: g, podGone: !terminal };
  };

  const finishedCond = (j: V1Job | undefined) => j?.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ?? false;
  /** When the loop must look again without an event (timers), ms on the executor's clock. */
  let nextDeadline = Infinity;

  const evaluate = async (): Promise<FinalVerdict | undefined> => {
    load();
    const now0 = Date.now();
    // Absent from the synced cache and never seen: confirm with one GET (a Job created by another
    // worker may not have reached our stream yet) before deciding it is missing.
    if (!job && !jobSeen && !jobGone && !missingConfirmed) {
      await recheck();
      load();
    } else if (now0 - Math.max(recheckedAt, heardAt) >= quietFor) {
      // Quiet for long: the informer may have missed something (it should not): look directly, once.
      await recheck();
      // Each quiet look waits twice as long as the last, until an event of the attempt comes.
      quietFor = Math.min(quietMaxMs, quietFor * 2);
      load();
    }
    let { pod, podGone } = current();
    // The Job says it is over but our view of its pod is older: the pod stream lags the Job's. Wait
    // (bounded) for the pod's own event, then read the pods directly.
    const podTerminal = pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed';
    if (finishedCond(job) && !podTerminal) {
      const jobRv = rvOf(job);
      const podRv = inf.streamRv('Pod');
      const caughtUp = jobRv !== undefined && podRv !== undefined && podRv >= jobRv;
      const key = job?.metadata?.resourceVersion ?? '';
      if (!caughtUp && settledListFor !== key) {
        finishedSince ??= now0;
        if (now0 - finishedSince < settleMs) {
          nextDeadline = Math.min(nextDeadline, finishedSince + settleMs);
          return undefined;
        }
        settledListFor = key;
        await listPods();
        load();
        ({ pod, podGone } = current());
      }
    } else finishedSince = undefined;

    const now = Date.now();
    const waiting = pod?.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting?.reason;
    const containerError = waiting !== undefined && waiting !== 'ContainerCreating' && waiting !== 'PodInitializing';
    containerErrorSince = containerError ? (containerErrorSince ?? now) : undefined;
    const sched = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled');
    const unschedulable = pod?.status?.phase === 'Pending' && sched?.status === 'False';
    unschedulableSince = unschedulable ? (unschedulableSince ?? now) : undefined;

    const verdict = classifyAttempt({
      job,
      pod,
      podGone,
      jobGone: jobGone && (jobSeen || !pod),
      now,
      unschedulableSince,
      containerErrorSince,
      pendingTimeoutMs: o.pendingTimeoutMs,
      imagePullGraceMs: o.imagePullGraceMs,
      nonRetryableExitCodes: o.nonRetryableExitCodes,
    });
    // Compared field by field: serialising the phase on every event was a hot spot in a burst.
    const podName = pod?.metadata?.name || undefined;
    const node = pod?.spec?.nodeName || undefined;
    const message = verdict.message || undefined;
    if (!lastPhase || lastPhase.phase !== verdict.state || lastPhase.pod !== podName || lastPhase.node !== node || lastPhase.message !== message) {
      const phase: JobPhase = { phase: verdict.state, ...(podName ? { pod: podName } : {}), ...(node ? { node } : {}), ...(message ? { message } : {}) };
      lastPhase = phase;
      o.onPhase(phase);
    }
    if (verdict.state === 'succeeded' || verdict.state === 'failed') return verdict;
    // Timers that can end the attempt without an event: re-evaluate when they fall due.
    if (unschedulableSince !== undefined) nextDeadline = Math.min(nextDeadline, unschedulableSince + o.pendingTimeoutMs, now + tickMs);
    if (containerErrorSince !== undefined) nextDeadline = Math.min(nextDeadline, containerErrorSince + o.imagePullGraceMs, now + tickMs);
    return undefined;
  };

  const unsubscribe = inf.subscribe(o.jobName, poke);
  const onAbort = () => wake?.();
  o.signal.addEventListener('abort', onAbort);
  try {
    // The cache must hold the namespace's state before the attempt may decide its Job is missing.
    if (!(await inf.synced(o.signal, o.syncTimeoutMs ?? 5 * 60_000)) && !o.signal.aborted)
      throw new InfrastructureError(`the informer of namespace ${o.namespace} could not list its Jobs and pods within ${Math.round((o.syncTimeoutMs ?? 300_000) / 1000)} s`);
    for (;;) {
      if (o.signal.aborted) throw o.signal.reason;
      if (inf.stopped) throw new Error(`the informer of namespace ${o.namespace} stopped while attempt job ${o.jobName} was watched`);
      nextDeadline = Infinity;
      dirty = false;
      const verdict = await evaluate();
      if (verdict) {
        if (nodes === 1) {
          const pod = current().pod;
          return { verdict, job, pod, pods: pod ? [pod] : [] };
        }
        const g = gangCurrent();
        return { verdict, job, pod: g.result ?? g.pod, pods: g.pods };
      }
      if (dirty) continue;
      const quietAt = Math.max(recheckedAt, heardAt) + quietFor;
      const until = Math.min(nextDeadline, quietAt);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(2 ** 31 - 1, Math.max(0, until - Date.now())));
        wake = done;
        if (dirty || o.signal.aborted || inf.stopped) done();
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
      });
    }
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}
