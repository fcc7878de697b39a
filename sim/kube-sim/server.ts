import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mulberry32 } from '../../spec/hash';
import type { SimCluster } from './cluster';
import { fieldValue, matchesSelector, parseSelector, SelectorError, type Requirement } from './selectors';
import { GoneError, type ObjectStore, type StoredEvent } from './store';
import type { Job, Kind, KubeObject, Service, StatusBody, WatchEvent } from './types';
import { validateJob, validateService } from './validation';

/** API-level faults: random, by rate, plus explicit one-shot rules (SimApi.injectErrors). */
export interface ApiFaults {
  /** Fraction of requests answered 500 InternalError. */
  errorRate?: number;
  /** Fraction of requests answered 429 TooManyRequests (with Retry-After). */
  throttleRate?: number;
  retryAfterSeconds?: number;
  /** Added to every request (real milliseconds), plus up to `latencyJitterMs`. */
  latencyMs?: number;
  latencyJitterMs?: number;
  /** Mean real seconds before an open watch stream is cut (exponential); off when absent. */
  watchDropMeanSeconds?: number;
}

export interface InjectedErrorRule {
  /** 410 applies to watch requests only: the watch is refused as Gone (an ERROR event or HTTP 410, per `goneAs`). */
  code: 500 | 503 | 429 | 504 | 410;
  /** How many matching requests get the error (default 1). */
  count?: number;
  method?: string;
  /** Matched against the path (without query). */
  path?: RegExp;
  /** Also fail watch requests (default true). */
  watches?: boolean;
  retryAfterSeconds?: number;
}

export interface ServerOptions {
  port: number;
  host: string;
  faults: ApiFaults;
  /** How a watch from a compacted resourceVersion is refused: ERROR event (the real server) or HTTP 410. */
  goneAs: 'event' | 'http';
  /** Real ms between BOOKMARK events on watches that allow them. */
  bookmarkIntervalMs: number;
  seed: number;
}

/** What the API server counted (GET /_sim/stats answers it as JSON). */
export interface SimApiStats {
  /** Every request routed to a Kubernetes resource, faults included. */
  requests: number;
  injected500: number;
  injected429: number;
  injected410: number;
  watchesOpened: number;
  watchesDropped: number;
  /** Watches refused as too old (410), compacted history or injected. */
  gone: number;
  /** Kubernetes API requests by "verb resource": "create jobs", "get jobs", "list pods", "watch pods", "get pods/log"... */
  byVerb: Record<string, number>;
  /** Lists narrowed to one Job's pods or one object (an attempt's), and the rest (informers' (re)lists). */
  lists: { scoped: number; namespaceWide: number };
  /** TCP connections accepted (a client that keeps its connections alive opens few; one per request opens as many as it sends). */
  connectionsOpened: number;
  watchesOpen: number;
  watchesPeak: number;
  /** Most watches open at once per namespace ('*' for cluster-wide watches). */
  watchesPeakByNamespace: Record<string, number>;
  restarts: number;
}

interface Route {
  kind: Kind;
  namespace?: string;
  name?: string;
  sub?: 'log' | 'status';
}

const RESOURCE: Record<Kind, { plural: string; group: string; apiVersion: string; list: string }> = {
  Pod: { plural: 'pods', group: '', apiVersion: 'v1', list: 'PodList' },
  Job: { plural: 'jobs', group: 'batch', apiVersion: 'batch/v1', list: 'JobList' },
  Node: { plural: 'nodes', group: '', apiVersion: 'v1', list: 'NodeList' },
  Service: { plural: 'services', group: '', apiVersion: 'v1', list: 'ServiceList' },
};

