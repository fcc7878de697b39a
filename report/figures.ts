/**
 * Pure Vega-Lite spec builders for the report's figures. No rendering, no I/O:
 * each builder takes a fit and returns a spec plus its caption, so they are
 * unit-testable without vega's runtime or a browser.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { FitPoint } from '../scaling/types';
import { PARAM_NAMES, bootstrapLinearSamples, linearParams, linearPercentiles, logspace, percentile, predictY, recipeOf } from './laws';
import type { ReportFit, StudyPath, StudyReplay } from './types';

export interface FigureSpec {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

/** How the 95% band of a one-variable figure was obtained (stated in the caption). */
export type BandKind = 'engine' | 'bootstrap-curves' | 'percentile-envelope' | 'none';

const FONT = 'Liberation Sans, Arial, Helvetica, sans-serif';
const WIDTH = 560;
const HEIGHT = 360;
const CURVE_SAMPLES = 160;

/** Shared look: readable sizes for print, white background (the SVG must stand alone). */
export const VL_CONFIG = {
  font: FONT,
  background: 'white',
  padding: 8,
  view: { stroke: '#888', strokeWidth: 0.8 },
  title: { fontSize: 16, fontWeight: 'bold', subtitleFontSize: 12, subtitleColor: '#444', anchor: 'start', offset: 10 },
  axis: {
    titleFontSize: 14,
    titleFontWeight: 'normal',
    labelFontSize: 12,
    gridColor: '#e6e6e6',
    tickColor: '#666',
    domainColor: '#666',
    titlePadding: 8,
  },
  // Generous limits: without a canvas vega over-estimates text width and would truncate.
  legend: { titleFontSize: 13, titleFontWeight: 'normal', labelFontSize: 12, symbolSize: 90, labelLimit: 400, titleLimit: 400 },
} as const;

// ---------- labels ----------

const COLUMN_TITLES: Record<string, string> = {
  total_flops: 'Compute C (total training FLOPs)',
  n_params: 'Parameters N',
  n_samples_seen: 'Training samples seen D',
  n_samples: 'Training set size (samples)',
  flops: 'FLOPs per forward pass',
  samples_per_class: 'Samples per class',
  n_epochs: 'Epochs',
};
const COLUMN_SYMBOLS: Record<string, string> = { total_flops: 'C', n_params: 'N', n_samples_seen: 'D' };
const COLUMN_SHORT: Record<string, string> = { total_flops: 'compute', n_params: 'parameters', n_samples_seen: 'samples seen' };

/** Axis title for a data column (asserted by the e2e test; keep stable). */
export function columnTitle(column: string): string {
  return COLUMN_TITLES[column] ?? column.replace(/_/g, ' ');
}

/** y-axis title: which score, averaged over which metrics. */
export function scoreTitle(fit: Pick<ReportFit, 'y'>): string {
  const m = fit.y.metrics;
  const what = m.length === 1 ? `${m[0]} score` : `Score (mean of ${m.join(', ')})`;
  return what;
}

const SUPERSCRIPT = '⁰¹²³⁴⁵⁶⁷⁸⁹';

/** "1e13" -> "10¹³" for titles and formulas. */
export function pow10Text(v: number): string {
  const e = Math.log10(v);
  if (Number.isInteger(e)) return `10${String(e).replace(/-/g, '⁻').replace(/\d/g, (d) => SUPERSCRIPT[Number(d)])}`;
  return fmt(v);
}

/** Compact number formatting for captions and tables. */
export function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) {
    const [m, e] = v.toExponential(digits - 1).split('e');
    return `${m}×10${e.replace('+', '').replace(/-/g, '⁻').replace(/\d/g, (d) => SUPERSCRIPT[Number(d)])}`;
  }
  return Number(v.toPrecision(digits)).toString();
}

/**
 * Log-axis ticks at decades, labelled 10^k with Unicode superscripts (a Vega
 * expression, since the SVG is static and cannot run a formatter later).
 */
