import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  ApiException,
  createConfiguration,
  HttpMethod,
  RequestContext,
  ResponseContext,
  ServerConfiguration,
  wrapHttpLibrary,
  type KubeConfig,
  type PromiseHttpLibrary,
} from '@kubernetes/client-node';
import { Pool, ProxyAgent, type Dispatcher } from 'undici';

/**
 * The executor's connections to the API server: undici pools, kept alive and shared by every
 * call, the generated clients' (through `httpLibrary`) and the hot path's (creating Jobs, the
 * informer's watch streams).
 *
 * client-node 1.4 alone builds a new http(s).Agent for every request (KubeConfig's
 * applySecurityAuthentication), so no connection is ever reused: each call pays a TCP connect
 * (and a TLS handshake on a real cluster), and a burst of creates is a burst of connects. Here the
 * KubeConfig still authenticates each request (tokens, exec plugins), and the agent it built is
 * only read for its TLS identity (CA, client certificate, server name...) to pick the pool.
 * undici rather than node:http, and a watch stream split on its bytes rather than client-node's
 * Watch (node-fetch, a PassThrough, readline): in bench/cluster's opening burst of 2,100 creates
 * the executor's CPU per create went from about 0.75 to 0.65 ms.
 */
export class ApiConnections {
  private readonly dispatchers = new Map<string, Dispatcher>();
  /** The last TLS identity hashed: the KubeConfig builds the same options for every request, in new objects. */
  private lastIdentity?: TlsIdentity;

  /** `maxSockets`: the executor's in-flight limit, so its queue, not the pool's, decides the order. */
  constructor(private readonly maxSockets: number) {}

  /**
   * The pool for `origin` with the TLS identity of `fresh` (the agent the KubeConfig built for this
   * request, closed here unused): `requests` share at most maxSockets connections; `watches` are
   * long-lived streams, each on its own connection, without a body timeout (the informer detects
   * a half-open stream itself).
   */
  dispatcher(use: 'requests' | 'watches', origin: string, fresh: http.Agent | https.Agent | undefined, proxyUrl: string | undefined): Dispatcher {
    const options = fresh instanceof http.Agent ? (fresh as http.Agent & { options: Record<string, unknown> }).options : {};
    fresh?.destroy();
    this.lastIdentity = identityKey(options, this.lastIdentity);
    const key = `${use}\u0000${origin}\u0000${proxyUrl ?? ''}\u0000${this.lastIdentity.key}`;
    let d = this.dispatchers.get(key);
    if (!d) {
      const tls = Object.fromEntries(TLS_OPTIONS.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
      const limits = use === 'requests' ? { connections: this.maxSockets } : { bodyTimeout: 0 };
      if (proxyUrl) {
        if (!/^https?:/.test(proxyUrl)) throw new Error(`the kubeconfig's cluster proxy-url ${proxyUrl}: the executor's connections take http(s) proxies only`);
        d = new ProxyAgent({ uri: proxyUrl, requestTls: tls, ...limits });
      } else d = new Pool(origin, { connect: tls, ...limits });
      this.dispatchers.set(key, d);
    }
    return d;
  }

  /** Pools open (tests). */
  get size(): number {
    return this.dispatchers.size;
  }

  /** Close every connection (the executor closing). */
  destroy(): void {
    for (const d of this.dispatchers.values()) void d.destroy().catch(() => undefined);
    this.dispatchers.clear();
  }
}

/** The agent options that make up a TLS identity, as undici's connect takes them. */
const TLS_OPTIONS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername', 'ciphers', 'secureProtocol'] as const;

/** A TLS identity: its option values (in TLS_OPTIONS order) and their hash. */
interface TlsIdentity {
  values: unknown[];
  key: string;
}

const sameOption = (a: unknown, b: unknown): boolean => {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameOption(x, b[i]));
  return false;
};

/**
 * The TLS options that make two connections interchangeable, hashed (certificates can be long).
 * Equal to the last ones (compared, not hashed: a hash per request was 2 % of a burst's CPU), the last key.
 */
