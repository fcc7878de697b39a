import { describe, expect, it } from 'vitest';
import { targetCiWidth } from '../../activities/propose';
import type { FitResult } from '../../scaling/types';
import type { SweepSpec } from '../../spec';

type Strategy = NonNullable<SweepSpec['strategy']>;
const strategy = (over: Partial<Strategy>): Strategy => ({ kind: 'adaptive', target: 'f', objective: 'exponent', parameter: 'alpha', budget: { gpuHours: 1 }, ...over });
const pct = (lo: number, hi: number) => ({ 'p2.5': lo, p50: (lo + hi) / 2, 'p97.5': hi });

// A hand-made fit: the recipe's a has its own bootstrap; "a" among the law's percentiles is log A.
const chin = {
  name: 'f',
  form: 'chinchilla',
  x: ['n_params', 'n_samples_seen'],
  scalers: [1, 1],
  y: { metrics: ['IT'], invert: true },
  n_points: 10,
  loss: 0,
  lse_params: {},
  params: {},
  bootstrap: { n: 3, seed: 1, percentiles: { a: pct(3, 9), alpha: pct(0.2, 0.5), beta: pct(0.1, 0.4) } },
  recipe: { a: 0.3, b: 0.7, G: 1, m: 1, n: 1, a_over_n: 0.3, b_over_n: 0.7, bootstrap: { n: 3, percentiles: { a: pct(0.25, 0.35) } } },
} as unknown as FitResult;

// A power law whose resamples predict y = 1, 2, 3 at any x (alpha 0, a = log 1, log 2, log 3, e negligible).
const pl = {
  ...chin,
  form: 'power_law',
  x: ['total_flops'],
  scalers: [1e13],
  bootstrap: { n: 3, seed: 1, percentiles: { alpha: pct(0.1, 0.16) }, lse_samples: [1, 2, 3].map((y) => [-100, Math.log(y), 0]) },
  recipe: undefined,
} as unknown as FitResult;

describe('the width stopWhen.ciWidth bounds', () => {
  it("is the recipe's a interval for objective recipe (not log A's)", () => {
    expect(targetCiWidth(chin, strategy({ objective: 'recipe' }))).toBeCloseTo(0.1, 12);
  });
  it("is the named exponent's interval for objective exponent", () => {
    expect(targetCiWidth(chin, strategy({ parameter: 'beta' }))).toBeCloseTo(0.3, 12);
    expect(targetCiWidth(pl, strategy({}))).toBeCloseTo(0.06, 12);
  });
  it('is the interval of the predicted y at `at` for objective prediction', () => {
    // Percentiles of 1, 2, 3 interpolated linearly: 1.05 and 2.95.
    expect(targetCiWidth(pl, strategy({ objective: 'prediction', at: [1e20] }))).toBeCloseTo(1.9, 9);
    expect(targetCiWidth(pl, strategy({ objective: 'prediction', at: [1e20, 1] }))).toBeUndefined();
  });
  it('is undefined without a bootstrap', () => {
    expect(targetCiWidth({ ...chin, recipe: { ...chin.recipe!, bootstrap: undefined } }, strategy({ objective: 'recipe' }))).toBeUndefined();
    expect(targetCiWidth(undefined, strategy({}))).toBeUndefined();
  });
});
