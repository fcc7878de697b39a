/**
 * Fast checks of the report's pure parts (no browser): figure data and specs,
 * the law and recipe math, id namespacing, fit.json parsing, the CLI command.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerReportCommand } from '../../cli/commands/report';
import { columnTitle, contourData, contourFigure, curveData, figuresForFit, scalingCurveFigure } from '../../report/figures';
import { parseFitOutput } from '../../report/index';
import { linearParams, linearPercentiles, predictY, recipeOf } from '../../report/laws';
import { namespaceIds, renderSvg } from '../../report/render';
import { sampleChinchillaFit, samplePowerLawFit } from '../../report/sample';
import type { ReportFit } from '../../report/types';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);

describe('laws', () => {
  it('falls back to exp(lse) for missing linear parameters and maps LSE percentiles', () => {
    const fit = samplePowerLawFit();
    const noLinear: ReportFit = { ...fit, params: { alpha: fit.params.alpha }, bootstrap: { n: 10, seed: 0, percentiles: { e: { 'p2.5': -1, p50: -0.7, 'p97.5': -0.5 }, a: { 'p2.5': 0, p50: 0.1, 'p97.5': 0.2 }, alpha: { 'p2.5': 0.1, p50: 0.15, 'p97.5': 0.2 } } } };
    const p = linearParams(noLinear);
    expect(rel(p.E, fit.params.E)).toBeLessThan(1e-12);
    expect(rel(p.A, fit.params.A)).toBeLessThan(1e-12);
    expect(linearPercentiles(noLinear)!.E.p50).toBeCloseTo(Math.exp(-0.7), 12);
  });

  it('power_law_shift adds 10^lambda to x', () => {
    expect(predictY('power_law_shift', { E: 0.1, A: 2, alpha: 1, lambda: 1 }, [10])).toBeCloseTo(0.1 + 2 / 20, 12);
  });

  it('derives the recipe from the parameters when the fit has none', () => {
    const fit = sampleChinchillaFit();
    const derived = recipeOf({ ...fit, recipe: undefined });
    expect(rel(derived.a, fit.recipe!.a)).toBeLessThan(1e-12);
    expect(rel(derived.G, fit.recipe!.G)).toBeLessThan(1e-12);
  });
});

describe('one-variable figure', () => {
  const fit = samplePowerLawFit();

  it('plots score = 1 - Lhat in original x units, inside its band', () => {
    const d = curveData(fit);
    expect(d.points).toHaveLength(fit.points!.length);
    expect(d.bandKind).toBe('percentile-envelope');
    const c = d.curve[80];
    expect(c.score).toBeCloseTo(1 - predictY('power_law', fit.params, [c.x / 1e13]), 12);
    d.band.forEach((b, i) => {
      expect(b.lo).toBeLessThanOrEqual(d.curve[i].score + 1e-12);
      expect(b.hi).toBeGreaterThanOrEqual(d.curve[i].score - 1e-12);
    });
  });

  it('prefers the engine band, then bootstrap curves', () => {
    const band = { x: [1e14, 1e16], lo: [0.8, 0.6], hi: [0.9, 0.7] };
    const e = curveData({ ...fit, band });
    expect(e.bandKind).toBe('engine');
    // y band [0.8, 0.9] is score [0.1, 0.2]: inversion swaps the ends.
    expect(e.band[0].lo).toBeCloseTo(0.1, 12);
    expect(e.band[0].hi).toBeCloseTo(0.2, 12);
    const boot = Array.from({ length: 50 }, (_, i) => ({ ...fit.params, alpha: fit.params.alpha * (0.95 + 0.002 * i) }));
    const b = curveData({ ...fit, bootstrapParams: boot });
    expect(b.bandKind).toBe('bootstrap-curves');
    expect(b.band.every((q) => q.hi >= q.lo)).toBe(true);
    expect(curveData({ ...fit, bootstrap: undefined }).bandKind).toBe('none');
  });

  it('builds a layered log-x spec with the asserted titles', () => {
    const f = scalingCurveFigure(fit);
    const spec = f.spec as unknown as { layer: Array<{ mark: { type: string }; encoding: { x: { title: string; scale: { type: string } }; y: { title: string } } }> };
    expect(spec.layer.map((l) => l.mark.type)).toEqual(['area', 'point', 'line']);
    expect(spec.layer[2].encoding.x.scale.type).toBe('log');
    expect(spec.layer[2].encoding.x.title).toBe(columnTitle('total_flops'));
    expect(spec.layer[2].encoding.y.title).toBe('Score (mean of V1, V2, V4, IT)');
    expect(f.caption).toMatch(/approximate 95% band/);
    expect(() => scalingCurveFigure(sampleChinchillaFit())).toThrow(/one-variable/);
  });
});

describe('chinchilla figure', () => {
  const fit = sampleChinchillaFit();
  const d = contourData(fit);
  const p = linearParams(fit);

  it('contours lie on their level of the fitted law', () => {
    expect(d.levels.length).toBeGreaterThanOrEqual(4);
    for (const c of d.contours) {
      const y = predictY('chinchilla', p, [c.N / 1e5, c.D / 1e4]);
      expect(rel(1 - y, c.level)).toBeLessThan(1e-9);
    }
  });

  it('the frontier is compute-optimal: alpha A N^-alpha = beta B D^-beta', () => {
    expect(d.frontier.length).toBeGreaterThan(10);
    for (const q of d.frontier) {
      const n = q.N / 1e5;
      const dd = q.D / 1e4;
      expect(rel(p.alpha * p.A * Math.pow(n, -p.alpha), p.beta * p.B * Math.pow(dd, -p.beta))).toBeLessThan(1e-9);
    }
  });

  it('has log axes titled N and D, and a residual figure', () => {
    const spec = contourFigure(fit).spec as unknown as { layer: Array<{ encoding: { x: { title: string; scale: { type: string } }; y: { title: string; scale: { type: string } } } }> };
    expect(spec.layer[0].encoding.x).toMatchObject({ title: 'Parameters N', scale: { type: 'log' } });
    expect(spec.layer[0].encoding.y).toMatchObject({ title: 'Training samples seen D', scale: { type: 'log' } });
    expect(figuresForFit(fit).map((f) => f.id)).toEqual(['fig-compute-chinchilla-contours', 'fig-compute-chinchilla-residuals']);
  });
});

describe('rendering and parsing', () => {
  it('renders a spec to SVG in Node with namespaced ids', async () => {
    const svg = await renderSvg(scalingCurveFigure(samplePowerLawFit('x', ['IT'], 1, 30)).spec, 'figA');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/<path[^>]* d="M[\d.,-]+L/);
    const ids = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.every((id) => id.startsWith('figA-'))).toBe(true);
    expect(namespaceIds('<clipPath id="clip1"/><g clip-path="url(#clip1)"/>', 'p')).toBe('<clipPath id="p-clip1"/><g clip-path="url(#p-clip1)"/>');
  });

  it('parses fit JSON: null (NaN) allowed in intervals, bad input names the field', () => {
    const fit = samplePowerLawFit();
    const json = JSON.parse(JSON.stringify({ fits: [{ ...fit, lse_params: { ...fit.lse_params, e: NaN } }] })) as unknown;
    expect(Number.isNaN(parseFitOutput(json).fits[0].lse_params.e)).toBe(true);
    expect(parseFitOutput([fit]).fits).toHaveLength(1);
    expect(() => parseFitOutput({ fits: [{ name: 'x', form: 'cubic' }] })).toThrow(/fits\.0\.form/);
  });

  it('sweep report --fit writes the HTML', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'report-'));
    await writeFile(join(dir, 'fit.json'), JSON.stringify({ fits: [samplePowerLawFit('cli_fit', ['IT'], 4, 40)] }));
    const program = new Command('sweep').exitOverride();
    registerReportCommand(program);
    const out = join(dir, 'r.html');
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program.parseAsync(['report', '--fit', join(dir, 'fit.json'), '--out', out], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    const html = await readFile(out, 'utf8');
    expect(html).toContain('<table class="params" data-fit="cli_fit">');
    expect(html).not.toMatch(/<script/i);
  });
});
