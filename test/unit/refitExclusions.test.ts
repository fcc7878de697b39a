/**
 * refitSweep (issue 8 item 4): a point one fit cannot use is left out of that fit and counted;
 * a fit that cannot run comes back as an error entry with the reason, never silently dropped.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refitSweep } from '../../activities/refit';
import { SweepSpecSchema, type SweepSpec, type SweepSpecInput } from '../../spec';
import { SqliteStore } from '../../store/sqlite';

/** Misalignment 1 - score = E + A (C / 1e13)^-alpha: a known law the fit must recover. */
const LAW = { E: 0.3, A: 0.5, alpha: 0.3 };
const scoreAt = (flops: number) => 1 - (LAW.E + LAW.A * (flops / 1e13) ** -LAW.alpha);

const fit = (name: string, metrics: string[], extra: Record<string, unknown> = {}) => ({
  name,
  form: 'power_law' as const,
  x: 'total_flops',
  y: { metrics },
  bootstrap: 0,
  ...extra,
});

const spec = (fits: SweepSpecInput['fits']): SweepSpec =>
  SweepSpecSchema.parse({
    name: 'refit-unit',
    grid: { arch: ['resnet18'], seed: [0] },
    job: { image: 'trainer:latest', command: ['true'] },
    executor: { kind: 'local' },
    fits,
  });

let store: SqliteStore;
let n = 0;
beforeEach(() => {
  store = new SqliteStore(':memory:');
  n = 0;
});
afterEach(() => store.close());

/** Records one run's result with the given metrics and compute. */
async function run(metrics: Record<string, number>, totalFlops: number | undefined) {
  const runId = `run-${String(n++).padStart(3, '0')}`;
  await store.recordResult({
    sweep: 'refit-unit',
    runId,
    attempt: 1,
    axes: { arch: 'resnet18', seed: n },
    result: { metrics, n_params: 11689512, n_samples_seen: 1e6, ...(totalFlops === undefined ? {} : { total_flops: totalFlops }) },
    gpuSeconds: 1,
    recordedAt: '2025-01-01T00:00:00Z',
  });
}
const FLOPS = [1e14, 3e14, 1e15, 3e15, 1e16, 3e16, 1e17, 1e18];
const validRuns = async (k = FLOPS.length) => {
  for (const c of FLOPS.slice(0, k)) await run({ V1: scoreAt(c), IT: scoreAt(c) }, c);
};

