/**
 * The report: a self-contained HTML page (inline SVG, no scripts, no external
 * assets) built from fit results and, optionally, a sweep summary.
 *
 *   const html = await renderReport({ fits: fitOutput.fits, sweep: { name, counts, gpuHours, runs } });
 *   const path = await writeReport(input, 'out/report.html');
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { figuresForFit, slug } from './figures';
import { assembleHtml, escapeHtml, MAX_FIT_SECTIONS, type PageOptions } from './html';
import { renderStudySection, renderSvg } from './render';
import type { RenderedFigure, ReportFit, ReportInput, StudySection } from './types';

/** Points plotted per fit at most, and over all fits of a report (a plotted point costs ~700 bytes of SVG). */
export const DEFAULT_MAX_PLOTTED_POINTS = 1000;
export const PLOTTED_POINTS_BUDGET = 1000;
/** Fewest points a fit's figures show, however many fits share the budget. */
const MIN_PLOTTED_POINTS = 40;

/**
 * The fit as plotted: at most `max` points, evenly spaced over the fit's (sorted) points, so
 * the SVGs stay bounded whatever the sweep's size; the fit's own numbers are untouched.
 */
export function plottedFit(fit: ReportFit, max: number): ReportFit {
  const pts = fit.points;
  if (!pts || pts.length <= max) return fit;
  const keep = Array.from({ length: max }, (_, i) => pts[Math.floor((i * pts.length) / max)]);
  return { ...fit, points: keep, warnings: [...(fit.warnings ?? []), `figures plot ${max} of ${pts.length} points (evenly sampled)`] };
}

export type { FitBand, RenderedFigure, ReportFit, ReportFitProblem, ReportInput, ReportRun, StudyPath, StudyPathPoint, StudyReplay, StudySection, SweepSummary } from './types';
export { parseFitOutput } from './parse';
export type { PageOptions } from './html';

/** Render the whole report to an HTML string. */
export async function renderReport(input: ReportInput, opts: PageOptions = {}): Promise<string> {
  const figures: RenderedFigure[][] = [];
  const perFit = Math.min(
    input.maxPlottedPoints ?? DEFAULT_MAX_PLOTTED_POINTS,
    Math.max(MIN_PLOTTED_POINTS, Math.floor(PLOTTED_POINTS_BUDGET / Math.max(1, Math.min(input.fits.length, MAX_FIT_SECTIONS)))),
  );
  const fits = input.fits.map((f) => plottedFit(f, perFit));
  const omissions = [...(input.omissions ?? [])];
  if (fits.length > MAX_FIT_SECTIONS) {
    omissions.push(`Figures and parameter tables of ${fits.length - MAX_FIT_SECTIONS} fits beyond the first ${MAX_FIT_SECTIONS} omitted (they are in the overview table).`);
  }
  for (const [i, fit] of fits.slice(0, MAX_FIT_SECTIONS).entries()) {
    const rendered: RenderedFigure[] = [];
    for (const f of figuresForFit(fit)) {
      // Index in the id keeps figures unique when two fits share a name.
      const id = `${f.id}-${i}`;
      rendered.push({ id, title: f.title, caption: f.caption, svg: await renderSvg(f.spec, `${slug(id)}`) });
    }
    figures.push(rendered);
  }
  return assembleHtml({ ...input, fits, omissions }, figures, opts, input.study ? await studySectionHtml(input.study) : undefined);
}

/** The study section, or, if it cannot be rendered at all, the section saying why: never the report's failure. */
async function studySectionHtml(study: StudySection): Promise<string> {
  try {
    return await renderStudySection(study);
  } catch (e) {
    return `<section class="study" id="study-efficiency"><h2>Study efficiency</h2><ul class="study-notes"><li>${escapeHtml(`This section could not be rendered: ${(e as Error).message}`)}</li></ul></section>`;
  }
}

/** Render and write the report (creating parent directories); returns the absolute path. */
export async function writeReport(input: ReportInput, outPath: string, opts: PageOptions = {}): Promise<string> {
  const html = await renderReport(input, opts);
  const abs = resolve(outPath);
  await mkdir(dirname(abs), { recursive: true });
  await writeFile(abs, html, 'utf8');
  return abs;
}
