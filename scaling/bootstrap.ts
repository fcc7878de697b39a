/**
 * Bootstrap helpers: a seeded PRNG, resample counts, percentiles.
 *
 * Each resample b draws from its own generator seeded from (seed, b), so resample b is the same
 * whichever worker fits it and however many resamples are asked for.
 */
import type { Percentiles } from './types';

/** 32-bit integer mix (murmur3 finaliser). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: small, fast seeded PRNG with uniform output in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The generator of resample b under a user seed. */
export function resampleRng(seed: number, b: number): () => number {
  return mulberry32(mix32(mix32(seed >>> 0) ^ mix32((b + 0x9e3779b9) >>> 0)));
}

/** Row indices of resample b: n draws with replacement out of n. */
export function resampleIndices(n: number, seed: number, b: number): Uint32Array {
  const rng = resampleRng(seed, b);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = Math.floor(rng() * n);
  return idx;
}

/** How many times each row is drawn in resample b. */
export function resampleCounts(n: number, seed: number, b: number): Uint32Array {
  const counts = new Uint32Array(n);
  for (const i of resampleIndices(n, seed, b)) counts[i]++;
  return counts;
}

/** Percentile with linear interpolation between order statistics (numpy's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** The 2.5 / 50 / 97.5 percentiles of the finite values. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return { 'p2.5': percentile(sorted, 2.5), p50: percentile(sorted, 50), 'p97.5': percentile(sorted, 97.5) };
}
