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
import { KeepAliveAgents, MAX_ANSWER_BYTES, requestJson } from '../../activities/executors/kubernetes/apiClient';
import { statusOf } from '../../activities/executors/kubernetes/apiRetry';
import { startKubeSim, type KubeSim } from '../../sim/kube-sim';
import { ObjectStore } from '../../sim/kube-sim/store';
import type { Pod } from '../../sim/kube-sim/types';
import { kubeConfigFrom, kubeSpec, launchRequest, testWatch } from './helpers';
import { KubeConfig } from '@kubernetes/client-node';

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

  it('one pooled agent per TLS identity; proxy agents are left alone', () => {
    const pool = new KeepAliveAgents(4);
    const a = pool.reuse(new https.Agent({ ca: 'CA-1', servername: 'api' }));
    const b = pool.reuse(new https.Agent({ ca: 'CA-1', servername: 'api' }));
    const c = pool.reuse(new https.Agent({ ca: 'CA-2', servername: 'api' }));
    const d = pool.reuse(new http.Agent({}));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(d).not.toBe(a);
    expect(pool.size).toBe(3);
    for (const agent of [a, c, d]) {
      expect((agent as http.Agent & { keepAlive: boolean }).keepAlive).toBe(true);
      expect((agent as http.Agent).maxSockets).toBe(4);
    }
    expect(a).toBeInstanceOf(https.Agent);
    expect(d).not.toBeInstanceOf(https.Agent);
    class ProxyAgent extends http.Agent {}
    const proxy = new ProxyAgent();
    expect(pool.reuse(proxy)).toBe(proxy);
    expect(pool.reuse(undefined)).toBeUndefined();
    pool.destroy();
    expect(pool.size).toBe(0);
  });

  it('the raw JSON create answers with the API\'s object, and fails with ApiExceptions the retry logic reads', async () => {
    sim = await startKubeSim({ gpus: 8 });
    const kc = kubeConfigFrom(sim.kubeconfig);
    const pool = new KeepAliveAgents(2);
    try {
      const body = buildJob(requests('raw', 1)[0]);
      const path = '/apis/batch/v1/namespaces/default/jobs';
      const created = await requestJson<{ metadata: { name: string; uid?: string; resourceVersion?: string } }>(kc, pool, 'POST', path, body);
      expect(created.metadata.name).toBe(body.metadata!.name);
      expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
      const again = await requestJson(kc, pool, 'POST', path, body).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(ApiException);
      expect(statusOf(again)).toMatchObject({ code: 409, reason: 'AlreadyExists' });
      const invalid = await requestJson(kc, pool, 'POST', path, { ...body, metadata: { ...body.metadata, name: 'Not_A_DNS_Name' } }).catch((e: unknown) => e);
      expect(statusOf(invalid)).toMatchObject({ code: 422, reason: 'Invalid' });
      // Both requests went over the one kept-alive connection.
      expect(sim.api.stats.connectionsOpened).toBe(1);
    } finally {
      pool.destroy();
    }
  });
});

describe('the raw JSON create against a hostile server', () => {
  it('stops reading an answer past MAX_ANSWER_BYTES instead of buffering it', async () => {
    // A server that answers a create with an endless body.
    let sent = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(201, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (sent < 4 * MAX_ANSWER_BYTES && res.write(chunk)) sent += chunk.length;
        if (sent < 4 * MAX_ANSWER_BYTES) res.once('drain', pump);
        else res.end();
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const pool = new KeepAliveAgents(1);
    try {
      const err = await requestJson(kc, pool, 'POST', '/apis/batch/v1/namespaces/default/jobs', {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/answer passed \d+ bytes/);
      // It stopped well before the server's 16 MiB.
      expect(sent).toBeLessThan(4 * MAX_ANSWER_BYTES);
    } finally {
      pool.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
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
