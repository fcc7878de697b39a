/**
 * Vega-Lite spec -> static SVG string, headless in Node (no browser, no canvas).
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { slug, studyEfficiencyFigure, studyPathFigure } from './figures';
import { escapeHtml, htmlPage } from './html';
import type { RenderedFigure, StudyPath, StudyReplay, StudySection } from './types';

/**
 * Render one spec to SVG. `idPrefix` namespaces the SVG's internal ids (clip paths,
 * gradients): vega numbers them per render, and several figures share one HTML page.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const compiled = vl.compile(spec).spec;
  // renderer 'none': we only want the scenegraph serialised, not drawn.
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return namespaceIds(svg, idPrefix).replace(/^<svg /, '<svg style="max-width:100%;height:auto" ');
  } finally {
    view.finalize();
  }
}

/** Prefix every id="..." and its url(#...) / href="#..." references. */
export function namespaceIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]);
  if (ids.size === 0) return svg;
  const esc = [...ids].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return svg
    .replace(new RegExp(`(\\sid=")(${esc})(")`, 'g'), `$1${prefix}-$2$3`)
    .replace(new RegExp(`url\\(#(${esc})\\)`, 'g'), `url(#${prefix}-$1)`)
    .replace(new RegExp(`(href=")#(${esc})(")`, 'g'), `$1#${prefix}-$2$3`);
}

/** Replayed studies per page at most (each is one figure and one table). */
export const MAX_STUDIES = 8;

/**
 * The study-efficiency figure of each replayed study, rendered (for a sweep report's page, or
 * the standalone page below).
 */
export async function renderStudyFigures(studies: readonly StudyReplay[]): Promise<RenderedFigure[]> {
  const out: RenderedFigure[] = [];
  for (const [i, st] of studies.slice(0, MAX_STUDIES).entries()) {
    const f = studyEfficiencyFigure(st);
    const id = `${f.id}-${i}`;
    out.push({ id, title: f.title, caption: f.caption, svg: await renderSvg(f.spec, slug(id)) });
  }
  return out;
}

const num = (v: number | undefined, d = 4) => (v === undefined || !Number.isFinite(v) ? '–' : Number(v.toPrecision(d)).toString());
const pct = (f: number) => `${Number((f * 100).toPrecision(3))}%`;

