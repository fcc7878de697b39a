import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitDataset, fitPoint, fitResample, gridStarts, prepareFit, resampleStarts, type FitResult } from '../../scaling';
import { FitPool, fitDatasetParallel } from '../../fitting';
import { paperCsv, paperSpec, rel, requirePaperData } from './helpers';

const REL_TOL = 1e-9;

describe('reduced starts give the exhaustive answer on the paper data', () => {
  let pool: FitPool;
  beforeAll(() => {
    requirePaperData();
    pool = new FitPool(2);
  });
  afterAll(async () => {
    await pool.close();
  });

  it('compute_chinchilla: original fit (4,500 starts vs a warm restart from its minima) and 2 resamples (all starts vs minima)', async () => {
    const csv = paperCsv();
    const spec = paperSpec('compute_chinchilla');
    const exhaustive = await fitDatasetParallel(csv.rows, spec, { columns: csv.columns, pool, bootstrap: 0, keepPoints: false });
    expect(exhaustive.search?.starts).toBe(4500);
    const warm = fitDataset(csv.rows, spec, { columns: csv.columns, bootstrap: 0, warmStart: exhaustive });
    expect(warm.search?.mode).toBe('warm');
    expect(rel(warm.loss, exhaustive.loss)).toBeLessThanOrEqual(REL_TOL);

    const prep = prepareFit(csv.rows, spec, { columns: csv.columns });
    const basins = exhaustive.search?.basins ?? [];
    const grid = gridStarts('chinchilla', prep.cfg.init);
    const ids = [0, 1];
    const full = await Promise.all(
      ids.map((b) => pool.run({ kind: 'resamples', data: prep.data, seed: prep.seed, from: b, to: b + 1, starts: grid, search: prep.search })),
    );
    ids.forEach((b, k) => {
      const reduced = fitResample(prep.data, prep.seed, b, basins, prep.search);
      const ref = full[k].kind === 'resamples' ? full[k].fits[0].f : NaN;
      expect(rel(reduced.f, ref), `resample ${b}`).toBeLessThanOrEqual(REL_TOL);
    });
  }, 90_000);

  it('compute_neuro: 10 resamples, minima vs all 150 starts', () => {
    const csv = paperCsv();
    const prep = prepareFit(csv.rows, paperSpec('compute_neuro'), { columns: csv.columns });
    const point = fitPoint(prep);
    const starts = resampleStarts(prep, point);
    expect(starts.length).toBeLessThan(150);
    const grid = gridStarts('power_law', prep.cfg.init);
    for (let b = 0; b < 10; b++) {
      const reduced = fitResample(prep.data, prep.seed, b, starts, prep.search);
      const full = fitResample(prep.data, prep.seed, b, grid, prep.search);
      expect(rel(reduced.f, full.f), `resample ${b}`).toBeLessThanOrEqual(REL_TOL);
    }
  });

  it('L-BFGS reaches the BFGS answer (region_v1_group1)', () => {
    const csv = paperCsv();
    const spec = paperSpec('region_v1_group1');
    const bfgs = fitDataset(csv.rows, spec, { columns: csv.columns, bootstrap: 0 });
    const lbfgs = fitDataset(csv.rows, { ...spec, optimizer: { ...spec.optimizer, method: 'lbfgs' } }, { columns: csv.columns, bootstrap: 0 });
    expect(rel(lbfgs.loss, bfgs.loss)).toBeLessThanOrEqual(REL_TOL);
  });

  it('verify: resamples refitted from the whole grid are reported (model_resnet_neuro)', () => {
    const csv = paperCsv();
    const fit = fitDataset(csv.rows, paperSpec('model_resnet_neuro'), { columns: csv.columns, bootstrap: 30, verify: 6 });
    expect(fit.bootstrap?.verified).toMatchObject({ n: 6, agree: 6 });
    expect(fit.bootstrap?.verified?.worst_rel).toBeLessThanOrEqual(REL_TOL);
    expect(fit.warnings).toBeUndefined();
  });

  it('same seed -> identical output, in-process and on the pool; another seed differs', async () => {
    const csv = paperCsv();
    const spec = paperSpec('compute_behavior');
    const opts = { columns: csv.columns, bootstrap: 40 };
    const a = fitDataset(csv.rows, spec, opts);
    const b = fitDataset(csv.rows, spec, opts);
    const c: FitResult = await fitDatasetParallel(csv.rows, spec, { ...opts, pool });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).toBe(JSON.stringify(a));
    const d = fitDataset(csv.rows, spec, { ...opts, seed: 7 });
    expect(JSON.stringify(d.bootstrap?.percentiles)).not.toBe(JSON.stringify(a.bootstrap?.percentiles));
  }, 60_000);
});
