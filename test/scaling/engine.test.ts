import { describe, expect, it } from 'vitest';
import {
  HuberLseObjective,
  LSE_PARAM_NAMES,
  computeFlopsFit,
  computeRecipe,
  fitDataset,
  minimizeBfgs,
  minimizeLbfgs,
  mulberry32,
  percentile,
  predict,
  resampleCounts,
  synthesizeRows,
  type FitData,
  type FitResult,
  type FormName,
  type Objective,
} from '../../scaling';
import { FitSpecSchema } from '../../spec/fitSpec';

function dataFor(form: FormName, n: number, seed: number): FitData {
  const rng = mulberry32(seed);
  const x1 = Float64Array.from({ length: n }, () => 10 ** (4 * rng()));
  const x2 = Float64Array.from({ length: n }, () => 10 ** (5 * rng()));
  // Residuals of both Huber regimes: most points far from the curve, some within delta.
  const y = Float64Array.from({ length: n }, () => 0.2 + 0.7 * rng());
  return { form, x1, x2: form === 'chinchilla' ? x2 : undefined, y, delta: 0.05 };
}

describe('analytic gradients match finite differences', () => {
  const thetas: Record<FormName, number[][]> = {
    power_law: [[-0.7, 0.3, 0.4], [0.5, 3, 1.2], [-2, -1, 0.05]],
    power_law_shift: [[-0.7, 0.3, 0.5, 0.4], [0.2, 2, -0.5, 0.9], [-1.5, 1, 1.5, 0.2]],
    chinchilla: [[-0.7, -1.7, 0.58, -0.7, 0.22], [0.3, 2, 0.9, 1.5, 0.4], [-1, 0.5, 0.1, -0.2, 1.1]],
  };
  for (const form of ['power_law', 'power_law_shift', 'chinchilla'] as FormName[]) {
    it(form, () => {
      const data = dataFor(form, 80, 3);
      for (const counts of [undefined, resampleCounts(80, 1, 0)]) {
        const obj = new HuberLseObjective(data, counts);
        for (const theta of thetas[form]) {
          const g = new Float64Array(obj.dim);
          obj.evaluate(theta, g);
          const scratch = new Float64Array(obj.dim);
          theta.forEach((_, i) => {
            const h = 1e-6 * Math.max(1, Math.abs(theta[i]));
            const up = theta.slice();
            const down = theta.slice();
            up[i] += h;
            down[i] -= h;
            const fd = (obj.evaluate(up, scratch) - obj.evaluate(down, scratch)) / (2 * h);
            expect(Math.abs(fd - g[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(g[i])));
          });
        }
      }
    });
  }
});

describe('minimisers', () => {
  const rosenbrock: Objective = {
    dim: 2,
    evaluate(x, g) {
      const [a, b] = [x[0], x[1]];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    },
  };
  it('BFGS and L-BFGS reach the Rosenbrock minimum', () => {
    for (const run of [minimizeBfgs, minimizeLbfgs]) {
      const r = run(rosenbrock, [-1.2, 1], { gtol: 1e-9 });
      expect(r.x[0]).toBeCloseTo(1, 6);
      expect(r.x[1]).toBeCloseTo(1, 6);
      expect(r.evaluations).toBeLessThan(200);
    }
  });
  it('survive overflowing starts (non-finite trial points)', () => {
    const obj = new HuberLseObjective(dataFor('chinchilla', 50, 9));
    const r = minimizeBfgs(obj, [1, 25, 0, 25, 0]);
    expect(Number.isFinite(r.f)).toBe(true);
  });
});

describe('recovery of known parameters from noisy data', () => {
  const cases: { form: FormName; lse: number[]; x: string | string[]; init?: Record<string, number[]> }[] = [
    { form: 'power_law', lse: [-0.7, 0.5, 0.25], x: 'total_flops' },
    { form: 'power_law_shift', lse: [-0.8, 0.6, 0.5, 0.3], x: 'total_flops', init: { lambda: [0, 1] } },
    {
      form: 'chinchilla',
      lse: [-0.9, 0.8, 0.35, 0.6, 0.25],
      x: ['n_params', 'n_samples_seen'],
      init: { e: [-1, 0], a: [0, 5], alpha: [0.5, 1], b: [0, 5], beta: [0.5, 1] },
    },
  ];
  for (const c of cases) {
    it(c.form, () => {
      const rows = synthesizeRows({ form: c.form, lse: c.lse, n: 400, seed: 11, noise: 0.005 });
      const spec = FitSpecSchema.parse({ name: 'rec', form: c.form, x: c.x, y: { metrics: ['IT'] }, init: c.init, bootstrap: 0, loss: { delta: 1e-3 } });
      const fit = fitDataset(rows, spec);
      LSE_PARAM_NAMES[c.form].forEach((name, i) => {
        // E, A, B within a few percent; exponents and lambda within 0.05.
        const got = fit.lse_params[name];
        expect(Math.abs(got - c.lse[i]), `${name}: got ${got}, want ${c.lse[i]}`).toBeLessThan(0.05);
      });
    });
  }
});

describe('bootstrap, recipe, prediction', () => {
  it('percentiles interpolate like numpy', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([0, 10], 2.5)).toBeCloseTo(0.25, 12);
  });
  it('resamples draw n of n with replacement, reproducibly', () => {
    const c = resampleCounts(1000, 5, 3);
    expect(c.reduce((s, v) => s + v, 0)).toBe(1000);
    expect(Array.from(c)).toEqual(Array.from(resampleCounts(1000, 5, 3)));
    expect(Array.from(c)).not.toEqual(Array.from(resampleCounts(1000, 5, 4)));
  });
  it('recipe: a, b, G and C = m (N D)^n', () => {
    const N = [1e6, 1e7, 1e8];
    const D = [1e8, 1e9, 3e9];
    const C = N.map((v, i) => 6 * v * D[i]);
    const flops = computeFlopsFit(N, D, C);
    expect(flops.n).toBeCloseTo(1, 12);
    expect(flops.m).toBeCloseTo(6, 9);
    const r = computeRecipe({ E: 0.5, A: 2, alpha: 0.3, B: 3, beta: 0.1 }, flops);
    expect(r.a).toBeCloseTo(0.25, 12);
    expect(r.b).toBeCloseTo(0.75, 12);
    expect(r.G).toBeCloseTo(((0.3 * 2) / (0.1 * 3)) ** (1 / 0.4), 9);
    expect(r.a_over_n).toBeCloseTo(0.25, 9);
  });
  it('predictions carry a band that contains the point prediction', () => {
    const rows = synthesizeRows({ form: 'power_law', lse: [-0.7, 0.5, 0.25], n: 200, seed: 2, noise: 0.02 });
    const spec = FitSpecSchema.parse({ name: 'band', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, bootstrap: 60, seed: 1 });
    const fit = fitDataset(rows, spec);
    expect(fit.bootstrap?.lse_samples?.length).toBe(60);
    for (const p of predict(fit, [[1e14], [1e17], [1e20]])) {
      expect(p.lo).toBeLessThanOrEqual(p.score + 1e-9);
      expect(p.hi).toBeGreaterThanOrEqual(p.score - 1e-9);
      expect(p.score).toBeCloseTo(1 - p.y, 12);
    }
  });
});

