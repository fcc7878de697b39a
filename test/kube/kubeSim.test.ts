import { afterEach, describe, expect, it } from 'vitest';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimCluster, startKubeSim, type KubeSim, type KubeSimOptions } from '../../sim/kube-sim';
import type { Job, Pod, StatusBody } from '../../sim/kube-sim/types';

let sim: KubeSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function start(opts: KubeSimOptions = {}): Promise<KubeSim> {
  sim = await startKubeSim({
    gpus: 2,
    gpusPerNode: 1,
    timeScale: 50,
    podStartupSeconds: 0.5,
    workload: ({ env }) => ({ durationSeconds: Number(env.DURATION ?? 5), fault: 'none', resultText: `{"metrics":{"acc":${env.ACC ?? 1}}}` }),
    ...opts,
  });
  return sim;
}

interface JobOpts {
  name: string;
  labels?: Record<string, string>;
  gpus?: number;
  duration?: number;
  image?: string;
  suspend?: boolean;
  deadline?: number;
  ttl?: number;
  nodeSelector?: Record<string, string>;
  env?: Record<string, string>;
  args?: string[];
}

function jobBody(o: JobOpts): unknown {
  const env = { DURATION: String(o.duration ?? 5), ...o.env };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, labels: o.labels ?? {} },
    spec: {
      backoffLimit: 0,
      ...(o.suspend ? { suspend: true } : {}),
      ...(o.deadline ? { activeDeadlineSeconds: o.deadline } : {}),
      ...(o.ttl !== undefined ? { ttlSecondsAfterFinished: o.ttl } : {}),
      template: {
        metadata: { labels: o.labels ?? {} },
        spec: {
          restartPolicy: 'Never',
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          containers: [
            {
              name: 'trainer',
              image: o.image ?? 'ghcr.io/x/trainer:1',
              args: o.args ?? [],
              terminationMessagePolicy: 'FallbackToLogsOnError',
              env: Object.entries(env).map(([name, value]) => ({ name, value })),
              resources: { limits: { 'nvidia.com/gpu': String(o.gpus ?? 1) } },
            },
          ],
        },
      },
    },
  };
}

async function api<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${sim!.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text (logs)
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

const JOBS = '/apis/batch/v1/namespaces/default/jobs';
const PODS = '/api/v1/namespaces/default/pods';
const createJob = (o: JobOpts) => api<Job>('POST', JOBS, jobBody(o));
const listPods = async (selector = '') => (await api<{ items: Pod[] }>('GET', `${PODS}?labelSelector=${encodeURIComponent(selector)}`)).body.items;
const podOf = async (job: string) => (await listPods(`job-name=${job}`))[0];
const getJob = async (name: string) => (await api<Job>('GET', `${JOBS}/${name}`)).body;
const cond = (j: Job, type: string) => j.status.conditions?.find((c) => c.type === type && c.status === 'True');

/** Read a watch stream's JSON lines until `until` says stop or the stream ends. */
async function readWatch(path: string, until: (events: { type: string; object: { metadata?: { name?: string; resourceVersion?: string }; code?: number } }[]) => boolean, timeoutMs = 5000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  const res = await fetch(`${sim!.url}${path}`, { signal: ctl.signal });
  const events: { type: string; object: { metadata?: { name?: string; resourceVersion?: string }; code?: number } }[] = [];
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += Buffer.from(chunk).toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
      if (until(events)) break;
    }
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
  } finally {
    clearTimeout(t);
    ctl.abort();
  }
  return { status: res.status, events };
}

