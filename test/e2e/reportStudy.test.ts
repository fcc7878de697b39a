/**
 * Issue 10 item 2: the sweep's own report has a "Study efficiency" section, rendered for real
 * (writeSweepReport as finalizeSweep runs it, and reportInputFromStore as `sweep report <sweep>`):
 *  - a grid sweep with enough results: its results replayed under adaptive, random and
 *    compute-ascending, one line per strategy, error against the fraction of compute;
 *  - too few results: a note saying why, no figure;
 *  - an adaptive sweep: the live study's path (the target's interval at each stored refit against
 *    the budget spent), and a note saying why its results are not replayed;
 *  - a failure in the section: the rest of the report renders and the section says why;
 *  - the paper's 444-point chinchilla fit as a sweep: the section's added time, measured.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { refitSweep } from '../../activities/refit';
import { reportInputFromStore, sweepReportInput, writeSweepReport } from '../../activities/report';
import { MAX_CANDIDATES, StudyReplayCache, sweepStudySection } from '../../activities/study';
import { readCsvFile } from '../../fitting/readCsv';
import { renderReport, type ReportFit, type StudyReplay } from '../../report/index';
import { mulberry32 } from '../../scaling/bootstrap';
import { estimateCell, expandGrid, SweepSpecSchema, type SweepSpec, type SweepSpecInput } from '../../spec';
import { loadFitSpec } from '../../spec/load';
import { SqliteStore } from '../../store/sqlite';
import type { ResultsStore } from '../../store/types';

const dir = mkdtempSync(join(tmpdir(), 'sweep-report-study-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LAW = { E: 0.3, A: 0.5, alpha: 0.3 };
const STRATEGY_COLORS = { adaptive: '#d62728', random: '#4c78a8', 'compute-ascending': '#9467bd' };

function gridSpec(name: string, fits: SweepSpecInput['fits']): SweepSpec {
  return SweepSpecSchema.parse({
    name,
    grid: { arch: ['resnet18'], seed: [0] },
    job: { command: ['true'] },
    executor: { kind: 'local' },
    metrics: ['V1'],
    fits,
  });
}
const NEURO = { name: 'neuro', form: 'power_law' as const, x: 'total_flops', scalers: { total_flops: 1e13 }, y: { metrics: ['V1'] }, bootstrap: 20 };

async function addRun(store: ResultsStore, sweep: string, runId: string, axes: Record<string, string | number>, result: Record<string, unknown>) {
  const at = '2025-01-01T00:00:00Z';
  await store.recordResult({ sweep, runId, attempt: 1, axes, result: result as never, gpuSeconds: 3600, recordedAt: at });
  await store.upsertRun({ sweep, runId, axes, state: 'succeeded', attempts: 1, gpus: 1, gpuSeconds: 3600, updatedAt: at });
}

/** `n` runs whose V1 follows LAW over five decades of compute, with 1% noise (seeded). */
async function grid(store: ResultsStore, spec: SweepSpec, n: number): Promise<void> {
  await store.upsertSweep({ name: spec.name, specHash: 'h', spec, instanceId: 'i', createdAt: '2025-01-01T00:00:00Z' });
  const rand = mulberry32(7);
  for (let i = 0; i < n; i++) {
    const flops = 1e14 * 10 ** ((5 * i) / n) * (1 + 0.3 * rand());
    const score = 1 - (LAW.E + LAW.A * (flops / 1e13) ** -LAW.alpha) * (1 + 0.01 * (rand() - 0.5));
    await addRun(store, spec.name, `run-${String(i).padStart(3, '0')}`, { arch: 'resnet18', seed: i }, { metrics: { V1: score }, n_params: 1e7, n_samples_seen: 1e6, total_flops: flops });
  }
}

/** The page's study section. */
function studySection(html: string): string {
  const i = html.indexOf('<section class="study" id="study-efficiency">');
  expect(i, 'the report has a study section').toBeGreaterThan(0);
  return html.slice(i, html.indexOf('</section>', i) + '</section>'.length);
}

/** The one SVG of the figure `id`. */
function figureSvg(section: string, id: string): string {
  const i = section.indexOf(`<figure id="${id}">`);
  expect(i, `figure ${id}`).toBeGreaterThanOrEqual(0);
  return section.slice(i, section.indexOf('</figure>', i));
}

