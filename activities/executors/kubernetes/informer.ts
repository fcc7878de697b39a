import type { BatchV1Api, CoreV1Api, KubeConfig, V1Job, V1Pod } from '@kubernetes/client-node';
import { log } from '../../logger';
import { watchStream, type ApiConnections } from './apiClient';
import { apiCode, holdDuringBursts, withApiRetry, type RetryOptions } from './apiRetry';
import { LABELS, MANAGED_BY } from './jobBuilder';

/** Label selector of everything the executor creates (Jobs and, through their template, pods). */
export const MANAGED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;
/** The job controller's label on every pod of a Job. */
const JOB_NAME_LABEL = 'job-name';
/** Longest a watch stream waits, in all, for one burst of the executor's requests (holdDuringBursts). */
const WATCH_HOLD_MS = 3000;

export interface InformerOptions {
  /** Server-side watch timeout; the watch is re-opened from the last resourceVersion (default 300 s). */
  watchTimeoutSeconds?: number;
  /** Reconnect backoff: full jitter over min(max, initial x 2^failures) (default 200 ms .. 30 s). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** A stream silent (not even a bookmark) this long past its own timeout is half-open: reconnect (default 15 s). */
  halfOpenGraceMs?: number;
  /** How long an informer nobody waits on stays up before it stops (default 60 s). */
  lingerMs?: number;
  retry?: RetryOptions;
}

/** What the informer knows of one Job (by name): the Job, its live pods and the pods it saw go. */
export interface JobEntry {
  job?: V1Job;
  /** The informer saw this Job deleted (DELETED event, or absent from a relist). */
  jobDeleted: boolean;
  /** resourceVersion of that deletion: only a Job newer than it (recreated under the name) replaces it. */
  deletedRv?: string;
  pods: Map<string, V1Pod>;
  gone: Map<string, V1Pod>;
  /** Executor-clock ms of the last change to the entry. */
  changedAt: number;
  /** Bumped on every change: a reader that saw this version has nothing new to read. */
  version: number;
}

/** Counters of the informer's own traffic (tests and benches read them). */
export interface InformerStats {
  lists: number;
  watchesOpened: number;
  watchErrors: number;
  gone: number;
  events: number;
}

type Kind = 'Job' | 'Pod';

interface WatchObject {
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
  code?: number;
  reason?: string;
}

/** resourceVersion as a number when it is one (etcd's are; the API calls them opaque). */
export function rvNumber(rv: string | undefined): number | undefined {
  if (rv === undefined || !/^\d+$/.test(rv)) return undefined;
  return Number(rv);
}

/** Newer-or-equal by resourceVersion; an unparsable one is taken as newer (the stream's order decides). */
function notOlder(next: string | undefined, prev: string | undefined): boolean {
  const a = rvNumber(next);
  const b = rvNumber(prev);
  return a === undefined || b === undefined || a >= b;
}