function identityKey(options: Record<string, unknown>, last: TlsIdentity | undefined): TlsIdentity {
  const values = TLS_OPTIONS.map((k) => options[k]);
  if (last && values.every((v, i) => sameOption(v, last.values[i]))) return last;
  const h = createHash('sha256');
  for (const [i, k] of TLS_OPTIONS.entries()) {
    const v = values[i];
    h.update(`\u0000${k}=`);
    if (v === undefined) continue;
    for (const part of Array.isArray(v) ? v : [v]) h.update(Buffer.isBuffer(part) ? part : String(part)).update('\u0001');
  }
  return { values, key: h.digest('hex') };
}

/** client-node's HttpLibrary on the pools: the generated clients' requests, authenticated by the KubeConfig before they get here. */
function httpLibrary(kc: KubeConfig, conns: ApiConnections): PromiseHttpLibrary {
  return {
    async send(request: RequestContext): Promise<ResponseContext> {
      const url = new URL(request.getUrl());
      const dispatcher = conns.dispatcher('requests', url.origin, request.getAgent(), kc.getCurrentCluster()?.proxyUrl);
      const body = request.getBody();
      if (body !== undefined && typeof body !== 'string') throw new Error(`${request.getHttpMethod()} ${url.pathname}: only JSON bodies are sent`);
      const method = request.getHttpMethod() as Dispatcher.HttpMethod;
      const res = await dispatcher.request({ origin: url.origin, path: url.pathname + url.search, method, headers: request.getHeaders(), body, signal: request.getSignal() });
      const text = await boundedText(`${method} ${url.pathname}`, res);
      return new ResponseContext(res.statusCode, headerRecord(res.headers), { text: async () => text, binary: async () => Buffer.from(text, 'utf8') });
    },
  };
}

/** An API client as `kc.makeApiClient(Api)` makes it, with its connections from `conns`. */
export function makeApiClient<T>(kc: KubeConfig, Api: new (config: ReturnType<typeof createConfiguration>) => T, conns: ApiConnections): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  return new Api(
    createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc }, httpApi: wrapHttpLibrary(httpLibrary(kc, conns)) }),
  );
}

/** Largest answer requestJson reads, and longest watch event (a created Job is a few KB; the API server's own request limit is 3 MiB). */
export const MAX_ANSWER_BYTES = 4 * 2 ** 20;

/** A request as the generated clients would send it: the KubeConfig's credentials, and the pooled connection of its TLS identity. */
async function authenticated(kc: KubeConfig, conns: ApiConnections, use: 'requests' | 'watches', path: string, method: HttpMethod) {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  const url = new URL(path, cluster.server.endsWith('/') ? cluster.server : `${cluster.server}/`);
  const context = new RequestContext(url.toString(), method);
  await kc.applySecurityAuthentication(context);
  const dispatcher = conns.dispatcher(use, url.origin, context.getAgent(), cluster.proxyUrl);
  return { url, dispatcher, headers: context.getHeaders() };
}