function logAxis(title: string, lo: number, hi: number): Record<string, unknown> {
  const k0 = Math.ceil(Math.log10(lo) - 1e-9);
  const k1 = Math.floor(Math.log10(hi) + 1e-9);
  if (k1 - k0 < 1) return { title, format: '.2~e', grid: true, tickCount: 5 };
  const step = Math.max(1, Math.ceil((k1 - k0 + 1) / 9));
  const values: number[] = [];
  for (let k = k0; k <= k1; k += step) values.push(Math.pow(10, k));
  let expr = "format(round(log(datum.value) / LN10), 'd')";
  for (let d = 0; d <= 9; d++) expr = `replace(${expr}, regexp('${d}', 'g'), '${SUPERSCRIPT[d]}')`;
  expr = `replace(${expr}, regexp('[-\u2212]', 'g'), '⁻')`;
  return { title, values, labelExpr: `'10' + ${expr}`, grid: true, labelFlush: false };
}

/** Domain of positive values padded by `pad` decades on each side. */
function logDomain(values: number[], pad = 0.08): [number, number] {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  if (v.length === 0) return [1, 10];
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  if (hi / lo < 1.5) {
    lo /= 2;
    hi *= 2;
  }
  return [lo / Math.pow(10, pad), hi * Math.pow(10, pad)];
}

function familyOf(p: FitPoint): string {
  return p.arch_family ?? p.arch ?? 'unknown';
}

/** Observed score of a point (the spec's score, or 1 - y when the engine left it out). */
function scoreOf(fit: ReportFit, p: FitPoint): number {
  if (Number.isFinite(p.score)) return p.score;
  return fit.y.invert ? 1 - p.y : p.y;
}

/** Fitted target y -> plotted score. */
function toScore(fit: ReportFit, y: number): number {
  return fit.y.invert ? 1 - y : y;
}

/** The law written out with the point estimates, in the data's original units. */
export function formulaText(fit: ReportFit): string {
  const p = linearParams(fit);
  const lhs = fit.y.invert ? '1 − score' : 'score';
  const v = (i: number): string => {
    const col = fit.x[i] ?? `x${i}`;
    const sym = COLUMN_SYMBOLS[col] ?? col;
    const s = fit.scalers[i] ?? 1;
    return s === 1 ? sym : `(${sym}/${pow10Text(s)})`;
  };
  switch (fit.form) {
    case 'power_law':
      return `${lhs} = ${fmt(p.E)} + ${fmt(p.A)}·${v(0)}^−${fmt(p.alpha)}`;
    case 'power_law_shift':
      return `${lhs} = ${fmt(p.E)} + ${fmt(p.A)}·(${v(0)} + 10^${fmt(p.lambda)})^−${fmt(p.alpha)}`;
    case 'chinchilla':
      return `${lhs} = ${fmt(p.E)} + ${fmt(p.A)}·${v(0)}^−${fmt(p.alpha)} + ${fmt(p.B)}·${v(1)}^−${fmt(p.beta)}`;
  }
}

// ---------- (a) one-variable fits ----------

export interface CurveData {
  points: Array<{ x: number; score: number; family: string }>;
  curve: Array<{ x: number; score: number }>;
  band: Array<{ x: number; lo: number; hi: number }>;
  bandKind: BandKind;
}

/**
 * Points, fitted curve and 95% band in plotting units (original x, score).
 * Band: the engine's if given; else pointwise percentiles over bootstrap parameter
 * sets (`bootstrapParams`, or the engine's `bootstrap.lse_samples`); else the envelope over all combinations of the parameters' 2.5/97.5
 * percentiles, which ignores their correlation and so is conservative (wider).
 */