const texts = (svg: string, role: string) =>
  [...svg.matchAll(new RegExp(`<g class="mark-text role-${role}[^"]*"[^>]*>(.*?)</g>`, 'gs'))].flatMap((m) => [...m[1].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]));
/** Stroke colour of each line-mark group of the figure's first layer (one group per series). */
const lineStrokes = (svg: string) => [...svg.matchAll(/<g class="mark-line role-mark layer_0_marks"[^>]*><path[^>]*stroke="([^"]+)"/g)].map((m) => m[1]);
/** The same section but for vega's per-process clip-path counters. */
const unclipped = (s: string) => s.replace(/clip\d+/g, 'clip');

describe('the sweep report: study efficiency', () => {
  it('a grid sweep with enough results: its own results replayed, one line per strategy, error against the fraction of compute', async () => {
    const store = new SqliteStore(join(dir, 'grid.db'));
    const spec = gridSpec('grid', [NEURO]);
    await grid(store, spec, 60);
    const finals = await refitSweep(store, spec, 'final');
    expect(finals).toMatchObject([{ name: 'neuro', final: true, nPoints: 60 }]);
    const path = await writeSweepReport(store, spec, dir, finals);
    const html = readFileSync(path, 'utf8');
    const section = studySection(html);
    expect(section).toContain("<h3>neuro: replayed over this sweep's results</h3>");
    const svg = figureSvg(section, 'fig-neuro-study-efficiency-0');
    // One line per strategy, each in its colour, and the legend naming them.
    expect(lineStrokes(svg)).toEqual([STRATEGY_COLORS.adaptive, STRATEGY_COLORS.random, STRATEGY_COLORS['compute-ascending']]);
    expect(texts(svg, 'legend-label')).toEqual(['adaptive', 'random', 'compute-ascending']);
    expect(texts(svg, 'axis-title')).toEqual(["Fraction of the candidates' compute", 'Target-region RMSE of the score']);
    expect(texts(svg, 'axis-label')).toContain('50%');
    expect(texts(svg, 'title-text')).toEqual(['neuro: study efficiency']);
    // Each line has points (a path with more than one vertex) and is labelled honestly as a replay.
    for (const d of [...svg.matchAll(/<g class="mark-line role-mark layer_0_marks"[^>]*><path[^>]* d="([^"]+)"/g)].map((m) => m[1])) expect(d.split('L').length).toBeGreaterThan(1);
    expect(section).toContain("Replayed over this sweep&#39;s own results: of the fit&#39;s 60 points, the most expensive 6 are held out as the target region and the other 54 are candidates");
    expect(section).toContain('not how the sweep ran');
    // The table: one row per strategy at its 50% budget.
    expect([...section.matchAll(/<tr><td>([a-z-]+)<\/td><td>50%<\/td>/g)].map((m) => m[1])).toEqual(['adaptive', 'random', 'compute-ascending']);
    expect(section).not.toContain('study-notes');
    // The stored page is the one written, and `sweep report <sweep>` renders the same section.
    expect((await store.getReport('grid'))?.html).toBe(html);
    const again = studySection(await renderReport(await reportInputFromStore(store, 'grid')));
    expect(unclipped(again)).toBe(unclipped(section));
    await store.close();
  }, 120_000);

  it('a sweep with too few results: a note saying why instead of a figure', async () => {
    const store = new SqliteStore(join(dir, 'few.db'));
    const spec = gridSpec('few', [NEURO]);
    await grid(store, spec, 8);
    const finals = await refitSweep(store, spec, 'final');
    expect(finals[0]).toMatchObject({ final: true, nPoints: 8 });
    const html = readFileSync(await writeSweepReport(store, spec, dir, finals), 'utf8');
    await store.close();
    const section = studySection(html);
    expect(section).not.toContain('<figure');
    expect(section).toContain(
      '<ul class="study-notes"><li>neuro: 8 usable points, too few to replay a study over (a replay needs 20 for power_law: a held-out target region and several refits); no figure yet.</li></ul>',
    );
    // The rest of the report is there.
    expect(html).toContain('id="fit-neuro"');
  }, 60_000);

  it('an adaptive sweep: the live study path from its stored refits, and why it is not replayed', async () => {
    const spec = SweepSpecSchema.parse({
      name: 'adapt',
      grid: { arch: ['alexnet', 'resnet18', 'resnet50', 'efficientnet_b0', 'convnext_tiny'], dataset: ['imagenet'], samples_per_class: [10, 30, 100, 300], epochs: [10] },
      job: { command: ['true'], resources: { gpus: 1 } },
      executor: { kind: 'local' },
      metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
      fits: [{ name: 'neuro', form: 'power_law', x: 'total_flops', y: { metrics: ['V1'] }, bootstrap: 30 }],
      refit: { every: 4, bootstrap: 30 },
      strategy: { kind: 'adaptive', target: 'neuro', objective: 'exponent', parameter: 'alpha', budget: { gpuHours: 1 }, stopWhen: { ciWidth: 0.01 }, batch: 4 },
    });
    const cells = expandGrid(spec).slice(0, 12);
    const costOf = (axes: Record<string, string | number | boolean>) => estimateCell(spec, axes)!.gpuHours;
    // The budget: what these 12 cells cost, plus a fifth (the study stopped before spending it all).
    const total = cells.reduce((s, c) => s + costOf(c.axes), 0);
    const s = SweepSpecSchema.parse({ ...spec, strategy: { ...spec.strategy, budget: { gpuHours: total * 1.2 } } });
    const store = new SqliteStore(join(dir, 'adapt.db'));
    await store.upsertSweep({ name: s.name, specHash: 'h', spec: s, instanceId: 'i', createdAt: '2025-01-01T00:00:00Z' });
    const rand = mulberry32(3);
    const spentAfter: number[] = [];
    for (let b = 0; b < 3; b++) {
      for (const c of cells.slice(4 * b, 4 * b + 4)) {
        const e = estimateCell(s, c.axes)!;
        const score = 1 - (LAW.E + LAW.A * (e.totalFlops / 1e13) ** -LAW.alpha) * (1 + 0.02 * (rand() - 0.5));
        await addRun(store, s.name, c.runId, c.axes as Record<string, string | number>, { metrics: { V1: score }, n_params: e.nParams, n_samples_seen: e.nSamplesSeen, total_flops: e.totalFlops });
      }
      // The sweep's bootstrap refit after each batch (the one proposeNext reads).
      const [fit] = await refitSweep(store, s, 'bootstrap');
      expect(fit.error).toBeUndefined();
      spentAfter.push(cells.slice(0, 4 * b + 4).reduce((t, c) => t + costOf(c.axes), 0) / (total * 1.2));
    }
    const finals = await refitSweep(store, s, 'final');
    const html = readFileSync(await writeSweepReport(store, s, dir, finals), 'utf8');
    const section = studySection(html);
    expect(section).toContain('No replay over this sweep&#39;s results: an adaptive study ran only the cells it chose');
    expect(section).not.toContain('study-efficiency-0');
    const svg = figureSvg(section, 'fig-neuro-study-path');
    expect(texts(svg, 'axis-title')).toEqual(["Fraction of the study's GPU-hour budget spent", 'Width of the 95% interval of alpha']);
    expect(texts(svg, 'title-text')).toEqual(["neuro: the live study's alpha interval"]);
    expect(lineStrokes(svg)).toEqual([STRATEGY_COLORS.adaptive]);
    expect(svg).toContain('dashed: the stop width 0.01');
    // The table: the three live refits and the final one (a bootstrap too), in order, with the budget each had spent.
    const rows = [...section.matchAll(/<tr><td>(\d+)<\/td><td>(\d+)<\/td><td>[^<]*<\/td><td>([\d.]+)%<\/td><td>([^<]*)<\/td><td>\[([^,]+), ([^\]]+)\]<\/td><td>([^<]*)<\/td><\/tr>/g)];
    expect(rows.map((r) => Number(r[2]))).toEqual([4, 8, 12, 12]);
    expect(rows.map((r) => Number(r[3]) / 100)).toEqual([...spentAfter, spentAfter[2]].map((f) => Number((f * 100).toPrecision(3)) / 100));
    const stored = await store.fitHistory(s.name, 'neuro', { stage: 'bootstrap' });
    expect(rows.map((r) => Number(r[1]))).toEqual(stored.map((f) => f.version));
    for (const r of rows) {
      const [lo, hi, width] = [Number(r[5]), Number(r[6]), Number(r[7])];
      expect(hi).toBeGreaterThan(lo);
      expect(width).toBeCloseTo(hi - lo, 3);
      expect(Number(r[4])).toBeGreaterThan(0.15);
    }
    await store.close();
  }, 120_000);

  it('--serve reuses a replay until the points grow by a quarter; an identical replay is never run twice', async () => {
    const store = new SqliteStore(':memory:');
    const spec = gridSpec('live', [NEURO]);
    await grid(store, spec, 40);
    /** The sweep's live refit, then its fits (the replay's reference). */
    const fitsNow = async (): Promise<ReportFit[]> => {
      await refitSweep(store, spec, 'point');
      return (await store.latestFits('live')).map((f) => f.fit as ReportFit);
    };
    const cache = new StudyReplayCache(1.25);
    const first = await sweepStudySection(store, spec, await store.listDataPoints('live'), await fitsNow(), { cache });
    expect(first.replays).toHaveLength(1);
    expect(first.notes).toEqual([]);
    const same = await sweepStudySection(store, spec, await store.listDataPoints('live'), (await store.latestFits('live')).map((f) => f.fit as ReportFit), { cache });
    expect(same.replays[0]).toBe(first.replays[0]);
    // 45 points (< 1.25 x 40): the replay of 40 is shown again, and says so.
    for (let i = 0; i < 5; i++) await addRun(store, 'live', `late-${i}`, { arch: 'resnet18', seed: 100 + i }, { metrics: { V1: 0.4 + 0.01 * i }, n_params: 1e7, n_samples_seen: 1e6, total_flops: 3e15 * (i + 1) });
    const stale = await sweepStudySection(store, spec, await store.listDataPoints('live'), await fitsNow(), { cache });
    expect(stale.replays[0]).toBe(first.replays[0]);
    expect(stale.notes).toEqual(['neuro: the replay shown is of the fit\'s first 40 of its 45 points; it is replayed again when they have grown by a quarter.']);
    // 50 points: replayed afresh. Without a cache (a one-shot `sweep report`), always afresh.
    for (let i = 5; i < 10; i++) await addRun(store, 'live', `late-${i}`, { arch: 'resnet18', seed: 100 + i }, { metrics: { V1: 0.4 + 0.01 * i }, n_params: 1e7, n_samples_seen: 1e6, total_flops: 3e15 * (i + 1) });
    const points = await store.listDataPoints('live');
    const fresh = await sweepStudySection(store, spec, points, await fitsNow(), { cache });
    expect(fresh.notes).toEqual([]);
    expect(fresh.replays[0]).not.toBe(first.replays[0]);
    expect(fresh.replays[0].context).toContain("of the fit's 50 points");
    expect(await sweepStudySection(store, spec, points, (await store.latestFits('live')).map((f) => f.fit as ReportFit))).toEqual(fresh);
    await store.close();
  }, 120_000);

  it('a failure in the section: the report renders and the section says why', async () => {
    const store = new SqliteStore(':memory:');
    const spec = gridSpec('broken', [NEURO]);
    await grid(store, spec, 30);
    const finals = await refitSweep(store, spec, 'final');
    // The store fails under the section (its fit history cannot be read): the section says so, the report renders.
    const bad = new Proxy(store, {
      get: (t, k) => (k === 'fitHistory' ? async () => Promise.reject(new Error('disk on fire')) : Reflect.get(t, k, t)),
    }) as ResultsStore;
    const adaptive = SweepSpecSchema.parse({
      ...spec,
      grid: { arch: ['resnet18'], dataset: ['imagenet'], samples_per_class: [10], epochs: [10] },
      strategy: { kind: 'adaptive', target: 'neuro', budget: { gpuHours: 100 } },
    });
    const html = await renderReport(await sweepReportInput(bad, adaptive, finals));
    expect(studySection(html)).toContain('<li>This section could not be built: disk on fire</li>');
    expect(html).toContain('id="fit-neuro"');
    // A figure that cannot be drawn is a note too, and the rest of the page is unchanged.
    const input = await sweepReportInput(store, spec, finals);
    const broken = { ...input, study: { ...input.study!, replays: [{ ...input.study!.replays[0], strategies: null } as unknown as StudyReplay] } };
    const page = await renderReport(broken);
    expect(studySection(page)).toMatch(/<li>The replay figure of neuro could not be drawn: [^<]+<\/li>/);
    expect(page).toContain('id="fit-neuro"');
    await store.close();
  }, 60_000);
});

