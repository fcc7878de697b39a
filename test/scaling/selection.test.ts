import { beforeAll, describe, expect, it } from 'vitest';
import { fitDataset, prepareFit, type LongRow } from '../../scaling';
import { FitSpecSchema } from '../../spec/fitSpec';
import { PAPER_ANALYSES, paperCsv, paperSpec, requirePaperData } from './helpers';

describe('paper analyses select the published point counts', () => {
  beforeAll(requirePaperData);
  for (const [name, count] of Object.entries(PAPER_ANALYSES)) {
    it(`${name}: ${count} points`, () => {
      const csv = paperCsv();
      const prep = prepareFit(csv.rows, paperSpec(name), { columns: csv.columns });
      expect(prep.data.y.length).toBe(count);
      expect(prep.selection.warnings).toEqual([]);
      expect(prep.pointStarts.length).toBe(name === 'compute_chinchilla' ? 4500 : 150);
    });
  }
});

const row = (over: Partial<Record<string, string | number | boolean>> = {}): LongRow => ({
  model_id: 'm1',
  arch: 'resnet18',
  arch_family: 'ResNet',
  dataset: 'imagenet',
  region: 'IT',
  score: 0.4,
  n_params: 1e7,
  n_samples_seen: 1e8,
  total_flops: 1e16,
  samples_per_class: 0,
  ...over,
});

/** Ten models on a clean power law, one row each. */
function models(n = 10): LongRow[] {
  return Array.from({ length: n }, (_, i) => row({ model_id: `m${i}`, total_flops: 1e14 * 3 ** i, score: 1 - (0.3 + 0.5 * (3 ** i) ** -0.3) }));
}

const spec = FitSpecSchema.parse({ name: 't', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, bootstrap: 0 });

describe('selection rules', () => {
  it('merges families, filters booleans (absent = False), sets, ranges, groups by mean, filters family/samples', () => {
    const rows: LongRow[] = [
      row({ model_id: 'a', arch_family: 'ResNetFlex', region: 'V1', score: 0.2 }),
      row({ model_id: 'a', arch_family: 'ResNetFlex', region: 'IT', score: 0.4 }),
      row({ model_id: 'b', is_pretrained: 'True' }),
      row({ model_id: 'c', is_ssl: true }),
      row({ model_id: 'd', dataset: 'places365' }),
      row({ model_id: 'e', total_flops: 1e20 }),
      row({ model_id: 'f', arch_family: 'ViT', samples_per_class: 100 }),
      row({ model_id: 'g', arch_family: 'ViT', samples_per_class: 300 }),
      row({ model_id: 'h', arch_family: 'ConvNeXtFlex', samples_per_class: 0 }),
    ];
    const prep = prepareFit(rows, {
      ...spec,
      y: { ...spec.y, metrics: ['V1', 'IT'] },
      selection: {
        combineArchFamilies: true,
        booleanFilter: true,
        sets: { dataset: ['imagenet'] },
        ranges: { total_flops: { max: 1e19 } },
        archFamiliesSamples: true,
      },
    });
    const byModel = Object.fromEntries(prep.selection.points.map((p) => [p.labels.model_id, p]));
    expect(Object.keys(byModel).sort()).toEqual(['a', 'g', 'h']);
    expect(byModel.a.score).toBeCloseTo(0.3, 12);
    expect(byModel.a.labels.arch_family).toBe('ResNet');
    expect(byModel.h.labels.arch_family).toBe('ConvNeXt');
  });

  it('excludes rows with NaN values and counts them in a warning', () => {
    const rows = [...models(), row({ model_id: 'x1', score: 'nan' }), row({ model_id: 'x2', score: '' }), row({ model_id: 'x3', total_flops: NaN })];
    const fit = fitDataset(rows, spec);
    expect(fit.n_points).toBe(10);
    expect(fit.warnings?.join('\n')).toMatch(/excluded 3 selected row\(s\) with missing.*score: 2.*total_flops: 1/);
  });
});

describe('bad input gives a clear error naming the column or row', () => {
  const fit = (rows: LongRow[], over: object = {}) => () => fitDataset(rows, { ...spec, ...over });
  it('missing column', () => {
    const rows = models().map(({ total_flops: _drop, ...rest }) => rest);
    expect(fit(rows)).toThrowError(/no column "total_flops"/);
  });
  it('non-numeric cell', () => {
    expect(fit([...models(), row({ model_id: 'bad', score: 'abc' })])).toThrowError(/column "score", row 11: "abc" is not a number/);
  });
  it('zero x', () => {
    expect(fit([...models(), row({ model_id: 'zero', total_flops: 0 })])).toThrowError(/"total_flops" must be positive.*got 0 at row 11 \(model_id zero\)/);
  });
  it('negative x', () => {
    expect(fit([...models(), row({ model_id: 'neg', total_flops: -5 })])).toThrowError(/"total_flops" must be positive.*model_id neg/);
  });
  it('score >= 1 with inversion', () => {
    expect(fit([...models(), row({ model_id: 'one', score: 1 })])).toThrowError(/"score" is 1 \(>= 1\) at row 11 \(model_id one\).*invert/);
  });
  it('empty selection', () => {
    expect(fit(models(), { y: { metrics: ['V4'], invert: true, column: 'score', metricColumn: 'region' } })).toThrowError(/selection is empty/);
  });
});
