/**
 * The executor's API connections and kube-sim's hot paths at scale: requests reuse kept-alive
 * connections (client-node alone opens one per request), the raw JSON create answers and fails
 * as the generated client does, and the store's indexes follow every put and delete.
 */
import http from 'node:http';
import https from 'node:https';
import { ApiException } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { buildJob, KubernetesExecutor } from '../../activities/executors/kubernetes';
import { ApiConnections, MAX_ANSWER_BYTES, requestJson, watchStream, type WatchEvent } from '../../activities/executors/kubernetes/apiClient';
import { concurrencyLimit, holdDuringBursts, statusOf } from '../../activities/executors/kubernetes/apiRetry';
import { startKubeSim, type KubeSim } from '../../sim/kube-sim';
import { ObjectStore } from '../../sim/kube-sim/store';
import type { Pod } from '../../sim/kube-sim/types';
import { kubeConfigFrom, kubeSpec, launchRequest, testWatch } from './helpers';
import { KubeConfig } from '@kubernetes/client-node';
import { Pool, ProxyAgent } from 'undici';

let sim: KubeSim | undefined;
const executors: KubernetesExecutor[] = [];
afterEach(async () => {
  for (const ex of executors.splice(0)) ex.close();
  await sim?.stop();
  sim = undefined;
});

function executor(maxConcurrentRequests: number): KubernetesExecutor {
  const ex = new KubernetesExecutor({ kubeConfig: kubeConfigFrom(sim!.kubeconfig), maxConcurrentRequests, watch: testWatch });
  executors.push(ex);
  return ex;
}

const requests = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => launchRequest(kubeSpec(), `${prefix}-${i}`, 1, { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 1, seed: i }));

