import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { durationMs, MAX_RESULT_BYTES, nodesOf, type FailureClass } from '../../../spec';
import { JobGoneError, JobNameConflictError, type Executor, type JobOutcome, type JobPhase, type LaunchRequest } from '../types';
import { ApiConnections, makeApiClient, requestJson } from './apiClient';
import { apiCode, concurrencyLimit, statusOf, withApiRetry, type RetryOptions } from './apiRetry';
import { attemptLabels, buildJob, buildService, CONTAINER_NAME, JOB_HASH_ANNOTATION, jobNameOf, kubeConfigOf, RUN_ANNOTATION } from './jobBuilder';
import { NamespaceInformer, type InformerOptions } from './informer';
import { watchAttempt, type WatchAttemptOptions } from './watchJob';

export { InfrastructureError } from './apiRetry';
export { MANAGED_SELECTOR, NamespaceInformer, type InformerStats } from './informer';
export { buildJob, buildService, jobNameFor, jobNameOf, LABELS, RUN_ANNOTATION, serviceNameOf } from './jobBuilder';
export { classifyAttempt, classifyFailedPod } from './classifyPodFailure';

/** The API refused the Job (422 Invalid, 400, 403...): retrying the same request cannot help. */
export class JobRejectedError extends Error {
  readonly failureClass: FailureClass = 'user-error';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'JobRejectedError';
  }
}

export { JobNameConflictError };

export interface KubernetesExecutorOptions {
  /** Defaults to KubeConfig.loadFromDefault() (KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeConfig?: KubeConfig;
  retry?: RetryOptions;
  /** Watch tuning (tests shorten the timers): the shared informer's and each attempt's. */
  watch?: Pick<WatchAttemptOptions, 'tickMs' | 'quietRecheckMs' | 'quietRecheckMaxMs' | 'settleMs' | 'syncTimeoutMs'> &
    Pick<InformerOptions, 'watchTimeoutSeconds' | 'backoffInitialMs' | 'backoffMaxMs' | 'halfOpenGraceMs' | 'lingerMs'>;
  /**
   * Most API requests in flight at once (watches aside; default 64), and so the most kept-alive
   * connections: requests reuse them (client-node alone would open a new connection per request).
   * Unbounded, a burst of 2,000 creates would be 2,000 simultaneous connects, past the server's
   * accept backlog (SYN retransmits: seconds of latency). Bounded, they queue here.
   */
  maxConcurrentRequests?: number;
  /** Longest a failed multi-node attempt waits for its pods to go before the retry (default: grace period + 60 s). */
  reapTimeoutMs?: number;
}

const secondsBetween = (a: Date | string | undefined, b: Date | string | undefined) =>
  a && b ? Math.max(0, (new Date(b).getTime() - new Date(a).getTime()) / 1000) : 0;

/** GPU-seconds the pod held: container start to finish (or to now if it never finished) x GPUs. */
function gpuSecondsOf(pod: V1Pod | undefined, gpus: number): number {
  const st = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME) ?? pod?.status?.containerStatuses?.[0];
  const term = st?.state?.terminated;
  const started = term?.startedAt ?? st?.state?.running?.startedAt;
  if (!started) return 0;
  // A pod deleted while running ends at its deletion; one still running, now.
  return secondsBetween(started, term?.finishedAt ?? pod?.metadata?.deletionTimestamp ?? new Date()) * gpus;
}

/** Runs attempts as batch/v1 Jobs through the Kubernetes API (see DESIGN.md, Contracts). */
export class KubernetesExecutor implements Executor {
  readonly kind = 'kubernetes' as const;
  readonly kc: KubeConfig;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly opts: KubernetesExecutorOptions;
  /** One shared informer per namespace (started on first use, stopped when idle). */
  private readonly informers = new Map<string, NamespaceInformer>();
  /** Retry options of every call, with the shared in-flight limit. */
  private readonly retry: RetryOptions;
  /** The API clients' kept-alive connections. */
  private readonly conns: ApiConnections;

