/**
 * ResultsStore.fitHistory on both backends (a real Postgres, never a mock): one fit's versions of
 * one stage, oldest first; with `max`, exactly `max` of them evenly spaced, the first and the
 * newest included; other fits, stages and sweeps never leak in; a bad `max` is refused by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../store/postgres';
import { SqliteStore } from '../../store/sqlite';
import type { ResultsStore } from '../../store/types';
import { startTestPg, type TestPg } from './pgServer';

let server: TestPg | undefined;
beforeAll(async () => {
  server = await startTestPg();
}, 90_000);
afterAll(async () => {
  await server?.stop();
});

/** 23 bootstrap versions of fit "a" interleaved with point versions of it, and another fit and sweep. */
async function fill(store: ResultsStore): Promise<number[]> {
  const boot: number[] = [];
  for (let k = 0; k < 23; k++) {
    await store.saveFit({ sweep: 's', name: 'a', nResults: k, stage: 'point', fit: { k, stage: 'point' } });
    boot.push(await store.saveFit({ sweep: 's', name: 'a', nResults: k, stage: 'bootstrap', fit: { k } }));
    await store.saveFit({ sweep: 's', name: 'b', nResults: k, stage: 'bootstrap', fit: { other: k } });
    await store.saveFit({ sweep: 't', name: 'a', nResults: k, stage: 'bootstrap', fit: { other: k } });
  }
  return boot;
}

const backends: Array<[string, () => Promise<ResultsStore>]> = [
  ['sqlite', async () => new SqliteStore(':memory:')],
  ['postgres', async () => PostgresStore.open(await server!.createDatabase(`sweep_hist_${Date.now().toString(36)}`))],
];

describe.each(backends)('fitHistory (%s)', (_name, open) => {
  it('lists one fit and stage oldest first, and evenly spaced at most max with the first and newest', async () => {
    const store = await open();
    try {
      const boot = await fill(store);
      const all = await store.fitHistory('s', 'a', { stage: 'bootstrap' });
      expect(all.map((r) => r.version)).toEqual(boot);
      expect(all.map((r) => (r.fit as { k: number }).k)).toEqual(Array.from({ length: 23 }, (_, k) => k));
      expect(all.every((r) => r.sweep === 's' && r.name === 'a' && r.stage === 'bootstrap')).toBe(true);
      expect(all[5]).toMatchObject({ nResults: 5 });
      expect(typeof all[0].createdAt).toBe('string');

      for (const max of [2, 5, 7, 22]) {
        const some = await store.fitHistory('s', 'a', { stage: 'bootstrap', max });
        const ks = some.map((r) => (r.fit as { k: number }).k);
        expect(ks).toHaveLength(max);
        expect(ks[0]).toBe(0);
        expect(ks[max - 1]).toBe(22);
        // Evenly spaced: k_j = ceil(j * 22 / (max - 1)), the first row of each step.
        expect(ks).toEqual(Array.from({ length: max }, (_, j) => Math.ceil((j * 22) / (max - 1))));
      }
      expect((await store.fitHistory('s', 'a', { stage: 'bootstrap', max: 23 })).length).toBe(23);
      expect((await store.fitHistory('s', 'a', { stage: 'bootstrap', max: 1000 })).length).toBe(23);
      expect((await store.fitHistory('s', 'a', { stage: 'point', max: 3 })).map((r) => (r.fit as { k: number }).k)).toEqual([0, 11, 22]);
      expect(await store.fitHistory('s', 'nope', { stage: 'bootstrap' })).toEqual([]);
      await expect(store.fitHistory('s', 'a', { stage: 'bootstrap', max: 1 })).rejects.toThrow(/max must be a whole number >= 2/);
      await expect(store.fitHistory('s', 'a', { stage: 'bootstrap', max: 2.5 })).rejects.toThrow(/max/);
    } finally {
      await store.close();
    }
  }, 60_000);
});
