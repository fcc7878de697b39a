import { describe, expect, it } from 'vitest';
import {
  fitDataset,
  FitInputError,
  fitSubset,
  medianCurve,
  prepareFit,
  replayProblem,
  replayStudy,
  replayTarget,
  runStrategy,
  strategyOrder,
  summarize,
  synthesizeRows,
  type FitConfig,
  type StrategyRun,
} from '../../scaling';
import { populationWeights, targetsOf, validationProblem } from '../../scaling/replay';
import { populationWeightCap } from '../../scaling/population';

// A known law: y = exp(-0.7) + exp(0.4) (C / 1e13)^-0.3, 1% noise, 60 models.
const TRUE_ALPHA = 0.3;
const rows = synthesizeRows({ form: 'power_law', lse: [-0.7, 0.4, TRUE_ALPHA], n: 60, seed: 7, noise: 0.01 });
const config: FitConfig = { name: 'synthetic', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, bootstrap: 40, seed: 1 };
const prep = prepareFit(rows, config);

describe('replay: the pool', () => {
  it('holds out the most expensive fraction as the target region', () => {
    const p = replayProblem(prep, { holdoutTop: 0.1 });
    expect(p.holdout).toHaveLength(6);
    expect(p.candidates).toHaveLength(54);
    const minHeld = Math.min(...p.holdout.map((i) => p.points[i].cost));
    const maxCand = Math.max(...p.candidates.map((i) => p.points[i].cost));
    expect(minHeld).toBeGreaterThan(maxCand);
    // The cost is the model's total_flops.
    expect(p.points[0].cost).toBe(rows.find((r) => r.model_id === 'synthetic_0')?.total_flops);
  });

  it('a validation problem: the candidates\' own most expensive 10% become the target region, the real one is dropped', () => {
    const p = replayProblem(prep, { holdoutTop: 0.1 });
    const v = validationProblem(p);
    // 54 candidates: round(5.4) = 5 held out for validation, 49 left; the real 6 are in neither.
    expect(v.holdout).toHaveLength(5);
    expect(v.candidates).toHaveLength(49);
    for (const i of p.holdout) {
      expect(v.candidates).not.toContain(i);
      expect(v.holdout).not.toContain(i);
    }
    expect(Math.min(...v.holdout.map((i) => p.points[i].cost))).toBeGreaterThan(Math.max(...v.candidates.map((i) => p.points[i].cost)));
    expect(v.candidateCompute).toBeCloseTo(v.candidates.reduce((s, i) => s + p.points[i].cost, 0), 0);
  });

  it('refits search the coarse grid again only when the points grew 1.5x', () => {
    const p = replayProblem(prep, { holdoutTop: 0.1 });
    const idx = p.candidates;
    const f10 = fitSubset(p, idx.slice(0, 10));
    expect(f10.searchedAt).toBe(10);
    expect(fitSubset(p, idx.slice(0, 14), f10).searchedAt).toBe(10);
    expect(fitSubset(p, idx.slice(0, 15), f10).searchedAt).toBe(15);
  });

  it('refuses a pool without its cost column, naming it', () => {
    const noCost = rows.map((r) => ({ ...r, total_flops: undefined, n_params: r.n_params }));
    const p2 = prepareFit(noCost, { ...config, x: 'n_params', scalers: { n_params: 1e5 } });
    expect(() => replayProblem(p2, { holdoutTop: 0.1 })).toThrow(/cost column "total_flops" is missing or not positive/);
  });

  it('orders the baselines as their names say', () => {
    const p = replayProblem(prep, { holdoutTop: 0.1 });
    const asc = strategyOrder(p, 'compute-ascending', 0).map((i) => p.points[i].cost);
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    const r0 = strategyOrder(p, 'random', 0);
    expect([...r0].sort((a, b) => a - b)).toEqual(p.candidates);
    expect(strategyOrder(p, 'random', 1)).not.toEqual(r0);
    expect(strategyOrder(p, 'random', 0)).toEqual(r0);
    expect(strategyOrder(p, 'grid', 0)).toEqual(p.candidates);
    // Coarse to fine: the two ends of the x range first.
    const c2f = strategyOrder(p, 'coarse-to-fine', 0);
    const xs = p.candidates.map((i) => p.points[i].rawX[0]);
    expect(new Set(c2f.slice(0, 2).map((i) => p.points[i].rawX[0]))).toEqual(new Set([Math.min(...xs), Math.max(...xs)]));
  });
});