export function curveData(fit: ReportFit): CurveData {
  const scaler = fit.scalers[0] ?? 1;
  const points = (fit.points ?? []).map((p) => ({ x: p.rawX[0], score: scoreOf(fit, p), family: familyOf(p) }));
  const xsRaw = points.map((p) => p.x).concat(fit.band?.x ?? []);
  // Without points or band there is no data range; show four decades of scaled x.
  const [lo, hi] = xsRaw.length > 0 ? logDomain(xsRaw, 0) : [scaler, scaler * 1e4];
  const grid = logspace(lo, hi, CURVE_SAMPLES);
  const p = linearParams(fit);
  const curve = grid.map((x) => ({ x, score: toScore(fit, predictY(fit.form, p, [x / scaler])) }));

  const band: CurveData['band'] = [];
  let bandKind: BandKind = 'none';
  let samples: Array<Record<string, number>> | undefined;
  const pushBand = (x: number, yLo: number, yHi: number): void => {
    // Inversion flips which end is the lower score.
    const a = toScore(fit, yLo);
    const b = toScore(fit, yHi);
    if (Number.isFinite(a) && Number.isFinite(b)) band.push({ x, lo: Math.min(a, b), hi: Math.max(a, b) });
  };
  if (fit.band && fit.band.x.length > 1) {
    bandKind = 'engine';
    fit.band.x.forEach((x, i) => pushBand(x, fit.band!.lo[i], fit.band!.hi[i]));
  } else if ((samples = fit.bootstrapParams ?? bootstrapLinearSamples(fit)) && samples.length >= 10) {
    bandKind = 'bootstrap-curves';
    for (const x of grid) {
      const ys = samples.map((bp) => predictY(fit.form, bp, [x / scaler]));
      pushBand(x, percentile(ys, 2.5), percentile(ys, 97.5));
    }
  } else {
    const pct = linearPercentiles(fit);
    if (pct) {
      bandKind = 'percentile-envelope';
      const names = PARAM_NAMES[fit.form];
      const corners: Array<Record<string, number>> = [];
      for (let mask = 0; mask < 1 << names.length; mask++) {
        const c: Record<string, number> = {};
        names.forEach((n, i) => (c[n] = mask & (1 << i) ? pct[n]['p97.5'] : pct[n]['p2.5']));
        corners.push(c);
      }
      for (const x of grid) {
        const ys = corners.map((c) => predictY(fit.form, c, [x / scaler])).concat(predictY(fit.form, p, [x / scaler]));
        pushBand(x, Math.min(...ys), Math.max(...ys));
      }
    }
  }
  return { points, curve, band, bandKind };
}

const BAND_CAPTION: Record<BandKind, string> = {
  engine: 'Shaded: 95% bootstrap confidence band (pointwise).',
  'bootstrap-curves': 'Shaded: 95% bootstrap confidence band (pointwise percentiles of the bootstrap curves).',
  'percentile-envelope':
    'Shaded: approximate 95% band, the envelope of the curves at the parameters\u2019 2.5/97.5 bootstrap percentiles (ignores their correlation, so wider than the pointwise band).',
  none: 'No bootstrap, so no confidence band.',
};

/** Figure (a): score against x on a log axis, points by family, fitted curve and band. */
export function scalingCurveFigure(fit: ReportFit): FigureSpec {
  if (fit.form === 'chinchilla') throw new Error('scalingCurveFigure: one-variable fits only');
  const d = curveData(fit);
  const xCol = fit.x[0] ?? 'x';
  const xTitle = columnTitle(xCol);
  const yTitle = scoreTitle(fit);
  const xDomain = logDomain(d.curve.map((c) => c.x), 0.04);
  // y range from data and curve; the band is clipped so a wide envelope cannot squash the plot.
  const ys = d.points.map((p) => p.score).concat(d.curve.map((c) => c.score));
  const yLo = Math.min(...ys);
  const yHi = Math.max(...ys);
  const yPad = Math.max((yHi - yLo) * 0.08, 0.005);
  const yDomain = [Math.max(yLo - yPad, fit.y.invert ? Math.min(0, yLo) : -Infinity), yHi + yPad];
  const x = { field: 'x', type: 'quantitative', title: xTitle, scale: { type: 'log', domain: xDomain, nice: false }, axis: logAxis(xTitle, xDomain[0], xDomain[1]) } as const;
  const yScale = { domain: yDomain, nice: false, zero: false };
  const families = [...new Set(d.points.map((p) => p.family))].sort();

  const layers: unknown[] = [];
  if (d.band.length > 0) {
    layers.push({
      data: { values: d.band },
      mark: { type: 'area', color: '#4c78a8', opacity: 0.22, clip: true },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: yTitle, scale: yScale }, y2: { field: 'hi' } },
    });
  }
  if (d.points.length > 0) {
    layers.push({
      data: { values: d.points },
      mark: { type: 'point', filled: true, size: 42, opacity: 0.8, stroke: 'white', strokeWidth: 0.6, clip: true },
      encoding: {
        x,
        y: { field: 'score', type: 'quantitative', title: yTitle, scale: yScale },
        color: { field: 'family', type: 'nominal', scale: { scheme: 'tableau10', domain: families }, legend: { title: 'Architecture family' } },
      },
    });
  }
  layers.push({
    data: { values: d.curve },
    mark: { type: 'line', color: '#111', strokeWidth: 2.2, clip: true },
    encoding: { x, y: { field: 'score', type: 'quantitative', title: yTitle, scale: yScale } },
  });

  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    title: { text: `${fit.name}: ${yTitle} vs ${COLUMN_SHORT[xCol] ?? columnTitle(xCol)}`, subtitle: formulaText(fit) },
    layer: layers,
    config: VL_CONFIG,
  } as unknown as TopLevelSpec;

  const n = fit.n_points ?? d.points.length;
  const caption =
    `${fit.name} (${fit.form}, ${n} points). Dots: models, coloured by architecture family. ` +
    `Black line: fitted law ${fit.y.invert ? '(score = 1 − L̂)' : '(score = L̂)'}, x divided by ${pow10Text(fit.scalers[0] ?? 1)} for the fit. ` +
    BAND_CAPTION[d.bandKind];
  return { id: `fig-${slug(fit.name)}-scaling`, title: `${fit.name}: scaling curve`, caption, spec };
}

