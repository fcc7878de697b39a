/**
 * Browser acceptance test of the report: render a report from a realistic FitOutput
 * (synthetic points from known laws), open it in Debian's Chromium, screenshot it,
 * and check that the figures really rendered.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, type ReportFit, type ReportInput } from '../../report/index';
import { sampleChinchillaFit, sampleFits, samplePowerLawFit } from '../../report/sample';
import { fitDataset, type FitPoint, type LongRow } from '../../scaling/index';

const ARTIFACTS = resolve('test-artifacts');
const HTML = resolve(ARTIFACTS, 'report.html');
const PNG = resolve(ARTIFACTS, 'report.png');

const input: ReportInput = {
  fits: sampleFits(),
  title: 'Scaling-law report – e2e',
  source: 'synthetic FitOutput (report/sample.ts)',
  generatedAt: '2025-01-01T00:00:00Z',
  sweep: {
    name: 'e2e-demo',
    counts: { succeeded: 38, failed: 2, cancelled: 1 },
    gpuHours: 123.4,
    runs: [
      { runId: 'resnet18-imagenet-100-s0-1a2b3c', state: 'succeeded', axes: { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 100 }, attempts: 1, gpuHours: 2.5, metrics: { IT: 0.41 } },
      { runId: 'vit-b-16-ecoset-300-s0-4d5e6f', state: 'failed', axes: { arch: 'vit_b_16', dataset: 'ecoset', samples_per_class: 300 }, attempts: 3, failureClass: 'oom', gpuHours: 0.7 },
    ],
  },
};

interface FigureInfo {
  id: string;
  width: number;
  height: number;
  axisTitles: string[];
  legendTitles: string[];
  tickLabels: string[];
  /** `d` lengths of the paths in line, area and symbol marks. */
  lineD: number[];
  areaD: number[];
  symbols: number;
  /** Text marks inside the plot (contour labels). */
  markTexts: string[];
}

let browser: Browser;
let page: Page;
let html: string;
let figures: FigureInfo[];
const requests: string[] = [];

beforeAll(async () => {
  html = await renderReport(input);
  await mkdir(ARTIFACTS, { recursive: true });
  await writeFile(HTML, html, 'utf8');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(HTML).href, { waitUntil: 'load' });
  await page.screenshot({ path: PNG, fullPage: true });
  figures = await page.$$eval('figure', (els) =>
    els.map((fig) => {
      const svg = fig.querySelector('svg')!;
      const box = svg.getBoundingClientRect();
      const texts = (sel: string): string[] => [...svg.querySelectorAll(`${sel} text`)].map((t) => t.textContent ?? '');
      const dLens = (sel: string): number[] => [...svg.querySelectorAll(`${sel} path`)].map((p) => (p.getAttribute('d') ?? '').length);
      return {
        id: fig.id,
        width: box.width,
        height: box.height,
        axisTitles: texts('.role-axis-title'),
        legendTitles: texts('.role-legend-title'),
        tickLabels: texts('.role-axis-label'),
        lineD: dLens('.mark-line.role-mark'),
        areaD: dLens('.mark-area.role-mark'),
        symbols: svg.querySelectorAll('.mark-symbol.role-mark path').length,
        markTexts: texts('.mark-text.role-mark'),
      };
    }),
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

const byId = (part: string): FigureInfo[] => figures.filter((f) => f.id.includes(part));

describe('report in Chromium', () => {
  it('is self-contained: no scripts, no requests beyond the file itself', () => {
    expect(html).not.toMatch(/<script/i);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
  });

  it('renders every figure as a laid-out SVG', () => {
    // 3 fits x (main figure + observed-vs-fitted).
    expect(figures).toHaveLength(6);
    for (const f of figures) {
      expect(f.width, f.id).toBeGreaterThan(300);
      expect(f.height, f.id).toBeGreaterThan(300);
    }
  });

  it('draws points, fitted curve and band on the one-variable figures', () => {
    const scaling = byId('-scaling-');
    expect(scaling).toHaveLength(2);
    for (const f of scaling) {
      expect(f.symbols, f.id).toBeGreaterThanOrEqual(200);
      // The fitted curve: one line path through 160 samples.
      expect(Math.max(...f.lineD), f.id).toBeGreaterThan(1000);
      expect(Math.max(...f.areaD), f.id).toBeGreaterThan(1000);
      expect(f.axisTitles, f.id).toContain('Compute C (total training FLOPs)');
      expect(f.legendTitles, f.id).toContain('Architecture family');
      // Log axis labelled at decades.
      expect(f.tickLabels, f.id).toEqual(expect.arrayContaining(['10¹⁴', '10¹⁵', '10¹⁶']));
    }
    expect(scaling[0].axisTitles).toContain('Score (mean of V1, V2, V4, IT)');
    expect(scaling[1].axisTitles).toContain('Behavioral score');
  });

  it('draws the chinchilla contours, frontier and points', () => {
    const [f] = byId('-contours-');
    expect(f.axisTitles).toEqual(expect.arrayContaining(['Parameters N', 'Training samples seen D']));
    // >= 4 iso-score contours plus the frontier, each a real polyline.
    expect(f.lineD.filter((n) => n > 200).length).toBeGreaterThanOrEqual(5);
    expect(f.symbols).toBe(300);
    // Each contour labelled with its score (drawn twice: white halo, then text).
    expect(f.markTexts).toEqual(expect.arrayContaining(['0.20', '0.30', '0.40']));
  });

  it('has the parameter and recipe tables', async () => {
    const params = await page.$$eval('table.params', (ts) => ts.map((t) => ({ fit: t.getAttribute('data-fit'), rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.children].map((c) => c.textContent ?? '')) })));
    expect(params.map((p) => p.fit)).toEqual(['compute_neuro', 'compute_behavior', 'compute_chinchilla']);
    expect(params[0].rows.map((r) => r[0])).toEqual(['E', 'A', 'α alpha']);
    expect(params[2].rows).toHaveLength(5);
    // Every estimate and interval is a number, not a placeholder.
    for (const row of params.flatMap((p) => p.rows)) {
      expect(row[1]).toMatch(/^-?[\d.]+/);
      expect(row[3]).toMatch(/^\[-?[\d.]+.*, -?[\d.]+.*\]$/);
    }
    const recipe = await page.$$eval('table.recipe tbody tr th', (ths) => ths.map((t) => t.textContent));
    expect(recipe).toEqual(['a', 'b', 'G', 'm', 'n', 'a/n', 'b/n']);
    const runs = await page.$$eval('table.runs tbody tr', (rs) => rs.length);
    expect(runs).toBe(2);
  });

  it('wrote the screenshot', async () => {
    expect((await stat(PNG)).size).toBeGreaterThan(50_000);
  });
});


