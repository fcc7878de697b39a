import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../activities/executors/local';
import { SqliteStore } from '../../store/sqlite';
import { createSweepWorker } from '../../worker';
import { freePort, startDevServer } from '../../worker/devServer';
import { HealthChecker, startHealthServer, workerProbes, type HealthServer } from '../../worker/health';

// The acceptance of issue 13: a real worker's readiness goes false within 30 s of its Temporal
// server going away, and true again when a server is back at the same address.
const root = mkdtempSync(join(tmpdir(), 'sweep-health-'));
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

async function readyz(server: HealthServer): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${server.port}/readyz`);
  await res.text();
  return res.status;
}

/** Polls /readyz once a second until it answers `status`; returns the seconds it took. */
async function until(server: HealthServer, status: number, maxMs: number): Promise<number> {
  const t0 = Date.now();
  let last = 0;
  while (Date.now() - t0 < maxMs) {
    last = await readyz(server);
    if (last === status) return (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`/readyz still ${last} after ${maxMs} ms (wanted ${status})`);
}

describe('worker readiness follows its Temporal server', () => {
  it('ready, unready within 30 s of the server stopping, ready again when it is back', async () => {
    const port = await freePort();
    let dev = await startDevServer({ port, searchAttributes: true });
    cleanups.push(() => dev.env.teardown());
    const store = new SqliteStore(join(root, 'results.db'));
    cleanups.push(() => store.close());
    // Its own connections to the address (not the dev server's), as the CLI's worker has.
    const { worker, connection, clientConnection } = await createSweepWorker({
      address: dev.address,
      namespace: 'default',
      taskQueue: `health-${port}`,
      store,
      executors: { local: new LocalExecutor({ dir: join(root, 'local') }) },
    });
    const running = worker.run();
    cleanups.push(async () => {
      await clientConnection.close();
      await connection.close();
    });
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });
    const server = await startHealthServer(new HealthChecker(workerProbes(worker, connection, store)), 0, '127.0.0.1');
    cleanups.push(() => server.close());

    await until(server, 200, 30_000);

    await dev.env.teardown();
    const down = await until(server, 503, 30_000);
    expect(down).toBeLessThan(30);
    expect(worker.getState()).toBe('RUNNING');

    dev = await startDevServer({ port, searchAttributes: true });
    await until(server, 200, 60_000);
    expect(worker.getState()).toBe('RUNNING');
  }, 180_000);
});