// ---------- (b) chinchilla contours ----------

export interface ContourData {
  contours: Array<{ N: number; D: number; level: number; label: string }>;
  labels: Array<{ N: number; D: number; label: string }>;
  frontier: Array<{ N: number; D: number; series: string }>;
  points: Array<{ N: number; D: number; score: number }>;
  domainN: [number, number];
  domainD: [number, number];
  levels: number[];
}

/** The "nice" step (1, 2, 2.5, 5 x 10^k) nearest to `raw` on a log scale. */
function niceStep(raw: number): number {
  const base = Math.pow(10, Math.floor(Math.log10(raw)));
  const cands = [1, 2, 2.5, 5, 10].map((m) => m * base);
  return cands.reduce((a, b) => (Math.abs(Math.log(a / raw)) <= Math.abs(Math.log(b / raw)) ? a : b));
}

/**
 * Iso-loss contours of the chinchilla law (closed form: D as a function of N for a
 * given level, and N as a function of D, merged so steep parts are sampled too), the
 * compute-optimal frontier N_opt = G P^a, D_opt = P^b / G with P = N D in the fit's
 * scaled units, and the data points. All returned in original units.
 */
export function contourData(fit: ReportFit, nLevels = 7): ContourData {
  const p = linearParams(fit);
  const [sN, sD] = [fit.scalers[0] ?? 1, fit.scalers[1] ?? 1];
  const pts = (fit.points ?? []).map((q) => ({ N: q.rawX[0], D: q.rawX[1], score: scoreOf(fit, q) }));
  const domainN = pts.length > 0 ? logDomain(pts.map((q) => q.N), 0.15) : ([sN, sN * 1e4] as [number, number]);
  const domainD = pts.length > 0 ? logDomain(pts.map((q) => q.D), 0.15) : ([sD, sD * 1e4] as [number, number]);

  // Levels (in fitted y) spanning the fitted values over the data, or over the domain corners.
  const fitted =
    pts.length > 0
      ? pts.map((q) => predictY('chinchilla', p, [q.N / sN, q.D / sD]))
      : [0.1, 0.3, 0.5, 0.7, 0.9].map((t) =>
          predictY('chinchilla', p, [Math.pow(domainN[0], 1 - t) * Math.pow(domainN[1], t) / sN, Math.pow(domainD[0], 1 - t) * Math.pow(domainD[1], t) / sD]),
        );
  let yLo = percentile(fitted, 3);
  let yHi = percentile(fitted, 97);
  if (!(yHi > yLo)) {
    yLo = p.E + 0.5 * (yLo - p.E);
    yHi = yHi * 1.1;
  }
  const step = niceStep((yHi - yLo) / (nLevels - 1));
  const levels: number[] = [];
  for (let v = Math.ceil(yLo / step) * step; v <= yHi + 1e-12; v += step) {
    const lv = Number(v.toPrecision(10));
    if (lv > p.E) levels.push(lv);
  }

  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9) + (String(step).includes('25') ? 1 : 0));
  const inRange = (v: number, [lo, hi]: [number, number], slack: number): boolean => v >= lo / slack && v <= hi * slack;
  const contours: ContourData['contours'] = [];
  const labels: ContourData['labels'] = [];
  const gridN = logspace(domainN[0] / 3, domainN[1] * 3, 220);
  const gridD = logspace(domainD[0] / 3, domainD[1] * 3, 220);
  const u = (N: number): number => Math.log(N / domainN[0]) / Math.log(domainN[1] / domainN[0]);
  const w = (D: number): number => Math.log(D / domainD[0]) / Math.log(domainD[1] / domainD[0]);
  levels.forEach((L) => {
    const line: Array<{ N: number; D: number }> = [];
    for (const N of gridN) {
      const rem = L - p.E - p.A * Math.pow(N / sN, -p.alpha);
      if (rem > 0) line.push({ N, D: Math.pow(p.B / rem, 1 / p.beta) * sD });
    }
    for (const D of gridD) {
      const rem = L - p.E - p.B * Math.pow(D / sD, -p.beta);
      if (rem > 0) line.push({ N: Math.pow(p.A / rem, 1 / p.alpha) * sN, D });
    }
    const kept = line.filter((q) => Number.isFinite(q.D) && Number.isFinite(q.N) && inRange(q.N, domainN, 3) && inRange(q.D, domainD, 3)).sort((a, b) => a.N - b.N);
    const score = toScore(fit, L);
    const label = score.toFixed(decimals);
    for (const q of kept) contours.push({ ...q, level: score, label });
    // Label each contour 80% of the way along its visible part: right of the frontier
    // (which runs diagonally), where contours flatten out and labels stay legible.
    const inside = kept.filter((q) => u(q.N) > 0.04 && u(q.N) < 0.95 && w(q.D) > 0.05 && w(q.D) < 0.95);
    if (inside.length > 0) {
      const t = u(inside[0].N) + 0.8 * (u(inside[inside.length - 1].N) - u(inside[0].N));
      labels.push({ ...inside.reduce((a, b) => (Math.abs(u(a.N) - t) <= Math.abs(u(b.N) - t) ? a : b)), label });
    }
  });

  const r = recipeOf(fit);
  const frontier: ContourData['frontier'] = [];
  for (const P of logspace((domainN[0] / sN) * (domainD[0] / sD), (domainN[1] / sN) * (domainD[1] / sD), 200)) {
    const N = r.G * Math.pow(P, r.a) * sN;
    const D = (Math.pow(P, r.b) / r.G) * sD;
    if (inRange(N, domainN, 2) && inRange(D, domainD, 2)) frontier.push({ N, D, series: 'compute-optimal frontier' });
  }
  return { contours, labels, frontier, points: pts, domainN, domainD, levels };
}