describe('refitSweep: points a fit cannot use', () => {
  it('leaves out a 7.5 score (1 - score <= 0 with y.invert) and fits the valid points', async () => {
    await validRuns();
    await run({ V1: 7.5, IT: scoreAt(2e15) }, 2e15);
    const [s] = await refitSweep(store, spec([fit('neuro', ['V1'])]), 'point');
    expect(s.error).toBeUndefined();
    expect(s).toMatchObject({ name: 'neuro', form: 'power_law', stage: 'point', nPoints: 8, nExcluded: 1, version: 1 });
    expect(s.final).toBeUndefined();
    expect(s.params.alpha).toBeCloseTo(LAW.alpha, 3);
    expect(s.params.E).toBeCloseTo(LAW.E, 3);
    // The stored fit says what it left out, for the report.
    const [stored] = await store.latestFits('refit-unit');
    expect(stored.fit).toMatchObject({ n_points: 8, n_excluded: 1, excluded: { '1 - score <= 0': 1 } });
  });

  it('a bad point of one region never stops the fit of another region', async () => {
    await validRuns();
    await run({ V1: 7.5, IT: scoreAt(2e15) }, 2e15);
    const fits = await refitSweep(store, spec([fit('v1', ['V1']), fit('it', ['IT'])]), 'point');
    expect(fits.map((f) => [f.name, f.nPoints, f.nExcluded, f.error])).toEqual([
      ['v1', 8, 1, undefined],
      ['it', 9, 0, undefined],
    ]);
  });

  it('leaves out a data point without compute (missing x) and counts it', async () => {
    await validRuns();
    await run({ V1: 0.4, IT: 0.4 }, undefined);
    const [s] = await refitSweep(store, spec([fit('neuro', ['V1'])]), 'point');
    expect(s).toMatchObject({ nPoints: 8, nExcluded: 1 });
    expect(s.error).toBeUndefined();
  });

  it('a fit with too few usable points is an error entry with the reason, and nothing is stored', async () => {
    await validRuns(3);
    await run({ V1: 7.5, IT: 0.4 }, 2e15);
    await run({ V1: 1, IT: 0.4 }, 4e15);
    const fits = await refitSweep(store, spec([fit('neuro', ['V1'])]), 'point');
    expect(fits).toEqual([
      {
        name: 'neuro',
        form: 'power_law',
        nPoints: 3,
        stage: 'point',
        params: {},
        version: 0,
        nExcluded: 2,
        error: 'only 3 usable points (need 4); 2 left out: 1 - score <= 0 (2)',
      },
    ]);
    expect(await store.latestFits('refit-unit')).toEqual([]);
  });

  it('a store of only unusable points gives the reason, by kind', async () => {
    await run({ V1: 7.5 }, 1e15);
    await run({ V1: 2 }, 1e16);
    await run({ V1: 0.5 }, undefined);
    const [s] = await refitSweep(store, spec([fit('neuro', ['V1'])]), 'final');
    expect(s.error).toBe('only 0 usable points (need 4); 3 left out: missing total_flops (1), 1 - score <= 0 (2)');
    expect(s).toMatchObject({ nPoints: 0, nExcluded: 3, params: {}, version: 0 });
    expect(s.final).toBeUndefined();
  });

  it('a sweep without results yet says so for every fit', async () => {
    const fits = await refitSweep(store, spec([fit('a', ['V1']), fit('b', ['IT'])]), 'point');
    expect(fits.map((f) => [f.name, f.error, f.version])).toEqual([
      ['a', 'no results yet', 0],
      ['b', 'no results yet', 0],
    ]);
  });

  it('the final refit marks the fits it made final (with its bootstrap), and the error entries not', async () => {
    await validRuns();
    await run({ V1: 7.5, IT: scoreAt(2e15) }, 2e15);
    const fits = await refitSweep(store, spec([fit('v1', ['V1'], { bootstrap: 20 }), fit('missing', ['V9'])]), 'final');
    expect(fits[0]).toMatchObject({ name: 'v1', stage: 'bootstrap', final: true, nPoints: 8, nExcluded: 1, version: 1 });
    expect(fits[0].intervals?.alpha?.[0]).toBeLessThanOrEqual(LAW.alpha + 1e-6);
    expect(fits[1]).toMatchObject({ name: 'missing', params: {}, version: 0, nPoints: 0 });
    expect(fits[1].error).toMatch(/^fit "missing": the selection is empty/);
    expect(fits[1].final).toBeUndefined();
  });
});

describe('dataPointsToPaperRows: only the metrics the fits read', () => {
  it('keeps the wanted metrics, with the benchmark ids of the full export', async () => {
    const { dataPointsToPaperRows } = await import('../../store/export');
    const p = { sweep: 's', runId: 'r', axes: { arch: 'resnet18' }, metrics: { V1: 0.2, IT: 0.4, zz: 0.1, aa: 0.3, acc: 0.7 }, total_flops: 1e15 };
    const full = dataPointsToPaperRows([p]).map((r) => [r.region, r.benchmark_id]);
    expect(full).toEqual([
      ['V1', 0],
      ['IT', 3],
      ['zz', 6],
      ['aa', 5],
    ]);
    const some = dataPointsToPaperRows([p], { metrics: new Set(['IT', 'zz']) });
    expect(some.map((r) => [r.region, r.benchmark_id, r.acc])).toEqual([
      ['IT', 3, 0.7],
      ['zz', 6, 0.7],
    ]);
  });
});
