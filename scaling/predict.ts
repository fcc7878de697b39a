/**
 * Predictions from a fit, with confidence bands from the bootstrap parameter vectors.
 */
import { LSE_PARAM_NAMES, paramVector, predictLog } from './forms';
import { percentile } from './bootstrap';
import type { FitResult } from './types';

export interface PredictionPoint {
  /** Unscaled x (as in the data). */
  x: number[];
  /** Predicted target y (misalignment 1 - score when the fit inverts). */
  y: number;
  /** Predicted score (1 - y when inverted, else y). */
  score: number;
  /** Band on the score at the given level, when the fit has bootstrap parameter vectors. */
  lo?: number;
  hi?: number;
}

/** Predicted y at unscaled x for LSE parameter values (no scaling applied by the caller). */
export function predictY(fit: Pick<FitResult, 'form' | 'scalers'>, lse: ArrayLike<number>, rawX: readonly number[]): number {
  const x = rawX.map((v, i) => v / fit.scalers[i]);
  return Math.exp(predictLog(fit.form, lse, x));
}

/**
 * Predictions at each unscaled x; the band is the central `level` interval of the bootstrap
 * predictions (percentiles of the predicted score), as the report draws it.
 */
export function predict(fit: FitResult, xs: readonly (readonly number[])[], level = 0.95): PredictionPoint[] {
  const lse = paramVector(LSE_PARAM_NAMES[fit.form], fit.lse_params);
  const samples = fit.bootstrap?.lse_samples ?? [];
  const toScore = (y: number) => (fit.y.invert ? 1 - y : y);
  const tail = ((1 - level) / 2) * 100;
  return xs.map((x) => {
    const y = predictY(fit, lse, x);
    const point: PredictionPoint = { x: [...x], y, score: toScore(y) };
    if (samples.length) {
      const scores = samples
        .map((s) => toScore(predictY(fit, s, x)))
        .filter(Number.isFinite)
        .sort((p, q) => p - q);
      point.lo = percentile(scores, tail);
      point.hi = percentile(scores, 100 - tail);
    }
    return point;
  });
}

/** n log-spaced values between lo and hi (for drawing curves). */
export function logSpace(lo: number, hi: number, n: number): number[] {
  const a = Math.log10(lo);
  const b = Math.log10(hi);
  return Array.from({ length: n }, (_, i) => Math.pow(10, a + ((b - a) * i) / Math.max(1, n - 1)));
}

export interface AllocationPoint {
  /** Compute budget (FLOPs, the recipe's compute column). */
  C: number;
  /** Compute-optimal parameters and samples seen (unscaled). */
  N: number;
  D: number;
  /** Predicted y and score there. */
  y: number;
  score: number;
}

/**
 * Compute-optimal (N, D) of a chinchilla fit for each budget C: on the iso-compute line
 * N D = (C / m)^(1/n) (the recipe's FLOPs fit), minimise A N^-alpha + B D^-beta, which gives
 * N_s = G (N_s D_s)^a in the fit's scaled units (a, G as in the recipe).
 */
export function computeOptimalFrontier(fit: FitResult, budgets: readonly number[]): AllocationPoint[] {
  if (fit.form !== 'chinchilla' || !fit.recipe) throw new Error(`fit "${fit.name}" has no chinchilla recipe`);
  const { a, G, m, n } = fit.recipe;
  const [sN, sD] = fit.scalers;
  const lse = paramVector(LSE_PARAM_NAMES.chinchilla, fit.lse_params);
  return budgets.map((C) => {
    const product = Math.pow(C / m, 1 / n);
    const scaledProduct = product / (sN * sD);
    const N = sN * G * Math.pow(scaledProduct, a);
    const D = product / N;
    const y = predictY(fit, lse, [N, D]);
    return { C, N, D, y, score: fit.y.invert ? 1 - y : y };
  });
}
