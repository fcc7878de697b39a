/**
 * The fitted laws evaluated in linear form (PAPER_METHOD.md), for plotting only.
 * Kept here rather than imported from scaling/ so the report works from a fit.json alone.
 */
import type { FitResult, Percentiles } from '../scaling/types';

export type Form = FitResult['form'];

/** Linear parameter names per form, in display order. */
export const PARAM_NAMES: Record<Form, readonly string[]> = {
  power_law: ['E', 'A', 'alpha'],
  power_law_shift: ['E', 'A', 'alpha', 'lambda'],
  chinchilla: ['E', 'A', 'alpha', 'B', 'beta'],
};

/** LSE name -> linear name; e, a, b are logs of E, A, B. */
const LSE_TO_LINEAR: Record<string, { name: string; exp: boolean }> = {
  e: { name: 'E', exp: true },
  a: { name: 'A', exp: true },
  b: { name: 'B', exp: true },
  alpha: { name: 'alpha', exp: false },
  beta: { name: 'beta', exp: false },
  lambda: { name: 'lambda', exp: false },
};

/** Linear parameters of a fit, falling back to exp(lse) when `params` lacks one. */
export function linearParams(fit: Pick<FitResult, 'form' | 'params' | 'lse_params'>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of PARAM_NAMES[fit.form]) {
    let v = fit.params?.[name];
    if (v === undefined || !Number.isFinite(v)) {
      const lseName = Object.keys(LSE_TO_LINEAR).find((k) => LSE_TO_LINEAR[k].name === name);
      const lv = lseName !== undefined ? fit.lse_params?.[lseName] : undefined;
      if (lseName !== undefined && lv !== undefined) v = LSE_TO_LINEAR[lseName].exp ? Math.exp(lv) : lv;
    }
    if (v === undefined || !Number.isFinite(v)) throw new Error(`fit "${(fit as FitResult).name ?? '?'}": missing parameter ${name}`);
    out[name] = v;
  }
  return out;
}

/**
 * Bootstrap percentiles keyed by LINEAR name. The engine may key them by linear or by
 * LSE name; exp is monotone, so LSE percentiles map over directly.
 */
export function linearPercentiles(fit: FitResult): Record<string, Percentiles> | undefined {
  const src = fit.bootstrap?.percentiles;
  if (!src) return undefined;
  const out: Record<string, Percentiles> = {};
  for (const name of PARAM_NAMES[fit.form]) {
    if (src[name]) {
      out[name] = src[name];
      continue;
    }
    const lseName = Object.keys(LSE_TO_LINEAR).find((k) => LSE_TO_LINEAR[k].name === name);
    const p = lseName !== undefined ? src[lseName] : undefined;
    if (!p || lseName === undefined) return undefined;
    const f = LSE_TO_LINEAR[lseName].exp ? Math.exp : (v: number) => v;
    out[name] = { 'p2.5': f(p['p2.5']), p50: f(p.p50), 'p97.5': f(p['p97.5']) };
  }
  return out;
}

/**
 * The engine's bootstrap LSE vectors (`bootstrap.lse_samples`, in lse_params' key
 * order) as linear parameter records, or undefined when absent or mis-shaped.
 */
export function bootstrapLinearSamples(fit: FitResult): Array<Record<string, number>> | undefined {
  const samples = fit.bootstrap?.lse_samples;
  const keys = Object.keys(fit.lse_params ?? {});
  if (!samples || samples.length === 0 || keys.some((k) => !(k in LSE_TO_LINEAR))) return undefined;
  if (samples.some((v) => v.length !== keys.length)) return undefined;
  return samples.map((v) => {
    const r: Record<string, number> = {};
    keys.forEach((k, i) => (r[LSE_TO_LINEAR[k].name] = LSE_TO_LINEAR[k].exp ? Math.exp(v[i]) : v[i]));
    return r;
  });
}

/** Fitted target y (1 - score when inverted) at SCALED x. */
export function predictY(form: Form, p: Record<string, number>, x: readonly number[]): number {
  switch (form) {
    case 'power_law':
      return p.E + p.A * Math.pow(x[0], -p.alpha);
    case 'power_law_shift':
      return p.E + p.A * Math.pow(x[0] + Math.pow(10, p.lambda), -p.alpha);
    case 'chinchilla':
      return p.E + p.A * Math.pow(x[0], -p.alpha) + p.B * Math.pow(x[1], -p.beta);
  }
}

/** Percentile of a sample by linear interpolation (numpy's default), q in [0, 100]. */
export function percentile(values: number[], q: number): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** `n` log-spaced values from lo to hi inclusive (lo, hi > 0). */
export function logspace(lo: number, hi: number, n: number): number[] {
  const a = Math.log10(lo);
  const b = Math.log10(hi);
  return Array.from({ length: n }, (_, i) => Math.pow(10, a + ((b - a) * i) / (n - 1)));
}

export interface Recipe {
  /** N_opt = G P^a, D_opt = P^b / G, with P = N D in the fit's scaled units. */
  a: number;
  b: number;
  G: number;
}

/** The compute-optimal recipe of a chinchilla fit: the engine's, or derived from the parameters. */
export function recipeOf(fit: FitResult): Recipe {
  if (fit.recipe && [fit.recipe.a, fit.recipe.b, fit.recipe.G].every(Number.isFinite)) {
    return { a: fit.recipe.a, b: fit.recipe.b, G: fit.recipe.G };
  }
  const p = linearParams(fit);
  const s = p.alpha + p.beta;
  return { a: p.beta / s, b: p.alpha / s, G: Math.pow((p.alpha * p.A) / (p.beta * p.B), 1 / s) };
}
