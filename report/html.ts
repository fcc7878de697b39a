/**
 * HTML assembly: one self-contained page (inline CSS and SVG, no scripts, no
 * external assets), so it can be mailed, archived, or opened from a bucket.
 * (`sweep report --serve` adds its small reload script to the page it serves, not here.)
 */
import type { Percentiles } from '../scaling/types';
import { fmt, pow10Text } from './figures';
import { PARAM_NAMES, linearParams, linearPercentiles } from './laws';
import type { RenderedFigure, ReportFit, ReportFitProblem, ReportInput, ReportRun, SweepSummary } from './types';

export const DEFAULT_MAX_RUN_ROWS = 1000;
export const DEFAULT_MAX_METRIC_COLUMNS = 12;
/** Fit sections (figures, tables) at most; the rest are in the overview table only. */
export const MAX_FIT_SECTIONS = 8;
/** Longest free text (a reason, a warning) printed, and most warnings per fit: error text can be huge. */
const MAX_TEXT = 600;
const MAX_WARNINGS = 20;
const clipText = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}… (${s.length - MAX_TEXT} more characters)` : s);

/** How the page is assembled beyond its input (the served page links each run into the Web UI). */
export interface PageOptions {
  /** The link of a run (its workflow in the Temporal Web UI); no link when undefined. */
  runLink?: (runId: string) => string | undefined;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const GREEK: Record<string, string> = { alpha: 'α', beta: 'β', lambda: 'λ' };
const PARAM_MEANING: Record<string, string> = {
  E: 'irreducible floor (y → E at infinite scale)',
  A: 'scale of the first power-law term',
  alpha: 'exponent of the first variable',
  lambda: 'log10 of the shift added to x',
  B: 'scale of the second power-law term',
  beta: 'exponent of the second variable',
};
const LSE_NAME: Record<string, string> = { E: 'e = log E', A: 'a = log A', B: 'b = log B', alpha: 'alpha', beta: 'beta', lambda: 'lambda' };
const RECIPE_ROWS: Array<[string, string]> = [
  ['a', 'N_opt ∝ P^a, a = β/(α+β)'],
  ['b', 'D_opt ∝ P^b, b = α/(α+β)'],
  ['G', 'G = (αA/(βB))^(1/(α+β))'],
  ['m', 'C = m (N·D)^n, unscaled N, D, C'],
  ['n', 'C = m (N·D)^n, unscaled N, D, C'],
  ['a_over_n', 'N_opt ∝ C^(a/n)'],
  ['b_over_n', 'D_opt ∝ C^(b/n)'],
];

const h = escapeHtml;

/** "2 (1 - score <= 0: 1, missing total_flops: 1)": the rows a fit left out, by reason. */
function leftOut(fit: ReportFit): string {
  if (fit.n_excluded === undefined) return '';
  const why = Object.entries(fit.excluded ?? {})
    .filter(([, k]) => k > 0)
    .map(([r, k]) => `${r}: ${k}`)
    .join(', ');
  return `${fit.n_excluded}${why ? ` (${why})` : ''}`;
}

function ci(p: Percentiles | undefined): string {
  return p ? `[${fmt(p['p2.5'])}, ${fmt(p['p97.5'])}]` : '–';
}

/** Parameter table (c): point estimate, bootstrap median and 95% interval per parameter. */
export function paramTable(fit: ReportFit): string {
  const p = linearParams(fit);
  const pct = linearPercentiles(fit);
  const rows = PARAM_NAMES[fit.form]
    .map((name) => {
      const lse = name === 'E' || name === 'A' || name === 'B' ? fit.lse_params?.[name.toLowerCase()] : fit.lse_params?.[name];
      return `<tr><th scope="row">${GREEK[name] ? `${GREEK[name]} <span class="pn">${h(name)}</span>` : h(name)}</th><td class="num">${fmt(p[name], 4)}</td><td class="num">${fmt(pct?.[name]?.p50, 4)}</td><td class="num">${ci(pct?.[name])}</td><td class="num">${fmt(lse, 4)} <span class="pn">${h(LSE_NAME[name])}</span></td><td class="note">${h(PARAM_MEANING[name])}</td></tr>`;
    })
    .join('\n');
  const boot = fit.bootstrap ? `${fit.bootstrap.n} bootstrap resamples (seed ${fit.bootstrap.seed})` : 'no bootstrap';
  return `<table class="params" data-fit="${h(fit.name)}">
