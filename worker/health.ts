import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { log } from '../activities/logger';
import type { ResultsStore } from '../store/types';

/**
 * The worker's health endpoint for Kubernetes probes (k8s/base/deployment.yaml):
 *   GET /livez   200 while the worker is alive (not FAILED/STOPPED/DRAINED): a restart helps only then
 *   GET /readyz  200 when the worker is RUNNING, Temporal answers and the results store answers
 * A Temporal or database outage makes the pod unready, not dead: restarting a stateless worker
 * cannot fix either, and a crash-looping pod would come back later than one that just waits.
 */

export const HEALTH_PORT_ENV = 'SWEEP_HEALTH_PORT';
/** Each dependency check gets this long; the readiness probe's timeoutSeconds must exceed it. */
export const CHECK_TIMEOUT_MS = 3_000;

export type CheckName = 'worker' | 'temporal' | 'store';

export interface CheckResult {
  ok: boolean;
  /** Short, secret-free reason when not ok (never the raw error: it may name hosts or users). */
  reason?: string;
}

export interface HealthReport {
  live: boolean;
  ready: boolean;
  workerState: string;
  checks: Record<CheckName, CheckResult>;
}

/** What the endpoint asks. Each async probe rejects (or hangs) when its dependency is down. */
export interface HealthProbes {
  workerState(): string;
  temporal(deadlineMs: number): Promise<void>;
  store(): Promise<void>;
}

const DEAD_STATES = new Set(['FAILED', 'STOPPED', 'DRAINED']);

/**
 * Runs each async probe at most once at a time: a probe still pending from an earlier request
 * (a hung database connection) is awaited again rather than started a second time, so a stream
 * of probe requests never piles up connections on a dependency that does not answer.
 */
class SingleFlight {
  private pending?: Promise<void>;
  constructor(private readonly start: () => Promise<void>) {}

  async run(timeoutMs: number): Promise<CheckResult> {
    if (!this.pending) {
      const p = (async () => this.start())();
      this.pending = p;
      // Cleared only when the call itself settles, not when a caller gives up on it.
      p.then(
        () => this.clear(p),
        () => this.clear(p),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    });
    try {
      return await Promise.race([
        this.pending.then(
          (): CheckResult => ({ ok: true }),
          (err: unknown): CheckResult => ({ ok: false, reason: reasonOf(err) }),
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private clear(p: Promise<void>): void {
    if (this.pending === p) this.pending = undefined;
  }
}

/** A coarse, secret-free reason: the gRPC code or errno, never the message text. */
function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  if (typeof e?.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(e.code)) return e.code;
  if (typeof e?.code === 'number' && Number.isInteger(e.code)) return `grpc status ${e.code}`;
  if (typeof e?.name === 'string' && /^[A-Za-z]{1,40}$/.test(e.name) && e.name !== 'Error') return e.name;
  return 'failed';
}

export class HealthChecker {
  private readonly temporal: SingleFlight;
  private readonly store: SingleFlight;
  private lastReady?: boolean;

  constructor(
    private readonly probes: HealthProbes,
    private readonly timeoutMs = CHECK_TIMEOUT_MS,
  ) {
    this.temporal = new SingleFlight(() => probes.temporal(Date.now() + timeoutMs));
    this.store = new SingleFlight(() => probes.store());
  }

  liveness(): Pick<HealthReport, 'live' | 'workerState'> {
    const workerState = this.probes.workerState();
    return { live: !DEAD_STATES.has(workerState), workerState };
  }

  async readiness(): Promise<HealthReport> {
    const { live, workerState } = this.liveness();
    const [temporal, store] = await Promise.all([this.temporal.run(this.timeoutMs), this.store.run(this.timeoutMs)]);
    const worker: CheckResult = workerState === 'RUNNING' ? { ok: true } : { ok: false, reason: workerState };
    const checks = { worker, temporal, store };
    const ready = worker.ok && temporal.ok && store.ok;
    // Log transitions only: a probe every few seconds must not flood the log.
    if (ready !== this.lastReady) {
      if (ready) log.info({ checks }, 'worker ready');
      else log.warn({ checks }, 'worker not ready');
      this.lastReady = ready;
    }
    return { live, ready, workerState, checks };
  }
}

/** The probes of a real worker: its state, its own Temporal connection (the pollers'), the store. */
export function workerProbes(
  worker: Pick<Worker, 'getState'>,
  connection: NativeConnection,
  store: ResultsStore,
): HealthProbes {
  return {
    workerState: () => worker.getState(),
    temporal: async (deadline) => {
      // The standard gRPC health service of the frontend, on the connection the pollers use.
      const res = await connection.withDeadline(deadline, () =>
        connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' }),
      );
      // ServingStatus SERVING = 1.
      if (Number(res.status) !== 1) throw Object.assign(new Error('not serving'), { code: 'NOT_SERVING' });
    },
    // A primary-key lookup of a name no sweep can have (names are non-empty): cheap on any size of store.
    store: async () => {
      await store.getSweep('');
    },
  };
}

/** SWEEP_HEALTH_PORT: unset means no health server (local workers, tests); else a TCP port 1-65535. */
export function healthPortFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[HEALTH_PORT_ENV];
  if (raw === undefined || raw === '') return undefined;
  const n = /^\s*\d{1,5}\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new Error(`${HEALTH_PORT_ENV} must be a TCP port from 1 to 65535 (got "${raw.slice(0, 40)}")`);
  return n;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(head ? undefined : text);
}

/**
 * Serves /livez and /readyz on `port` (0: any free port). The port is reachable from anywhere the
 * NetworkPolicy allows, so it answers only GET/HEAD on those two paths, reads no request body and
 * says nothing but check names, states and coarse reasons.
 */
export async function startHealthServer(checker: HealthChecker, port: number, host?: string): Promise<HealthServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      reply(res, 405, { error: 'method not allowed' }, false);
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (path === '/livez') {
      const l = checker.liveness();
      reply(res, l.live ? 200 : 503, l, head);
      return;
    }
    if (path === '/readyz') {
      checker.readiness().then(
        (r) => reply(res, r.ready ? 200 : 503, r, head),
        () => reply(res, 503, { ready: false }, head),
      );
      return;
    }
    reply(res, 404, { error: 'not found' }, head);
  });
  // Probes are tiny and few: slow or idle clients are dropped quickly.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  server.maxConnections = 32;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The CLI's worker: a health server when SWEEP_HEALTH_PORT is set, else nothing. */
export async function startWorkerHealth(parts: {
  worker: Pick<Worker, 'getState'>;
  connection: NativeConnection;
  store: ResultsStore;
}): Promise<HealthServer | undefined> {
  const port = healthPortFromEnv();
  if (port === undefined) return undefined;
  const server = await startHealthServer(
    new HealthChecker(workerProbes(parts.worker, parts.connection, parts.store)),
    port,
  );
  log.info({ port: server.port }, 'health endpoint listening (/livez, /readyz)');
  return server;
}
