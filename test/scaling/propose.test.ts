import { describe, expect, it } from 'vitest';
import { costExponent } from '../../scaling/propose';
import { fitDataset, propose, ProposeInputError, synthesizeRows, type ProposeCandidate, type ProposeInput } from '../../scaling';

/** 1-D candidates at total_flops 1e13 * 10^(k/10), k = 0..60, cost = their flops. */
const line: ProposeCandidate[] = Array.from({ length: 61 }, (_, k) => {
  const x = 1e13 * 10 ** (k / 10);
  return { id: `c${k}`, rawX: [x], cost: x };
});
const base = { form: 'power_law' as const, scalers: [1e13], target: { kind: 'exponent' as const }, observed: [], candidates: line, batch: 6 };
const logOf = (id: string) => Number(id.slice(1)) / 10;

/** A power-law fit (with bootstrap) on 12 points below 1e16 FLOPs of a known law. */
function lowFit() {
  const rows = synthesizeRows({ form: 'power_law', lse: [-0.7, 0.4, 0.3], n: 40, seed: 3, noise: 0.02 }).filter((r) => (r.total_flops as number) < 1e16).slice(0, 12);
  const fit = fitDataset(rows, { name: 't', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, bootstrap: 60, seed: 1 });
  return fit;
}

describe('propose: seed design', () => {
  it('is space-filling in log x: picks far apart, the range ends covered', () => {
    const r = propose({ ...base, seed: 4 });
    expect(r.mode).toBe('seed-design');
    expect(r.proposals).toHaveLength(6);
    const xs = r.proposals.map((p) => logOf(p.id)).sort((a, b) => a - b);
    // 6 points over 6 decades by maximin: no two closer than 0.8 decade, both ends within a decade.
    for (let i = 1; i < xs.length; i++) expect(xs[i] - xs[i - 1]).toBeGreaterThan(0.79);
    expect(xs[0]).toBeLessThanOrEqual(1);
    expect(xs[xs.length - 1]).toBeGreaterThanOrEqual(5);
  });

  it('is seeded: the same seed gives the same batch, other seeds another first pick', () => {
    const a = propose({ ...base, seed: 11 });
    expect(propose({ ...base, seed: 11 })).toEqual(a);
    const firsts = new Set([1, 2, 3, 4, 5, 6].map((seed) => propose({ ...base, seed }).proposals[0].id));
    expect(firsts.size).toBeGreaterThan(1);
  });

  it('spends at most its share of the budget, on cheap runs', () => {
    const budget = 1e17;
    const r = propose({ ...base, budget, seedDesignSize: 6 });
    expect(r.proposals.length).toBe(6);
    // Each at most 0.25 * budget / 6.
    for (const p of r.proposals) expect(p.cost).toBeLessThanOrEqual((0.25 * budget) / 6);
  });

  it('counts the points already observed as part of the design', () => {
    const observed = [{ rawX: [1e13], y: 0.5 }, { rawX: [1e19], y: 0.4 }];
    const r = propose({ ...base, observed, batch: 1 });
    // The farthest candidate from both ends is the middle (1e16).
    expect(r.proposals.map((p) => p.id)).toEqual(['c30']);
  });
});