<caption>Parameters of ${h(fit.name)} (${h(fit.form)}), linear form; intervals are 2.5–97.5 percentiles over ${h(boot)}.</caption>
<thead><tr><th>Parameter</th><th>Estimate</th><th>Bootstrap median</th><th>95% interval</th><th>LSE value</th><th>Meaning</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

/** Compute-optimal recipe table (chinchilla fits). */
export function recipeTable(fit: ReportFit): string {
  const r = fit.recipe;
  if (!r) return '';
  const pct = r.bootstrap?.percentiles;
  const rows = RECIPE_ROWS.map(([k, meaning]) => {
    const v = (r as unknown as Record<string, number | undefined>)[k];
    return `<tr><th scope="row">${h(k.replace('_over_', '/'))}</th><td class="num">${fmt(v, 4)}</td><td class="num">${fmt(pct?.[k]?.p50, 4)}</td><td class="num">${ci(pct?.[k])}</td><td class="note">${h(meaning)}</td></tr>`;
  }).join('\n');
  const boot = r.bootstrap ? `${r.bootstrap.n} bootstrap resamples` : 'no bootstrap';
  return `<table class="recipe" data-fit="${h(fit.name)}">
<caption>Compute-optimal recipe of ${h(fit.name)} (P = N·D in the fit's scaled units; C = total FLOPs); intervals over ${h(boot)}.</caption>
<thead><tr><th>Quantity</th><th>Estimate</th><th>Bootstrap median</th><th>95% interval</th><th>Definition</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function fitFacts(fit: ReportFit): string {
  const xs = fit.x.map((c, i) => `${c} / ${pow10Text(fit.scalers[i] ?? 1)}`).join(', ');
  const y = `${fit.y.invert ? '1 − ' : ''}mean(${fit.y.metrics.join(', ')})`;
  return `<dl class="facts"><dt>Form</dt><dd>${h(fit.form)}</dd><dt>x</dt><dd>${h(xs)}</dd><dt>y (fitted)</dt><dd>${h(y)}</dd><dt>Points</dt><dd>${fit.n_points}${fit.weighting ? ` (population-weighted over ${fit.weighting.pool} grid cells${fit.weighting.cap ? `, trimmed at ${fit.weighting.cap}x the mean` : ''})` : ''}</dd>${fit.n_excluded !== undefined ? `<dt>Left out</dt><dd class="left-out">${h(leftOut(fit))}</dd>` : ''}<dt>Huber loss (sum)</dt><dd>${fmt(fit.loss, 5)}</dd></dl>`;
}

function figureHtml(f: RenderedFigure): string {
  return `<figure id="${h(f.id)}">\n${f.svg}\n<figcaption>${h(f.caption)}</figcaption>\n</figure>`;
}

function fitSection(fit: ReportFit, figures: RenderedFigure[]): string {
  const ws = fit.warnings ?? [];
  const more = ws.length > MAX_WARNINGS ? `<li>… and ${ws.length - MAX_WARNINGS} more warnings</li>` : '';
  const warnings = ws.length ? `<ul class="warnings">${ws.slice(0, MAX_WARNINGS).map((w) => `<li>${h(clipText(w))}</li>`).join('')}${more}</ul>` : '';
  return `<section class="fit" id="fit-${h(fit.name)}">
<h2>${h(fit.name)}</h2>
${fitFacts(fit)}
${warnings}
<div class="figs">${figures.map(figureHtml).join('\n')}</div>
${paramTable(fit)}
${recipeTable(fit)}
</section>`;
}

/** Headline table: one row per fit with its exponents, for a quick read. */
function overviewTable(fits: ReportFit[]): string {
  const withLeftOut = fits.some((f) => f.n_excluded !== undefined);
  const rows = fits
    .map((f) => {
      const p = linearParams(f);
      const pct = linearPercentiles(f);
      const ex = (n: string): string => (n in p ? `${GREEK[n]} = ${fmt(p[n])} ${ci(pct?.[n])}` : '');
      const exps = [ex('alpha'), ex('beta')].filter(Boolean).join('; ');
      return `<tr><td><a href="#fit-${h(f.name)}">${h(f.name)}</a></td><td>${h(f.form)}</td><td>${h(f.x.join(' × '))}</td><td>${h(f.y.metrics.join(', '))}</td><td class="num">${f.n_points}</td>${withLeftOut ? `<td class="num">${f.n_excluded ?? ''}</td>` : ''}<td class="num">${fmt(p.E)} ${ci(pct?.E)}</td><td>${h(exps)}</td></tr>`;
    })
    .join('\n');
  return `<table class="overview"><caption>Fitted laws (95% bootstrap intervals in brackets)</caption>
<thead><tr><th>Fit</th><th>Form</th><th>x</th><th>Metrics</th><th>Points</th>${withLeftOut ? '<th>Left out</th>' : ''}<th>E</th><th>Exponents</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

/** Laws without a final fit: the reason each could not run, so no failure is silent. */
function fitProblemsTable(problems: ReportFitProblem[]): string {
  const rows = problems
    .map(
      (p) =>
        `<tr><td>${h(p.name)}</td><td>${h(p.form ?? '')}</td><td class="num">${p.nPoints ?? ''}</td><td class="num">${p.nExcluded ?? ''}</td><td class="reason">${h(clipText(p.reason))}</td></tr>`,
    )
    .join('\n');
  return `<section class="fit-problems" id="fit-problems"><h2>Fits that could not run</h2>
<table class="fit-problems"><caption>No final fit for ${problems.length} law${problems.length === 1 ? '' : 's'}; the reason of each</caption>
<thead><tr><th>Fit</th><th>Form</th><th>Usable points</th><th>Left out</th><th>Reason</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}

/** What the report left out, said in it. */
function omissionsNote(notes: string[]): string {
  return `<section class="omitted" id="omitted"><h2>Left out of this report</h2><ul class="omitted">${notes.map((n) => `<li>${h(clipText(n))}</li>`).join('')}</ul></section>`;
}

/** Metric columns of the run table, first seen first, at most `maxCols`; and how many there were. */
function metricColumns(runs: ReportRun[], maxCols: number): { keys: string[]; total: number } {
  const seen = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.metrics ?? {})) seen.add(k);
  return { keys: [...seen].slice(0, maxCols), total: seen.size };
}

function runsTable(runs: ReportRun[], max: number, maxCols: number, runLink?: PageOptions['runLink']): string {
  const shown = runs.slice(0, max);
  const axisKeys = [...new Set(shown.flatMap((r) => Object.keys(r.axes ?? {})))];
  const { keys: metricKeys, total: nMetrics } = metricColumns(shown, maxCols);
  const head = ['Run', 'State', ...axisKeys, 'Attempts', 'Failure', 'GPU-h', ...metricKeys].map((c) => `<th>${h(c)}</th>`).join('');
  const body = shown
    .map((r) => {
      const link = runLink?.(r.runId);
      const cells = [
        `<td class="mono">${link ? `<a href="${h(link)}" rel="noopener">${h(r.runId)}</a>` : h(r.runId)}</td>`,
        `<td class="state-${h(r.state)}">${h(r.state)}</td>`,
        ...axisKeys.map((k) => `<td>${h(String(r.axes?.[k] ?? ''))}</td>`),
        // Plain cells (styled by the table's CSS): a class on each of ~20,000 cells is 250 KB.
        `<td>${r.attempts ?? ''}</td>`,
        `<td>${h(r.failureClass ?? '')}</td>`,
        `<td>${r.gpuHours !== undefined ? fmt(r.gpuHours) : ''}</td>`,
        ...metricKeys.map((k) => `<td>${r.metrics?.[k] !== undefined ? fmt(r.metrics[k]) : ''}</td>`),
      ];
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const notes = [
    runs.length > max ? `Table shows ${max} of ${runs.length} runs.` : '',
    nMetrics > metricKeys.length ? `Metrics beyond the first ${metricKeys.length} columns omitted (${nMetrics} metrics in the results).` : '',
  ].filter(Boolean);
  const more = notes.length ? `<p class="note runs-omitted">${h(notes.join(' '))}</p>` : '';
  return `<table class="runs"><caption>Runs</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${more}`;
}

function sweepSection(s: SweepSummary, maxRows: number, maxCols: number, runLink?: PageOptions['runLink']): string {
  const counts = Object.entries(s.counts ?? {});
  const total = counts.reduce((a, [, n]) => a + n, 0);
  const countHtml = counts.length
    ? `<ul class="counts">${counts.map(([k, n]) => `<li class="state-${h(k)}"><b>${n}</b> ${h(k)}</li>`).join('')}<li><b>${total}</b> total</li></ul>`
    : '';
  const facts = [
    s.gpuHours !== undefined ? `<dt>GPU-hours</dt><dd>${fmt(s.gpuHours, 4)}</dd>` : '',
    s.startedAt ? `<dt>Started</dt><dd>${h(s.startedAt)}</dd>` : '',
    s.finishedAt ? `<dt>Finished</dt><dd>${h(s.finishedAt)}</dd>` : '',
  ].join('');
  return `<section class="sweep" id="sweep"><h2>Sweep ${h(s.name)}</h2>${countHtml}${facts ? `<dl class="facts">${facts}</dl>` : ''}${s.runs?.length ? runsTable(s.runs, maxRows, maxCols, runLink) : ''}</section>`;
}

const CSS = `
:root{color-scheme:light}
body{font-family:"Liberation Sans",Arial,Helvetica,sans-serif;color:#1a1a1a;background:#fff;margin:0 auto;max-width:1180px;padding:24px 32px 64px;line-height:1.45}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
header .meta{color:#555;font-size:13px}
table{border-collapse:collapse;margin:14px 0;font-size:13.5px}
caption{text-align:left;font-weight:bold;padding:4px 0 6px;color:#333}
th,td{border-bottom:1px solid #e2e2e2;padding:4px 10px;text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #999;background:#f6f6f6}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.pn{color:#777;font-weight:normal;font-size:12px}.note{color:#555;font-size:12.5px}.mono{font-family:"Liberation Mono",monospace;font-size:12px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:14px;margin:8px 0}
dl.facts dt{color:#555}dl.facts dd{margin:0}
figure{margin:18px 0;break-inside:avoid}figcaption{font-size:13px;color:#333;max-width:760px;margin-top:4px}
.figs{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
ul.counts{list-style:none;padding:0;display:flex;gap:18px;font-size:15px}
td.reason{color:#b00020;max-width:640px}
ul.study-notes{background:#f3f6fb;border-left:4px solid #4c78a8;padding:8px 28px;font-size:13px}
h3{font-size:17px;margin:24px 0 6px}
ul.warnings{background:#fff6e0;border-left:4px solid #e6a700;padding:8px 28px;font-size:13px}
.state-failed{color:#b00020}.state-succeeded{color:#1b7a1b}
table.runs{font-size:12px}table.runs td{font-variant-numeric:tabular-nums;white-space:nowrap}
@media print{body{max-width:none;padding:0}h2{break-after:avoid}}
`;

/** The full page. `figures[i]` are the rendered figures of `input.fits[i]`; `studyHtml` is the rendered study section (render.ts). */
export function assembleHtml(input: ReportInput, figures: RenderedFigure[][], opts: PageOptions = {}, studyHtml?: string): string {
  const title = input.title ?? `Scaling-law report${input.sweep ? ` – ${input.sweep.name}` : ''}`;
  const when = input.generatedAt ?? new Date().toISOString();
  const meta = [`Generated ${when}`, input.source ? `from ${input.source}` : '', `${input.fits.length} fit${input.fits.length === 1 ? '' : 's'}`]
    .filter(Boolean)
    .join(' · ');
  const body = [
    `<header><h1>${h(title)}</h1><div class="meta">${h(meta)}</div></header>`,
    input.sweep
      ? sweepSection(input.sweep, input.maxRunRows ?? DEFAULT_MAX_RUN_ROWS, input.maxMetricColumns ?? DEFAULT_MAX_METRIC_COLUMNS, opts.runLink)
      : '',
    input.fitProblems?.length ? fitProblemsTable(input.fitProblems) : '',
    input.fits.length ? overviewTable(input.fits) : '<p>No fits.</p>',
    // Fits beyond the section limit are in the overview table only (renderReport says so).
    ...input.fits.slice(0, MAX_FIT_SECTIONS).map((f, i) => fitSection(f, figures[i] ?? [])),
    studyHtml ?? '',
    input.omissions?.length ? omissionsNote(input.omissions) : '',
  ].join('\n');
  return htmlPage(title, body);
}

/** A self-contained page: the report's one stylesheet, the title and the body. */
export function htmlPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