/** Figure (b): iso-loss contours over (N, D), compute-optimal frontier, data points. */
export function contourFigure(fit: ReportFit): FigureSpec {
  if (fit.form !== 'chinchilla') throw new Error('contourFigure: chinchilla fits only');
  const d = contourData(fit);
  const nTitle = columnTitle(fit.x[0] ?? 'N');
  const dTitle = columnTitle(fit.x[1] ?? 'D');
  const scoreName = fit.y.invert ? 'Score' : 'Fitted y';
  const x = { field: 'N', type: 'quantitative', title: nTitle, scale: { type: 'log', domain: d.domainN, nice: false }, axis: logAxis(nTitle, d.domainN[0], d.domainN[1]) };
  const y = { field: 'D', type: 'quantitative', title: dTitle, scale: { type: 'log', domain: d.domainD, nice: false }, axis: logAxis(dTitle, d.domainD[0], d.domainD[1]) };
  const allScores = d.points.map((q) => q.score).concat(d.contours.map((c) => c.level));
  const colorScale = { scheme: 'viridis', domain: [Math.min(...allScores), Math.max(...allScores)], reverse: !fit.y.invert };
  const layers: unknown[] = [
    {
      data: { values: d.contours },
      mark: { type: 'line', strokeWidth: 1.8, clip: true },
      encoding: { x, y, detail: { field: 'label', type: 'nominal' }, color: { field: 'level', type: 'quantitative', title: scoreName, scale: colorScale } },
    },
  ];
  if (d.points.length > 0) {
    layers.push({
      data: { values: d.points },
      mark: { type: 'point', filled: true, size: 34, stroke: '#333', strokeWidth: 0.5, opacity: 0.9, clip: true },
      encoding: { x, y, color: { field: 'score', type: 'quantitative', title: scoreName, scale: colorScale } },
    });
  }
  if (d.frontier.length > 1) {
    layers.push({
      data: { values: d.frontier },
      mark: { type: 'line', color: '#d62728', strokeWidth: 2.6, clip: true },
      encoding: { x, y, strokeDash: { field: 'series', type: 'nominal', scale: { range: [[7, 4]] }, legend: { title: null, symbolStrokeColor: '#d62728', symbolStrokeWidth: 2.6 } } },
    });
  }
  // Halo (white stroke) under each label so it stays legible over lines and points.
  for (const halo of [true, false]) {
    layers.push({
      data: { values: d.labels },
      mark: { type: 'text', fontSize: 11, fontWeight: 'bold', dy: -7, ...(halo ? { stroke: 'white', strokeWidth: 3, strokeOpacity: 0.9, color: 'white' } : { color: '#222' }) },
      encoding: { x, y, text: { field: 'label', type: 'nominal' } },
    });
  }
  const r = recipeOf(fit);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT + 40,
    title: { text: `${fit.name}: iso-${fit.y.invert ? 'score' : 'loss'} contours of the fitted law`, subtitle: formulaText(fit) },
    layer: layers,
    resolve: { scale: { color: 'shared' } },
    config: VL_CONFIG,
  } as unknown as TopLevelSpec;
  const rec = fit.recipe;
  const expo =
    rec && Number.isFinite(rec.a_over_n) && Number.isFinite(rec.b_over_n)
      ? ` With C = m (N D)^n over unscaled N, D (m = ${fmt(rec.m)}, n = ${fmt(rec.n)}): N_opt ∝ C^${fmt(rec.a_over_n)}, D_opt ∝ C^${fmt(rec.b_over_n)}.`
      : '';
  const caption =
    `${fit.name} (${fit.points?.length ?? fit.n_points} points). Lines: contours of the fitted ${fit.y.invert ? 'score (1 − L̂)' : 'L̂'}, labelled with their value; ` +
    `dots: models, coloured by observed ${fit.y.invert ? 'score' : 'y'} on the same scale (a dot matching its surroundings fits well). ` +
    `Dashed red: compute-optimal frontier N_opt = G·P^a, D_opt = P^b/G for P = N·D (scaled), a = ${fmt(r.a)}, b = ${fmt(r.b)}, G = ${fmt(r.G)}.${expo}`;
  return { id: `fig-${slug(fit.name)}-contours`, title: `${fit.name}: iso-loss contours`, caption, spec };
}

