/**
 * Population weights (scaling/population.ts) and a population-weighted fit (FitOptions.population,
 * what a live adaptive study's refits use): the weights by hand on a small pool, and the weighted
 * fit of a clustered design nearer the pool's law than the plain fit, through the fit engine itself.
 */
import { describe, expect, it } from 'vitest';
import { fitDataset, synthesizeRows, type FitConfig } from '../../scaling';
import type { LongRow } from '../../scaling/select';
import { MAX_POPULATION_PAIRS, populationWeightCap, populationWeightsOf } from '../../scaling/population';

describe('populationWeightsOf', () => {
  it('gives each observed point the pool share nearest it in normalised log x (ties to the earliest)', () => {
    // log10 x = 0..4, normalised 0, .25, .5, .75, 1; observed at both ends: the middle tie goes to the first.
    const pool = [[1], [10], [100], [1000], [10000]];
    const w = populationWeightsOf(pool, [[1], [10000]]);
    expect(w[0]).toBeCloseTo((3 * 2) / 5, 12);
    expect(w[1]).toBeCloseTo((2 * 2) / 5, 12);
    // Observing the whole pool: every point stands for itself.
    expect(Array.from(populationWeightsOf(pool, pool))).toEqual([1, 1, 1, 1, 1]);
  });

  it('trims at the cap it is given and keeps a floor for duplicates', () => {
    const pool = Array.from({ length: 100 }, (_, i) => [10 ** (i / 10)]);
    const w = populationWeightsOf(pool, [[1], [1], [10 ** 9.9]]);
    // The dearest stands for 50 of 100 -> 1.5; the duplicate of the first gets the floor.
    expect(w[0]).toBeCloseTo((50 * 3) / 100, 12);
    expect(w[1]).toBe(1e-3);
    expect(w[2]).toBeCloseTo((50 * 3) / 100, 12);
    // Nine cheapest (log x 0..0.8) and the dearest (9.9): it stands for the 46 from 5.4 up -> 4.6 untrimmed, 4 with cap 4.
    const design = [...pool.slice(0, 9), [10 ** 9.9]];
    expect(populationWeightsOf(pool, design)[9]).toBeCloseTo((46 * 10) / 100, 12);
    expect(populationWeightsOf(pool, design, 4)[9]).toBe(4);
  });

  it('the default trim: none for one x, 4x the mean for two (chinchilla)', () => {
    expect(populationWeightCap(1)).toBe(Infinity);
    expect(populationWeightCap(2)).toBe(4);
    const pool = Array.from({ length: 100 }, (_, i) => [10 ** (i / 10), 10 ** (i / 20)]);
    expect(populationWeightsOf(pool, [...pool.slice(0, 9), pool[99]])[9]).toBe(4);
  });

  it(`a pool too large for ${MAX_POPULATION_PAIRS} distances is thinned to every k-th member, not walked whole`, () => {
    // 2,000,000 cells x 100 points = 2e8 pairs: every 4th cell.
    const pool = Array.from({ length: 2_000_000 }, (_, i) => [1 + (i % 1000)]);
    const observed = Array.from({ length: 100 }, (_, j) => [1 + 10 * j]);
    const t0 = performance.now();
    const w = populationWeightsOf(pool, observed);
    expect(performance.now() - t0).toBeLessThan(10_000);
    const thinned = pool.filter((_, i) => i % 4 === 0);
    expect(Array.from(w)).toEqual(Array.from(populationWeightsOf(thinned, observed)));
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 6);
  });

  it('works in two dimensions (chinchilla N x D)', () => {
    const pool = [
      [1, 1],
      [1, 100],
      [100, 1],
      [100, 100],
    ];
    expect(Array.from(populationWeightsOf(pool, [[1, 1], [100, 100]]))).toEqual([(3 * 2) / 4, (1 * 2) / 4]);
  });
});

const flops = (r: LongRow) => Number(r.total_flops);

describe('a population-weighted fit (FitOptions.population)', () => {
  // The data bend (a shifted power law) and are fitted as a plain power law: the exponent depends on where the points sit.
  const rows = synthesizeRows({ form: 'power_law_shift', lse: [-1.2, 0.6, 0.5, 0.35], n: 120, seed: 11, noise: 0.01 }).sort((a, b) => flops(a) - flops(b));
  const config: FitConfig = { name: 'bent', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, bootstrap: 0, seed: 1 };
  // What an adaptive design looks like: thirty of the cheapest third, and six spread over the rest.
  const subset = [...rows.slice(0, 30), ...[50, 65, 80, 95, 108, 119].map((k) => rows[k])];
  const pool = rows.map((r) => [flops(r)]);

  it('is nearer the fit of the whole pool than the plain fit of the design', () => {
    const whole = fitDataset(rows, config).params.alpha;
    const plain = fitDataset(subset, config);
    const weighted = fitDataset(subset, config, { population: pool });
    expect(plain.weighting).toBeUndefined();
    expect(weighted.weighting).toEqual({ kind: 'population', pool: 120 });
    expect(Math.abs(plain.params.alpha - whole)).toBeGreaterThan(0.01);
    expect(Math.abs(weighted.params.alpha - whole)).toBeLessThan(0.5 * Math.abs(plain.params.alpha - whole));
  });

  it('weighted against itself is the plain fit; its bootstrap resamples the weighted law', () => {
    const plain = fitDataset(subset, config);
    const self = fitDataset(subset, config, { population: subset.map((r) => [flops(r)]) });
    expect(self.loss).toBeCloseTo(plain.loss, 10);
    expect(self.params.alpha).toBeCloseTo(plain.params.alpha, 6);
    const weighted = fitDataset(subset, config, { population: pool, bootstrap: 40 });
    const median = weighted.bootstrap!.percentiles.alpha.p50;
    expect(Math.abs(median - weighted.params.alpha)).toBeLessThan(Math.abs(median - plain.params.alpha));
  });
});
