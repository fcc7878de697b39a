/**
 * Population (post-stratification) weights: how much of a candidate pool each observed point
 * stands for. An adaptive design is not a sample of the pool (it chases information: the ends
 * of the range, few points in the middle), and under a misspecified law a fit of such a design
 * estimates a different law than the fit of the whole pool, which is what a study's parameter
 * targets (the exponents, the recipe) are. Weighting each observation by the share of the pool it
 * stands for makes the subset's loss estimate the pool's loss (the design-based correction of
 * survey sampling); a random sample is self-weighting, so it needs none. Used by the replay's
 * adaptive fits and by a live adaptive sweep's refits of its target (activities/refit.ts).
 */

/**
 * Trim of the weights, in multiples of the mean, by the number of x dimensions (chosen on the
 * validation splits, bench/adaptive/README.md): in two (chinchilla's N x D) a sparse design's
 * nearest-point cells can be huge and untrimmed weights wrecked the fit (validation recipe a
 * -0.011 against the pool's 0.283; 0.283 trimmed at 4); in one, each cell is an interval of the
 * range and untrimmed weights came nearest the pool's exponent on both power-law splits
 * (compute_neuro 0.0397 vs the pool's 0.0401, 0.0417 trimmed; compute_behavior 0.0477 vs
 * 0.0418, 0.0327 trimmed). Infinity: untrimmed.
 */
export function populationWeightCap(arity: number): number {
  return arity >= 2 ? 4 : Infinity;
}

/**
 * At most this many (pool member, observed point) distances per call (about a second here): a
 * live study's grid (up to `maxGridSize` cells) against its data points (checkpoints included)
 * must not stall a refit. A larger pool is thinned to every k-th member, which keeps its spread.
 */
export const MAX_POPULATION_PAIRS = 50_000_000;

/**
 * Each pool member (raw x, all > 0) is represented by its nearest observed point in log x,
 * normalised to the pool's range per dimension; a point's weight is how many it represents,
 * scaled to mean 1 (pool share x observed count), trimmed at `cap` (weight trimming, as in survey
 * estimation: a bounded bias for a bounded variance; see populationWeightCap). Every observed
 * point keeps a floor weight of 1e-3 (duplicates of one x would otherwise get 0 and drop out).
 * Cost: pool x observed distance evaluations, at most MAX_POPULATION_PAIRS.
 */
export function populationWeightsOf(
  pool: readonly (readonly number[])[],
  observed: readonly (readonly number[])[],
  cap = populationWeightCap(observed[0]?.length ?? 1),
): Float64Array {
  const w = new Float64Array(observed.length);
  if (!observed.length || !pool.length) return w.fill(1);
  const arity = observed[0].length;
  const stride = Math.max(1, Math.ceil((pool.length * observed.length) / MAX_POPULATION_PAIRS));
  const lpool: number[][] = [];
  for (let i = 0; i < pool.length; i += stride) lpool.push(pool[i].map(Math.log));
  const min = new Array<number>(arity).fill(Infinity);
  const max = new Array<number>(arity).fill(-Infinity);
  for (const v of lpool)
    for (let k = 0; k < arity; k++) {
      if (v[k] < min[k]) min[k] = v[k];
      if (v[k] > max[k]) max[k] = v[k];
    }
  const norm = (v: readonly number[]) => v.map((x, k) => (max[k] > min[k] ? (x - min[k]) / (max[k] - min[k]) : 0));
  const obs = observed.map((v) => norm(v.map(Math.log)));
  for (const lv of lpool) {
    const u = norm(lv);
    let best = 0;
    let bd = Infinity;
    for (let j = 0; j < obs.length; j++) {
      let d = 0;
      for (let k = 0; k < arity; k++) d += (u[k] - obs[j][k]) ** 2;
      // Ties (duplicated x) go to the earliest observation: deterministic.
      if (d < bd) {
        bd = d;
        best = j;
      }
    }
    w[best] += 1;
  }
  const scale = observed.length / lpool.length;
  for (let j = 0; j < w.length; j++) w[j] = Math.min(cap, Math.max(w[j] * scale, 1e-3));
  return w;
}