describe('kept-alive API connections', () => {
  it('60 creates (two bursts) over at most 8 connections, plus the informer\'s two watch streams', async () => {
    sim = await startKubeSim({ gpus: 64, gpusPerNode: 8, timeScale: 10 });
    const ex = executor(8);
    const reqs = requests('keepalive', 60);
    await Promise.all(reqs.slice(0, 30).map((r) => ex.launch(r)));
    await Promise.all(reqs.slice(30).map((r) => ex.launch(r)));
    const s = sim.api.stats;
    expect(s.byVerb['create jobs']).toBe(60);
    // One connection per request (client-node's own agents) would be 60 here, plus the lists'.
    expect(s.connectionsOpened).toBeLessThanOrEqual(8 + 2);
    expect(sim.cluster.jobHistory()).toHaveLength(60);
  });

  it('one pool per use, origin and TLS identity; an http(s) proxy gets a proxy agent, a SOCKS one is refused by name', () => {
    const conns = new ApiConnections(4);
    const origin = 'https://api.example:6443';
    const a = conns.dispatcher('requests', origin, new https.Agent({ ca: 'CA-1', servername: 'api' }), undefined);
    const b = conns.dispatcher('requests', origin, new https.Agent({ ca: 'CA-1', servername: 'api' }), undefined);
    const c = conns.dispatcher('requests', origin, new https.Agent({ ca: 'CA-2', servername: 'api' }), undefined);
    const d = conns.dispatcher('watches', origin, new https.Agent({ ca: 'CA-1', servername: 'api' }), undefined);
    const e = conns.dispatcher('requests', 'https://other.example:6443', new https.Agent({ ca: 'CA-1', servername: 'api' }), undefined);
    expect(a).toBe(b);
    expect(new Set([a, c, d, e]).size).toBe(4);
    for (const p of [a, c, d, e]) expect(p).toBeInstanceOf(Pool);
    const viaProxy = conns.dispatcher('requests', origin, new https.Agent({ ca: 'CA-1' }), 'http://proxy.example:3128');
    expect(viaProxy).toBeInstanceOf(ProxyAgent);
    expect(conns.size).toBe(5);
    // Certificates read afresh for each request (new Buffers, same bytes) share a pool; other bytes do not.
    const f = conns.dispatcher('requests', origin, new https.Agent({ ca: [Buffer.from('CA-3')], servername: 'api' }), undefined);
    const g = conns.dispatcher('requests', origin, new https.Agent({ ca: [Buffer.from('CA-3')], servername: 'api' }), undefined);
    const h = conns.dispatcher('requests', origin, new https.Agent({ ca: [Buffer.from('CA-4')], servername: 'api' }), undefined);
    expect(f).toBe(g);
    expect(new Set([a, c, f, h]).size).toBe(4);
    expect(conns.size).toBe(7);
    expect(() => conns.dispatcher('requests', origin, undefined, 'socks5://proxy.example:1080')).toThrow(/proxy-url socks5:\/\/proxy\.example:1080/);
    conns.destroy();
    expect(conns.size).toBe(0);
  });

  it('the raw JSON create answers with the API\'s object, and fails with ApiExceptions the retry logic reads', async () => {
    sim = await startKubeSim({ gpus: 8 });
    const kc = kubeConfigFrom(sim.kubeconfig);
    const pool = new ApiConnections(2);
    try {
      const body = buildJob(requests('raw', 1)[0]);
      const path = '/apis/batch/v1/namespaces/default/jobs';
      const created = await requestJson<{ metadata: { name: string; uid?: string; resourceVersion?: string } }>(kc, pool, 'POST', path, () => JSON.stringify(body));
      expect(created.metadata.name).toBe(body.metadata!.name);
      expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
      const again = await requestJson(kc, pool, 'POST', path, () => JSON.stringify(body)).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(ApiException);
      expect(statusOf(again)).toMatchObject({ code: 409, reason: 'AlreadyExists' });
      const invalid = await requestJson(kc, pool, 'POST', path, () => JSON.stringify({ ...body, metadata: { ...body.metadata, name: 'Not_A_DNS_Name' } })).catch((e: unknown) => e);
      expect(statusOf(invalid)).toMatchObject({ code: 422, reason: 'Invalid' });
      // Ten more, one after another: still the pool's two connections (one per request would be 13).
      for (let i = 0; i < 10; i++) await requestJson(kc, pool, 'POST', path, () => JSON.stringify(body)).catch(() => undefined);
      expect(sim.api.stats.connectionsOpened).toBeLessThanOrEqual(2);
    } finally {
      pool.destroy();
    }
  });
});

/** A plain-HTTP server on a free port, and a KubeConfig pointing at it. */
async function hostile(handler: http.RequestListener): Promise<{ kc: KubeConfig; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kc,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Writes `byte` to `res` in 64 KiB chunks, honouring back-pressure, until 4 x MAX_ANSWER_BYTES; returns how much was written so far. */
function endlessBody(res: http.ServerResponse, byte: number): () => number {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, byte);
  const pump = () => {
    while (sent < 4 * MAX_ANSWER_BYTES && res.write(chunk)) sent += chunk.length;
    if (sent < 4 * MAX_ANSWER_BYTES) res.once('drain', pump);
    else res.end();
  };
  pump();
  return () => sent;
}