/** Strictly newer by resourceVersion; unknown when either is unparsable (then: not newer). */
function newer(next: string | undefined, prev: string | undefined): boolean {
  const a = rvNumber(next);
  const b = rvNumber(prev);
  return a !== undefined && b !== undefined && a > b;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

/**
 * One shared list+watch of the executor's Jobs and pods in a namespace (two watches, both with
 * the managed-by selector), indexed by Job name, with waiters per Job. client-node 1.4's
 * informer stops on any error but 410: this one reconnects every stream with backoff and
 * jitter, resumes from the last resourceVersion, and relists only on 410 Gone.
 */
export class NamespaceInformer {
  readonly stats: InformerStats = { lists: 0, watchesOpened: 0, watchErrors: 0, gone: 0, events: 0 };
  private readonly entries = new Map<string, JobEntry>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly ctl = new AbortController();
  private readonly rv: Record<Kind, string | undefined> = { Job: undefined, Pod: undefined };
  private readonly listed: Record<Kind, boolean> = { Job: false, Pod: false };
  private syncedResolve!: () => void;
  private readonly syncedPromise = new Promise<void>((r) => (this.syncedResolve = r));
  private refs = 0;
  private lingerTimer?: NodeJS.Timeout;
  private started = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly conns: ApiConnections,
    private readonly batch: BatchV1Api,
    private readonly core: CoreV1Api,
    readonly namespace: string,
    private readonly opts: InformerOptions = {},
    /** Called once the informer stopped (idle past its linger): the executor forgets it. */
    private readonly onStop: () => void = () => undefined,
  ) {}

  get stopped(): boolean {
    return this.ctl.signal.aborted;
  }

  /** Start both streams (idempotent). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.run('Job');
    void this.run('Pod');
    this.armLinger();
  }

  stop(): void {
    if (this.ctl.signal.aborted) return;
    clearTimeout(this.lingerTimer);
    this.ctl.abort();
    for (const ws of this.waiters.values()) for (const w of ws) w();
    this.onStop();
  }

  /** Both initial lists are in: the cache is the namespace's state as of a resourceVersion. */
  isSynced(): boolean {
    return this.listed.Job && this.listed.Pod;
  }

  /** Wait (bounded) for the first sync; says whether it happened. */
  async synced(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    if (this.isSynced()) return true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      void this.syncedPromise.then(done);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
    return this.isSynced();
  }

  /** The newest resourceVersion a stream is known to have reached (event, bookmark or list). */
  streamRv(kind: Kind): number | undefined {
    return rvNumber(this.rv[kind]);
  }

  entry(jobName: string): JobEntry | undefined {
    return this.entries.get(jobName);
  }

  /** Wake `cb` on every change to the Job `jobName` (and its pods); keeps the informer up. */
  subscribe(jobName: string, cb: () => void): () => void {
    let ws = this.waiters.get(jobName);
    if (!ws) this.waiters.set(jobName, (ws = new Set()));
    ws.add(cb);
    this.refs++;
    clearTimeout(this.lingerTimer);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      ws.delete(cb);
      if (ws.size === 0) {
        this.waiters.delete(jobName);
        this.prune(jobName);
      }
      if (--this.refs === 0) this.armLinger();
    };
  }

  /** A Job the executor just created or read: known before its watch event arrives (never replaces a newer one). */
  seedJob(job: V1Job): void {
    const name = job.metadata?.name;
    if (!name) return;
    const e = this.ensure(name);
    if (e.job && !notOlder(job.metadata?.resourceVersion, e.job.metadata?.resourceVersion)) return;
    // Deleted since it was read: the deletion is newer (a Job recreated under the name is newer still).
    if (!e.job && e.jobDeleted && !newer(job.metadata?.resourceVersion, e.deletedRv)) return;
    e.job = job;
    e.jobDeleted = false;
    this.touch(name, e);
  }

  /** Pods read directly (a lagging stream's fallback): newer versions replace the cache's. */
  seedPods(jobName: string, pods: V1Pod[], listRv: string | undefined): void {
    const e = this.ensure(jobName);
    const seen = new Set<string>();
    for (const p of pods) {
      const n = p.metadata?.name;
      if (!n) continue;
      seen.add(n);
      const prev = e.pods.get(n);
      if (!prev || notOlder(p.metadata?.resourceVersion, prev.metadata?.resourceVersion)) e.pods.set(n, p);
    }
    for (const [n, p] of e.pods)
      if (!seen.has(n) && notOlder(listRv, p.metadata?.resourceVersion)) {
        e.pods.delete(n);
        e.gone.set(n, p);
      }
    this.touch(jobName, e);
  }

  private ensure(jobName: string): JobEntry {
    let e = this.entries.get(jobName);
    if (!e) this.entries.set(jobName, (e = { jobDeleted: false, pods: new Map(), gone: new Map(), changedAt: Date.now(), version: 0 }));
    return e;
  }

  private touch(jobName: string, e: JobEntry): void {
    e.changedAt = Date.now();
    e.version++;
    const ws = this.waiters.get(jobName);
    // A waiter may unsubscribe while woken: wake a copy of the set.
    if (ws) for (const w of [...ws]) w();
    else this.prune(jobName);
  }

  /** Nobody waits on it and nothing of it is left in the cluster: forget it (the cache stays O(live Jobs)). */
  private prune(jobName: string): void {
    const e = this.entries.get(jobName);
    if (e && !e.job && e.pods.size === 0 && !this.waiters.has(jobName)) this.entries.delete(jobName);
  }

  private armLinger(): void {
    clearTimeout(this.lingerTimer);
    if (this.refs > 0 || this.stopped) return;
    this.lingerTimer = setTimeout(() => {
      if (this.refs === 0) this.stop();
    }, this.opts.lingerMs ?? 60_000);
    this.lingerTimer.unref();
  }

  private apply(kind: Kind, type: string, obj: V1Job | V1Pod): void {
    this.stats.events++;
    const name = obj.metadata?.name;
    if (!name) return;
    if (kind === 'Job') {
      const e = this.ensure(name);
      if (type === 'DELETED') {
        // A stale deletion (replayed after the name's Job was recreated and seeded) changes nothing.
        if (e.job && e.job.metadata?.uid !== obj.metadata?.uid && !notOlder(obj.metadata?.resourceVersion, e.job.metadata?.resourceVersion)) return;
        e.job = undefined;
        e.jobDeleted = true;
        e.deletedRv = obj.metadata?.resourceVersion;
      } else {
        if (e.job && !notOlder(obj.metadata?.resourceVersion, e.job.metadata?.resourceVersion)) return;
        e.job = obj as V1Job;
        e.jobDeleted = false;
      }
      this.touch(name, e);
      return;
    }
    const jobName = obj.metadata?.labels?.[JOB_NAME_LABEL];
    if (!jobName) return;
    const e = this.ensure(jobName);
    if (type === 'DELETED') {
      e.pods.delete(name);
      e.gone.set(name, obj as V1Pod);
    } else {
      const prev = e.pods.get(name);
      if (prev && !notOlder(obj.metadata?.resourceVersion, prev.metadata?.resourceVersion)) return;
      e.pods.set(name, obj as V1Pod);
    }
    this.touch(jobName, e);
  }

  /** Replace the cache of a kind with a list (first sync or after 410): what the list lacks went. */
  private replace(kind: Kind, items: (V1Job | V1Pod)[], listRv: string | undefined): void {
    const present = new Set<string>();
    for (const o of items) {
      const n = o.metadata?.name;
      if (!n) continue;
      present.add(kind === 'Job' ? n : `${o.metadata?.labels?.[JOB_NAME_LABEL] ?? ''}/${n}`);
      this.apply(kind, 'MODIFIED', o);
    }
    for (const [jobName, e] of [...this.entries]) {
      if (kind === 'Job') {
        // A Job seeded after the list was taken is newer than the list: keep it.
        if (e.job && !present.has(jobName) && notOlder(listRv, e.job.metadata?.resourceVersion)) this.apply('Job', 'DELETED', e.job);
      } else
        for (const [n, p] of [...e.pods])
          if (!present.has(`${jobName}/${n}`) && notOlder(listRv, p.metadata?.resourceVersion)) this.apply('Pod', 'DELETED', p);
    }
  }

  private async list(kind: Kind): Promise<void> {
    const signal = this.ctl.signal;
    const retry = { ...this.opts.retry, signal };
    this.stats.lists++;
    const res =
      kind === 'Job'
        ? await withApiRetry(`list jobs in ${this.namespace}`, () => this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: MANAGED_SELECTOR }), retry)
        : await withApiRetry(`list pods in ${this.namespace}`, () => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: MANAGED_SELECTOR }), retry);
    // The list's items carry no kind; the streams' events do not need it either.
    this.replace(kind, res.items, res.metadata?.resourceVersion);
    this.rv[kind] = res.metadata?.resourceVersion;
    if (!this.listed[kind]) {
      this.listed[kind] = true;
      if (this.isSynced()) this.syncedResolve();
    }
  }

  /** One stream: list (first, and after 410), then watch from the last resourceVersion, forever. */
  private async run(kind: Kind): Promise<void> {
    const signal = this.ctl.signal;
    const path =
      kind === 'Job' ? `/apis/batch/v1/namespaces/${encodeURIComponent(this.namespace)}/jobs` : `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? 300;
    const initial = this.opts.backoffInitialMs ?? 200;
    const max = this.opts.backoffMaxMs ?? 30_000;
    let needList = true;
    let failures = 0;
    const backoff = async (floorMs = 0) => {
      failures++;
      const ms = Math.max(floorMs, Math.random() * Math.min(max, initial * 2 ** Math.min(failures, 16)));
      await sleep(ms, signal);
    };
    while (!signal.aborted) {
      if (needList) {
        try {
          await this.list(kind);
          needList = false;
        } catch (e) {
          if (signal.aborted) return;
          // withApiRetry already retried transient errors: keep trying, slower (the API may be down for long).
          log.warn({ namespace: this.namespace, kind, err: (e as Error).message }, 'informer list failed; retrying');
          await backoff();
          continue;
        }
      }
      const outcome = await this.watchOnce(kind, path, timeoutSeconds);
      if (signal.aborted) return;
      if (outcome.gone) {
        this.stats.gone++;
        needList = true;
        failures = 0;
        continue;
      }
      if (outcome.error !== undefined) {
        this.stats.watchErrors++;
        const code = apiCode(outcome.error);
        log.debug({ namespace: this.namespace, kind, code, err: (outcome.error as Error)?.message }, 'informer watch failed; reconnecting');
        // Throttled: wait at least a second (or the longest backoff, if shorter) before asking again.
        await backoff(code === 429 ? Math.min(1000, max) : 0);
        continue;
      }
      // A clean end (server timeout): reconnect at once, with a little jitter so a fleet does not stampede.
      if (outcome.events > 0) failures = 0;
      await sleep(Math.random() * 50, signal);
    }
  }

  /** Watch until the stream ends; says how (410 Gone, an error, or a clean close). */
  private async watchOnce(kind: Kind, path: string, timeoutSeconds: number): Promise<{ gone?: boolean; error?: unknown; events: number }> {
    const signal = this.ctl.signal;
    let events = 0;
    let gone = false;
    const openedAt = Date.now();
    let lastHeard = openedAt;
    const req = new AbortController();
    let halfOpen: NodeJS.Timeout | undefined;
    return await new Promise((resolve) => {
      let finished = false;
      const finish = (r: { gone?: boolean; error?: unknown }) => {
        if (finished) return;
        finished = true;
        clearInterval(halfOpen);
        signal.removeEventListener('abort', onAbort);
        req.abort();
        resolve({ ...r, events });
      };
      const onAbort = () => finish({});
      signal.addEventListener('abort', onAbort, { once: true });
      const grace = this.opts.halfOpenGraceMs ?? 15_000;
      halfOpen = setInterval(
        () => {
          if (Date.now() - lastHeard > timeoutSeconds * 1000 + grace) finish({ error: new Error('watch silent past its timeout (half-open): reconnecting') });
        },
        Math.min(5_000, grace),
      );
      halfOpen.unref();
      const onEvent = ({ type, object }: { type: string; object: unknown }) => {
        if (finished) return;
        const obj = (object ?? {}) as WatchObject;
        lastHeard = Date.now();
        events++;
        if (type === 'ERROR') {
          // The real server reports an expired resourceVersion as an ERROR event carrying a 410 Status.
          if (obj.code === 410 || obj.reason === 'Expired' || obj.reason === 'Gone') gone = true;
          return;
        }
        if (obj.metadata?.resourceVersion) this.rv[kind] = obj.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        this.apply(kind, type, obj as V1Job | V1Pod);
      };
      const onDone = (err: unknown) => {
        if (gone || apiCode(err) === 410) return finish({ gone: true });
        // A stream that ends at once with nothing in it is a failure too (back off, do not spin).
        if (!err && events === 0 && Date.now() - openedAt < 1000) return finish({ error: new Error('watch closed at once, empty') });
        finish(err ? { error: err } : {});
      };
      this.stats.watchesOpened++;
      watchStream(this.kc, this.conns, path, { labelSelector: MANAGED_SELECTOR, resourceVersion: this.rv[kind], allowWatchBookmarks: true, timeoutSeconds }, onEvent, req.signal, holdDuringBursts(this.opts.retry?.limit, WATCH_HOLD_MS)).then(
        () => onDone(null),
        (e: unknown) => onDone(e),
      );
    });
  }
}
