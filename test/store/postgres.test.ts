import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../store/postgres';
import { describeStoreContract } from './contract';
import { describeCrashInjection } from './crash';
import { startTestPg, type TestPg } from './pgServer';

// A real server, never a mock: started here (initdb as the `postgres` user) or SWEEP_TEST_PG_URL.
let server: TestPg | undefined;
beforeAll(async () => {
  server = await startTestPg();
}, 90_000);
afterAll(async () => {
  await server?.stop();
});

const started = (): TestPg => {
  if (!server) throw new Error('test Postgres did not start (see the beforeAll error above)');
  return server;
};
const serverUrl = (): string => started().url;

describeStoreContract('postgres', (options) => PostgresStore.open(serverUrl(), options));
describeCrashInjection('postgres', serverUrl);

describe('PostgresStore specifics', () => {
  it('workers starting together on an empty database migrate it exactly once', async () => {
    const url = await started().createDatabase(`sweep_race_${Date.now().toString(36)}`);
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(url)));
    try {
      await stores[0].upsertRun({
        sweep: 's',
        runId: 'r',
        axes: {},
        state: 'pending',
        attempts: 0,
        gpus: 1,
        gpuSeconds: 0,
        updatedAt: new Date().toISOString(),
      });
      expect(await stores[5].listRuns('s')).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    // Reopening an up-to-date database is a no-op.
    await (await PostgresStore.open(url)).close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const m = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM sweep_schema_migrations');
      expect(m.rows[0].n).toBe(1);
    } finally {
      await c.end();
    }
  });

  it('stores JSON columns as jsonb', async () => {
    await (await PostgresStore.open(serverUrl())).close();
    const c = new pg.Client({ connectionString: serverUrl() });
    await c.connect();
    try {
      const { rows } = await c.query<{ col: string; data_type: string }>(
        `SELECT table_name || '.' || column_name AS col, data_type FROM information_schema.columns
          WHERE table_schema = current_schema()
            AND column_name IN ('spec', 'axes', 'result', 'metrics', 'fit')`,
      );
      expect(rows.length).toBeGreaterThanOrEqual(6);
      for (const r of rows) expect(r, r.col).toMatchObject({ data_type: 'jsonb' });
    } finally {
      await c.end();
    }
  });

  it('open fails clearly on an unreachable server', async () => {
    await expect(PostgresStore.open('postgres://nobody@127.0.0.1:1/none')).rejects.toThrow();
  });
});