// ---------- observed vs fitted (all forms) ----------

/** Observed against fitted score: the one view that works for every form. */
export function residualFigure(fit: ReportFit): FigureSpec | undefined {
  const pts = fit.points ?? [];
  if (pts.length === 0) return undefined;
  const p = linearParams(fit);
  const values = pts.map((q) => ({ fitted: toScore(fit, predictY(fit.form, p, q.x)), observed: scoreOf(fit, q), family: familyOf(q) }));
  const all = values.flatMap((v) => [v.fitted, v.observed]).filter(Number.isFinite);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const pad = Math.max((hi - lo) * 0.05, 0.005);
  const dom = [lo - pad, hi + pad];
  const families = [...new Set(values.map((v) => v.family))].sort();
  // Short titles: the metrics are in the neighbouring figure, and long rotated titles inflate the SVG.
  const fTitle = 'Fitted score';
  const oTitle = 'Observed score';
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 360,
    height: 360,
    title: { text: `${fit.name}: observed vs fitted`, subtitle: `${pts.length} points; dashed: y = x` },
    layer: [
      {
        data: { values: [{ a: dom[0] }, { a: dom[1] }] },
        mark: { type: 'line', color: '#888', strokeDash: [5, 4], strokeWidth: 1.2 },
        encoding: { x: { field: 'a', type: 'quantitative', title: fTitle, scale: { domain: dom, nice: false, zero: false } }, y: { field: 'a', type: 'quantitative', title: oTitle, scale: { domain: dom, nice: false, zero: false } } },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 38, opacity: 0.8, stroke: 'white', strokeWidth: 0.6 },
        encoding: {
          x: { field: 'fitted', type: 'quantitative', title: fTitle, scale: { domain: dom, nice: false, zero: false } },
          y: { field: 'observed', type: 'quantitative', title: oTitle, scale: { domain: dom, nice: false, zero: false } },
          color: { field: 'family', type: 'nominal', scale: { scheme: 'tableau10', domain: families }, legend: { title: 'Architecture family' } },
        },
      },
    ],
    config: VL_CONFIG,
  } as unknown as TopLevelSpec;
  return {
    id: `fig-${slug(fit.name)}-residuals`,
    title: `${fit.name}: observed vs fitted`,
    caption: `${fit.name}: each model's observed score against the fitted law's prediction at its ${fit.x.join(', ')}. Points on the dashed line are fitted exactly.`,
    spec,
  };
}