function studyTable(st: StudyReplay): string {
  const names = st.strategies[0]?.targets?.map((t) => t.name) ?? [];
  const head = ['strategy', 'budget', 'compute', 'target-region RMSE', 'R²', ...names.flatMap((n) => [n, `${n} 95% CI`, `full ${n} [95% CI]`, 'in full CI'])];
  const rows = st.strategies.map((s) => {
    const cells = [s.strategy, pct(s.budget), pct(s.compute_fraction), num(s.holdout_error), num(s.holdout_r2, 3)];
    for (const n of names) {
      const t = s.targets?.find((x) => x.name === n);
      cells.push(num(t?.value), t ? `[${num(t.ci[0])}, ${num(t.ci[1])}]` : '–', t ? `${num(t.full)} [${num(t.full_ci[0])}, ${num(t.full_ci[1])}]` : '–', t ? (t.in_full_ci ? 'yes' : 'no') : '–');
    }
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/**
 * A self-contained HTML page of replayed studies (`sweep replay --report out.html`): per fit, the
 * study-efficiency figure and the table of strategies and budgets (medians over seeds).
 */
export async function renderStudyReport(studies: readonly StudyReplay[], opts: { title?: string; generatedAt?: string; source?: string } = {}): Promise<string> {
  const figures = await renderStudyFigures(studies);
  const title = opts.title ?? `Replayed scaling studies – ${studies.map((s) => s.fit).join(', ')}`;
  const meta = [`Generated ${opts.generatedAt ?? new Date().toISOString()}`, opts.source ? `from ${opts.source}` : ''].filter(Boolean).join(' · ');
  const sections = studies.slice(0, MAX_STUDIES).map((st, i) => {
    const f = figures[i];
    const all = `Fit on all ${st.candidates !== undefined ? `${st.candidates} ` : ''}candidates: target-region RMSE ${num(st.all_candidates.holdout_error)} (R² ${num(st.all_candidates.holdout_r2, 3)}).`;
    return `<section><h2>${escapeHtml(st.fit)}</h2><p>${escapeHtml(all)}</p>
<figure id="${escapeHtml(f.id)}">${f.svg}<figcaption>${escapeHtml(f.caption)}</figcaption></figure>
${studyTable(st)}</section>`;
  });
  const omitted = studies.length > MAX_STUDIES ? `<p>${studies.length - MAX_STUDIES} further studies omitted (at most ${MAX_STUDIES} per page).</p>` : '';
  const body = `<header><h1>${escapeHtml(title)}</h1><div class="meta">${escapeHtml(meta)}</div></header>
${sections.join('\n')}
${omitted}`;
  return htmlPage(title, body);
}

/** Refits of a live study's path listed in its table at most (the figure shows them all). */
const MAX_PATH_ROWS = 40;

function pathTable(p: StudyPath): string {
  const head = ['fit version', 'runs', 'est. GPU-hours', 'budget spent', p.target, '95% CI', 'CI width'];
  const rows = p.points.slice(-MAX_PATH_ROWS).map((q) => {
    const cells = [String(q.version), String(q.runs), num(q.spentGpuHours), pct(q.budget_fraction), num(q.value), q.ci ? `[${num(q.ci[0])}, ${num(q.ci[1])}]` : '–', num(q.ci_width)];
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  const more = p.points.length > MAX_PATH_ROWS ? `<p class="note">The table lists the last ${MAX_PATH_ROWS} of the ${p.points.length} refits drawn.</p>` : '';
  return `<table class="study-path"><thead><tr>${head.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>${more}`;
}

/**
 * The "Study efficiency" section of a sweep's report: each replay's figure and table, the live
 * study's path, and the notes. A figure that fails to render is replaced by a note saying why:
 * this section must never fail the report.
 */
export async function renderStudySection(section: StudySection): Promise<string> {
  const notes = [...section.notes];
  const parts: string[] = [];
  for (const [i, st] of section.replays.slice(0, MAX_STUDIES).entries()) {
    try {
      const f = studyEfficiencyFigure(st);
      const id = `${f.id}-${i}`;
      const svg = await renderSvg(f.spec, slug(id));
      const all = `Fit on all ${st.candidates !== undefined ? `${st.candidates} ` : ''}candidates: target-region RMSE ${num(st.all_candidates.holdout_error)} (R² ${num(st.all_candidates.holdout_r2, 3)}).`;
      parts.push(`<div class="study-replay" data-fit="${escapeHtml(st.fit)}"><h3>${escapeHtml(st.fit)}: replayed over this sweep's results</h3><p>${escapeHtml(all)}</p>
<figure id="${escapeHtml(id)}">${svg}<figcaption>${escapeHtml(f.caption)}</figcaption></figure>
${studyTable(st)}</div>`);
    } catch (e) {
      notes.push(`The replay figure of ${st.fit} could not be drawn: ${(e as Error).message}`);
    }
  }
  if (section.path) {
    const p = section.path;
    try {
      if (!p.points.some((q) => q.ci_width !== undefined)) throw new Error('none of its refits has a 95% interval of the target yet');
      const f = studyPathFigure(p);
      const svg = await renderSvg(f.spec, slug(f.id));
      parts.push(`<div class="study-path" data-fit="${escapeHtml(p.fit)}"><h3>${escapeHtml(p.fit)}: the live study</h3>
<figure id="${escapeHtml(f.id)}">${svg}<figcaption>${escapeHtml(f.caption)}</figcaption></figure>
${pathTable(p)}</div>`);
    } catch (e) {
      notes.push(`The live study's path of ${p.fit} is not drawn: ${(e as Error).message}`);
    }
  }
  const noteHtml = notes.length ? `<ul class="study-notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return `<section class="study" id="study-efficiency"><h2>Study efficiency</h2>
${parts.join('\n')}
${noteHtml}</section>`;
}