/** An answer's body as text, at most MAX_ANSWER_BYTES of it (an answer is a hostile input too: memory stays bounded). */
async function boundedText(what: string, res: Dispatcher.ResponseData): Promise<string> {
  const declared = Number(res.headers['content-length']);
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    if (declared > MAX_ANSWER_BYTES) throw new Error(`${what}: the answer passed ${MAX_ANSWER_BYTES} bytes (Content-Length ${declared})`);
    for await (const c of res.body as AsyncIterable<Buffer>) {
      bytes += c.length;
      if (bytes > MAX_ANSWER_BYTES) throw new Error(`${what}: the answer passed ${MAX_ANSWER_BYTES} bytes`);
      chunks.push(c);
    }
  } catch (e) {
    res.body.destroy();
    throw e;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function headerRecord(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
  return h;
}

/**
 * A JSON request to the API authenticated as the API clients' are, without the generated
 * client's ObjectSerializer: it walks the type map of every field of the body and of the answer
 * (about a quarter of a millisecond per Job). For the hot path only (creating Jobs); errors are
 * ApiExceptions, as the clients'. The body is made when the request is sent (`bodyText`): in a
 * burst, the Jobs are built while earlier creates are in flight, not all before the first goes
 * out. The answer is the API's JSON as it is (timestamps as RFC 3339 strings, as watch events carry them).
 */
export async function requestJson<T>(kc: KubeConfig, conns: ApiConnections, method: 'POST', path: string, bodyText: () => string): Promise<T> {
  const { url, dispatcher, headers } = await authenticated(kc, conns, 'requests', path, HttpMethod[method]);
  const what = `${method} ${url.pathname}`;
  const res = await dispatcher.request({
    origin: url.origin,
    path: url.pathname + url.search,
    method,
    headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
    body: bodyText(),
  });
  const text = await boundedText(what, res);
  if (res.statusCode < 200 || res.statusCode > 299) throw new ApiException(res.statusCode, `${what} answered ${res.statusCode}`, text, headerRecord(res.headers));
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what}: the answer is not JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** A watch stream's event as the API sends it: `{type, object}` (ERROR events carry a Status). */
export interface WatchEvent<O = unknown> {
  type: string;
  object: O;
}

/**
 * A watch (`?watch=true`) of `path`: each event line parsed and handed to `onEvent` in order,
 * each chunk after `before` (when it returns a promise) has resolved,
 * until the server ends the stream (resolves) or it fails (rejects; a refused watch with an
 * ApiException of its status). A line that is not an event, or longer than MAX_ANSWER_BYTES,
 * fails the stream: the informer reconnects from the last resourceVersion it applied, so an event
 * is never skipped silently (client-node's Watch drops lines it cannot parse).
 */
export async function watchStream(
  kc: KubeConfig,
  conns: ApiConnections,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  onEvent: (ev: WatchEvent) => void,
  signal: AbortSignal,
  before?: () => Promise<void> | undefined,
): Promise<void> {
  const { url, dispatcher, headers } = await authenticated(kc, conns, 'watches', path, HttpMethod.GET);
  url.searchParams.set('watch', 'true');
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const what = `watch ${url.pathname}`;
  const res = await dispatcher.request({ origin: url.origin, path: url.pathname + url.search, method: 'GET', headers: { ...headers, accept: 'application/json' }, signal });
  if (res.statusCode !== 200) {
    const text = await boundedText(what, res);
    throw new ApiException(res.statusCode, `${what} answered ${res.statusCode}`, text, headerRecord(res.headers));
  }
  // Lines split on the bytes (a chunk holds many events; an event may span chunks).
  let head: Buffer[] = [];
  let headBytes = 0;
  const line = (buf: Buffer): void => {
    let ev: unknown;
    try {
      ev = JSON.parse(buf.toString('utf8'));
    } catch (e) {
      throw new Error(`${what}: an event is not JSON: ${(e as Error).message}`, { cause: e });
    }
    if (typeof ev !== 'object' || ev === null || typeof (ev as WatchEvent).type !== 'string') throw new Error(`${what}: an event without a type`);
    onEvent(ev as WatchEvent);
  };
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      const wait = before?.();
      if (wait) await wait;
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const part = chunk.subarray(start, nl);
        start = nl + 1;
        if (headBytes > 0) {
          if (headBytes + part.length > MAX_ANSWER_BYTES) throw new Error(`${what}: an event passed ${MAX_ANSWER_BYTES} bytes`);
          head.push(part);
          const whole = Buffer.concat(head);
          head = [];
          headBytes = 0;
          line(whole);
        } else if (part.length > 0) line(part);
      }
      if (start < chunk.length) {
        headBytes += chunk.length - start;
        if (headBytes > MAX_ANSWER_BYTES) throw new Error(`${what}: an event passed ${MAX_ANSWER_BYTES} bytes`);
        head.push(chunk.subarray(start));
      }
    }
  } finally {
    res.body.destroy();
  }
}
