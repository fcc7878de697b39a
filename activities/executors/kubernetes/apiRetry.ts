import { ApiException } from '@kubernetes/client-node';
import type { FailureClass } from '../../../spec';

/** An API failure that outlasted its retries: the attempt's fate is unknown, not the job's fault. */
export class InfrastructureError extends Error {
  readonly failureClass: FailureClass = 'infrastructure';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InfrastructureError';
  }
}

export interface RetryOptions {
  /** Attempts including the first (default 8). */
  attempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Per-call timeout; a call that takes longer counts as a transient failure (default 30 s). */
  timeoutMs?: number;
  /** Give up once this much time has passed in total (default 2 min). */
  budgetMs?: number;
  signal?: AbortSignal;
  /** Called before each retry (logging, metrics). */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Runs each call when a slot is free (see concurrencyLimit); the call's timeout starts then. */
  limit?: Limit;
}

export type Limit = (<T>(fn: () => Promise<T>) => Promise<T>) & {
  /**
   * Undefined if no call waits for a slot; else resolves once every call queued or running has
   * ended (the burst and its tail), or after `maxWaitMs`.
   */
  drained: (maxWaitMs: number) => Promise<void> | undefined;
  /** Whether any call waits for a slot. */
  queued: () => boolean;
};

/** At most `n` calls running at once; the others wait, first come first served. */
export function concurrencyLimit(n: number): Limit {
  let running = 0;
  const queue: (() => void)[] = [];
  const drainWaiters = new Set<() => void>();
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((r) => queue.push(r));
    else running++;
    try {
      return await fn();
    } finally {
      const next = queue.shift();
      if (next) next();
      else running--;
      if (running === 0 && drainWaiters.size) {
        const w = [...drainWaiters];
        drainWaiters.clear();
        for (const r of w) r();
      }
    }
  };
  const queued = () => queue.length > 0;
  const drained = (maxWaitMs: number): Promise<void> | undefined => {
    if (!queued()) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        drainWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      timer.unref();
      drainWaiters.add(done);
    });
  };
  return Object.assign(run, { queued, drained });
}

/**
 * A watch stream's wait before each chunk (watchStream's `before`): while calls of `limit` queue
 * for a slot (a burst of creates), wait for the burst to end (every queued and running call), at
 * most `maxHoldMs` in all per burst: past that (a queue that never empties) read freely until a
 * chunk finds the queue empty again. One thread parses both; the creates' latency is what a
 * launch waits on, an event's only how soon a change is seen (bench/cluster, 2,100 creates at
 * once: the burst took about a fifth less wall time). The events wait in the stream
 * (backpressure), in order, none dropped. One per stream.
 */
export function holdDuringBursts(limit: Limit | undefined, maxHoldMs: number, now: () => number = Date.now): () => Promise<void> | undefined {
  let heldSince: number | undefined;
  return () => {
    if (!limit?.queued()) {
      heldSince = undefined;
      return undefined;
    }
    heldSince ??= now();
    const left = maxHoldMs - (now() - heldSince);
    return left > 0 ? limit.drained(left) : undefined;
  };
}

/** The API's Status body of an ApiException (the client keeps it as text). */
export function statusOf(e: unknown): { code?: number; reason?: string; message?: string } {
  if (!(e instanceof ApiException)) {
    const code = (e as { statusCode?: unknown } | null)?.statusCode;
    return typeof code === 'number' ? { code } : {};
  }
  let body: unknown = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return { code: e.code, message: body as string };
    }
  }
  const b = (body ?? {}) as { reason?: string; message?: string };
  return { code: e.code, reason: b.reason, message: b.message };
}

export function apiCode(e: unknown): number | undefined {
  return statusOf(e).code;
}

const TRANSIENT_NET = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|socket hang up|premature close|network timeout|other side closed|aborted/i;

/** Worth retrying: server errors, throttling, timeouts, and connection-level failures. */
export function isTransient(e: unknown): boolean {
  if (e instanceof CallTimeoutError) return true;
  const code = apiCode(e);
  if (code !== undefined) return code >= 500 || code === 429 || code === 408;
  const err = e as { code?: unknown; type?: unknown; message?: unknown } | null;
  const text = `${String(err?.code ?? '')} ${String(err?.type ?? '')} ${String(err?.message ?? '')}`;
  return err?.type === 'system' || err?.type === 'request-timeout' || TRANSIENT_NET.test(text);
}

/** Seconds from a Retry-After header (seconds or an HTTP date). */
export function retryAfterMs(e: unknown): number | undefined {
  if (!(e instanceof ApiException)) return undefined;
  const headers = (e.headers ?? {}) as Record<string, string | undefined>;
  const v = headers['retry-after'] ?? headers['Retry-After'];
  if (v === undefined) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

class CallTimeoutError extends Error {
  constructor(ms: number) {
    super(`Kubernetes API call timed out after ${ms} ms`);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new CallTimeoutError(ms)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/**
 * Call the API, retrying transient failures with exponential backoff and full jitter (429s wait
 * at least Retry-After). Non-transient errors (404, 409, 422...) are rethrown at once for the
 * caller to interpret; transient ones that persist become an InfrastructureError.
 */
export async function withApiRetry<T>(what: string, call: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 8;
  const initial = opts.initialDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + (opts.budgetMs ?? 120_000);
  for (let i = 1; ; i++) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    try {
      return opts.limit ? await opts.limit(() => withTimeout(call(), timeoutMs)) : await withTimeout(call(), timeoutMs);
    } catch (e) {
      if (!isTransient(e)) throw e;
      const backoff = Math.random() * Math.min(max, initial * 2 ** (i - 1));
      const delayMs = Math.max(backoff, retryAfterMs(e) ?? 0);
      if (i >= attempts || Date.now() + delayMs > deadline) {
        const s = statusOf(e);
        const detail = s.code ? `HTTP ${s.code}${s.reason ? ` ${s.reason}` : ''}${s.message ? `: ${s.message}` : ''}` : (e as Error).message;
        throw new InfrastructureError(`${what}: Kubernetes API failing after ${i} attempt(s): ${detail}`, s.code, { cause: e });
      }
      opts.onRetry?.({ attempt: i, delayMs, error: e });
      await sleep(delayMs, opts.signal);
    }
  }
}