describe('the informer\'s watch stream', () => {
  const watchOf = async (kc: KubeConfig) => {
    const conns = new ApiConnections(1);
    const events: WatchEvent[] = [];
    const ctl = new AbortController();
    try {
      const err = await watchStream(kc, conns, '/api/v1/namespaces/default/pods', { labelSelector: 'a=b', resourceVersion: '7' }, (e) => events.push(e), ctl.signal).then(
        () => undefined,
        (e: unknown) => e,
      );
      return { events, err };
    } finally {
      conns.destroy();
    }
  };

  it('hands over events split anywhere across chunks, in order, with the query and the credentials sent', async () => {
    let url = '';
    let auth = '';
    const lines = [1, 2, 3].map((i) => `${JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: `p${i}`, resourceVersion: String(i) } } })}\n`).join('');
    const srv = await hostile((req, res) => {
      url = req.url ?? '';
      auth = req.headers.authorization ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      // Cut mid-line, at a line's end and mid-number, with pauses: the stream arrives in pieces.
      const cuts = [5, lines.indexOf('\n') + 1, lines.length - 9, lines.length];
      let at = 0;
      const next = () => {
        const to = cuts.shift();
        if (to === undefined) return res.end();
        res.write(lines.slice(at, to));
        at = to;
        setTimeout(next, 10);
      };
      next();
    });
    try {
      const { events, err } = await watchOf(srv.kc);
      expect(err).toBeUndefined();
      expect(events.map((e) => (e.object as { metadata: { name: string } }).metadata.name)).toEqual(['p1', 'p2', 'p3']);
      expect(url).toMatch(/^\/api\/v1\/namespaces\/default\/pods\?/);
      const q = new URLSearchParams(url.split('?')[1]);
      expect([q.get('watch'), q.get('labelSelector'), q.get('resourceVersion')]).toEqual(['true', 'a=b', '7']);
      expect(auth).toBe('Bearer t');
    } finally {
      await srv.close();
    }
  });

  it('waits before each chunk while `before` holds it (requests queued), then hands over every event, in order', async () => {
    const lines = [1, 2, 3, 4].map((i) => `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: `p${i}` } } })}\n`).join('');
    const srv = await hostile((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(lines.slice(0, 40));
      setTimeout(() => res.end(lines.slice(40)), 20);
    });
    const conns = new ApiConnections(1);
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let asked = 0;
    try {
      const done = watchStream(srv.kc, conns, '/api/v1/namespaces/default/pods', {}, (e) => events.push((e.object as { metadata: { name: string } }).metadata.name), new AbortController().signal, () => (asked++ === 0 ? held : undefined));
      for (const until = Date.now() + 10_000; asked === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 150));
      // The whole stream has been sent; nothing is handed over while the first chunk waits.
      expect(asked).toBe(1);
      expect(events).toEqual([]);
      release();
      await done;
      expect(events).toEqual(['p1', 'p2', 'p3', 'p4']);
    } finally {
      conns.destroy();
      await srv.close();
    }
  });

  it('fails the stream on a line that is not an event (client-node\'s Watch skipped it: an event lost)', async () => {
    const srv = await hostile((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'p1' } } })}\n{"type": "MODIFIED", "obj\n`);
      setTimeout(() => res.end(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'p2' } } })}\n`), 50);
    });
    try {
      const { events, err } = await watchOf(srv.kc);
      expect(events).toHaveLength(1);
      expect((err as Error).message).toMatch(/an event is not JSON/);
    } finally {
      await srv.close();
    }
  });

  it('stops reading an endless line past MAX_ANSWER_BYTES instead of buffering it', async () => {
    let sent = () => 0;
    const srv = await hostile((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      sent = endlessBody(res, 0x61);
    });
    try {
      const { events, err } = await watchOf(srv.kc);
      expect(events).toHaveLength(0);
      expect((err as Error).message).toMatch(/an event passed \d+ bytes/);
      expect(sent()).toBeLessThan(4 * MAX_ANSWER_BYTES);
    } finally {
      await srv.close();
    }
  });

  it('refuses a whole event past MAX_ANSWER_BYTES whose end arrives in a later chunk', async () => {
    // Valid JSON, one byte over the limit once its end (and newline) arrive: the bound is the line's, not the pieces'.
    const event = JSON.stringify({ type: 'ADDED', object: { pad: '' } });
    const pad = 'a'.repeat(MAX_ANSWER_BYTES + 1 - event.length);
    const line = JSON.stringify({ type: 'ADDED', object: { pad } });
    expect(Buffer.byteLength(line)).toBe(MAX_ANSWER_BYTES + 1);
    const srv = await hostile((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(line.slice(0, line.length - 100));
      setTimeout(() => res.end(`${line.slice(line.length - 100)}\n`), 50);
    });
    try {
      const { events, err } = await watchOf(srv.kc);
      expect(events).toHaveLength(0);
      expect((err as Error).message).toMatch(/an event passed \d+ bytes/);
    } finally {
      await srv.close();
    }
  });

  it('a refused watch is an ApiException with the status the informer reads (410: relist)', async () => {
    const srv = await hostile((_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }));
    });
    try {
      const { err } = await watchOf(srv.kc);
      expect(err).toBeInstanceOf(ApiException);
      expect(statusOf(err)).toMatchObject({ code: 410, reason: 'Expired' });
    } finally {
      await srv.close();
    }
  });
});

describe('the raw JSON create against a hostile server', () => {
  it('stops reading an answer past MAX_ANSWER_BYTES instead of buffering it', async () => {
    // A server that answers a create with an endless body.
    let sent = () => 0;
    const srv = await hostile((req, res) => {
      req.resume();
      res.writeHead(201, { 'content-type': 'application/json' });
      sent = endlessBody(res, 0x20);
    });
    const pool = new ApiConnections(1);
    try {
      const err = await requestJson(srv.kc, pool, 'POST', '/apis/batch/v1/namespaces/default/jobs', () => '{}').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/answer passed \d+ bytes/);
      // It stopped well before the server's 16 MiB.
      expect(sent()).toBeLessThan(4 * MAX_ANSWER_BYTES);
    } finally {
      pool.destroy();
      await srv.close();
    }
  });
});

describe('kube-sim store indexes', () => {
  const pod = (name: string, owners: string[], phase = 'Pending', nodeName?: string): Pod =>
    ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', uid: name, resourceVersion: '0', creationTimestamp: '', ownerReferences: owners.map((uid) => ({ apiVersion: 'batch/v1', kind: 'Job', name: uid, uid })) },
      spec: { containers: [], ...(nodeName ? { nodeName } : {}) },
      status: { phase },
    }) as unknown as Pod;
  const names = (ps: readonly Pod[]) => ps.map((p) => p.metadata.name);

  it('follow every put and delete: a changed value moves the object, a deleted one leaves, copies stay private', () => {
    const store = new ObjectStore(100);
    store.put(pod('a', ['job-1']));
    // An index added later covers the objects already there.
    store.addIndex('Pod', 'owner', (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid));
    store.addIndex('Pod', 'pending', (o) => ((o as Pod).status.phase === 'Pending' && !(o as Pod).spec.nodeName ? ['yes'] : []));
    store.put(pod('b', ['job-1']));
    store.put(pod('c', ['job-2']));
    expect(names(store.listIndexed<Pod>('owner', 'job-1'))).toEqual(['a', 'b']);
    expect(names(store.scanIndexed<Pod>('pending', 'yes'))).toEqual(['a', 'b', 'c']);
    // Bound: out of the pending index. Orphaned: out of its owner's.
    store.put(pod('a', ['job-1'], 'Running', 'node-0'));
    store.put(pod('b', []));
    expect(names(store.listIndexed<Pod>('owner', 'job-1'))).toEqual(['a']);
    expect(names(store.scanIndexed<Pod>('pending', 'yes'))).toEqual(['c', 'b']); // resourceVersion order
    store.delete('Pod', 'default', 'c');
    expect(store.scanIndexed<Pod>('owner', 'job-2')).toEqual([]);
    expect(names(store.scanIndexed<Pod>('pending', 'yes'))).toEqual(['b']);
    // listIndexed copies: changing one does not change the store (nor its index).
    const [copy] = store.listIndexed<Pod>('owner', 'job-1');
    copy.metadata.ownerReferences = [];
    expect(names(store.listIndexed<Pod>('owner', 'job-1'))).toEqual(['a']);
    expect(() => store.scanIndexed('nope', 'x')).toThrow(/no index nope/);
    expect(() => store.addIndex('Pod', 'owner', () => [])).toThrow(/already exists/);
  });

  it('the job controller finds pods by owner at scale: 1,000 Jobs end as their one pod did', async () => {
    // Time scale 100: the Jobs' activeDeadlineSeconds (10 min) is 6 s of wall time, far past the trainer's 2-4 s.
    sim = await startKubeSim({ gpus: 1000, gpusPerNode: 8, timeScale: 100, podStartupSeconds: 0 });
    const reqs = requests('scale', 1000);
    for (const r of reqs) sim.cluster.createJob(buildJob(r) as never);
    // Polled (waitFor re-checks on every change: copying 1,000 records per event would be the test's cost).
    const deadline = Date.now() + 60_000;
    let history = sim.cluster.jobHistory();
    while (!history.every((j) => j.finished) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      history = sim.cluster.jobHistory();
    }
    expect(history).toHaveLength(1000);
    // backoffLimit 0: one pod each; the Job ends as its pod did (the trainer plans some faults).
    for (const j of history) {
      expect(j.pods, j.name).toHaveLength(1);
      expect(j.finished?.type, j.name).toBe(j.pods[0].outcome?.phase === 'Succeeded' ? 'Complete' : 'Failed');
    }
    expect(history.filter((j) => j.finished?.type === 'Complete').length).toBeGreaterThan(500);
  }, 90_000);
});

describe("the executor's request limit", () => {
  it('says when calls queue for a slot: drained() waits until every queued and running call has ended, or at most maxWaitMs', async () => {
    const limit = concurrencyLimit(1);
    expect(limit.drained!(1000)).toBeUndefined();
    const gates: (() => void)[] = [];
    const call = () => limit(() => new Promise<void>((r) => gates.push(r)));
    const a = call();
    // One running, none queued: nothing to wait for.
    expect(limit.drained!(1000)).toBeUndefined();
    expect(limit.queued!()).toBe(false);
    const b = call();
    const c = call();
    expect(limit.queued!()).toBe(true);
    let drained = false;
    const wait = limit.drained!(60_000)!.then(() => (drained = true));
    gates.shift()!(); // a ends, b starts, c still queued
    await a;
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false);
    gates.shift()!(); // b ends, c starts: the queue is empty, c still runs
    await b;
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false);
    gates.shift()!(); // c ends: nothing queued or running
    await c;
    await wait;
    expect(drained).toBe(true);
    // While calls stay queued, a wait ends after maxWaitMs regardless.
    const d = call();
    const e = call();
    const t0 = Date.now();
    await limit.drained!(50);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    gates.shift()!();
    await d;
    gates.shift()!();
    await e;
  });
});

describe('a watch stream held during a burst', () => {
  it('waits while calls queue, at most maxHoldMs in all per burst, then reads freely until the queue empties', async () => {
    const limit = concurrencyLimit(1);
    let t = 0;
    const before = holdDuringBursts(limit, 3000, () => t);
    expect(before()).toBeUndefined(); // nothing queued
    const gates: (() => void)[] = [];
    const calls = [1, 2, 3].map(() => limit(() => new Promise<void>((r) => gates.push(r))));
    expect(before()).toBeInstanceOf(Promise); // a burst: hold
    t = 2999;
    expect(before()).toBeInstanceOf(Promise); // still within its 3 s
    t = 3000;
    expect(before()).toBeUndefined(); // the burst outlasted its hold: read freely
    t = 10_000;
    expect(before()).toBeUndefined(); // the same burst: still free
    const tick = () => new Promise((r) => setTimeout(r, 10));
    /** Ends the running call; the next queued one starts. */
    const endOne = async () => {
      gates.shift()!();
      await tick();
    };
    await endOne();
    await endOne();
    expect(before()).toBeUndefined(); // one running, none queued: free, and the hold starts over
    const more = [4, 5].map(() => limit(() => new Promise<void>((r) => gates.push(r))));
    expect(before()).toBeInstanceOf(Promise); // a new burst: held again
    for (let i = 0; i < 3; i++) await endOne();
    await Promise.all([...calls, ...more]);
    expect(limit.queued!()).toBe(false);
  });
});
