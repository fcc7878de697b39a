import { describe, expect, it } from 'vitest';
import { expandGrid, SweepSpecSchema } from '../../spec';
import { adaptiveIssues, STUDY_MIN_RESAMPLES, studyCellCost } from '../../spec/adaptive';
import { MIN_ENSEMBLE } from '../../scaling';
import { SpecError, validateSweepSpec } from '../../spec/load';

// A small adaptive study over planner-estimated cells (the synthetic trainer's grid).
const RAW = {
  name: 'adapt-spec',
  grid: { arch: ['alexnet', 'resnet18', 'resnet50'], dataset: ['imagenet'], samples_per_class: [10, 100], epochs: [10] },
  job: { command: ['true'], resources: { gpus: 1 } },
  metrics: ['V1', 'IT'],
  fits: [
    { name: 'neuro', form: 'power_law', x: 'total_flops', y: { metrics: ['V1', 'IT'] } },
    { name: 'chin', form: 'chinchilla', x: ['n_params', 'n_samples_seen'], y: { metrics: ['V1', 'IT'] } },
  ],
  strategy: { kind: 'adaptive', target: 'neuro', objective: 'exponent', parameter: 'alpha', budget: { gpuHours: 1000 }, batch: 2 },
};
const withStrategy = (over: Record<string, unknown>) => ({ ...RAW, strategy: { ...RAW.strategy, ...over } });
const issuesOf = (raw: unknown) => {
  const spec = SweepSpecSchema.parse(raw);
  return adaptiveIssues(spec, expandGrid(spec)).map((i) => i.path);
};
function refused(raw: unknown): string[] {
  try {
    validateSweepSpec(raw, 'test');
  } catch (e) {
    if (e instanceof SpecError) return e.problems.map((p) => p.path);
    throw e;
  }
  throw new Error('the spec was accepted');
}

describe('adaptive strategy validation', () => {
  it('accepts a sound study', () => {
    expect(issuesOf(RAW)).toEqual([]);
    expect(validateSweepSpec(RAW, 'test').strategy?.target).toBe('neuro');
  });

  it('refuses an unknown fit, naming strategy.target (at validation)', () => {
    expect(refused(withStrategy({ target: 'nope' }))).toContain('strategy.target');
    expect(issuesOf(withStrategy({ target: 'nope' }))).toEqual(['strategy.target']);
  });

  it('refuses a target the fit\'s form does not have, naming the field', () => {
    expect(refused(withStrategy({ objective: 'recipe' }))).toContain('strategy.objective');
    expect(issuesOf(withStrategy({ objective: 'exponent', parameter: 'beta' }))).toEqual(['strategy.parameter']);
    expect(refused(withStrategy({ objective: 'exponent', parameter: 'beta' }))).toContain('strategy.parameter');
    expect(refused(withStrategy({ objective: 'prediction', at: [1e19, 1e9] }))).toContain('strategy.at');
    expect(issuesOf(withStrategy({ objective: 'exponent', parameter: 'gamma', target: 'chin' }))).toEqual(['strategy.parameter']);
    expect(issuesOf(withStrategy({ objective: 'exponent', parameter: 'beta', target: 'chin' }))).toEqual([]);
    expect(issuesOf(withStrategy({ objective: 'recipe', target: 'chin' }))).toEqual([]);
    expect(issuesOf(withStrategy({ objective: 'prediction', at: [1e19, 1e9] }))).toEqual(['strategy.at']);
    expect(issuesOf(withStrategy({ objective: 'prediction', at: [1e19] }))).toEqual([]);
    expect(issuesOf(withStrategy({ objective: 'prediction' }))).toEqual(['strategy.at']);
  });

  it('refuses a budget below one run\'s cost, naming strategy.budget.gpuHours', () => {
    const spec = SweepSpecSchema.parse(RAW);
    const cheapest = Math.min(...expandGrid(spec).map((c) => studyCellCost(spec, c)!));
    // alexnet at 10 samples per class, 10 epochs, on one GPU: about 1.2e-3 GPU-hours by the planner.
    expect(cheapest).toBeGreaterThan(1e-5);
    expect(cheapest).toBeLessThan(1e-2);
    expect(issuesOf(withStrategy({ budget: { gpuHours: cheapest * 0.99 } }))).toEqual(['strategy.budget.gpuHours']);
    expect(refused(withStrategy({ budget: { gpuHours: cheapest * 0.99 } }))).toContain('strategy.budget.gpuHours');
    expect(issuesOf(withStrategy({ budget: { gpuHours: cheapest } }))).toEqual([]);
    const spec2 = SweepSpecSchema.parse(withStrategy({ budget: { gpuHours: cheapest * 0.5 } }));
    expect(adaptiveIssues(spec2, expandGrid(spec2))[0].message).toMatch(/^the budget of [\d.e-]+ GPU-hours is below the cheapest run's estimated [\d.e-]+ GPU-hours/);
  });

  it('refuses too few bootstrap resamples to choose from, naming the field that has fewer', () => {
    // Below the selection's ensemble floor the study could only ever run its seed design.
    expect(STUDY_MIN_RESAMPLES).toBe(MIN_ENSEMBLE);
    expect(issuesOf({ ...RAW, refit: { every: 5, bootstrap: 19 } })).toEqual(['refit.bootstrap']);
    expect(refused({ ...RAW, refit: { every: 5, bootstrap: 0 } })).toContain('refit.bootstrap');
    const fits = [{ ...RAW.fits[0], bootstrap: 10 }, RAW.fits[1]];
    expect(issuesOf({ ...RAW, fits })).toEqual(['fits.0.bootstrap']);
    expect(issuesOf({ ...RAW, refit: { every: 5, bootstrap: 20 } })).toEqual([]);
    // The other fit's resamples do not matter: the study reads its target's.
    expect(issuesOf({ ...RAW, fits: [RAW.fits[0], { ...RAW.fits[1], bootstrap: 0 }] })).toEqual([]);
  });

  it("counts a run's GPU-hours once, however many GPUs it runs on", () => {
    const one = SweepSpecSchema.parse(RAW);
    const four = SweepSpecSchema.parse({ ...RAW, job: { ...RAW.job, resources: { gpus: 4 } } });
    const [a] = expandGrid(one);
    const [b] = expandGrid(four);
    expect(b.runId).toBe(a.runId);
    expect(studyCellCost(four, b)).toBe(studyCellCost(one, a));
  });
});