describe('kube-sim API semantics', () => {
  it('one global, monotonically increasing resourceVersion across kinds; lists carry the current one', async () => {
    await start();
    const a = await createJob({ name: 'a' });
    const b = await createJob({ name: 'b' });
    expect(a.status).toBe(201);
    const rvA = Number(a.body.metadata.resourceVersion);
    const rvB = Number(b.body.metadata.resourceVersion);
    expect(rvB).toBeGreaterThan(rvA);
    await sim!.cluster.waitFor(async () => true);
    const pods = await api<{ metadata: { resourceVersion: string }; items: Pod[] }>('GET', PODS);
    const nodes = await api<{ metadata: { resourceVersion: string }; items: unknown[] }>('GET', '/api/v1/nodes');
    expect(nodes.body.items).toHaveLength(2);
    const listRv = Number(pods.body.metadata.resourceVersion);
    for (const p of pods.body.items) expect(Number(p.metadata.resourceVersion)).toBeLessThanOrEqual(listRv);
    expect(listRv).toBeGreaterThanOrEqual(rvB);
  });

  it('label selectors: equality, !=, set-based in / notin, existence', async () => {
    await start({ gpus: 4 });
    await createJob({ name: 'x1', labels: { team: 'a', tier: 'gpu' } });
    await createJob({ name: 'x2', labels: { team: 'b' } });
    await createJob({ name: 'x3', labels: { team: 'c', tier: 'cpu' } });
    const names = async (sel: string) =>
      (await api<{ items: Job[] }>('GET', `${JOBS}?labelSelector=${encodeURIComponent(sel)}`)).body.items.map((j) => j.metadata.name).sort();
    expect(await names('team=a')).toEqual(['x1']);
    expect(await names('team==b')).toEqual(['x2']);
    expect(await names('team!=a')).toEqual(['x2', 'x3']);
    expect(await names('team in (a, c)')).toEqual(['x1', 'x3']);
    expect(await names('team notin (a)')).toEqual(['x2', 'x3']);
    expect(await names('tier')).toEqual(['x1', 'x3']);
    expect(await names('!tier')).toEqual(['x2']);
    expect(await names('team in (a,b),tier')).toEqual(['x1']);
    expect(await names('')).toEqual(['x1', 'x2', 'x3']);
    expect((await api<StatusBody>('GET', `${JOBS}?labelSelector=${encodeURIComponent('a in b')}`)).body).toMatchObject({ kind: 'Status', code: 400 });
    // Field selectors, as the real server supports for a few paths.
    const running = await api<{ items: Pod[] }>('GET', `${PODS}?fieldSelector=metadata.name%3D${(await podOf('x2')).metadata.name}`);
    expect(running.body.items).toHaveLength(1);
  });

  it('watch: ADDED / MODIFIED / DELETED from a resourceVersion, replay of history, BOOKMARKs, timeoutSeconds', async () => {
    await start({ bookmarkIntervalMs: 100 });
    const list = await api<{ metadata: { resourceVersion: string } }>('GET', PODS);
    const rv0 = list.body.metadata.resourceVersion;
    await createJob({ name: 'w1', duration: 15 });
    // Replays what happened since rv0, then follows live until the pod has succeeded and the job is deleted.
    const deleteWhenDone = sim!.cluster.waitFor(() => sim!.cluster.jobHistory()[0]?.finished, 5000).then(() => api('DELETE', `${JOBS}/w1?propagationPolicy=Background`));
    const { events } = await readWatch(`${PODS}?watch=true&resourceVersion=${rv0}&allowWatchBookmarks=true`, (ev) => ev.some((e) => e.type === 'DELETED'));
    await deleteWhenDone;
    const types = events.filter((e) => e.type !== 'BOOKMARK').map((e) => e.type);
    expect(types[0]).toBe('ADDED');
    expect(types).toContain('MODIFIED');
    expect(types[types.length - 1]).toBe('DELETED');
    const rvs = events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
    expect(events.some((e) => e.type === 'BOOKMARK')).toBe(true);

    // Without a resourceVersion: the current state as ADDED. timeoutSeconds ends the stream.
    await createJob({ name: 'w2', duration: 100 });
    const t0 = Date.now();
    const { events: now } = await readWatch(`${PODS}?watch=true&timeoutSeconds=1`, () => false, 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(now.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata?.name)).toEqual([(await podOf('w2')).metadata.name]);

    // Label-selected watch sees only matching objects.
    await createJob({ name: 'w3', labels: { pick: 'me' }, duration: 100 });
    const rvNow = (await api<{ metadata: { resourceVersion: string } }>('GET', PODS)).body.metadata.resourceVersion;
    const watching = readWatch(`${JOBS}?watch=true&resourceVersion=${rvNow}&labelSelector=pick%3Dme`, (ev) => ev.some((e) => e.type === 'DELETED'));
    await new Promise((r) => setTimeout(r, 50));
    await api('DELETE', `${JOBS}/w2?propagationPolicy=Background`);
    await api('DELETE', `${JOBS}/w3?propagationPolicy=Background`);
    const sel = await watching;
    expect(sel.events.map((e) => e.object.metadata?.name)).toEqual(['w3']);
  });

  it('410 Gone for a compacted resourceVersion: ERROR event by default, HTTP 410 Status when configured', async () => {
    await start({ historyLimit: 3 });
    for (let i = 0; i < 4; i++) await createJob({ name: `g${i}`, duration: 100 });
    const { status, events } = await readWatch(`${PODS}?watch=true&resourceVersion=1`, (ev) => ev.length > 0);
    expect(status).toBe(200);
    expect(events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    await sim!.stop();
    await start({ historyLimit: 3, goneAs: 'http' });
    for (let i = 0; i < 4; i++) await createJob({ name: `g${i}`, duration: 100 });
    const r = await api<StatusBody>('GET', `${PODS}?watch=true&resourceVersion=1`);
    expect(r.status).toBe(410);
    expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', code: 410, reason: 'Expired' });
    // A recent resourceVersion still works after compaction.
    sim!.store.compact();
    const fresh = String(sim!.store.resourceVersion);
    const ok = readWatch(`${PODS}?watch=true&resourceVersion=${fresh}`, (ev) => ev.some((e) => e.type === 'ADDED'));
    await new Promise((r2) => setTimeout(r2, 50));
    await createJob({ name: 'g9' });
    const fromFresh = (await ok).events;
    expect(fromFresh.find((e) => e.type === 'ADDED')?.object.metadata?.name).toMatch(/^g9-/);
    expect(fromFresh.some((e) => e.type === 'ERROR')).toBe(false);
  });

  it('Status answers: 404 NotFound, 409 AlreadyExists, 422 Invalid, 429 with Retry-After, 500', async () => {
    await start();
    const nf = await api<StatusBody>('GET', `${JOBS}/nope`);
    expect(nf.status).toBe(404);
    expect(nf.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, details: { name: 'nope', group: 'batch', kind: 'jobs' } });
    expect((await api<StatusBody>('DELETE', `${JOBS}/nope`)).status).toBe(404);
    expect((await api<StatusBody>('GET', `${PODS}/nope/log`)).status).toBe(404);
    expect((await createJob({ name: 'dup' })).status).toBe(201);
    const dup = await createJob({ name: 'dup' });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ reason: 'AlreadyExists', code: 409 });
    for (const name of ['Upper', 'a_b', 'x'.repeat(64), '-lead', ''])
      expect((await createJob({ name })).body, name).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });
    const noContainers = await api<StatusBody>('POST', JOBS, { metadata: { name: 'nc' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [] } } } });
    expect(noContainers.body).toMatchObject({ code: 422, details: { causes: [expect.objectContaining({ field: 'spec.template.spec.containers', reason: 'FieldValueRequired' })] } });
    const badPolicy = await api<StatusBody>('POST', JOBS, { metadata: { name: 'bp' }, spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'i' }] } } } });
    expect(badPolicy.status).toBe(422);
    const badLabel = await createJob({ name: 'bl', labels: { ok: 'not valid!' } });
    expect(badLabel.status).toBe(422);

    sim!.api.injectErrors({ code: 429, count: 1, retryAfterSeconds: 2 });
    const throttled = await api<StatusBody>('GET', JOBS);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect(throttled.body).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } });
    sim!.api.injectErrors({ code: 500, count: 2, method: 'POST' });
    expect((await api('GET', JOBS)).status).toBe(200);
    expect((await createJob({ name: 'e1' })).status).toBe(500);
    expect((await createJob({ name: 'e1' })).status).toBe(500);
    expect((await createJob({ name: 'e1' })).status).toBe(201);
  });

  it('rate-based API faults hit roughly the configured fraction', async () => {
    await start({ apiFaults: { errorRate: 0.2, throttleRate: 0.1 } });
    const codes: number[] = [];
    for (let i = 0; i < 200; i++) codes.push((await api('GET', JOBS)).status);
    const f500 = codes.filter((c) => c === 500).length / codes.length;
    const f429 = codes.filter((c) => c === 429).length / codes.length;
    expect(f500).toBeGreaterThan(0.1);
    expect(f500).toBeLessThan(0.3);
    expect(f429).toBeGreaterThan(0.02);
    expect(f429).toBeLessThan(0.2);
  });
});