class HttpError extends Error {
  constructor(readonly status: StatusBody, readonly headers: Record<string, string> = {}) {
    super(status.message);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: StatusBody['details']): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function qualified(kind: Kind): string {
  const r = RESOURCE[kind];
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

function notFound(kind: Kind, name: string): HttpError {
  const r = RESOURCE[kind];
  return new HttpError(statusBody(404, 'NotFound', `${qualified(kind)} "${name}" not found`, { name, group: r.group || undefined, kind: r.plural }));
}

/** Parse /api/v1/... and /apis/batch/v1/... paths into a route. */
function route(path: string): Route | undefined {
  let m = /^\/api\/v1\/nodes(?:\/([^/]+))?\/?$/.exec(path);
  if (m) return { kind: 'Node', name: m[1] };
  m = /^\/api\/v1\/pods\/?$/.exec(path);
  if (m) return { kind: 'Pod' };
  m = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(?:\/(log|status))?)?\/?$/.exec(path);
  if (m) return { kind: 'Pod', namespace: m[1], name: m[2], sub: m[3] as Route['sub'] };
  m = /^\/api\/v1\/services\/?$/.exec(path);
  if (m) return { kind: 'Service' };
  m = /^\/api\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?\/?$/.exec(path);
  if (m) return { kind: 'Service', namespace: m[1], name: m[2] };
  m = /^\/apis\/batch\/v1\/jobs\/?$/.exec(path);
  if (m) return { kind: 'Job' };
  m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+)(?:\/(status))?)?\/?$/.exec(path);
  if (m) return { kind: 'Job', namespace: m[1], name: m[2], sub: m[3] as Route['sub'] };
  return undefined;
}

