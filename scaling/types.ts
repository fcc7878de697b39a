/**
 * The fit result as `sweep fit --json` prints it and the report and the sweep's `fit`
 * query read it. (Owned by the scaling engine; shape fixed by issue #3.)
 */
export interface Percentiles {
  'p2.5': number;
  p50: number;
  'p97.5': number;
}

export interface RecipeResult {
  a: number;
  b: number;
  G: number;
  m: number;
  n: number;
  a_over_n: number;
  b_over_n: number;
  bootstrap?: { n: number; percentiles: Record<string, Percentiles> };
}

export interface FitPoint {
  /** x values after scaling (one or two), the observed y (inverted if the spec says so), and labels. */
  x: number[];
  y: number;
  /** Unscaled x, as in the data. */
  rawX: number[];
  score: number;
  arch?: string;
  arch_family?: string;
  model_id?: string;
}

export interface FitResult {
  name: string;
  form: 'power_law' | 'power_law_shift' | 'chinchilla';
  x: string[];
  scalers: number[];
  y: { metrics: string[]; invert: boolean };
  n_points: number;
  /**
   * Set by a fit with FitOptions.excludeUnusable (the sweep's refits): selected rows (one per
   * data point x metric) left out, and why ("missing total_flops", "1 - score <= 0", ...).
   */
  n_excluded?: number;
  excluded?: Record<string, number>;
  loss: number;
  lse_params: Record<string, number>;
  params: Record<string, number>;
  bootstrap?: {
    n: number;
    seed: number;
    /** Keys: the LSE names (e, a, b, lambda) and the linear names (E, A, B, alpha, beta, lambda). */
    percentiles: Record<string, Percentiles>;
    /** How resamples were started: the whole grid each ("exhaustive") or the original fit's distinct minima ("basins"). */
    starts?: 'exhaustive' | 'basins' | 'warm';
    /** Best loss of each resample. */
    losses?: number[];
    /** Fitted LSE parameter vector of each resample, in lse_params' key order (for prediction bands). */
    lse_samples?: number[][];
    /** Resamples refitted from the whole grid to check the reduced starts (FitOptions.verify). */
    verified?: { n: number; agree: number; worst_rel: number };
  };
  recipe?: RecipeResult;
  /** How the point fit was searched, and its distinct minima (best first) for warm-started refits. */
  search?: {
    mode: 'exhaustive' | 'warm';
    starts: number;
    basins: number[][];
    evaluations?: number;
  };
  /** Set when the points were population-weighted (FitOptions.population): the pool's size and the weights' trim (none: untrimmed). */
  weighting?: { kind: 'population'; pool: number; cap?: number };
  /** The fitted points, so a report can plot them. */
  points?: FitPoint[];
  warnings?: string[];
}

export interface FitOutput {
  fits: FitResult[];
}
