import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { ApiException, createConfiguration, HttpMethod, RequestContext, ServerConfiguration, type KubeConfig, type SecurityAuthentication } from '@kubernetes/client-node';

/**
 * Keep-alive connections for the Kubernetes API clients. client-node 1.4's KubeConfig builds a
 * new http(s).Agent for every request (applySecurityAuthentication), so no connection is ever
 * reused: each call pays a TCP connect (and a TLS handshake on a real cluster), and a burst of
 * creates is a burst of connects. The pool keeps one keep-alive agent per distinct TLS identity
 * (CA, client certificate, server name...) and puts it in place of the fresh one; credentials
 * (tokens, exec plugins) are still applied per request by the KubeConfig.
 */
export class KeepAliveAgents {
  private readonly agents = new Map<string, http.Agent>();

  /** `maxSockets` per agent: the executor's in-flight limit, so its queue, not the agent's, decides the order. */
  constructor(private readonly maxSockets: number) {}

  /** The pooled keep-alive agent standing in for `fresh`; a proxy agent (or none) is kept as it is. */
  reuse<A extends http.Agent | https.Agent | undefined>(fresh: A): A | http.Agent | https.Agent {
    if (!(fresh instanceof http.Agent)) return fresh;
    const isHttps = fresh.constructor === https.Agent;
    if (!isHttps && fresh.constructor !== http.Agent) return fresh; // a proxy agent: its own connection handling
    const options = (fresh as http.Agent & { options: Record<string, unknown> }).options;
    const key = identityKey(isHttps, options);
    let agent = this.agents.get(key);
    if (!agent) {
      const opts = { ...options, keepAlive: true, maxSockets: this.maxSockets };
      agent = isHttps ? new https.Agent(opts as https.AgentOptions) : new http.Agent(opts as http.AgentOptions);
      this.agents.set(key, agent);
    }
    fresh.destroy();
    return agent;
  }

  /** Pooled agents (tests). */
  get size(): number {
    return this.agents.size;
  }

  /** Close every pooled connection (the executor closing). */
  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

/** The TLS options that make two agents' connections interchangeable, hashed (certificates can be long). */
function identityKey(isHttps: boolean, options: Record<string, unknown>): string {
  const h = createHash('sha256').update(isHttps ? 'https' : 'http');
  for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername', 'ciphers', 'secureProtocol']) {
    const v = options[k];
    h.update(`\u0000${k}=`);
    if (v === undefined) continue;
    for (const part of Array.isArray(v) ? v : [v]) h.update(Buffer.isBuffer(part) ? part : String(part)).update('\u0001');
  }
  return h.digest('hex');
}

/**
 * An API client as `kc.makeApiClient(Api)` makes it, with its connections from `agents`:
 * the KubeConfig authenticates each request, the pool then supplies a kept-alive connection.
 */
export function makeKeepAliveClient<T>(kc: KubeConfig, Api: new (config: ReturnType<typeof createConfiguration>) => T, agents: KeepAliveAgents): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  const auth: SecurityAuthentication = {
    getName: () => 'kubeconfig-keep-alive',
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      await kc.applySecurityAuthentication(context);
      const agent = agents.reuse(context.getAgent());
      if (agent) context.setAgent(agent);
    },
  };
  return new Api(createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: auth } }));
}

/** Largest answer requestJson reads (a created Job is a few KB; the API server's own request limit is 3 MiB). */
export const MAX_ANSWER_BYTES = 4 * 2 ** 20;

/**
 * A JSON request to the API authenticated and pooled as the API clients' are, without the
 * generated client's ObjectSerializer: it walks the type map of every field of the body and of
 * the answer (about a quarter of a millisecond per Job, a fifth of the executor's work per create
 * in a burst). For the hot path only (creating Jobs); errors are ApiExceptions, as the clients'.
 * The answer is the API's JSON as it is (timestamps as RFC 3339 strings, as watch events carry them).
 */
export async function requestJson<T>(kc: KubeConfig, agents: KeepAliveAgents, method: 'POST', path: string, body: unknown): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  const url = new URL(path, cluster.server.endsWith('/') ? cluster.server : `${cluster.server}/`);
  const context = new RequestContext(url.toString(), HttpMethod.POST);
  await kc.applySecurityAuthentication(context);
  const agent = agents.reuse(context.getAgent());
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    ...context.getHeaders(),
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  };
  const send = url.protocol === 'https:' ? https.request : http.request;
  const res = await new Promise<{ status: number; headers: Record<string, string>; text: string }>((resolve, reject) => {
    const req = send(url, { method, headers, agent }, (r) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      r.on('data', (c: Buffer) => {
        // An answer is a hostile input too: memory stays bounded whatever the server sends.
        bytes += c.length;
        if (bytes > MAX_ANSWER_BYTES) {
          r.destroy();
          reject(new Error(`${method} ${url.pathname}: the answer passed ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      r.on('error', reject);
      r.on('end', () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: r.statusCode ?? 0, headers: h, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
  if (res.status < 200 || res.status > 299) throw new ApiException(res.status, `${method} ${url.pathname} answered ${res.status}`, res.text, res.headers);
  try {
    return JSON.parse(res.text) as T;
  } catch (e) {
    throw new Error(`${method} ${url.pathname}: the answer is not JSON: ${(e as Error).message}`, { cause: e });
  }
}
