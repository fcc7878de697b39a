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
import { assembleHtml } from './html';
import { renderSvg } from './render';
import type { RenderedFigure, ReportInput } from './types';

export type { FitBand, RenderedFigure, ReportFit, ReportInput, ReportRun, SweepSummary } from './types';
export { parseFitOutput } from './parse';

/** Render the whole report to an HTML string. */
export async function renderReport(input: ReportInput): Promise<string> {
  const figures: RenderedFigure[][] = [];
  for (const [i, fit] of input.fits.entries()) {
    const rendered: RenderedFigure[] = [];
    for (const f of figuresForFit(fit)) {
      // Index in the id keeps figures unique when two fits share a name.
      const id = `${f.id}-${i}`;
      rendered.push({ id, title: f.title, caption: f.caption, svg: await renderSvg(f.spec, `${slug(id)}`) });
    }
    figures.push(rendered);
  }
  return assembleHtml(input, figures);
}

/** Render and write the report (creating parent directories); returns the absolute path. */
export async function writeReport(input: ReportInput, outPath: string): Promise<string> {
  const html = await renderReport(input);
  const abs = resolve(outPath);
  await mkdir(dirname(abs), { recursive: true });
  await writeFile(abs, html, 'utf8');
  return abs;
}
