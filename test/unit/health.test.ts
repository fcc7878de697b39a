import { afterEach, describe, expect, it } from 'vitest';
import {
  HealthChecker,
  healthPortFromEnv,
  startHealthServer,
  type HealthProbes,
  type HealthServer,
} from '../../worker/health';

/** Probes whose answers the test sets; counts the calls made to each dependency. */
function fakeProbes() {
  const state = {
    worker: 'RUNNING',
    temporal: 'ok' as 'ok' | 'down' | 'hang',
    store: 'ok' as 'ok' | 'down' | 'hang',
    calls: { temporal: 0, store: 0 },
  };
  const answer = (how: 'ok' | 'down' | 'hang') =>
    how === 'ok'
      ? Promise.resolve()
      : how === 'down'
        ? Promise.reject(
            Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432 user=sweep password=hunter2'), {
              code: 'ECONNREFUSED',
            }),
          )
        : new Promise<void>(() => {});
  const probes: HealthProbes = {
    workerState: () => state.worker,
    temporal: () => {
      state.calls.temporal++;
      return answer(state.temporal);
    },
    store: () => {
      state.calls.store++;
      return answer(state.store);
    },
  };
  return { state, probes };
}

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function get(path: string, method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${server!.port}${path}`, { method });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe('worker health endpoint', () => {
  it('ready and live when the worker runs and Temporal and the store answer', async () => {
    const { probes } = fakeProbes();
    server = await startHealthServer(new HealthChecker(probes, 500), 0, '127.0.0.1');
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      live: true,
      ready: true,
      workerState: 'RUNNING',
      checks: { worker: { ok: true }, temporal: { ok: true }, store: { ok: true } },
    });
    expect((await get('/livez')).status).toBe(200);
  });

  it('unready (but live) when the store is down, with a reason that leaks no error text', async () => {
    const { state, probes } = fakeProbes();
    state.store = 'down';
    server = await startHealthServer(new HealthChecker(probes, 500), 0, '127.0.0.1');
    const r = await get('/readyz');
    expect(r.status).toBe(503);
    expect(r.body!.checks).toEqual({
      worker: { ok: true },
      temporal: { ok: true },
      store: { ok: false, reason: 'ECONNREFUSED' },
    });
    expect(r.text).not.toMatch(/hunter2|10\.0\.0\.5|user=/);
    // The database is not the worker: a restart cannot fix it.
    expect((await get('/livez')).status).toBe(200);
    state.store = 'ok';
    expect((await get('/readyz')).status).toBe(200);
  });

  it('unready when Temporal does not answer within the timeout, and one call at a time per dependency', async () => {
    const { state, probes } = fakeProbes();
    state.temporal = 'hang';
    server = await startHealthServer(new HealthChecker(probes, 300), 0, '127.0.0.1');
    const t0 = Date.now();
    const [a, b] = await Promise.all([get('/readyz'), get('/readyz')]);
    expect(Date.now() - t0).toBeLessThan(3_000);
    for (const r of [a, b]) {
      expect(r.status).toBe(503);
      expect(r.body!.checks).toMatchObject({
        temporal: { ok: false, reason: 'no answer within 300 ms' },
        store: { ok: true },
      });
    }
    await get('/readyz');
    // The hung call is awaited again, not started anew: no pile-up on a dead server.
    expect(state.calls.temporal).toBe(1);
    expect(state.calls.store).toBeGreaterThanOrEqual(2);
  });

  it('unready while the worker is not RUNNING; dead (liveness 503) once it FAILED or STOPPED', async () => {
    const { state, probes } = fakeProbes();
    server = await startHealthServer(new HealthChecker(probes, 500), 0, '127.0.0.1');
    for (const s of ['INITIALIZED', 'STOPPING', 'DRAINING']) {
      state.worker = s;
      const r = await get('/readyz');
      expect(r.status, s).toBe(503);
      expect(r.body!.checks).toMatchObject({ worker: { ok: false, reason: s } });
      expect((await get('/livez')).status, s).toBe(200);
    }
    for (const s of ['FAILED', 'STOPPED', 'DRAINED']) {
      state.worker = s;
      const l = await get('/livez');
      expect(l.status, s).toBe(503);
      expect(l.body).toEqual({ live: false, workerState: s });
      expect((await get('/readyz')).status, s).toBe(503);
    }
  });

  it('answers only GET/HEAD on /livez and /readyz', async () => {
    const { probes } = fakeProbes();
    server = await startHealthServer(new HealthChecker(probes, 500), 0, '127.0.0.1');
    expect((await get('/')).status).toBe(404);
    expect((await get('/readyz/../metrics')).status).toBe(404);
    expect((await get('/livez', 'POST')).status).toBe(405);
    const head = await get('/readyz', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('SWEEP_HEALTH_PORT: unset means no server; otherwise a port 1-65535, named when wrong', () => {
    expect(healthPortFromEnv({})).toBeUndefined();
    expect(healthPortFromEnv({ SWEEP_HEALTH_PORT: '' })).toBeUndefined();
    expect(healthPortFromEnv({ SWEEP_HEALTH_PORT: '8080' })).toBe(8080);
    for (const bad of ['0', '65536', 'http', '80.5', '-1', '1e3'])
      expect(() => healthPortFromEnv({ SWEEP_HEALTH_PORT: bad }), bad).toThrow(/SWEEP_HEALTH_PORT must be a TCP port/);
  });
});
