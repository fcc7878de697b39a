/**
 * Synthetic long-format rows drawn from a known law plus noise: for recovery tests and
 * benchmarks (the same column layout as the paper's CSV and `sweep export`).
 */
import { mulberry32 } from './bootstrap';
import { predictLog, type FormName } from './forms';
import type { LongRow } from './select';

export interface SyntheticOptions {
  form: FormName;
  /** True LSE parameters, in vector order. */
  lse: readonly number[];
  n: number;
  seed?: number;
  /** Standard deviation of the multiplicative noise on y (log scale). */
  noise?: number;
  /** Region label of every row. */
  region?: string;
  /** Scalers of the x columns (the fit divides by them). */
  scalers?: readonly number[];
}

/** Standard normal draw (Box-Muller). */
function normal(rng: () => number): number {
  const u = Math.max(rng(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * n rows, one per model: x log-uniform over the paper's ranges (n_params 1e5..1e9,
 * n_samples_seen 1e4..1e9; total_flops ~ 6 N D), y = exp(Lhat) * exp(noise), score = 1 - y.
 */
export function synthesizeRows(opts: SyntheticOptions): LongRow[] {
  const rng = mulberry32(opts.seed ?? 1);
  const noise = opts.noise ?? 0.01;
  const scalers = opts.scalers ?? (opts.form === 'chinchilla' ? [1e5, 1e4] : [1e13]);
  const rows: LongRow[] = [];
  for (let i = 0; i < opts.n; i++) {
    const nParams = Math.pow(10, 5 + 4 * rng());
    const nSeen = Math.pow(10, 4 + 5 * rng());
    const flops = 6 * nParams * nSeen * Math.pow(10, 0.2 * (rng() - 0.5));
    const x = opts.form === 'chinchilla' ? [nParams / scalers[0], nSeen / scalers[1]] : [flops / scalers[0]];
    const y = Math.exp(predictLog(opts.form, opts.lse, x) + noise * normal(rng));
    rows.push({
      model_id: `synthetic_${i}`,
      arch: 'resnet18',
      arch_family: 'ResNet',
      dataset: 'imagenet',
      region: opts.region ?? 'IT',
      score: 1 - y,
      n_params: nParams,
      n_samples_seen: nSeen,
      total_flops: flops,
      samples_per_class: 0,
    });
  }
  return rows;
}