describe('report from the scaling engine', () => {
  it('renders real fitDataset output with bootstrap-curve bands', async () => {
    // Long-format rows (one per model) drawn from the sample laws, fitted by the engine.
    const toRows = (fit: ReportFit, c: (p: FitPoint) => [number, number, number]): LongRow[] =>
      fit.points!.map((p) => {
        const [n, d, flops] = c(p);
        return { model_id: p.model_id!, arch: p.arch!, arch_family: p.arch_family!, dataset: 'imagenet', region: 'IT', score: p.score, n_params: n, n_samples_seen: d, total_flops: flops, samples_per_class: 100, flops: 1e9, n_samples: 1e5 };
      });
    const pl = toRows(samplePowerLawFit('e', ['IT'], 7, 120), (p) => [1e6, 1e6, p.rawX[0]]);
    const ch = toRows(sampleChinchillaFit('c', 8, 120), (p) => [p.rawX[0], p.rawX[1], 300 * p.rawX[0] * p.rawX[1]]);
    const fits = [
      fitDataset(pl, { name: 'engine_power_law', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, bootstrap: 100, seed: 0 }),
      fitDataset(ch, { name: 'engine_chinchilla', form: 'chinchilla', x: ['n_params', 'n_samples_seen'], y: { metrics: ['IT'] }, bootstrap: 20, seed: 0 }),
    ];
    const engineHtml = await renderReport({ fits, generatedAt: '2025-01-01T00:00:00Z' });
    const out = resolve(ARTIFACTS, 'report-engine.html');
    await writeFile(out, engineHtml, 'utf8');
    const p2 = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await p2.goto(pathToFileURL(out).href, { waitUntil: 'load' });
      await p2.screenshot({ path: resolve(ARTIFACTS, 'report-engine.png'), fullPage: true });
      const caption = await p2.textContent('figure[id^="fig-engine-power-law-scaling"] figcaption');
      expect(caption).toMatch(/pointwise percentiles of the bootstrap curves/);
      const areaD = await p2.$$eval('figure[id^="fig-engine-power-law-scaling"] .mark-area.role-mark path', (ps) => ps.map((q) => (q.getAttribute('d') ?? '').length));
      expect(Math.max(...areaD)).toBeGreaterThan(1000);
      const contourLines = await p2.$$eval('figure[id^="fig-engine-chinchilla-contours"] .mark-line.role-mark path', (ps) => ps.filter((q) => (q.getAttribute('d') ?? '').length > 200).length);
      expect(contourLines).toBeGreaterThanOrEqual(4);
      const rows = await p2.$$eval('table.params[data-fit="engine_chinchilla"] tbody tr', (rs) => rs.length);
      expect(rows).toBe(5);
    } finally {
      await p2.close();
    }
  });
});