const DISCOVERY: Record<string, unknown> = {
  '/version': { major: '1', minor: '32', gitVersion: 'v1.32.0-kube-sim', platform: 'linux/amd64' },
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
  '/apis': {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [{ name: 'batch', versions: [{ groupVersion: 'batch/v1', version: 'v1' }], preferredVersion: { groupVersion: 'batch/v1', version: 'v1' } }],
  },
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list', 'watch', 'delete'], shortNames: ['po'] },
      { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
      { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['get', 'list', 'watch'], shortNames: ['no'] },
      { name: 'services', singularName: 'service', namespaced: true, kind: 'Service', verbs: ['create', 'delete', 'get', 'list', 'watch'], shortNames: ['svc'] },
    ],
  },
  '/apis/batch/v1': {
    kind: 'APIResourceList',
    groupVersion: 'batch/v1',
    resources: [{ name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'] }],
  },
};

/** JSON merge patch (RFC 7386); also used for strategic merge patches of the fields we allow. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * The API server: routing, validation, Status errors, list/get/watch with resourceVersion and
 * selectors, and API-level fault injection.
 */
export class SimApiServer {
  readonly server: Server;
  private readonly watches = new Set<ServerResponse>();
  private readonly rules: (InjectedErrorRule & { count: number })[] = [];
  private readonly rnd: () => number;
  /** Counts of answered requests by status code (tests and benches read it). */
  readonly stats: SimApiStats = SimApiServer.emptyStats();
  private readonly openByNamespace = new Map<string, number>();
  private readonly watchNamespace = new Map<ServerResponse, string>();
  /** JSON of the stored objects serialised in this turn of the event loop (see objectJson). */
  private readonly json = new Map<KubeObject, string>();
  private jsonClearQueued = false;
  private port: number;

  static emptyStats(): SimApiStats {
    return {
      requests: 0,
      injected500: 0,
      injected429: 0,
      injected410: 0,
      watchesOpened: 0,
      watchesDropped: 0,
      gone: 0,
      byVerb: {},
      lists: { scoped: 0, namespaceWide: 0 },
      connectionsOpened: 0,
      watchesOpen: 0,
      watchesPeak: 0,
      watchesPeakByNamespace: {},
      restarts: 0,
    };
  }

  /** Zero every counter (peaks restart from the watches open now). */
  resetStats(): void {
    Object.assign(this.stats, SimApiServer.emptyStats(), { watchesOpen: this.watches.size, watchesPeak: this.watches.size });
    for (const [ns, n] of this.openByNamespace) this.stats.watchesPeakByNamespace[ns] = n;
  }

  /** Kubernetes API requests by verb and resource, e.g. "create jobs", "get pods/log" (not discovery). */
  private count(method: string, r: Route, watch: boolean, q: URLSearchParams): void {
    const verb = method === 'POST' ? 'create' : method === 'DELETE' ? 'delete' : method === 'PATCH' ? 'patch' : r.name ? 'get' : watch ? 'watch' : 'list';
    const resource = `${RESOURCE[r.kind].plural}${r.sub ? `/${r.sub}` : ''}`;
    const key = `${verb} ${resource}`;
    this.stats.requests++;
    this.stats.byVerb[key] = (this.stats.byVerb[key] ?? 0) + 1;
    if (verb === 'list') {
      // A list narrowed to one Job's pods or one object is an attempt's; the rest are (re)lists.
      const scoped = /(^|,)\s*job-name\s*=/.test(q.get('labelSelector') ?? '') || /metadata\.name\s*=/.test(q.get('fieldSelector') ?? '');
      if (scoped) this.stats.lists.scoped++;
      else this.stats.lists.namespaceWide++;
    }
  }

  private watchOpened(res: ServerResponse, namespace: string): void {
    this.watches.add(res);
    this.watchNamespace.set(res, namespace);
    const n = (this.openByNamespace.get(namespace) ?? 0) + 1;
    this.openByNamespace.set(namespace, n);
    this.stats.watchesOpen = this.watches.size;
    this.stats.watchesPeak = Math.max(this.stats.watchesPeak, this.watches.size);
    this.stats.watchesPeakByNamespace[namespace] = Math.max(this.stats.watchesPeakByNamespace[namespace] ?? 0, n);
  }

  private watchClosed(res: ServerResponse): void {
    const namespace = this.watchNamespace.get(res);
    this.watches.delete(res);
    if (namespace !== undefined) {
      this.watchNamespace.delete(res);
      this.openByNamespace.set(namespace, (this.openByNamespace.get(namespace) ?? 1) - 1);
    }
    this.stats.watchesOpen = this.watches.size;
  }

  constructor(
    private readonly store: ObjectStore,
    private readonly cluster: SimCluster,
    private readonly opts: ServerOptions,
  ) {
    this.rnd = mulberry32(opts.seed ^ 0x5eed);
    this.port = opts.port;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.fail(res, e));
    });
    this.server.on('connection', () => this.stats.connectionsOpened++);
    // Watches are long-lived; the sim must not cut them by Node's default request timeouts.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 0;
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.port = addr.port;
    return `http://${this.opts.host}:${addr.port}`;
  }

  /**
   * An API server restart: every connection (watches included) is closed, nothing answers for
   * `downMs`, then the server listens again on the same port. The cluster and its objects are
   * kept (etcd survives); with `loseHistory` the watch history is too old to resume from (410).
   */
  async restart(opts: { downMs?: number; loseHistory?: boolean } = {}): Promise<void> {
    this.stats.restarts++;
    for (const w of [...this.watches]) {
      this.stats.watchesDropped++;
      w.socket?.destroy();
      this.watchClosed(w);
    }
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (opts.loseHistory) {
      // One more change (a no-op Node update) then compaction: every stream is now behind the
      // history's start, so none can resume (410) and each must relist.
      const node = this.store.list('Node')[0];
      if (node) this.store.put(node);
      this.store.compact();
    }
    if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  injectErrors(rule: InjectedErrorRule): void {
    this.rules.push({ ...rule, count: rule.count ?? 1 });
  }

  /** Cut every open watch stream abruptly (the client sees a reset / premature close). */
  dropWatches(): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) {
      this.stats.watchesDropped++;
      w.socket?.destroy();
      this.watchClosed(w);
    }
    return n;
  }

  openWatches(): number {
    return this.watches.size;
  }

  async close(): Promise<void> {
    for (const w of [...this.watches]) {
      w.end();
      this.watchClosed(w);
    }
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private sendJson(res: ServerResponse, code: number, text: string): void {
    if (res.headersSent) return void res.end();
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(text);
  }

  private send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return void res.end();
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
    res.end(text);
  }

  private fail(res: ServerResponse, e: unknown): void {
    if (e instanceof HttpError) return this.send(res, e.status.code, e.status, e.headers);
    const message = e instanceof Error ? e.message : String(e);
    this.send(res, 500, statusBody(500, 'InternalError', `Internal error occurred: ${message}`));
  }

  /** Injected faults: explicit rules first, then random rates. Throws the HttpError to answer. */
  private injectFault(method: string, path: string, watch: boolean): void {
    const i = this.rules.findIndex(
      (r) => (!r.method || r.method === method) && (!r.path || r.path.test(path)) && (!watch || r.watches !== false) && (r.code !== 410 || watch),
    );
    let code: number | undefined;
    let retryAfter = this.opts.faults.retryAfterSeconds ?? 1;
    if (i >= 0) {
      const r = this.rules[i];
      code = r.code;
      retryAfter = r.retryAfterSeconds ?? retryAfter;
      if (--r.count <= 0) this.rules.splice(i, 1);
    } else if (this.rnd() < (this.opts.faults.errorRate ?? 0)) code = 500;
    else if (this.rnd() < (this.opts.faults.throttleRate ?? 0)) code = 429;
    if (code === undefined) return;
    if (code === 410) {
      this.stats.injected410++;
      throw new GoneInjected();
    }
    if (code === 429) {
      this.stats.injected429++;
      throw new HttpError(statusBody(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: retryAfter }), {
        'Retry-After': String(retryAfter),
      });
    }
    this.stats.injected500++;
    const reason = code === 504 ? 'Timeout' : code === 503 ? 'ServiceUnavailable' : 'InternalError';
    throw new HttpError(statusBody(code, reason, `Internal error occurred: injected by kube-sim (${code})`));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kube-sim');
    const path = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const q = url.searchParams;
    if (method === 'GET' && path in DISCOVERY) return this.send(res, 200, DISCOVERY[path]);
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return this.send(res, 200, 'ok');
    // Not Kubernetes: the simulated clock, so out-of-process observers can relate its timestamps to theirs.
    if (path === '/kube-sim/clock') return this.send(res, 200, { now: this.cluster.now(), timeScale: this.cluster.timeScale });
    // Not Kubernetes either: the request and watch counters, so out-of-process benches can read the budget.
    // With the process's CPU time so far (µs), so a bench can charge the sim's work per request.
    if (path === '/_sim/stats' && method === 'GET') {
      const cpu = process.cpuUsage();
      return this.send(res, 200, { ...this.stats, processCpuMicros: cpu.user + cpu.system });
    }
    if (path === '/_sim/stats' && method === 'DELETE') {
      this.resetStats();
      return this.send(res, 200, this.stats);
    }

    const f = this.opts.faults;
    const latency = (f.latencyMs ?? 0) + this.rnd() * (f.latencyJitterMs ?? 0);
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    const r = route(path);
    if (!r) throw new HttpError(statusBody(404, 'NotFound', 'the server could not find the requested resource'));
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    this.count(method, r, watch, q);
    try {
      this.injectFault(method, path, watch);
    } catch (e) {
      if (!(e instanceof GoneInjected)) throw e;
      // An injected 410 on a watch: refused as too old, as the real server does.
      return this.refuseGone(res, 'too old resource version: injected by kube-sim');
    }

    let labelReqs: Requirement[];
    let fieldReqs: Requirement[];
    try {
      labelReqs = parseSelector(q.get('labelSelector') ?? undefined);
      fieldReqs = parseSelector(q.get('fieldSelector') ?? undefined);
    } catch (e) {
      if (e instanceof SelectorError) throw new HttpError(statusBody(400, 'BadRequest', e.message));
      throw e;
    }
    const matches = (o: KubeObject) =>
      matchesSelector(labelReqs, (k) => o.metadata.labels?.[k]) && matchesSelector(fieldReqs, (k) => fieldValue(o, k));

    if (method === 'GET' && !r.name) {
      if (watch) return this.watch(req, res, r, q, matches);
      const items = this.store.list(r.kind, r.namespace, matches);
      const meta = RESOURCE[r.kind];
      return this.send(res, 200, { kind: meta.list, apiVersion: meta.apiVersion, metadata: { resourceVersion: String(this.store.resourceVersion) }, items });
    }
    if (method === 'GET' && r.name) {
      if (r.sub === 'log') return this.podLog(res, r.namespace!, r.name, q);
      const obj = this.store.get(r.kind, r.namespace, r.name);
      if (!obj) throw notFound(r.kind, r.name);
      return this.send(res, 200, obj);
    }
    if (method === 'POST' && r.kind === 'Job' && r.namespace && !r.name) return this.createJob(res, r.namespace, await readJson(req));
    if (method === 'POST' && r.kind === 'Service' && r.namespace && !r.name) return this.createService(res, r.namespace, await readJson(req));
    if (method === 'DELETE' && r.name && r.kind !== 'Node' && !r.sub) return this.delete(res, r, q, await readJson(req, true));
    if (method === 'PATCH' && r.kind === 'Job' && r.name && !r.sub) return this.patchJob(res, r.namespace!, r.name, req);
    throw new HttpError(statusBody(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
  }

  private createJob(res: ServerResponse, namespace: string, body: unknown): void {
    const b = (body ?? {}) as Partial<Job>;
    const meta = (b.metadata ?? {}) as Partial<Job['metadata']> & { generateName?: string };
    if (meta.namespace && meta.namespace !== namespace)
      throw new HttpError(statusBody(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
    if (!meta.name && typeof meta.generateName === 'string')
      meta.name = `${meta.generateName}${Math.floor(this.rnd() * 36 ** 5).toString(36).padStart(5, '0')}`;
    b.metadata = { ...meta, namespace } as Job['metadata'];
    const causes = validateJob(b);
    if (causes.length > 0) {
      const name = String(meta.name ?? '');
      throw new HttpError(
        statusBody(422, 'Invalid', `Job.batch "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, {
          name,
          group: 'batch',
          kind: 'Job',
          causes,
        }),
      );
    }
    if (this.store.peek('Job', namespace, b.metadata.name))
      throw new HttpError(statusBody(409, 'AlreadyExists', `jobs.batch "${b.metadata.name}" already exists`, { name: b.metadata.name, group: 'batch', kind: 'jobs' }));
    const created = this.cluster.createJob(b as Job);
    this.sendJson(res, 201, this.objectJson(created));
  }

  private createService(res: ServerResponse, namespace: string, body: unknown): void {
    const b = (body ?? {}) as Partial<Service>;
    const meta = (b.metadata ?? {}) as Partial<Service['metadata']>;
    if (meta.namespace && meta.namespace !== namespace)
      throw new HttpError(statusBody(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
    b.metadata = { ...meta, namespace } as Service['metadata'];
    const causes = validateService(b);
    const name = String(meta.name ?? '');
    if (causes.length > 0)
      throw new HttpError(
        statusBody(422, 'Invalid', `Service "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, { name, kind: 'Service', causes }),
      );
    if (this.store.get('Service', namespace, name))
      throw new HttpError(statusBody(409, 'AlreadyExists', `services "${name}" already exists`, { name, kind: 'services' }));
    this.send(res, 201, this.cluster.createService(b as Service));
  }

  private delete(res: ServerResponse, r: Route, q: URLSearchParams, body: unknown): void {
    const opts = (body ?? {}) as { propagationPolicy?: string; orphanDependents?: boolean };
    const name = r.name!;
    if (r.kind === 'Service') {
      const gone = this.store.delete('Service', r.namespace, name);
      if (!gone) throw notFound('Service', name);
      return this.send(res, 200, gone);
    }
    if (r.kind === 'Pod') {
      const pod = this.store.get('Pod', r.namespace, name);
      if (!pod) throw notFound('Pod', name);
      this.cluster.deletePod(name, r.namespace);
      return this.send(res, 200, pod);
    }
    const policyRaw = q.get('propagationPolicy') ?? opts.propagationPolicy ?? (opts.orphanDependents === false ? 'Background' : undefined);
    // batch/v1 Jobs default to orphaning their pods when deleted through the API (kept for compatibility by the real server).
    const policy = policyRaw ?? 'Orphan';
    if (policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan')
      throw new HttpError(statusBody(422, 'Invalid', `propagationPolicy: Unsupported value: "${policy}"`));
    const gone = this.cluster.deleteJob(r.namespace!, name, policy);
    if (!gone) throw notFound('Job', name);
    this.send(res, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, group: 'batch', kind: 'jobs', uid: gone.metadata.uid },
    });
  }

  private async patchJob(res: ServerResponse, namespace: string, name: string, req: IncomingMessage): Promise<void> {
    const ct = (req.headers['content-type'] ?? '').split(';')[0].trim();
    if (ct !== 'application/merge-patch+json' && ct !== 'application/strategic-merge-patch+json')
      throw new HttpError(statusBody(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json`));
    const patch = await readJson(req);
    const job = this.store.get<Job>('Job', namespace, name);
    if (!job) throw notFound('Job', name);
    const next = mergePatch(job, patch) as Job;
    if (JSON.stringify(next.spec.template) !== JSON.stringify(job.spec.template))
      throw new HttpError(statusBody(422, 'Invalid', `Job.batch "${name}" is invalid: spec.template: Invalid value: field is immutable`, { name, group: 'batch', kind: 'Job' }));
    next.metadata = { ...job.metadata, labels: next.metadata.labels, annotations: next.metadata.annotations };
    next.status = job.status;
    this.send(res, 200, this.cluster.updateJob(next));
  }

  private podLog(res: ServerResponse, namespace: string, name: string, q: URLSearchParams): void {
    const pod = this.store.get('Pod', namespace, name);
    if (!pod) throw notFound('Pod', name);
    const log = this.cluster.podLog(namespace, name);
    if (!log.ok) throw new HttpError(statusBody(400, 'BadRequest', log.message));
    let text = log.text;
    const tail = q.get('tailLines');
    if (tail !== null) {
      const lines = text.split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
      text = lines.slice(-Math.max(0, Number(tail))).map((l) => `${l}\n`).join('');
    }
    this.send(res, 200, text);
  }

  /** A stored event as a watch stream's JSON line (its object serialised once per turn however many watches carry it). */
  private eventLine(ev: StoredEvent): string {
    return `{"type":"${ev.type}","object":${this.objectJson(ev.object)}}\n`;
  }

  /**
   * A stored object's JSON, computed once per turn of the event loop: stored objects never change
   * in place (a change is a new object), and a create's answer is the object its last event
   * carried. Kept for the turn only: held for as long as the watch history, 50,000 events' JSON
   * was hundreds of MB for the garbage collector to trace.
   */
  private objectJson(o: KubeObject): string {
    let text = this.json.get(o);
    if (text === undefined) {
      this.json.set(o, (text = JSON.stringify(o)));
      if (!this.jsonClearQueued) {
        this.jsonClearQueued = true;
        setImmediate(() => {
          this.json.clear();
          this.jsonClearQueued = false;
        });
      }
    }
    return text;
  }

  /** A watch from a resourceVersion that is gone: HTTP 410, or a 200 stream of one ERROR event (the real server). */
  private refuseGone(res: ServerResponse, message: string): void {
    this.stats.gone++;
    if (this.opts.goneAs === 'http') throw new HttpError(statusBody(410, 'Expired', message));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', message) })}\n`);
  }

  /**
   * A watch stream: replay from `resourceVersion` (or the current state as ADDED when absent / 0),
   * then live events as JSON lines; BOOKMARKs when allowed; 410 when the history is compacted.
   */
  private watch(req: IncomingMessage, res: ServerResponse, r: Route, q: URLSearchParams, matches: (o: KubeObject) => boolean): void {
    const rvParam = q.get('resourceVersion');
    const fromRv = rvParam === null || rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (fromRv !== undefined && !Number.isFinite(fromRv)) throw new HttpError(statusBody(400, 'BadRequest', `invalid resource version "${rvParam}"`));
    const inScope = (o: KubeObject) => o.kind === r.kind && (r.namespace === undefined || o.metadata.namespace === r.namespace) && matches(o);
    let replay: StoredEvent[] = [];
    let goneMessage: string | undefined;
    try {
      if (fromRv !== undefined) replay = this.store.since(r.kind, fromRv);
    } catch (e) {
      if (!(e instanceof GoneError)) throw e;
      goneMessage = e.message;
    }
    if (goneMessage !== undefined) return this.refuseGone(res, goneMessage);
    this.stats.watchesOpened++;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    // The events of one turn of the event loop (a create: the Job, its status, its pod; a pod's
    // end: the pod, its Job; in a burst, every request the turn read) go out in one write, right
    // after the turn's I/O callbacks: a write (a syscall) per event per watcher was a seventh of
    // the sim's time in a burst of creates, and one per request still a sixth.
    let buffered: string[] = [];
    let flushQueued = false;
    const flush = () => {
      flushQueued = false;
      if (buffered.length === 0) return;
      const text = buffered.join('');
      buffered = [];
      if (!res.writableEnded && !res.destroyed) res.write(text);
    };
    const writeLine = (line: string) => {
      if (res.writableEnded || res.destroyed) return;
      buffered.push(line);
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    };
    const write = (ev: WatchEvent) => writeLine(`${JSON.stringify(ev)}\n`);
    this.watchOpened(res, r.namespace ?? '*');
    let lastRv = fromRv ?? this.store.resourceVersion;
    const deliver = (ev: StoredEvent) => {
      if (ev.rv <= lastRv && fromRv !== undefined) return;
      lastRv = Math.max(lastRv, ev.rv);
      if (inScope(ev.object)) writeLine(this.eventLine(ev));
    };
    if (fromRv === undefined) for (const o of this.store.list(r.kind, r.namespace, matches)) write({ type: 'ADDED', object: o });
    else for (const ev of replay) deliver(ev);
    const unsubscribe = this.store.subscribe((ev) => {
      if (ev.rv > lastRv) {
        lastRv = ev.rv;
        if (inScope(ev.object)) writeLine(this.eventLine(ev));
      }
    });

    const timers: NodeJS.Timeout[] = [];
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? 0) || 300 + this.rnd() * 300;
    timers.push(
      setTimeout(() => {
        flush();
        res.end();
      }, timeoutSeconds * 1000),
    );
    if (q.get('allowWatchBookmarks') === 'true') {
      const meta = RESOURCE[r.kind];
      const iv = setInterval(
        () => write({ type: 'BOOKMARK', object: { kind: r.kind, apiVersion: meta.apiVersion, metadata: { resourceVersion: String(this.store.resourceVersion) } } }),
        this.opts.bookmarkIntervalMs,
      );
      timers.push(iv);
    }
    const drop = this.opts.faults.watchDropMeanSeconds;
    if (drop && drop > 0)
      timers.push(
        setTimeout(() => {
          this.stats.watchesDropped++;
          res.socket?.destroy();
        }, -Math.log(1 - this.rnd()) * drop * 1000),
      );
    const cleanup = () => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      if (this.watches.has(res)) this.watchClosed(res);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  }
}

/** Marks an injected 410 (answered as the real server refuses a too-old watch). */
class GoneInjected extends Error {}

/** The request's body, by its data events (an async iterator per request cost more than the parse). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
  });
}

async function readJson(req: IncomingMessage, optional = false): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') {
    if (optional) return undefined;
    throw new HttpError(statusBody(400, 'BadRequest', 'the request body is empty'));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(statusBody(400, 'BadRequest', `the request body is not valid JSON: ${(e as Error).message}`));
  }
}