  constructor(config?: KubeConfig | KubernetesExecutorOptions) {
    this.opts = config instanceof KubeConfig ? { kubeConfig: config } : (config ?? {});
    this.kc = this.opts.kubeConfig ?? KubernetesExecutor.defaultConfig();
    const maxInFlight = this.opts.maxConcurrentRequests ?? 64;
    this.conns = new ApiConnections(maxInFlight);
    this.batch = makeApiClient(this.kc, BatchV1Api, this.conns);
    this.core = makeApiClient(this.kc, CoreV1Api, this.conns);
    this.retry = { ...this.opts.retry, limit: concurrencyLimit(maxInFlight) };
  }

  static defaultConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return kc;
  }

  /** The namespace's shared informer, started if it is not running. */
  informer(namespace: string): NamespaceInformer {
    let inf = this.informers.get(namespace);
    if (!inf || inf.stopped) {
      const w = this.opts.watch ?? {};
      const created: NamespaceInformer = new NamespaceInformer(
        this.kc,
        this.conns,
        this.batch,
        this.core,
        namespace,
        {
          retry: this.retry,
          watchTimeoutSeconds: w.watchTimeoutSeconds,
          backoffInitialMs: w.backoffInitialMs,
          backoffMaxMs: w.backoffMaxMs,
          halfOpenGraceMs: w.halfOpenGraceMs,
          lingerMs: w.lingerMs,
        },
        () => {
          if (this.informers.get(namespace) === created) this.informers.delete(namespace);
        },
      );
      inf = created;
      this.informers.set(namespace, inf);
      inf.start();
    }
    return inf;
  }

  /** Stop every informer (a worker shutting down; tests). */
  close(): void {
    for (const inf of [...this.informers.values()]) inf.stop();
    this.informers.clear();
    this.conns.destroy();
  }

  async launch(req: LaunchRequest, opts: { adoptOnly?: boolean } = {}): Promise<{ jobName: string; adopted: boolean }> {
    const namespace = kubeConfigOf(req).namespace;
    const jobName = jobNameOf(req);
    // Start the namespace's informer now: it syncs while the Job is created.
    const inf = this.informer(namespace);
    if (opts.adoptOnly) {
      // Launched before: re-attach, and never create a second Job for the attempt.
      try {
        const existing = await withApiRetry(`read job ${jobName}`, () => this.batch.readNamespacedJob({ name: jobName, namespace }), this.retry);
        this.checkOwnership(existing, req);
        inf.seedJob(existing);
        await this.ensureService(req, existing);
        return { jobName, adopted: true };
      } catch (e) {
        if (e instanceof JobRejectedError) throw e;
        if (apiCode(e) === 404) throw new JobGoneError(`job ${jobName} of attempt ${req.attempt} is gone (deleted, or collected after ttlSecondsAfterFinished)`);
        throw e;
      }
    }
    let created: V1Job;
    try {
      // The hot call of a burst: straight JSON, without the generated client's serializer.
      const path = `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`;
      let text: string | undefined;
      const body = () => (text ??= JSON.stringify(buildJob(req)));
      created = await withApiRetry(`create job ${jobName}`, () => requestJson<V1Job>(this.kc, this.conns, 'POST', path, body), this.retry);
    } catch (e) {
      const code = apiCode(e);
      if (code === 409) {
        // Already there: ours (a retried launch or a restarted worker) is adopted; anything else is a conflict.
        const existing = await withApiRetry(`read job ${jobName}`, () => this.batch.readNamespacedJob({ name: jobName, namespace }), this.retry);
        this.checkOwnership(existing, req);
        inf.seedJob(existing);
        await this.ensureService(req, existing);
        return { jobName, adopted: true };
      }
      if (code !== undefined && code >= 400 && code < 500) {
        const s = statusOf(e);
        throw new JobRejectedError(`the Kubernetes API rejected job ${jobName}: HTTP ${code} ${s.reason ?? ''}: ${s.message ?? ''}`.trim(), code);
      }
      throw e;
    }
    // Known before its ADDED event reaches the informer's stream.
    inf.seedJob(created);
    await this.ensureService(req, created);
    return { jobName, adopted: false };
  }

  /**
   * The headless Service a multi-node attempt's pods find each other through, created after its
   * Job (it is owned by the Job's uid, so it goes with it). Idempotent: one already there is kept.
   * A Service the API refuses deletes the Job again: its pods could never meet.
   */
  private async ensureService(req: LaunchRequest, job: V1Job): Promise<void> {
    if (nodesOf(req.resources) <= 1) return;
    const name = job.metadata?.name;
    const uid = job.metadata?.uid;
    if (!name || !uid) throw new Error(`job ${name ?? '?'} came back without a uid: cannot own its Service`);
    const body = buildService(req, { name, uid });
    const namespace = body.metadata!.namespace!;
    try {
      await withApiRetry(`create service ${body.metadata!.name}`, () => this.core.createNamespacedService({ namespace, body }), this.retry);
    } catch (e) {
      const code = apiCode(e);
      if (code === 409) return;
      if (code !== undefined && code >= 400 && code < 500) {
        await this.cancel(req).catch(() => undefined);
        const s = statusOf(e);
        throw new JobRejectedError(`the Kubernetes API rejected the headless service of job ${name}: HTTP ${code} ${s.reason ?? ''}: ${s.message ?? ''}`.trim(), code);
      }
      throw e;
    }
  }

  private checkOwnership(job: V1Job, req: LaunchRequest): void {
    const want = attemptLabels(req);
    const labels = job.metadata?.labels ?? {};
    const mismatched = Object.entries(want).filter(([k, v]) => labels[k] !== v);
    let run: { runId?: unknown; attempt?: unknown; sweep?: unknown } = {};
    try {
      run = JSON.parse(job.metadata?.annotations?.[RUN_ANNOTATION] ?? '{}') as typeof run;
    } catch {
      // An unparsable annotation is reported below as a mismatch.
    }
    const hadHash = job.metadata?.annotations?.[JOB_HASH_ANNOTATION];
    if (req.jobHash && hadHash !== undefined && hadHash !== req.jobHash)
      throw new JobNameConflictError(
        `job ${job.metadata?.name} runs job definition ${hadHash}, not ${req.jobHash} of attempt ${req.attempt} of run ${req.runId}: not adopting it`,
      );
    if (mismatched.length > 0 || run.runId !== req.runId || run.attempt !== req.attempt || run.sweep !== req.sweep)
      throw new JobNameConflictError(
        `job ${job.metadata?.name} already exists but is not attempt ${req.attempt} of run ${req.runId} in sweep ${req.sweep} ` +
          `(labels ${mismatched.map(([k]) => `${k}=${labels[k] ?? '<none>'}`).join(', ') || 'match'}, annotation run ${String(run.runId)} attempt ${String(run.attempt)})`,
      );
  }

  async watch(req: LaunchRequest, onPhase: (p: JobPhase) => void, signal: AbortSignal): Promise<JobOutcome> {
    const kube = kubeConfigOf(req);
    const jobName = jobNameOf(req);
    const nodes = nodesOf(req.resources);
    const w = this.opts.watch ?? {};
    const { verdict, pod, pods } = await watchAttempt({
      informer: this.informer(kube.namespace),
      batch: this.batch,
      core: this.core,
      namespace: kube.namespace,
      jobName,
      pendingTimeoutMs: durationMs(req.spec.timeouts.pending),
      imagePullGraceMs: durationMs(kube.imagePullGrace),
      nonRetryableExitCodes: req.spec.retry.nonRetryableExitCodes,
      onPhase,
      signal,
      retry: { ...this.retry },
      nodes,
      tickMs: w.tickMs,
      quietRecheckMs: w.quietRecheckMs,
      quietRecheckMaxMs: w.quietRecheckMaxMs,
      settleMs: w.settleMs,
      syncTimeoutMs: w.syncTimeoutMs,
    });
    // Every pod of a gang held its GPUs.
    const gpuSeconds = nodes > 1 ? pods.reduce((s, p) => s + gpuSecondsOf(p, req.resources.gpus), 0) : gpuSecondsOf(pod, req.resources.gpus);
    if (verdict.state === 'succeeded') {
      const result = await this.resultText(kube.namespace, pod, signal);
      if (!result.ok) return { status: 'failed', failureClass: 'bad-result', message: result.message, exitCode: 0, gpuSeconds };
      return { status: 'succeeded', resultText: result.text, gpuSeconds };
    }
    // A pod that can never start (no node fits, image never pulls) would hold its place forever.
    if (verdict.failureClass === 'unschedulable' || verdict.failureClass === 'image') await this.cancel(req).catch(() => undefined);
    // All or nothing: a failed gang leaves no pod behind for the retry to meet (or share GPUs with).
    else if (nodes > 1) await this.reap(req, signal);
    return {
      status: 'failed',
      failureClass: verdict.failureClass,
      message: verdict.message,
      ...(verdict.exitCode !== undefined ? { exitCode: verdict.exitCode } : {}),
      gpuSeconds,
    };
  }

  /**
   * The result: the termination message (SWEEP_RESULT_FILE), else the last line of the log. Never
   * more than MAX_RESULT_BYTES: the log is read with `limitBytes` (limit + 1, so an over-limit
   * result shows), and a result past the limit is refused (the run fails as bad-result).
   */
  private async resultText(namespace: string, pod: V1Pod | undefined, signal: AbortSignal): Promise<{ ok: true; text: string } | { ok: false; message: string }> {
    const st = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME) ?? pod?.status?.containerStatuses?.[0];
    const message = st?.state?.terminated?.message;
    if (message && message.trim() !== '') {
      const bytes = Buffer.byteLength(message, 'utf8');
      if (bytes > MAX_RESULT_BYTES) return { ok: false, message: `result (termination message) is ${bytes} bytes, over the limit of ${MAX_RESULT_BYTES} bytes (1 MiB)` };
      return { ok: true, text: message.trim() };
    }
    const name = pod?.metadata?.name;
    if (!name) return { ok: true, text: '' };
    const container = st?.name ?? CONTAINER_NAME;
    const lastLine = async (tailLines: number) => {
      const log = await withApiRetry(
        `read log of ${name}`,
        () => this.core.readNamespacedPodLog({ name, namespace, container, tailLines, limitBytes: MAX_RESULT_BYTES + 1 }),
        { ...this.retry, signal },
      );
      const text = String(log);
      const lines = text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      return { overLimit: Buffer.byteLength(text, 'utf8') > MAX_RESULT_BYTES, line: lines[lines.length - 1] ?? '' };
    };
    try {
      // The last 20 lines skip trailing blank ones; if they are too long to read whole, the last one alone.
      const tail = await lastLine(20);
      if (!tail.overLimit) return { ok: true, text: tail.line };
      const last = await lastLine(1);
      if (!last.overLimit) return { ok: true, text: last.line };
      return { ok: false, message: `result (last line of the pod log) is over the limit of ${MAX_RESULT_BYTES} bytes (1 MiB)` };
    } catch (e) {
      if (apiCode(e) === 404 || apiCode(e) === 400) return { ok: true, text: '' };
      throw e;
    }
  }

  /** Delete a multi-node attempt's Job and wait (bounded) until the informer has seen none of its pods left. */
  private async reap(req: LaunchRequest, signal: AbortSignal): Promise<void> {
    const namespace = kubeConfigOf(req).namespace;
    const jobName = jobNameOf(req);
    const inf = this.informer(namespace);
    await this.cancel(req);
    const graceMs = durationMs((req.spec.job as { gracePeriod?: string }).gracePeriod ?? '30s');
    const limitMs = this.opts.reapTimeoutMs ?? graceMs + 60_000;
    const deadline = Date.now() + limitMs;
    let wake: (() => void) | undefined;
    const unsubscribe = inf.subscribe(jobName, () => wake?.());
    try {
      while (Date.now() < deadline && !signal.aborted && !inf.stopped) {
        if ((inf.entry(jobName)?.pods.size ?? 0) === 0) return;
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, deadline - Date.now());
          wake = done;
          signal.addEventListener('abort', done, { once: true });
          function done() {
            clearTimeout(t);
            signal.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          }
        });
      }
    } finally {
      unsubscribe();
    }
    if ((inf.entry(jobName)?.pods.size ?? 0) === 0) return;
    throw new Error(`pods of job ${jobName} were still there ${Math.round(limitMs / 1000)} s after it was deleted`);
  }

  async cancel(req: LaunchRequest): Promise<void> {
    const namespace = kubeConfigOf(req).namespace;
    const name = jobNameOf(req);
    try {
      // Background: the Job goes now, its pods right after (the API's default for Jobs would orphan them).
      await withApiRetry(`delete job ${name}`, () => this.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }), this.retry);
    } catch (e) {
      if (apiCode(e) !== 404) throw e;
    }
  }
}

