/**
 * A deterministic synthetic FitOutput (points drawn from known laws plus noise),
 * for tests and for previewing the report without running a sweep or the engine.
 * Estimates are the true parameters; intervals are plausible widths, not fitted.
 */
import type { FitPoint, FitResult, Percentiles } from '../scaling/types';
import { mulberry32 } from '../scaling/bootstrap';
import { predictY } from './laws';
import type { ReportFit } from './types';

/** The engine's seeded PRNG, so the sample is identical on every run. */
const prng = mulberry32;

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const FAMILIES: Array<{ family: string; logN: [number, number]; flopsPerParam: number }> = [
  { family: 'AlexNet', logN: [7.6, 7.8], flopsPerParam: 25 },
  { family: 'CORnet-S', logN: [7.2, 7.4], flopsPerParam: 180 },
  { family: 'ResNet', logN: [5.5, 7.8], flopsPerParam: 160 },
  { family: 'EfficientNet', logN: [6.3, 7.3], flopsPerParam: 60 },
  { family: 'ConvNeXt', logN: [6.0, 8.2], flopsPerParam: 55 },
  { family: 'ViT', logN: [6.4, 8.0], flopsPerParam: 45 },
];
const SAMPLES_PER_CLASS = [1, 3, 10, 30, 100, 300, 1281];
const EPOCHS = 30;

interface SyntheticModel {
  family: string;
  arch: string;
  N: number;
  D: number;
  C: number;
}

function models(rand: () => number, count: number): SyntheticModel[] {
  const out: SyntheticModel[] = [];
  for (let i = 0; i < count; i++) {
    const f = FAMILIES[i % FAMILIES.length];
    const N = Math.pow(10, f.logN[0] + (f.logN[1] - f.logN[0]) * rand());
    const spc = SAMPLES_PER_CLASS[Math.floor(rand() * SAMPLES_PER_CLASS.length)];
    const D = spc * 1000 * EPOCHS;
    // Forward+backward FLOPs ~ 3 x per-sample forward FLOPs x samples; forward FLOPs ~ k N.
    const C = 3 * f.flopsPerParam * N * D * Math.exp(0.15 * gauss(rand));
    out.push({ family: f.family, arch: `${f.family.toLowerCase()}-${i}`, N, D, C });
  }
  return out;
}

function pct(v: number, rel: number, abs = 0): Percentiles {
  const w = Math.abs(v) * rel + abs;
  return { 'p2.5': v - w, p50: v + w * 0.05, 'p97.5': v + w * 1.1 };
}

function point(x: number[], rawX: number[], y: number, m: SyntheticModel): FitPoint {
  return { x, rawX, y, score: 1 - y, arch: m.arch, arch_family: m.family, model_id: m.arch };
}

/** A power-law fit of score against compute (x = total_flops / 1e13). */
export function samplePowerLawFit(name = 'compute_neuro', metrics = ['V1', 'V2', 'V4', 'IT'], seed = 1, count = 240): ReportFit {
  const rand = prng(seed);
  const params = { E: 0.5, A: 0.42, alpha: 0.15 };
  const points = models(rand, count).map((m) => {
    const x = m.C / 1e13;
    const y = Math.min(0.995, predictY('power_law', params, [x]) * Math.exp(0.02 * gauss(rand)));
    return point([x], [m.C], y, m);
  });
  const fit: FitResult = {
    name,
    form: 'power_law',
    x: ['total_flops'],
    scalers: [1e13],
    y: { metrics, invert: true },
    n_points: points.length,
    loss: 0.0213,
    lse_params: { e: Math.log(params.E), a: Math.log(params.A), alpha: params.alpha },
    params,
    bootstrap: { n: 1000, seed: 0, percentiles: { E: pct(params.E, 0.02), A: pct(params.A, 0.06), alpha: pct(params.alpha, 0.05) } },
    points,
  };
  return fit;
}

/** A chinchilla fit over (n_params / 1e5, n_samples_seen / 1e4) with its recipe. */
export function sampleChinchillaFit(name = 'compute_chinchilla', seed = 2, count = 300): ReportFit {
  const rand = prng(seed);
  const params = { E: 0.45, A: 0.35, alpha: 0.3, B: 0.35, beta: 0.28 };
  const ms = models(rand, count);
  const points = ms.map((m) => {
    const x = [m.N / 1e5, m.D / 1e4];
    const y = Math.min(0.995, predictY('chinchilla', params, x) * Math.exp(0.02 * gauss(rand)));
    return point(x, [m.N, m.D], y, m);
  });
  // C = m (N D)^n by least squares of log10 C on log10(N D), unscaled, as the engine does.
  const u = ms.map((m) => Math.log10(m.N * m.D));
  const v = ms.map((m) => Math.log10(m.C));
  const mu = u.reduce((s, t) => s + t, 0) / u.length;
  const mv = v.reduce((s, t) => s + t, 0) / v.length;
  const n = u.reduce((s, t, i) => s + (t - mu) * (v[i] - mv), 0) / u.reduce((s, t) => s + (t - mu) ** 2, 0);
  const m = Math.pow(10, mv - n * mu);
  const sum = params.alpha + params.beta;
  const a = params.beta / sum;
  const b = params.alpha / sum;
  const G = Math.pow((params.alpha * params.A) / (params.beta * params.B), 1 / sum);
  return {
    name,
    form: 'chinchilla',
    x: ['n_params', 'n_samples_seen'],
    scalers: [1e5, 1e4],
    y: { metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'], invert: true },
    n_points: points.length,
    loss: 0.0377,
    lse_params: { e: Math.log(params.E), a: Math.log(params.A), alpha: params.alpha, b: Math.log(params.B), beta: params.beta },
    params,
    bootstrap: {
      n: 1000,
      seed: 0,
      percentiles: { E: pct(params.E, 0.03), A: pct(params.A, 0.1), alpha: pct(params.alpha, 0.06), B: pct(params.B, 0.1), beta: pct(params.beta, 0.06) },
    },
    recipe: {
      a, b, G, m, n, a_over_n: a / n, b_over_n: b / n,
      bootstrap: { n: 1000, percentiles: { a: pct(a, 0.05), b: pct(b, 0.04), G: pct(G, 0.2), m: pct(m, 0.1), n: pct(n, 0.01), a_over_n: pct(a / n, 0.05), b_over_n: pct(b / n, 0.04) } },
    },
    points,
    warnings: ['3 rows with NaN scores excluded (synthetic example)'],
  };
}

/** The sample report input: two one-variable fits and a chinchilla fit. */
export function sampleFits(): ReportFit[] {
  return [samplePowerLawFit(), samplePowerLawFit('compute_behavior', ['Behavioral'], 3), sampleChinchillaFit()];
}