describe('replay: a strategy', () => {
  const p = replayProblem(prep, { holdoutTop: 0.1 });
  const target = replayTarget(p, 'exponent');

  for (const strategy of ['adaptive', 'random', 'compute-ascending', 'coarse-to-fine', 'grid'] as const) {
    it(`${strategy}: stays within the budget, runs each candidate once, never a held-out one`, () => {
      const run = runStrategy(p, { strategy, budget: 0.3, batch: 4, seed: 2, bootstrap: 30, target });
      expect(run.compute_fraction).toBeLessThanOrEqual(0.3 + 1e-12);
      expect(new Set(run.chosen).size).toBe(run.chosen.length);
      const held = new Set(p.holdout.map((i) => p.points[i].id));
      expect(run.chosen.some((id) => held.has(id))).toBe(false);
      const fr = run.steps.map((s) => s.compute_fraction);
      expect(fr).toEqual([...fr].sort((a, b) => a - b));
      expect(run.fit).not.toBeNull();
    });
  }

  it('adaptive: same seed, same choices', () => {
    const a = runStrategy(p, { strategy: 'adaptive', budget: 0.2, batch: 4, seed: 5, bootstrap: 30, target });
    const b = runStrategy(p, { strategy: 'adaptive', budget: 0.2, batch: 4, seed: 5, bootstrap: 30, target });
    expect(b.chosen).toEqual(a.chosen);
    expect(b.targets).toEqual(a.targets);
  });

  it('adaptive recovers the true exponent of synthetic data within its interval', () => {
    const run = runStrategy(p, { strategy: 'adaptive', budget: 0.3, batch: 4, seed: 0, bootstrap: 60, target });
    const alpha = run.targets.find((t) => t.name === 'alpha');
    expect(alpha?.value).toBeGreaterThan(TRUE_ALPHA - 0.03);
    expect(alpha?.value).toBeLessThan(TRUE_ALPHA + 0.03);
    expect(alpha?.ci[0]).toBeLessThanOrEqual(TRUE_ALPHA);
    expect(alpha?.ci[1]).toBeGreaterThanOrEqual(TRUE_ALPHA);
    // A good law predicts the held-out region's scores well (1% noise on y ~ 0.5-0.9).
    expect(run.holdout_error).toBeLessThan(0.02);
  });
});

describe('replay: population weights (adaptive fits)', () => {
  const p = replayProblem(prep, { holdoutTop: 0.1 });
  const byCost = [...p.candidates].sort((a, b) => p.points[a].cost - p.points[b].cost);

  it('a point stands for the candidates nearest it in log x; the weights average 1 (observing all: every weight 1)', () => {
    expect(Array.from(populationWeights(p, p.candidates))).toEqual(p.candidates.map(() => 1));
    const ends = [byCost[0], byCost.at(-1) as number];
    const w = populationWeights(p, ends);
    expect(w[0] + w[1]).toBeCloseTo(2, 12);
    expect(w[0]).toBeGreaterThan(0);
    expect(w[1]).toBeGreaterThan(0);
  });

  it('are untrimmed for one x (a power law), and no observed point drops out', () => {
    expect(populationWeightCap(1)).toBe(Infinity);
    // Nine cheapest and the dearest: the dearest stands for most of the pool.
    const idx = [...byCost.slice(0, 9), byCost.at(-1) as number];
    const w = populationWeights(p, idx);
    expect(w[9]).toBeGreaterThan(populationWeightCap(2));
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(idx.length, 1);
    for (const v of w) expect(v).toBeGreaterThan(0);
  });

  it('under a misspecified law, the weighted fit of a clustered subset is nearer the pool\'s fit than the unweighted one', () => {
    // The data bend (a shifted power law) and are fitted as a plain power law: the exponent depends on where the points sit.
    const bent = synthesizeRows({ form: 'power_law_shift', lse: [-1.2, 0.6, 0.5, 0.35], n: 120, seed: 11, noise: 0.01 });
    const q = replayProblem(prepareFit(bent, config), { holdoutTop: 0 });
    const sorted = [...q.candidates].sort((a, b) => q.points[a].cost - q.points[b].cost);
    // Thirty of the cheapest third, and six spread over the rest.
    const subset = [...sorted.slice(0, 30), ...[50, 65, 80, 95, 108, 119].map((k) => sorted[k])];
    const pool = targetsOf('power_law', fitSubset(q, q.candidates).lse).alpha;
    const plain = targetsOf('power_law', fitSubset(q, subset).lse).alpha;
    const weighted = targetsOf('power_law', fitSubset(q, subset, null, populationWeights(q, subset)).lse).alpha;
    expect(Math.abs(plain - pool)).toBeGreaterThan(0.01);
    expect(Math.abs(weighted - pool)).toBeLessThan(0.5 * Math.abs(plain - pool));
  });

  it('adaptive weights its fits by default; weighting none turns it off', () => {
    const target = replayTarget(p, 'exponent');
    const a = runStrategy(p, { strategy: 'adaptive', budget: 0.2, batch: 4, seed: 1, bootstrap: 30, target });
    const b = runStrategy(p, { strategy: 'adaptive', budget: 0.2, batch: 4, seed: 1, bootstrap: 30, target, weighting: 'population' });
    expect(b.targets).toEqual(a.targets);
    const c = runStrategy(p, { strategy: 'adaptive', budget: 0.2, batch: 4, seed: 1, bootstrap: 30, target, weighting: 'none' });
    expect(c.fit?.lse).not.toEqual(a.fit?.lse);
  });

  it('a prediction target: unweighted fits, ranked by gain alone (cost exponent 0) by default', () => {
    const target = replayTarget(p, 'prediction');
    const o = { strategy: 'adaptive' as const, budget: 0.2, batch: 4, seed: 1, bootstrap: 30, target };
    const a = runStrategy(p, o);
    expect(a.chosen).toEqual(runStrategy(p, { ...o, weighting: 'none', costPower: 0 }).chosen);
    expect(a.chosen).not.toEqual(runStrategy(p, { ...o, weighting: 'population', costPower: 0 }).chosen);
  });
});