describe("the paper's 444-point chinchilla fit as a sweep", () => {
  it('renders the section with three lines and says what it cost', async () => {
    const FLAGS = ['is_pretrained', 'is_random', 'is_ssl', 'is_ablation', 'is_open_clip', 'is_adv'];
    const csv = readCsvFile(join(import.meta.dirname, '../../../shared/data/benchmark_scores.csv'));
    const byModel = new Map<string, Record<string, unknown>[]>();
    for (const r of csv.rows as Record<string, unknown>[]) {
      if (FLAGS.some((f) => String(r[f]) === 'True')) continue;
      const id = String(r.model_id);
      if (!byModel.has(id)) byModel.set(id, []);
      byModel.get(id)!.push(r);
    }
    const fit = loadFitSpec(join(import.meta.dirname, '../../configs/fits/paper/compute_chinchilla.yaml'));
    const spec = gridSpec('paper', [{ ...fit, bootstrap: 20 } as never]);
    const store = new SqliteStore(':memory:');
    await store.upsertSweep({ name: 'paper', specHash: 'h', spec, instanceId: 'i', createdAt: '2025-01-01T00:00:00Z' });
    let k = 0;
    for (const [id, rows] of byModel) {
      const r0 = rows[0];
      const metrics = Object.fromEntries(rows.map((r) => [String(r.region), Number(r.score)]));
      const axes = { arch: String(r0.arch), dataset: String(r0.dataset), samples_per_class: Number(r0.samples_per_class), epochs: Number(r0.n_epochs), seed: Number(r0.seed) };
      await addRun(store, 'paper', `${id}-${(k++).toString(16).padStart(8, '0')}`, axes, { metrics, n_params: Number(r0.n_params), n_samples_seen: Number(r0.n_samples_seen), total_flops: Number(r0.total_flops) });
    }
    const finals = await refitSweep(store, spec, 'final');
    expect(finals[0]).toMatchObject({ name: 'compute_chinchilla', nPoints: 444 });
    const fits = (await store.latestFits('paper')).map((f) => f.fit as ReportFit);
    const points = await store.listDataPoints('paper');
    // The section alone (replay of 3 strategies), then the whole report with and without it.
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const study = await sweepStudySection(store, spec, points, fits);
    const sectionMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const input = await sweepReportInput(store, spec, finals);
    expect(input.study).toEqual(study);
    const t1 = performance.now();
    const html = await renderReport(input);
    const withMs = performance.now() - t1;
    const t2 = performance.now();
    await renderReport({ ...input, study: undefined });
    const withoutMs = performance.now() - t2;
    const section = studySection(html);
    const svg = figureSvg(section, 'fig-compute-chinchilla-study-efficiency-0');
    expect(lineStrokes(svg)).toHaveLength(3);
    expect(texts(svg, 'legend-label')).toEqual(['adaptive', 'random', 'compute-ascending']);
    expect(study.replays[0]).toMatchObject({ candidates: MAX_CANDIDATES, holdout: 44 });
    expect(section).toContain(`Replayed: ${MAX_CANDIDATES} of those 400 candidates, evenly spaced by cost`);
    console.log(
      `study section of 444 points: build ${sectionMs.toFixed(0)} ms wall (${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU); ` +
        `render with it ${withMs.toFixed(0)} ms, without ${withoutMs.toFixed(0)} ms (loaded machine)`,
    );
    // The bound holds: seconds, not minutes, even on a loaded machine.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(15_000);
    await store.close();
  }, 240_000);
});
