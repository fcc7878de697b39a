import { Watch, type BatchV1Api, type CoreV1Api, type KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import type { JobPhase } from '../types';
import { apiCode, withApiRetry, type RetryOptions } from './apiRetry';
import { classifyAttempt, type AttemptVerdict } from './classifyPodFailure';
import { COMPLETION_INDEX_ANNOTATION, podSelector } from './jobBuilder';

export interface WatchAttemptOptions {
  kc: KubeConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  namespace: string;
  jobName: string;
  pendingTimeoutMs: number;
  imagePullGraceMs: number;
  nonRetryableExitCodes: readonly number[];
  onPhase: (p: JobPhase) => void;
  signal: AbortSignal;
  /** Server-side watch timeout; the watch is re-opened from the last resourceVersion (default 60 s). */
  watchTimeoutSeconds?: number;
  /** How often timers (pending, image grace) are re-evaluated without events (default 1 s). */
  tickMs?: number;
  /** How often the Job is re-read while it has no pod (default 5 s) and otherwise (default 30 s). */
  jobPollMs?: { noPod: number; withPod: number };
  /** Consecutive failed watch (re)connects after which a relist must succeed or the watch gives up (default 5). */
  maxWatchFailures?: number;
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
  /** The newest pod of each index (one entry for a single-node attempt). */
  pods: V1Pod[];
}

interface WatchEventObject {
  kind?: string;
  metadata?: { name?: string; resourceVersion?: string; ownerReferences?: { uid?: string }[]; creationTimestamp?: string | Date };
  code?: number;
  reason?: string;
  message?: string;
}

const ts = (d: Date | string | undefined) => (d ? new Date(d).getTime() : 0);

/**
 * Follow one attempt (a Job and its pods) until it ends: list, then watch pods from the list's
 * resourceVersion; reopen a dropped or timed-out watch from the last resourceVersion seen;
 * relist on 410 Gone. Every change is classified; `onPhase` hears each new phase.
 */
export async function watchAttempt(o: WatchAttemptOptions): Promise<WatchAttemptResult> {
  const tickMs = o.tickMs ?? 1000;
  const jobPoll = o.jobPollMs ?? { noPod: 5000, withPod: 30_000 };
  const watchTimeout = o.watchTimeoutSeconds ?? 60;
  const maxWatchFailures = o.maxWatchFailures ?? 5;
  const retry: RetryOptions = { ...o.retry, signal: o.signal };
  const selector = podSelector(o.jobName);
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods`;

  let job: V1Job | undefined;
  let jobSeen = false;
  let jobGone = false;
  let jobReadAt = 0;
  const live = new Map<string, V1Pod>();
  const gone = new Map<string, V1Pod>();
  let rv: string | undefined;
  let needRelist = true;
  let needJobRead = false;
  let watchCtl: AbortController | undefined;
  let watchOpen = false;
  let watchFailures = 0;
  let reconnectAt = 0;
  let lastEventAt = Date.now();
  let unschedulableSince: number | undefined;
  let containerErrorSince: number | undefined;
  let lastPhaseKey = '';
  let wake: (() => void) | undefined;
  const poke = () => wake?.();

  const ours = (p: V1Pod) => !job?.metadata?.uid || (p.metadata?.ownerReferences ?? []).some((r) => r.uid === job?.metadata?.uid);

  const readJob = async () => {
    try {
      job = await withApiRetry(`read job ${o.jobName}`, () => o.batch.readNamespacedJob({ name: o.jobName, namespace: o.namespace }), retry);
      jobSeen = true;
      jobGone = false;
    } catch (e) {
      if (apiCode(e) !== 404) throw e;
      // Never seen: it was never created (or already garbage collected). Seen: someone deleted it.
      jobGone = true;
      job = undefined;
    }
    jobReadAt = Date.now();
    needJobRead = false;
  };

  const relist = async () => {
    await readJob();
    await listPods();
  };

  const listPods = async () => {
    const list = await withApiRetry(`list pods of ${o.jobName}`, () => o.core.listNamespacedPod({ namespace: o.namespace, labelSelector: selector }), retry);
    const seen = new Set<string>();
    for (const p of list.items) {
      if (!ours(p)) continue;
      seen.add(p.metadata!.name!);
      live.set(p.metadata!.name!, p);
    }
    for (const [name, p] of live)
      if (!seen.has(name)) {
        live.delete(name);
        gone.set(name, p);
      }
    rv = list.metadata?.resourceVersion;
    needRelist = false;
    watchFailures = 0;
  };

  const stopWatch = () => {
    watchCtl?.abort();
    watchCtl = undefined;
    watchOpen = false;
  };

  const startWatch = async () => {
    watchOpen = true;
    lastEventAt = Date.now();
    let myCtl: AbortController | undefined;
    let finished = false;
    const onEvent = (type: string, obj: WatchEventObject) => {
      if (finished) return;
      lastEventAt = Date.now();
      if (type === 'ERROR') {
        // The real server reports an expired resourceVersion as an ERROR event carrying a 410 Status.
        if (obj.code === 410 || obj.reason === 'Expired' || obj.reason === 'Gone') needRelist = true;
        return poke();
      }
      if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
      if (type === 'BOOKMARK') return;
      const pod = obj as V1Pod;
      const name = pod.metadata?.name;
      if (!name || !ours(pod)) return;
      if (type === 'DELETED') {
        live.delete(name);
        gone.set(name, pod);
        needJobRead = true;
      } else {
        live.set(name, pod);
        if (pod.status?.phase === 'Failed') needJobRead = true;
      }
      poke();
    };
    const onDone = (err: unknown) => {
      if (finished) return;
      finished = true;
      if (watchCtl === myCtl) {
        watchOpen = false;
        watchCtl = undefined;
      }
      if (o.signal.aborted) return;
      if (err) {
        const code = apiCode(err);
        if (code === 410) needRelist = true;
        else {
          watchFailures++;
          const backoff = Math.min(10_000, 100 * 2 ** Math.min(watchFailures, 7));
          reconnectAt = Date.now() + Math.max(backoff * Math.random(), code === 429 ? 1000 : 0);
          if (watchFailures >= maxWatchFailures) needRelist = true;
        }
      } else watchFailures = 0;
      poke();
    };
    try {
      myCtl = await new Watch(o.kc).watch(
        path,
        { labelSelector: selector, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: watchTimeout },
        onEvent,
        onDone,
      );
      if (finished) return;
      watchCtl = myCtl;
      if (o.signal.aborted) stopWatch();
    } catch (e) {
      onDone(e);
    }
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

  const evaluate = async (): Promise<FinalVerdict | undefined> => {
    let { pod, podGone } = current();
    const now = Date.now();
    const pollEvery = pod ? jobPoll.withPod : jobPoll.noPod;
    if (needJobRead || now - jobReadAt >= pollEvery) {
      await readJob();
      ({ pod, podGone } = current());
    }
    // The Job says it is over but our view of its pod is older (a missed or late event): re-read the pods.
    const finished = job?.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    if (finished && pod?.status?.phase !== 'Succeeded' && pod?.status?.phase !== 'Failed') {
      await listPods();
      ({ pod, podGone } = current());
    }
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
    const phase: JobPhase = {
      phase: verdict.state,
      ...(pod?.metadata?.name ? { pod: pod.metadata.name } : {}),
      ...(pod?.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      ...(verdict.message ? { message: verdict.message } : {}),
    };
    const key = JSON.stringify(phase);
    if (key !== lastPhaseKey) {
      lastPhaseKey = key;
      o.onPhase(phase);
    }
    if (verdict.state === 'succeeded' || verdict.state === 'failed') return verdict;
    return undefined;
  };

  try {
    for (;;) {
      if (o.signal.aborted) throw o.signal.reason;
      if (needRelist) {
        stopWatch();
        await relist();
      }
      const verdict = await evaluate();
      if (verdict) {
        if (nodes === 1) {
          const pod = current().pod;
          return { verdict, job, pod, pods: pod ? [pod] : [] };
        }
        const g = gangCurrent();
        return { verdict, job, pod: g.result ?? g.pod, pods: g.pods };
      }
      const now = Date.now();
      // A watch that stays silent past its own timeout is half-open: drop it and resume.
      if (watchOpen && now - lastEventAt > (watchTimeout + 15) * 1000) stopWatch();
      if (!watchOpen && now >= reconnectAt && !needRelist) await startWatch();
      if (needRelist) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, watchOpen ? tickMs : Math.max(10, Math.min(tickMs, reconnectAt - now)));
        const onAbort = () => done();
        o.signal.addEventListener('abort', onAbort, { once: true });
        wake = done;
        function done() {
          clearTimeout(t);
          o.signal.removeEventListener('abort', onAbort);
          wake = undefined;
          resolve();
        }
      });
    }
  } finally {
    stopWatch();
  }
}