// ---------- study efficiency (replayed studies) ----------

/** Strategy colours, fixed so a strategy keeps its colour across fits and pages. */
const STRATEGY_COLORS: Record<string, string> = {
  adaptive: '#d62728',
  random: '#4c78a8',
  'compute-ascending': '#9467bd',
  grid: '#8c564b',
  'coarse-to-fine': '#2ca02c',
};

export interface StudyLine {
  strategy: string;
  /** Budget (fraction of the candidates' compute) whose curve the line is. */
  budget: number;
  points: { compute_fraction: number; holdout_error: number }[];
}

/**
 * One line per strategy: the error-vs-compute curve of its largest budget (the curve of a run
 * is its median trajectory over seeds, so the largest budget's covers the smaller fractions),
 * finite, positive fractions only, ascending.
 */
export function studyLines(study: StudyReplay): StudyLine[] {
  const byStrategy = new Map<string, StudyReplay['strategies'][number]>();
  for (const s of study.strategies) {
    const cur = byStrategy.get(s.strategy);
    if (!cur || s.budget > cur.budget) byStrategy.set(s.strategy, s);
  }
  return [...byStrategy.values()].map((s) => {
    const seen = new Set<number>();
    const points = s.curve
      .filter((c) => Number.isFinite(c.holdout_error) && c.compute_fraction > 0 && Number.isFinite(c.compute_fraction))
      .sort((a, b) => a.compute_fraction - b.compute_fraction)
      .filter((c) => (seen.has(c.compute_fraction) ? false : (seen.add(c.compute_fraction), true)))
      .map((c) => ({ compute_fraction: c.compute_fraction, holdout_error: c.holdout_error }));
    return { strategy: s.strategy, budget: s.budget, points };
  });
}

/**
 * "Study efficiency": the target-region error against the fraction of compute spent, one line
 * per strategy, and the fit on every candidate as a dashed reference. Log x (budgets span decades).
 */
export function studyEfficiencyFigure(study: StudyReplay): FigureSpec {
  const lines = studyLines(study).filter((l) => l.points.length > 0);
  const values = lines.flatMap((l) => l.points.map((p) => ({ strategy: l.strategy, ...p })));
  const strategies = lines.map((l) => l.strategy);
  const colors = strategies.map((s, i) => STRATEGY_COLORS[s] ?? ['#ff7f0e', '#17becf', '#bcbd22', '#e377c2'][i % 4]);
  const allErr = study.all_candidates.holdout_error;
  const fr = values.map((v) => v.compute_fraction);
  const xDomain = logDomain(fr.length ? fr : [0.01, 1], 0.05);
  const errs = values.map((v) => v.holdout_error).concat(Number.isFinite(allErr) ? [allErr] : []);
  // A law extrapolated from tiny models can be off by orders of magnitude: the axis stops at 5x the
  // all-candidates error so the other lines stay readable (such points are clipped, and said so).
  const rawHi = errs.length ? Math.max(...errs) : 1;
  const yHi = Number.isFinite(allErr) && allErr > 0 ? Math.min(rawHi, 5 * allErr) : rawHi;
  const clipped = values.filter((v) => v.holdout_error > yHi).length;
  const x = {
    field: 'compute_fraction',
    type: 'quantitative',
    title: "Fraction of the candidates' compute",
    scale: { type: 'log', domain: xDomain, nice: false },
    axis: { format: '.1~%', grid: true },
  } as const;
  const y = { field: 'holdout_error', type: 'quantitative', title: 'Target-region RMSE of the score', scale: { domain: [0, yHi * 1.08], nice: false } } as const;
  const color = { field: 'strategy', type: 'nominal', scale: { domain: strategies, range: colors }, legend: { title: 'Strategy' } } as const;
  const layers: unknown[] = [
    { data: { values }, mark: { type: 'line', strokeWidth: 2.2, clip: true }, encoding: { x, y, color, detail: { field: 'strategy' } } },
    { data: { values }, mark: { type: 'point', filled: true, size: 46, clip: true }, encoding: { x, y, color } },
  ];
  if (Number.isFinite(allErr))
    layers.push({
      data: { values: [{ holdout_error: allErr }] },
      mark: { type: 'rule', color: '#444', strokeDash: [6, 4], strokeWidth: 1.4 },
      encoding: { y: { field: 'holdout_error', type: 'quantitative' } },
    });
  const pct = (f: number) => `${Number((f * 100).toPrecision(3))}%`;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    title: {
      text: `${study.fit}: study efficiency`,
      subtitle: `most expensive ${pct(study.holdout_top)} held out as the target region; dashed: the fit on all candidates (${fmt(allErr)})`,
    },
    layer: layers,
    config: VL_CONFIG,
  } as unknown as TopLevelSpec;
  const caption =
    `${study.fit}: root-mean-square error of the predicted score on the held-out target region (the most expensive ${pct(study.holdout_top)} of the models) ` +
    `against the fraction of the candidates' compute spent, one line per strategy (${lines.map((l) => `${l.strategy}: its ${pct(l.budget)} budget`).join(', ')}); ` +
    'each point is the median over seeds of the latest refit at or below that compute. Lower is better.' +
    (clipped ? ` ${clipped} point(s) above 5x the all-candidates error are off the top of the axis.` : '') +
    (study.context ? ` ${study.context}` : '');
  return { id: `fig-${slug(study.fit)}-study-efficiency`, title: `${study.fit}: study efficiency`, caption, spec };
}

