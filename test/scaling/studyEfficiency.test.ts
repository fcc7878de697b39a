import { describe, expect, it } from 'vitest';
import { studyLines } from '../../report/figures';
import { renderStudyReport } from '../../report/render';
import type { StudyReplay } from '../../report/types';

// The `sweep replay --json` shape (medians over seeds), written by hand: three strategies, two of
// them at two budgets (the line is the larger budget's curve), one curve point with no fit yet.
const STUDY: StudyReplay = {
  fit: 'demo_fit',
  holdout_top: 0.1,
  candidates: 400,
  holdout: 44,
  all_candidates: { holdout_error: 0.05, holdout_r2: 0.2 },
  strategies: [
    { strategy: 'adaptive', budget: 0.05, compute_fraction: 0.049, holdout_error: 0.07, curve: [{ compute_fraction: 0.05, holdout_error: 0.07 }] },
    { strategy: 'random', budget: 0.05, compute_fraction: 0.048, holdout_error: 0.08, curve: [{ compute_fraction: 0.05, holdout_error: 0.08 }] },
    {
      strategy: 'adaptive',
      budget: 0.2,
      compute_fraction: 0.19,
      holdout_error: 0.054,
      curve: [
        { compute_fraction: 0.01, holdout_error: 0.09 },
        { compute_fraction: 0.05, holdout_error: 0.072 },
        { compute_fraction: 0.1, holdout_error: 0.063 },
        { compute_fraction: 0.2, holdout_error: 0.054 },
      ],
    },
    {
      strategy: 'random',
      budget: 0.2,
      compute_fraction: 0.2,
      holdout_error: 0.081,
      curve: [
        { compute_fraction: 0.005, holdout_error: NaN },
        { compute_fraction: 0.02, holdout_error: 0.1 },
        { compute_fraction: 0.2, holdout_error: 0.081 },
      ],
    },
    {
      strategy: 'compute-ascending',
      budget: 0.2,
      compute_fraction: 0.2,
      holdout_error: 0.06,
      curve: [
        { compute_fraction: 0.01, holdout_error: 0.1 },
        { compute_fraction: 0.2, holdout_error: 0.06 },
      ],
    },
  ],
};

/** The line paths of the figure's SVG, with their stroke colour and vertices (pixel x, y). */
function linePaths(svg: string): { stroke: string; vertices: [number, number][] }[] {
  const groups = [...svg.matchAll(/<g class="mark-line role-mark[^>]*>(.*?)<\/g>/gs)].map((m) => m[1]);
  return groups.flatMap((g) =>
    [...g.matchAll(/<path [^>]*d="([^"]+)"[^>]*stroke="([^"]+)"/g)].map((m) => ({
      stroke: m[2],
      vertices: [...m[1].matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((v) => [Number(v[1]), Number(v[2])] as [number, number]),
    })),
  );
}

describe('the study-efficiency figure', () => {
  it('has one line per strategy, the largest budget\'s curve, finite points only', () => {
    const lines = studyLines(STUDY);
    expect(lines.map((l) => [l.strategy, l.budget, l.points.length])).toEqual([
      ['adaptive', 0.2, 4],
      ['random', 0.2, 2],
      ['compute-ascending', 0.2, 2],
    ]);
  });

  it('renders an SVG with one line per strategy and the right number of points at the right heights', async () => {
    const html = await renderStudyReport([STUDY], { generatedAt: '2026-12-01T00:00:00Z', source: 'test' });
    expect(html).toContain('demo_fit: study efficiency');
    const paths = linePaths(html);
    // Fixed colours: adaptive red, random blue, compute-ascending purple.
    expect(paths.map((p) => [p.stroke, p.vertices.length])).toEqual([
      ['#d62728', 4],
      ['#4c78a8', 2],
      ['#9467bd', 2],
    ]);
    // y domain [0, 1.08 x the largest error 0.1] over 360 px: y = 360 (1 - e / 0.108).
    const ys = paths.map((p) => p.vertices.map(([, y]) => Math.round(y * 10) / 10));
    expect(ys).toEqual([
      [60, 120, 150, 180],
      [26.7, 90],
      [26.7, 160],
    ]);
    // x ascends along every line (log compute fraction).
    for (const p of paths) for (let i = 1; i < p.vertices.length; i++) expect(p.vertices[i][0]).toBeGreaterThan(p.vertices[i - 1][0]);
    // One dot per curve point (8), the dashed all-candidates reference, and the table's rows.
    const dots = html.match(/aria-roledescription="point"/g) ?? [];
    expect(dots).toHaveLength(8);
    expect(html).toMatch(/<g class="mark-rule role-mark/);
    expect(html.match(/<tr><td>/g)).toHaveLength(5);
    expect(html).toContain('Fit on all 400 candidates: target-region RMSE 0.05');
    expect(html).not.toContain('off the top of the axis');
  }, 30_000);

  it('keeps the axis readable when one strategy extrapolates absurdly: it stops at 5x the all-candidates error', async () => {
    const wild: StudyReplay = {
      ...STUDY,
      strategies: [...STUDY.strategies, { strategy: 'grid', budget: 0.2, compute_fraction: 0.2, holdout_error: 1e15, curve: [{ compute_fraction: 0.01, holdout_error: 1e15 }, { compute_fraction: 0.2, holdout_error: 0.07 }] }],
    };
    const html = await renderStudyReport([wild], { generatedAt: '2026-12-01T00:00:00Z' });
    const paths = linePaths(html);
    expect(paths).toHaveLength(4);
    // Domain [0, 1.08 x 0.25]: adaptive's 0.09 sits at 360 (1 - 0.09 / 0.27) = 240.
    expect(Math.round(paths[0].vertices[0][1] * 10) / 10).toBe(240);
    expect(html).toContain('1 point(s) above 5x the all-candidates error are off the top of the axis.');
  }, 30_000);
});
