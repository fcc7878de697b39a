/**
 * The compute-optimal allocation ("scaling recipe") of PAPER_METHOD.md, from a chinchilla fit.
 */
import type { RecipeResult } from './types';

export interface ChinchillaLinear {
  E: number;
  A: number;
  alpha: number;
  B: number;
  beta: number;
}

/** Least-squares line y = intercept + slope x. */
export function linearRegression(x: readonly number[], y: readonly number[]): { slope: number; intercept: number } {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/**
 * C = m (N D)^n, fitted by least squares of log10 C on log10(N D) over the points
 * (unscaled N, D, C as in the data, like the paper's code).
 */
export function computeFlopsFit(N: readonly number[], D: readonly number[], C: readonly number[]): { m: number; n: number } {
  const lx = N.map((v, i) => Math.log10(v * D[i]));
  const ly = C.map((v) => Math.log10(v));
  const { slope, intercept } = linearRegression(lx, ly);
  return { m: Math.pow(10, intercept), n: slope };
}

/** a = beta/(alpha+beta), b = alpha/(alpha+beta), G = (alpha A / (beta B))^(1/(alpha+beta)); a/n, b/n w.r.t. FLOPs. */
export function computeRecipe(p: ChinchillaLinear, flops: { m: number; n: number }): Omit<RecipeResult, 'bootstrap'> {
  const s = p.alpha + p.beta;
  const a = p.beta / s;
  const b = p.alpha / s;
  const G = Math.pow((p.alpha * p.A) / (p.beta * p.B), 1 / s);
  return { a, b, G, m: flops.m, n: flops.n, a_over_n: a / flops.n, b_over_n: b / flops.n };
}

export const RECIPE_KEYS = ['a', 'b', 'G', 'm', 'n', 'a_over_n', 'b_over_n'] as const;