describe('compute-optimal frontier', () => {
  it('each frontier point minimises the predicted y along its iso-compute line', async () => {
    const { computeOptimalFrontier, predictY } = await import('../../scaling');
    const lse = [-0.9, 0.8, 0.35, 0.6, 0.25];
    const rows = synthesizeRows({ form: 'chinchilla', lse, n: 300, seed: 4, noise: 0.005 });
    const spec = FitSpecSchema.parse({
      name: 'frontier',
      form: 'chinchilla',
      x: ['n_params', 'n_samples_seen'],
      y: { metrics: ['IT'] },
      init: { e: [-1], a: [0, 1], alpha: [0.5], b: [0, 1], beta: [0.5] },
      bootstrap: 0,
    });
    const fit = fitDataset(rows, spec);
    const r = fit.recipe;
    expect(r).toBeDefined();
    const fitLse = LSE_PARAM_NAMES.chinchilla.map((k) => fit.lse_params[k]);
    for (const p of computeOptimalFrontier(fit, [1e15, 1e18, 1e21])) {
      const product = p.N * p.D;
      for (const f of [0.5, 2]) {
        expect(predictY(fit, fitLse, [p.N * f, product / (p.N * f)])).toBeGreaterThan(p.y);
      }
    }
  });
});

describe('warm-started refits (live refit)', () => {
  const spec = FitSpecSchema.parse({ name: 'live', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, bootstrap: 0 });
  const rows = synthesizeRows({ form: 'power_law', lse: [-0.7, 0.5, 0.25], n: 500, seed: 8, noise: 0.02 });
  it('restart from the previous fit and its minima, reaching the grid answer', () => {
    const previous = fitDataset(rows.slice(0, 400), spec);
    const warm = fitDataset(rows, spec, { warmStart: previous });
    const grid = fitDataset(rows, spec);
    expect(warm.search?.mode).toBe('warm');
    expect(warm.search?.starts).toBeLessThan(20);
    expect(Math.abs(warm.loss - grid.loss) / grid.loss).toBeLessThanOrEqual(1e-9);
  });
  it('fall back to the grid, with a warning, when the warm start does not fit the form', () => {
    const chinchillaFit = { name: 'old', form: 'chinchilla', lse_params: { e: 0, a: 1, alpha: 0.5, b: 1, beta: 0.2 } } as unknown as FitResult;
    const fit = fitDataset(rows, spec, { warmStart: chinchillaFit });
    expect(fit.search?.mode).toBe('exhaustive');
    const other = fitDataset(rows, spec, { warmStart: { x: 1 } });
    expect(other.search?.starts).toBe(150);
    expect(other.warnings?.join()).toMatch(/warm start does not match/);
  });
});