describe('replay: summaries', () => {
  const step = (compute_fraction: number, holdout_error: number, alpha: number) => ({ n: 1, compute_fraction, holdout_error, holdout_r2: 0, targets: { alpha } });
  const run = (seed: number, steps: ReturnType<typeof step>[], alpha: number, ci: [number, number]): StrategyRun => ({
    strategy: 'random',
    seed,
    budget: 0.2,
    chosen: [],
    compute_fraction: steps.at(-1)?.compute_fraction ?? 0,
    fit: null,
    targets: [{ name: 'alpha', value: alpha, ci }],
    holdout_error: steps.at(-1)?.holdout_error ?? NaN,
    holdout_r2: 0,
    steps,
  });
  const runs = [
    run(0, [step(0.01, 0.5, 0.1), step(0.1, 0.2, 0.25)], 0.25, [0.2, 0.3]),
    run(1, [step(0.02, 0.4, 0.2), step(0.15, 0.1, 0.31)], 0.31, [0.28, 0.4]),
    run(2, [step(0.05, 0.3, 0.5), step(0.2, 0.05, 0.9)], 0.9, [0.5, 1.2]),
  ];

  it('medianCurve takes, per seed, the latest fit at or below each compute fraction', () => {
    const c = medianCurve(runs, [0.005, 0.01, 0.05, 0.2]);
    expect(c.map((x) => x.compute_fraction)).toEqual([0.01, 0.05, 0.2]);
    expect(c[0]).toEqual({ compute_fraction: 0.01, holdout_error: 0.5, targets: { alpha: 0.1 } });
    expect(c[1].holdout_error).toBeCloseTo(0.4, 12); // 0.5, 0.4, 0.3
    expect(c[2].holdout_error).toBeCloseTo(0.1, 12); // 0.2, 0.1, 0.05
    expect(c[2].targets.alpha).toBeCloseTo(0.31, 12);
  });

  it('summarize reports medians and whether the median is in the full interval', () => {
    const s = summarize(runs, { targets: { alpha: { value: 0.3, ci: [0.26, 0.35] } } });
    expect(s.compute_fraction).toBeCloseTo(0.15, 12);
    expect(s.holdout_error).toBeCloseTo(0.1, 12);
    expect(s.targets[0]).toMatchObject({ name: 'alpha', full: 0.3, full_ci: [0.26, 0.35], in_full_ci: true, seeds_in_full_ci: 1 });
    expect(s.targets[0].value).toBeCloseTo(0.31, 12);
    expect(s.targets[0].ci[0]).toBeCloseTo(0.28, 12);
    expect(s.targets[0].ci[1]).toBeCloseTo(0.4, 12);
    expect(s.curve.at(-1)?.compute_fraction).toBe(0.2);
  });
});

describe('replay: the study', () => {
  it('runs every strategy over the seeds against the full-data fit', () => {
    const p = replayProblem(prep, { holdoutTop: 0.1 });
    const full = fitDataset(rows, config);
    const out = replayStudy(p, full, { strategies: ['adaptive', 'random'], budgets: [0.2], batch: 4, seeds: 2, bootstrap: 30, objective: 'auto' });
    expect(out.objective).toBe('prediction');
    expect(out.strategies.map((s) => [s.strategy, s.budget, s.seeds])).toEqual([
      ['adaptive', 0.2, 2],
      ['random', 0.2, 2],
    ]);
    expect(out.all_candidates.holdout_error).toBeLessThan(0.02);
    expect(out.strategies[0].targets[0].full).toBe(full.params.alpha);
  });

  it('refuses bad options naming the flag', () => {
    const p = replayProblem(prep, { holdoutTop: 0.1 });
    const full = fitDataset(rows, { ...config, bootstrap: 20 });
    const base = { strategies: ['random' as const], budgets: [0.1], batch: 4, seeds: 1, bootstrap: 30, objective: 'auto' as const };
    expect(() => replayStudy(p, full, { ...base, budgets: [0] })).toThrow(FitInputError);
    expect(() => replayStudy(p, full, { ...base, budgets: [1.5] })).toThrow(/--budget must be a fraction in \(0, 1\]/);
    expect(() => replayStudy(p, full, { ...base, seeds: 0 })).toThrow(/--seeds must be an integer/);
    expect(() => replayStudy(p, full, { ...base, objective: 'recipe' })).toThrow(/--objective recipe needs a chinchilla fit/);
    expect(() => replayProblem(prep, { holdoutTop: 1 })).toThrow(/--holdout-top must be in \[0, 1\)/);
  });
});