describe('kube-sim cluster', () => {
  it('schedules only where GPUs fit; the rest stay Pending Unschedulable until GPUs free up', async () => {
    await start({ gpus: 2, gpusPerNode: 1 });
    await createJob({ name: 'big', gpus: 2 });
    await createJob({ name: 's1', duration: 3 });
    await createJob({ name: 's2', duration: 3 });
    await createJob({ name: 's3', duration: 3 });
    const big = await sim!.cluster.waitFor(async () => {
      const p = await podOf('big');
      return p.status.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable') && p;
    });
    const c = big.status.conditions!.find((x) => x.type === 'PodScheduled')!;
    expect(c).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(c.message).toMatch(/0\/2 nodes are available: 2 Insufficient nvidia.com\/gpu/);
    const s3 = await podOf('s3');
    expect(s3.status.phase).toBe('Pending');
    expect(s3.spec.nodeName).toBeUndefined();
    const ran = await sim!.cluster.waitFor(() => sim!.cluster.jobHistory().find((j) => j.name === 's3')?.pods[0]?.startedAt, 5000);
    expect(ran).toBeTruthy();
    // Never more GPUs in use than exist.
    expect(sim!.cluster.gpuUsage().used).toBeLessThanOrEqual(2);

    await createJob({ name: 'h100', nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100' } });
    const h = await sim!.cluster.waitFor(async () => (await podOf('h100')).status.conditions?.find((x) => x.type === 'PodScheduled'));
    expect(h.message).toMatch(/didn't match Pod's node affinity\/selector/);
  });

  it('runs the synthetic trainer: result = its plan, as termination message and log; Complete condition', async () => {
    const args = ['--seconds-per-eflop=1', '--min-seconds=2', '--max-seconds=3'];
    await start({ workload: undefined });
    const run = { sweep: 's', runId: 'resnet18-r1', attempt: 1, axes: { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 2, seed: 0 } };
    await createJob({ name: 'trained', args, env: { SWEEP_RUN: JSON.stringify(run) } });
    const job = await sim!.cluster.waitFor(async () => {
      const j = await getJob('trained');
      return cond(j, 'Complete') && j;
    });
    expect(job.status.succeeded).toBe(1);
    expect(job.status.completionTime).toBeTruthy();
    const pod = await podOf('trained');
    const plan = planTraining(run, parseTrainerArgs(args));
    const term = pod.status.containerStatuses![0].state.terminated!;
    expect(term).toMatchObject({ exitCode: 0, reason: 'Completed', message: plan.resultText });
    const log = await api<string>('GET', `${PODS}/${pod.metadata.name}/log`);
    expect(log.body.trim().split('\n').pop()).toBe(plan.resultText);
    expect(sim!.cluster.attemptOutcome('resnet18-r1', 1)?.pod.plan.resultText).toBe(plan.resultText);
    expect(sim!.cluster.jobsForAttempt('resnet18-r1', 1)).toHaveLength(1);
  });

  it('activeDeadlineSeconds: the job fails with DeadlineExceeded and its pod goes away', async () => {
    await start({ workload: () => ({ durationSeconds: 1000, fault: 'hang', resultText: '' }) });
    await createJob({ name: 'slow', deadline: 5 });
    const job = await sim!.cluster.waitFor(async () => {
      const j = await getJob('slow');
      return cond(j, 'Failed') && j;
    });
    expect(cond(job, 'Failed')!.reason).toBe('DeadlineExceeded');
    expect(await listPods('job-name=slow')).toHaveLength(0);
  });

  it('suspend: no pods until unsuspended; Kueue-style admission within the GPU quota', async () => {
    await start({ kueueQuotaGpus: 1 });
    await createJob({ name: 'held', suspend: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(await listPods('job-name=held')).toHaveLength(0);
    expect(cond(await getJob('held'), 'Suspended')).toBeTruthy();
    const patched = await api<Job>('PATCH', `${JOBS}/held`, { spec: { suspend: false } }, { 'content-type': 'application/merge-patch+json' });
    expect(patched.status).toBe(200);
    await sim!.cluster.waitFor(async () => (await listPods('job-name=held')).length === 1);

    const q = { 'kueue.x-k8s.io/queue-name': 'gpus' };
    await createJob({ name: 'q1', labels: q, suspend: true, duration: 3 });
    await createJob({ name: 'q2', labels: q, suspend: true, duration: 3 });
    await new Promise((r) => setTimeout(r, 50));
    expect((await getJob('q1')).spec.suspend).toBe(false);
    expect((await getJob('q2')).spec.suspend).toBe(true);
    await sim!.cluster.waitFor(async () => (await getJob('q2')).spec.suspend === false, 5000);
    expect(cond(await getJob('q1'), 'Complete')).toBeTruthy();
  });

  it('delete honours propagationPolicy (Background deletes pods, Orphan keeps them); TTL collects finished jobs', async () => {
    await start({ gpus: 4 });
    await createJob({ name: 'bg', duration: 100 });
    await createJob({ name: 'or', duration: 100 });
    await sim!.cluster.waitFor(async () => (await listPods()).length === 2);
    expect((await api('DELETE', `${JOBS}/bg`, { propagationPolicy: 'Background' })).status).toBe(200);
    expect((await api('DELETE', `${JOBS}/or?propagationPolicy=Orphan`)).status).toBe(200);
    // Foreground with retries left: the controller must not replace the pods it is deleting.
    await api('POST', JOBS, { ...(jobBody({ name: 'fg', duration: 100 }) as { spec: object; metadata: object }), spec: { ...(jobBody({ name: 'fg', duration: 100 }) as { spec: object }).spec, backoffLimit: 3 } });
    await sim!.cluster.waitFor(async () => (await listPods('job-name=fg')).length === 1);
    expect((await api('DELETE', `${JOBS}/fg?propagationPolicy=Foreground`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(await listPods('job-name=fg')).toHaveLength(0);
    const left = await listPods();
    expect(left.map((p) => p.metadata.labels!['job-name'])).toEqual(['or']);
    expect(left[0].metadata.ownerReferences).toEqual([]);

    await createJob({ name: 'ttl', duration: 1, ttl: 2 });
    await sim!.cluster.waitFor(() => sim!.cluster.jobHistory().find((j) => j.name === 'ttl')?.deletedAt, 5000);
    expect((await api('GET', `${JOBS}/ttl`)).status).toBe(404);
    expect(await listPods('job-name=ttl')).toHaveLength(0);
  });

  it('faults: preemption, OOM, image errors, invalid image names, node loss, user errors', async () => {
    await start({ gpus: 6, gpusPerNode: 2 });
    for (const n of ['pre', 'oom', 'nl', 'ue']) await createJob({ name: n, duration: 100 });
    await createJob({ name: 'pull', image: 'registry.example.com/does-not-exist:1' });
    await createJob({ name: 'inv', image: 'Bad Image::' });
    const running = await sim!.cluster.waitFor(async () => {
      const ps = await listPods();
      return ps.filter((p) => p.status.phase === 'Running').length === 4 && ps;
    });
    const byJob = (j: string) => running.find((p) => p.metadata.labels!['job-name'] === j)!;
    sim!.cluster.preemptPod(byJob('pre').metadata.name);
    sim!.cluster.oomPod(byJob('oom').metadata.name);
    sim!.cluster.failPod(byJob('ue').metadata.name, 3);
    const pre = await podOf('pre');
    expect(pre.status.phase).toBe('Failed');
    expect(pre.status.conditions).toContainEqual(expect.objectContaining({ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }));
    expect((await podOf('oom')).status.containerStatuses![0].state.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
    expect((await podOf('ue')).status.containerStatuses![0].state.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(cond(await getJob('oom'), 'Failed')!.reason).toBe('BackoffLimitExceeded');

    const nlPod = byJob('nl');
    sim!.cluster.loseNode(nlPod.spec.nodeName!, 'delete');
    expect(await listPods('job-name=nl')).toHaveLength(0);
    expect((await api<{ items: unknown[] }>('GET', '/api/v1/nodes')).body.items).toHaveLength(2);
    await sim!.cluster.waitFor(async () => cond(await getJob('nl'), 'Failed'));

    const pull = await sim!.cluster.waitFor(async () => (await podOf('pull')).status.containerStatuses?.[0]?.state.waiting?.reason?.match(/ErrImagePull|ImagePullBackOff/) && (await podOf('pull')));
    expect(pull.status.phase).toBe('Pending');
    expect((await podOf('inv')).status.containerStatuses![0].state.waiting!.reason).toBe('InvalidImageName');
    expect((await api<StatusBody>('GET', `${PODS}/${pull.metadata.name}/log`)).status).toBe(400);

    sim!.cluster.restoreNode(nlPod.spec.nodeName!);
    expect((await api<{ items: unknown[] }>('GET', '/api/v1/nodes')).body.items).toHaveLength(3);
  });

  it('node NotReady: its pods fail with reason NodeLost', async () => {
    await start({ gpus: 1 });
    await createJob({ name: 'nr', duration: 100 });
    const p = await sim!.cluster.waitFor(async () => (await podOf('nr'))?.status.phase === 'Running' && (await podOf('nr')));
    sim!.cluster.loseNode(p.spec.nodeName!, 'notready');
    const after = await podOf('nr');
    expect(after.status).toMatchObject({ phase: 'Failed', reason: 'NodeLost' });
  });
});

describe('runSimCluster (sweep sim-cluster)', () => {
  it('prints a kubeconfig the real client loads, and writes it to a file when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kube-sim-'));
    let out = '';
    sim = await runSimCluster({ gpus: 16, gpusPerNode: 8, kubeconfigPath: join(dir, 'kubeconfig'), print: (t) => (out += t), handleSignals: false });
    expect(out).toContain('16 simulated GPUs');
    expect(readFileSync(join(dir, 'kubeconfig'), 'utf8')).toBe(sim.kubeconfig);
    const kc = new KubeConfig();
    kc.loadFromString(out.split('\n').filter((l) => !l.startsWith('#')).join('\n'));
    const nodes = await kc.makeApiClient(CoreV1Api).listNode();
    expect(nodes.items.map((n) => n.status?.capacity?.['nvidia.com/gpu'])).toEqual(['8', '8']);
  });
});