/**
 * A live adaptive study's path: the width of its target's 95% interval at each stored bootstrap
 * refit against the fraction of the GPU-hour budget the runs of that fit cost, with the study's
 * stop width (stopWhen.ciWidth) as a dashed rule. Refits without an interval are left out.
 */
export function studyPathFigure(path: StudyPath): FigureSpec {
  const values = path.points
    .filter((p) => p.ci_width !== undefined && Number.isFinite(p.ci_width) && Number.isFinite(p.budget_fraction))
    .map((p) => ({ budget_fraction: p.budget_fraction, ci_width: p.ci_width as number, runs: p.runs, version: p.version }));
  const xHi = Math.max(1, ...values.map((v) => v.budget_fraction));
  const yHi = Math.max(...values.map((v) => v.ci_width), path.stopCiWidth ?? 0, 1e-12);
  const x = {
    field: 'budget_fraction',
    type: 'quantitative',
    title: "Fraction of the study's GPU-hour budget spent",
    scale: { domain: [0, xHi], nice: false },
    axis: { format: '.0%', grid: true },
  } as const;
  const y = { field: 'ci_width', type: 'quantitative', title: `Width of the 95% interval of ${path.target}`, scale: { domain: [0, yHi * 1.08], nice: false } } as const;
  const layers: unknown[] = [
    { data: { values }, mark: { type: 'line', color: STRATEGY_COLORS.adaptive, strokeWidth: 2.2, clip: true }, encoding: { x, y } },
    { data: { values }, mark: { type: 'point', filled: true, size: 46, color: STRATEGY_COLORS.adaptive, clip: true }, encoding: { x, y } },
  ];
  if (path.stopCiWidth !== undefined)
    layers.push({
      data: { values: [{ ci_width: path.stopCiWidth }] },
      mark: { type: 'rule', color: '#444', strokeDash: [6, 4], strokeWidth: 1.4 },
      encoding: { y: { field: 'ci_width', type: 'quantitative' } },
    });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    title: {
      text: `${path.fit}: the live study's ${path.target} interval`,
      subtitle: `budget ${fmt(path.budgetGpuHours)} GPU-hours${path.stopCiWidth !== undefined ? `; dashed: the stop width ${fmt(path.stopCiWidth)}` : ''}`,
    },
    layer: layers,
    config: VL_CONFIG,
  } as unknown as TopLevelSpec;
  const shown = path.sampled ? ` (${path.points.length} of its bootstrap refits, evenly spaced, the first and the newest included)` : '';
  const caption =
    `${path.fit}: the width of the 95% bootstrap interval of ${path.target} at each refit of this adaptive study${shown}, ` +
    "against the planner's estimated GPU-hours of the runs that refit was made from, as a fraction of the study's budget. " +
    'This is the study as it ran, not a replay. Narrower is more certain.';
  return { id: `fig-${slug(path.fit)}-study-path`, title: `${path.fit}: live study path`, caption, spec };
}

/** All figures for one fit, in page order. */
export function figuresForFit(fit: ReportFit): FigureSpec[] {
  const out: FigureSpec[] = [fit.form === 'chinchilla' ? contourFigure(fit) : scalingCurveFigure(fit)];
  const res = residualFigure(fit);
  if (res) out.push(res);
  return out;
}

export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'fit';
}