describe('propose: expected variance reduction', () => {
  const fit = lowFit();
  const lse = [fit.lse_params.e, fit.lse_params.a, fit.lse_params.alpha];
  const withFit = (over: Partial<ProposeInput>): ProposeInput => ({
    ...base,
    observed: fit.points ?? [],
    point: lse,
    ensemble: fit.bootstrap?.lse_samples,
    ...over,
  });
  const flat = line.map((c) => ({ ...c, cost: 1 }));

  it('for a prediction far out, at equal cost, picks the candidate nearest the target first', () => {
    const r = propose(withFit({ candidates: flat, target: { kind: 'prediction', at: [[1e20]] }, batch: 1 }));
    expect(r.mode).toBe('variance-reduction');
    expect(r.proposals[0].id).toBe('c60');
    expect(r.proposals[0].reason).toMatch(/^rank 1 of 61: largest expected reduction of the prediction at x = 1\.00e\+20 variance per unit cost/);
    expect(r.expectedSd as number).toBeLessThan(r.targetSd as number);
  });

  it('ranks per unit cost: the same x at a tenth of the cost wins', () => {
    const cands = [
      { id: 'dear', rawX: [1e18], cost: 10 },
      { id: 'cheap', rawX: [1e18], cost: 1 },
      { id: 'low', rawX: [1e14], cost: 1 },
    ];
    const r = propose(withFit({ candidates: cands, target: { kind: 'prediction', at: [[1e19]] }, batch: 1 }));
    expect(r.proposals[0].id).toBe('cheap');
  });

  it('cost cooling: per unit cost at the start of the budget, by gain alone when it is nearly spent', () => {
    // Same x, tenfold price: per unit cost the cheap copy wins; near the target the dear one carries more.
    const cands = [
      { id: 'near-dear', rawX: [1e19], cost: 10 },
      { id: 'far-cheap', rawX: [1e14], cost: 0.01 },
    ];
    const at = { kind: 'prediction' as const, at: [[1e20]] };
    // budget == budgetTotal: exponent 1, like costPower 1.
    const start = propose(withFit({ candidates: cands, target: at, batch: 1, budget: 100, budgetTotal: 100 }));
    expect(start.proposals[0].id).toBe(propose(withFit({ candidates: cands, target: at, batch: 1, costPower: 1 })).proposals[0].id);
    expect(start.proposals[0].id).toBe('far-cheap');
    expect(start.proposals[0].reason).toMatch(/per unit cost/);
    // 10 of 1e6 left: exponent 1e-5, gain alone decides.
    const end = propose(withFit({ candidates: cands, target: at, batch: 1, budget: 10, budgetTotal: 1e6 }));
    expect(end.proposals[0].id).toBe('near-dear');
    expect(end.proposals[0].reason).toMatch(/per cost\^0\.00 /);
    expect(costExponent({ budget: 25, budgetTotal: 100 })).toBe(0.25);
    expect(costExponent({ budget: 25, budgetTotal: 100, costPower: 0.7 })).toBe(0.7);
    expect(costExponent({ budget: 25 })).toBe(1);
  });

  it('diversifies a batch: copies of one x do not fill it', () => {
    const copies = (x: number, tag: string) => Array.from({ length: 4 }, (_, i) => ({ id: `${tag}${i}`, rawX: [x], cost: 1 }));
    const cands = [...copies(1e19, 'top'), ...copies(1e17, 'mid'), ...copies(1e15, 'low')];
    const r = propose(withFit({ candidates: cands, batch: 4 }));
    const xs = new Set(r.proposals.map((p) => p.id.replace(/\d+$/, '')));
    expect(r.proposals).toHaveLength(4);
    expect(xs.size).toBeGreaterThanOrEqual(2);
    // Each later pick is worth less than the one before (conditioning on the earlier ones).
    for (let i = 1; i < r.proposals.length; i++) expect(r.proposals[i].gain).toBeLessThanOrEqual(r.proposals[i - 1].gain * (1 + 1e-9));
  });

  it('never exceeds the budget: nothing dearer than what is left, the batch in total neither', () => {
    const r = propose(withFit({ budget: 3e18, batch: 10 }));
    const spent = r.proposals.reduce((s, p) => s + p.cost, 0);
    expect(spent).toBeLessThanOrEqual(3e18);
    expect(r.proposals.length).toBeGreaterThan(0);
    expect(new Set(r.proposals.map((p) => p.id)).size).toBe(r.proposals.length);
  });

  it('is deterministic for a seed', () => {
    const a = propose(withFit({ seed: 9, batch: 5 }));
    expect(propose(withFit({ seed: 9, batch: 5 }))).toEqual(a);
  });

  it('falls back to the seed design with too small an ensemble', () => {
    const r = propose(withFit({ ensemble: fit.bootstrap?.lse_samples?.slice(0, 5) }));
    expect(r.mode).toBe('seed-design');
  });
});

describe('propose: bad input names the field', () => {
  const cases: [string, Partial<ProposeInput>, RegExp][] = [
    ['an exponent the form lacks', { target: { kind: 'exponent', name: 'beta' } }, /^target\.name: form power_law has no exponent "beta"/],
    ['the recipe of a power law', { target: { kind: 'recipe' } }, /^target\.kind: the recipe needs a chinchilla fit/],
    ['a zero cost', { candidates: [line[0], { id: 'z', rawX: [1e15], cost: 0 }] }, /^candidates\[1\]\.cost: must be finite and > 0/],
    ['a duplicate id', { candidates: [line[0], line[0]] }, /^candidates\[1\]\.id: duplicate id "c0"/],
    ['a batch of 0', { batch: 0 }, /^batch: must be an integer in 1\.\.1000/],
    ['a two-value x for a power law', { candidates: [{ id: 'q', rawX: [1, 2], cost: 1 }] }, /^candidates\[0\]\.rawX: needs 1 positive/],
    ['a zero budgetTotal', { budgetTotal: 0 }, /^budgetTotal: must be finite and > 0/],
    ['too many candidates', { candidates: new Array(100_001) }, /^candidates: at most 100000 candidates/],
  ];
  for (const [what, over, msg] of cases) {
    it(what, () => {
      const call = () => propose({ ...base, ...over } as ProposeInput);
      expect(call).toThrow(ProposeInputError);
      expect(call).toThrow(msg);
    });
  }
});
