/**
 * Which runs next: the batch that most reduces the uncertainty of a named target per unit cost.
 * Pure (no I/O, imports only scaling/), seeded and deterministic.
 *
 * Criterion: expected variance reduction of the target per unit cost, computed from the
 * bootstrap ensemble of the current fit (an ensemble Kalman / linear-Gaussian approximation).
 *   - The ensemble (one LSE parameter vector per resample) is the current uncertainty. For each
 *     member we evaluate the target T (recipe exponent a = beta/(alpha+beta), an exponent, or
 *     Lhat at given x) and every candidate's prediction F_c = Lhat(x_c) (log y, the scale the
 *     objective fits on).
 *   - Observing candidate c with noise sigma^2 (robust scale of the current fit's residuals)
 *     reduces Var(T) by Cov(T, F_c)^2 / (Var(F_c) + sigma^2). That is the gain; we rank gain / cost.
 *   - A batch is chosen greedily, conditioning the ensemble on each pick (a serial square-root
 *     update of the ensemble anomalies): a candidate whose information overlaps a pick's loses
 *     its gain, so parallel runs do not duplicate information.
 * Why this and not plain ensemble disagreement (Var(F_c)): disagreement chases where the law is
 * uncertain anywhere, e.g. at tiny models where the floor is poorly pinned, even when that says
 * nothing about the quantity asked for; the covariance with the target ties the choice to it, and
 * the ensemble is already there (the refit's bootstrap), so no derivatives or extra fits are
 * needed. Members and columns are winsorised at 2.5/97.5% because unidentified resamples (an
 * exponent running off along a flat valley) would otherwise dominate every covariance.
 *
 * What the criterion cannot see, and how the replay uses it (issue 10): the law is misspecified
 * on the paper's data (compute_neuro's alpha is 0.04 fitted on its cheaper 80%, 0.16 on all), so
 * the targets (the full-data exponent, the all-candidates extrapolation) are properties of the fit
 * to the whole pool, not of a "true" law. With cost cooling the picks are not a sample of the
 * pool: the start of the budget goes to hundreds of cheap models, and an unweighted fit of that
 * design is a fit of the cheap end (compute_behavior's validation split: RMSE 0.25 against the
 * all-candidates fit's 0.13, random 0.17). So the replay's recipe (scaling/replay.ts runStrategy)
 * differs by objective, each chosen on validation splits only (bench/adaptive/README.md):
 *   - a prediction target ranks by gain alone (costPower 0: the budget caps the spend; the cheap
 *     end's information about an extrapolation saturates) and fits unweighted (the pull toward
 *     the dear end is what an extrapolation wants): the only variant meeting the goal on all
 *     three validation splits;
 *   - a recipe / exponent target keeps cost cooling, and its fits (hence the ensemble handed to
 *     this criterion) weight each point by the share of the pool nearest it in log x
 *     (post-stratification: scaling/population.ts), so the criterion ranks
 *     by the uncertainty of the pool-level target it is asked about.
 * A space-filling seed design over the whole log-x range changed nothing measurable.
 *
 * Before the first fit (no ensemble, or too few points to fit) the batch is a space-filling
 * design: greedy maximin in normalised log x over the candidates that are cheap enough (each at
 * most `seedShare` of the budget divided by the design size), the first pick seeded at random.
 */
import { mulberry32 } from './bootstrap';
import { formArity, LSE_PARAM_NAMES, predictLog, type FormName } from './forms';

/** What the batch should make certain. */
export type ProposeTarget =
  /** Chinchilla's compute-optimal split: a = beta / (alpha + beta) (b = 1 - a moves with it). */
  | { kind: 'recipe' }
  /** An exponent of the form (default alpha). */
  | { kind: 'exponent'; name?: string }
  /** The prediction (log y) at one or more unscaled x (mean of their variances). */
  | { kind: 'prediction'; at: readonly (readonly number[])[] };

export interface ProposeCandidate {
  /** Unique id (a run id, or a row index in a replay). */
  id: string;
  /** Unscaled x, as in the data (two values for chinchilla). */
  rawX: readonly number[];
  /** Estimated cost (FLOPs, GPU-hours: any unit, the same as `budget`). */
  cost: number;
}

export interface ObservedPoint {
  rawX: readonly number[];
  /** The fitted target y (> 0): 1 - score when the fit inverts. FitResult.points has this shape. */
  y: number;
}

export interface ProposeInput {
  form: FormName;
  /** The fit's scalers (FitResult.scalers): x is divided by them before evaluating the law. */
  scalers: readonly number[];
  target: ProposeTarget;
  /** Points fitted so far (FitResult.points). */
  observed: readonly ObservedPoint[];
  /** The current fit's LSE vector (FitResult.lse_params in LSE_PARAM_NAMES order): residuals for the noise. */
  point?: readonly number[];
  /** The bootstrap ensemble of the current fit (FitResult.bootstrap.lse_samples). */
  ensemble?: readonly (readonly number[])[];
  /** Unrun cells. */
  candidates: readonly ProposeCandidate[];
  /** How many to propose (fewer when the budget or the pool runs out). */
  batch: number;
  /** Remaining budget in the unit of `cost`: no proposal costs more than what is left. */
  budget?: number;
  seed?: number;
  /** Size of the space-filling design before the first fit (default max(batch, 2 dim + 2)). */
  seedDesignSize?: number;
  /** Fraction of the budget the seed design may spend (default 0.25). */
  seedShare?: number;
  /** Ensemble members used (a seeded subsample when there are more; default 256). */
  maxEnsemble?: number;
  /**
   * Rank by gain / cost^costPower (default 1: per unit cost). Below 1 favours dearer, more
   * informative runs: a hedge when the law is misspecified and the cheap end is biased.
   */
  costPower?: number;
  /**
   * The study's whole budget (same unit as `budget`). When given and `costPower` is not, the
   * ranking uses cost cooling: gain / cost^(budget / budgetTotal), so the exponent falls from 1
   * at the start to 0 when the budget is spent (see costExponent).
   */
  budgetTotal?: number;
}

export interface Proposal {
  id: string;
  /** 1-based rank in the batch (the order picks were made). */
  rank: number;
  cost: number;
  /** Expected reduction of the target's variance (mean over prediction points); 0 in a seed design. */
  gain: number;
  /** Why it was chosen, for a run's summary. */
  reason: string;
}

export interface ProposeResult {
  mode: 'seed-design' | 'variance-reduction';
  proposals: Proposal[];
  /** Candidates that were affordable and valid. */
  eligible: number;
  /** Target standard deviation now and expected after the batch (RMS over prediction points). */
  targetSd?: number;
  expectedSd?: number;
  /** Observation noise assumed (sd of log y). */
  noiseSd?: number;
}

export class ProposeInputError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ProposeInputError';
  }
}

/** Input limits, checked before anything is allocated. */
export const PROPOSE_LIMITS = { candidates: 100_000, observed: 1_000_000, ensemble: 100_000, batch: 1_000, predictionPoints: 1_000 };
/** Fewer ensemble members than this cannot estimate a covariance: use the seed design. */
export const MIN_ENSEMBLE = 20;
/** Prediction targets beyond this many are thinned (evenly, in the given order). */
const MAX_TARGET_COLUMNS = 64;
const DEFAULT_MAX_ENSEMBLE = 256;
/** Noise floor (sd of log y): a perfect fit must not make one observation look infinitely informative. */
const MIN_NOISE_SD = 1e-4;

/** Minimum points before a fit of the form is worth making (more than parameters). */
export function minPointsToFit(form: FormName): number {
  return LSE_PARAM_NAMES[form].length + 2;
}

function check(input: ProposeInput): void {
  const arity = formArity(input.form);
  if (!LSE_PARAM_NAMES[input.form]) throw new ProposeInputError(`unknown form "${String(input.form)}"`, 'form');
  if (input.scalers.length !== arity || !input.scalers.every((s) => Number.isFinite(s) && s > 0))
    throw new ProposeInputError(`needs ${arity} positive finite scaler(s)`, 'scalers');
  if (!Number.isInteger(input.batch) || input.batch < 1 || input.batch > PROPOSE_LIMITS.batch)
    throw new ProposeInputError(`must be an integer in 1..${PROPOSE_LIMITS.batch}, got ${input.batch}`, 'batch');
  if (input.candidates.length > PROPOSE_LIMITS.candidates)
    throw new ProposeInputError(`at most ${PROPOSE_LIMITS.candidates} candidates, got ${input.candidates.length}`, 'candidates');
  if (input.observed.length > PROPOSE_LIMITS.observed)
    throw new ProposeInputError(`at most ${PROPOSE_LIMITS.observed} points, got ${input.observed.length}`, 'observed');
  if (input.ensemble && input.ensemble.length > PROPOSE_LIMITS.ensemble)
    throw new ProposeInputError(`at most ${PROPOSE_LIMITS.ensemble} members, got ${input.ensemble.length}`, 'ensemble');
  if (input.budget !== undefined && !(input.budget >= 0)) throw new ProposeInputError(`must be >= 0, got ${input.budget}`, 'budget');
  if (input.costPower !== undefined && !(input.costPower >= 0 && input.costPower <= 2))
    throw new ProposeInputError(`must be in [0, 2], got ${input.costPower}`, 'costPower');
  if (input.budgetTotal !== undefined && !(input.budgetTotal > 0 && Number.isFinite(input.budgetTotal)))
    throw new ProposeInputError(`must be finite and > 0, got ${input.budgetTotal}`, 'budgetTotal');
  const seen = new Set<string>();
  input.candidates.forEach((c, i) => {
    if (typeof c.id !== 'string' || !c.id) throw new ProposeInputError('needs a non-empty id', `candidates[${i}].id`);
    if (seen.has(c.id)) throw new ProposeInputError(`duplicate id "${c.id}"`, `candidates[${i}].id`);
    seen.add(c.id);
    if (c.rawX.length !== arity || !c.rawX.every((v) => Number.isFinite(v) && v > 0))
      throw new ProposeInputError(`needs ${arity} positive finite x value(s)`, `candidates[${i}].rawX`);
    if (!(Number.isFinite(c.cost) && c.cost > 0)) throw new ProposeInputError(`must be finite and > 0, got ${c.cost}`, `candidates[${i}].cost`);
  });
  const t = input.target;
  if (t.kind === 'recipe' && input.form !== 'chinchilla')
    throw new ProposeInputError(`the recipe needs a chinchilla fit, this one is ${input.form}`, 'target.kind');
  if (t.kind === 'exponent') {
    const name = t.name ?? 'alpha';
    const ok = ['alpha', 'beta'].includes(name) && LSE_PARAM_NAMES[input.form].includes(name);
    if (!ok) throw new ProposeInputError(`form ${input.form} has no exponent "${name}"`, 'target.name');
  }
  if (t.kind === 'prediction') {
    if (!t.at.length || t.at.length > PROPOSE_LIMITS.predictionPoints)
      throw new ProposeInputError(`needs 1..${PROPOSE_LIMITS.predictionPoints} x values, got ${t.at.length}`, 'target.at');
    t.at.forEach((x, i) => {
      if (x.length !== arity || !x.every((v) => Number.isFinite(v) && v > 0))
        throw new ProposeInputError(`needs ${arity} positive finite x value(s)`, `target.at[${i}]`);
    });
  }
}

/** The target's value(s) for one LSE parameter vector. */
function targetValues(input: ProposeInput, theta: readonly number[], at: readonly (readonly number[])[]): number[] {
  const t = input.target;
  const names = LSE_PARAM_NAMES[input.form];
  if (t.kind === 'recipe') {
    const alpha = theta[names.indexOf('alpha')];
    const beta = theta[names.indexOf('beta')];
    return [beta / (alpha + beta)];
  }
  if (t.kind === 'exponent') return [theta[names.indexOf(t.name ?? 'alpha')]];
  return at.map((x) => predictLog(input.form, theta, scaled(x, input.scalers)));
}

function scaled(x: readonly number[], scalers: readonly number[]): number[] {
  return x.map((v, i) => v / scalers[i]);
}

/** Seeded Fisher-Yates permutation of 0..n-1 (tie-breaks, subsampling). */
function permutation(n: number, rng: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Robust sd (1.4826 MAD) of the current fit's residuals in log y. */
function noiseSd(input: ProposeInput): number {
  if (!input.point || !input.observed.length) return 0.05;
  const r = new Float64Array(input.observed.length);
  input.observed.forEach((p, i) => (r[i] = predictLog(input.form, input.point as number[], scaled(p.rawX, input.scalers)) - Math.log(p.y)));
  const finite = r.filter(Number.isFinite).sort();
  if (!finite.length) return 0.05;
  const med = quantileSorted(finite, 0.5);
  const dev = finite.map((v) => Math.abs(v - med)).sort();
  return Math.max(MIN_NOISE_SD, 1.4826 * quantileSorted(dev, 0.5));
}

/** Propose the next batch. Throws ProposeInputError (with the field) on bad input. */
export function propose(input: ProposeInput): ProposeResult {
  check(input);
  const seed = input.seed ?? 0;
  const budget = input.budget ?? Infinity;
  const eligible = input.candidates.map((_, i) => i).filter((i) => input.candidates[i].cost <= budget);
  const ensembleOk =
    (input.ensemble?.length ?? 0) >= MIN_ENSEMBLE && input.observed.length >= minPointsToFit(input.form) && input.point !== undefined;
  if (!ensembleOk || !eligible.length) return seedDesign(input, eligible, seed);
  const result = varianceReduction(input, eligible, seed);
  return result ?? seedDesign(input, eligible, seed);
}

/** Normalised log x of the candidates, observed points and extra x (each axis scaled to [0, 1] over all). */
function logCoords(input: ProposeInput, extraX: readonly (readonly number[])[] = []): { cand: number[][]; obs: number[][]; extra: number[][] } {
  const arity = formArity(input.form);
  const lc = input.candidates.map((c) => c.rawX.map(Math.log));
  const lo = input.observed.map((p) => p.rawX.map((v) => Math.log(Math.max(v, 1e-300))));
  const le = extraX.map((x) => x.map(Math.log));
  const all = [...lc, ...lo, ...le];
  const min = Array.from({ length: arity }, (_, k) => all.reduce((m, v) => Math.min(m, v[k]), Infinity));
  const max = Array.from({ length: arity }, (_, k) => all.reduce((m, v) => Math.max(m, v[k]), -Infinity));
  const norm = (v: number[]) => v.map((x, k) => (max[k] > min[k] ? (x - min[k]) / (max[k] - min[k]) : 0));
  return { cand: lc.map(norm), obs: lo.map(norm), extra: le.map(norm) };
}

function seedDesign(input: ProposeInput, eligibleAll: number[], seed: number): ProposeResult {
  const budget = input.budget ?? Infinity;
  const size = input.seedDesignSize ?? Math.max(input.batch, 2 * LSE_PARAM_NAMES[input.form].length + 2);
  const want = Math.min(input.batch, size);
  // Cheap enough for a design of `size` points to fit in its share of the budget; if nothing
  // is, the cheapest affordable ones.
  const cap = Number.isFinite(budget) ? ((input.seedShare ?? 0.25) * budget) / size : Infinity;
  let eligible = eligibleAll.filter((i) => input.candidates[i].cost <= cap);
  if (eligible.length < want) eligible = [...eligibleAll].sort((p, q) => input.candidates[p].cost - input.candidates[q].cost || p - q).slice(0, want);
  const rng = mulberry32(seed ^ 0x5eed);
  const tieRank = permutation(input.candidates.length, rng);
  const { cand, obs } = logCoords(input);
  const dist2 = (a: number[], b: number[]) => a.reduce((s, v, k) => s + (v - b[k]) ** 2, 0);
  // Distance of each eligible candidate to the nearest point of the design so far.
  const nearest = new Map<number, number>(eligible.map((i) => [i, obs.reduce((m, o) => Math.min(m, dist2(cand[i], o)), Infinity)]));
  const proposals: Proposal[] = [];
  let left = budget;
  while (proposals.length < want && nearest.size) {
    let best = -1;
    for (const [i, d] of nearest) {
      if (input.candidates[i].cost > left) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const db = nearest.get(best) as number;
      // With no design yet every distance is Infinity: the seeded order picks the first point.
      if (d > db || (d === db && tieRank[i] < tieRank[best])) best = i;
    }
    if (best < 0) break;
    const c = input.candidates[best];
    left -= c.cost;
    nearest.delete(best);
    for (const [i, d] of nearest) nearest.set(i, Math.min(d, dist2(cand[i], cand[best])));
    proposals.push({
      id: c.id,
      rank: proposals.length + 1,
      cost: c.cost,
      gain: 0,
      reason: `seed design ${proposals.length + 1} of ${size}: space-filling (farthest in log x from the points so far; ${eligible.length} cheap enough)`,
    });
  }
  return { mode: 'seed-design', proposals, eligible: eligibleAll.length };
}

/** Winsorise a column at the 2.5/97.5% quantiles, then centre it: the ensemble anomaly. */
function anomaly(values: Float64Array): Float64Array {
  const sorted = Float64Array.from(values).sort();
  const lo = quantileSorted(sorted, 0.025);
  const hi = quantileSorted(sorted, 0.975);
  const out = new Float64Array(values.length);
  let mean = 0;
  for (let m = 0; m < values.length; m++) {
    out[m] = Math.min(hi, Math.max(lo, values[m]));
    mean += out[m];
  }
  mean /= values.length;
  for (let m = 0; m < values.length; m++) out[m] -= mean;
  return out;
}

/**
 * Model discrepancy: the law is not exact, and its misfit is smooth in log x, so many points
 * close together (a hundred tiny models) carry the information of fewer than their number, and
 * a candidate near the target's x tells about the misfit there. The misfit is modelled as a
 * Gaussian process in normalised log x (squared-exponential, length DISCREPANCY_LENGTH) whose
 * share of the residual variance is the lag-1 correlation of the residuals ordered by x, clipped
 * to [0.25, 0.9]; the rest is independent noise.
 */
const DISCREPANCY_LENGTH = 0.1;

function residualSplit(input: ProposeInput, coords: number[][]): { noise2: number; disc2: number } {
  const total = noiseSd(input) ** 2;
  let rho = 0.5;
  if (input.point && input.observed.length >= 6) {
    const r = input.observed.map((p) => predictLog(input.form, input.point as number[], scaled(p.rawX, input.scalers)) - Math.log(p.y));
    const order = coords.map((c, i) => ({ i, k: c.reduce((s, v) => s + v, 0) })).sort((a, b) => a.k - b.k || a.i - b.i);
    const rs = order.map((o) => r[o.i]).filter(Number.isFinite);
    const mean = rs.reduce((s, v) => s + v, 0) / rs.length;
    let c0 = 0;
    let c1 = 0;
    for (let i = 0; i < rs.length; i++) {
      c0 += (rs[i] - mean) ** 2;
      if (i) c1 += (rs[i] - mean) * (rs[i - 1] - mean);
    }
    if (c0 > 0) rho = c1 / c0;
  }
  rho = Math.min(0.9, Math.max(0.25, rho));
  return { noise2: Math.max(MIN_NOISE_SD ** 2, (1 - rho) * total), disc2: rho * total };
}

/** At most this many observed points condition the discrepancy (evenly thinned beyond). */
const MAX_CONDITIONING = 400;
/** At most this many population points define a parameter target's discrepancy weights. */
const MAX_POPULATION = 800;

function thin<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, j) => items[Math.floor((j * items.length) / max)]);
}

/** Lower Cholesky factor of a symmetric positive definite n x n matrix (row-major), in place. */
function cholesky(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] ** 2;
    const l = Math.sqrt(Math.max(d, 1e-300));
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let v = a[i * n + j];
      for (let k = 0; k < j; k++) v -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = v / l;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
}

/** Solve L x = b (L lower triangular, row-major) in place. */
function forwardSolve(l: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let v = b[i];
    for (let k = 0; k < i; k++) v -= l[i * n + k] * b[k];
    b[i] = v / l[i * n + i];
  }
}

/**
 * A parameter target's sensitivity to the misfit at each population point: the target is the
 * parameter of the law fitted to the whole population, which to first order moves by
 * w . delta with w = g^T (J^T J)^-1 J^T (J: d Lhat / d theta at each point, g: d target / d theta).
 */
function leverageWeights(input: ProposeInput, theta: readonly number[], xs: readonly number[][]): Float64Array {
  const names = LSE_PARAM_NAMES[input.form];
  const dim = names.length;
  const J = xs.map((x) =>
    names.map((_, k) => {
      const h = 1e-5 * Math.max(1, Math.abs(theta[k]));
      const up = [...theta];
      const dn = [...theta];
      up[k] += h;
      dn[k] -= h;
      return (predictLog(input.form, up, x) - predictLog(input.form, dn, x)) / (2 * h);
    }),
  );
  const g = new Array<number>(dim).fill(0);
  const t = input.target;
  if (t.kind === 'recipe') {
    const ia = names.indexOf('alpha');
    const ib = names.indexOf('beta');
    const s = theta[ia] + theta[ib];
    g[ia] = -theta[ib] / (s * s);
    g[ib] = theta[ia] / (s * s);
  } else g[names.indexOf(t.kind === 'exponent' ? (t.name ?? 'alpha') : 'alpha')] = 1;
  const H = new Float64Array(dim * dim);
  for (const row of J) for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) H[i * dim + j] += row[i] * row[j];
  let tr = 0;
  for (let i = 0; i < dim; i++) tr += H[i * dim + i];
  for (let i = 0; i < dim; i++) H[i * dim + i] += 1e-9 * tr + 1e-300;
  cholesky(H, dim);
  const v = Float64Array.from(g);
  forwardSolve(H, dim, v);
  // Back substitution with L^T.
  for (let i = dim - 1; i >= 0; i--) {
    let s = v[i];
    for (let k = i + 1; k < dim; k++) s -= H[k * dim + i] * v[k];
    v[i] = s / H[i * dim + i];
  }
  return Float64Array.from(J, (row) => row.reduce((s, jv, k) => s + jv * v[k], 0));
}

function varianceReduction(input: ProposeInput, eligible: number[], seed: number): ProposeResult | null {
  const rng = mulberry32(seed);
  const names = LSE_PARAM_NAMES[input.form];
  const ensemble = input.ensemble as readonly (readonly number[])[];
  const maxM = input.maxEnsemble ?? DEFAULT_MAX_ENSEMBLE;
  const order = ensemble.length > maxM ? permutation(ensemble.length, rng).slice(0, maxM).sort((p, q) => p - q) : ensemble.map((_, i) => i);
  const t = input.target;
  let at: readonly (readonly number[])[] = [];
  if (t.kind === 'prediction') {
    const k = Math.min(MAX_TARGET_COLUMNS, t.at.length);
    at = Array.from({ length: k }, (_, j) => t.at[Math.floor((j * t.at.length) / k)]);
  }
  const cands = eligible.map((i) => input.candidates[i]);
  const candX = cands.map((c) => scaled(c.rawX, input.scalers));
  // Members with a finite target and finite predictions everywhere.
  const rowsT: number[][] = [];
  const rowsF: Float64Array[] = [];
  for (const m of order) {
    const theta = ensemble[m];
    if (theta.length !== names.length || !theta.every(Number.isFinite)) continue;
    const tv = targetValues(input, theta as number[], at);
    if (!tv.every(Number.isFinite)) continue;
    const f = Float64Array.from(candX, (x) => predictLog(input.form, theta, x));
    if (!f.every(Number.isFinite)) continue;
    rowsT.push(tv);
    rowsF.push(f);
  }
  const M = rowsT.length;
  if (M < MIN_ENSEMBLE) return null;
  const T = rowsT[0].length;
  const C = cands.length;
  // Ensemble anomalies per column: targets, then candidates.
  const AT = Array.from({ length: T }, (_, j) => anomaly(Float64Array.from(rowsT, (r) => r[j])));
  const AF = Array.from({ length: C }, (_, c) => anomaly(Float64Array.from(rowsF, (r) => r[c])));
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let m = 0; m < M; m++) s += a[m] * b[m];
    return s / (M - 1);
  };
  // The misfit (a Gaussian process in normalised log x), conditioned on the observed points'
  // residuals: Kpost(a, b) = K(a, b) - V[:, a] . V[:, b], V = L^-1 K(O, .), L L^T = K(O, O) + noise.
  const { cand: uC, obs: uO, extra: uT } = logCoords(input, at);
  const { noise2, disc2 } = residualSplit(input, uO);
  const uc = eligible.map((i) => uC[i]);
  const kern = (a: number[], b: number[]) => disc2 * Math.exp(-a.reduce((s, v, k) => s + (v - b[k]) ** 2, 0) / (2 * DISCREPANCY_LENGTH ** 2));
  const cond = thin(uO, MAX_CONDITIONING);
  const nO = cond.length;
  const LO = new Float64Array(nO * nO);
  for (let i = 0; i < nO; i++) for (let j = 0; j < nO; j++) LO[i * nO + j] = kern(cond[i], cond[j]) + (i === j ? noise2 : 0);
  cholesky(LO, nO);
  const vOf = (u: number[]) => {
    const v = Float64Array.from(cond, (o) => kern(o, u));
    forwardSolve(LO, nO, v);
    return v;
  };
  const vdot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let k = 0; k < nO; k++) s += a[k] * b[k];
    return s;
  };
  const Vc = uc.map(vOf);
  const kpostC = (a: number, b: number) => kern(uc[a], uc[b]) - vdot(Vc[a], Vc[b]);
  // The targets' misfit as weights over points E: the target points themselves (predictions) or
  // the population's leverage on the fitted parameter (recipe, exponent).
  let E: number[][];
  let W: Float64Array[];
  if (t.kind === 'prediction') {
    E = uT;
    W = uT.map((_, j) => Float64Array.from(uT, (_u, e) => (e === j ? 1 : 0)));
  } else {
    const popIdx = thin(
      [...input.candidates.map((_, i) => ({ u: uC[i], x: scaled(input.candidates[i].rawX, input.scalers) })), ...input.observed.map((p, i) => ({ u: uO[i], x: scaled(p.rawX, input.scalers) }))],
      MAX_POPULATION,
    );
    E = popIdx.map((p) => p.u);
    const w = leverageWeights(input, input.point as number[], popIdx.map((p) => p.x));
    W = [w.every(Number.isFinite) ? w : new Float64Array(w.length)];
  }
  const VE = E.map(vOf);
  const omega = W.map((w) => {
    const o = new Float64Array(nO);
    w.forEach((we, e) => {
      if (we) for (let k = 0; k < nO; k++) o[k] += we * VE[e][k];
    });
    return o;
  });
  const gpTC = (j: number, c: number) => W[j].reduce((s, we, e) => (we ? s + we * kern(E[e], uc[c]) : s), 0) - vdot(omega[j], Vc[c]);
  const gpTT = (j: number) => {
    let s = 0;
    W[j].forEach((wa, a) => {
      if (wa) W[j].forEach((wb, b) => (s += wb ? wa * wb * kern(E[a], E[b]) : 0));
    });
    return Math.max(0, s - vdot(omega[j], omega[j]));
  };
  // Prior covariances: G[j][c] = Cov(T_j, F_c), d[c] = Var(F_c), vt[j] = Var(T_j).
  const G = AT.map((a, j) => Float64Array.from(AF, (f, c) => dot(a, f) + gpTC(j, c)));
  const G0 = G.map((g) => Float64Array.from(g));
  const d = Float64Array.from(AF, (f, c) => dot(f, f) + Math.max(0, kpostC(c, c)));
  const vt = Float64Array.from(AT, (a, j) => dot(a, a) + gpTT(j));
  // Conditioning steps so far: S <- S - v v^T, v = S[:, c] / sqrt(S[c, c] + noise).
  const steps: { vT: Float64Array; vC: Float64Array }[] = [];
  const sdBefore = Math.sqrt(vt.reduce((s, v) => s + v, 0) / T);
  const tieRank = permutation(C, rng);
  const costPower = costExponent(input);
  const taken = new Uint8Array(C);
  let left = input.budget ?? Infinity;
  const proposals: Proposal[] = [];
  while (proposals.length < input.batch) {
    let best = -1;
    let bestRatio = -Infinity;
    let bestGain = 0;
    let ranked = 0;
    for (let c = 0; c < C; c++) {
      if (taken[c] || cands[c].cost > left) continue;
      ranked++;
      let g = 0;
      for (let j = 0; j < T; j++) g += G[j][c] * G[j][c];
      g /= T * (d[c] + noise2);
      const ratio = g / Math.pow(cands[c].cost, costPower);
      const tie = best >= 0 && Math.abs(ratio - bestRatio) <= 1e-12 * Math.abs(bestRatio);
      if (best < 0 || (ratio > bestRatio && !tie) || (tie && tieRank[c] < tieRank[best])) {
        best = c;
        bestRatio = ratio;
        bestGain = g;
      }
    }
    if (best < 0) break;
    // Nothing left carries information about the target (a degenerate ensemble): the caller
    // falls back to the space-filling design rather than picking at random.
    if (!(bestGain > 0)) {
      if (!proposals.length) return null;
      break;
    }
    // The full column S[:, best], from the prior and the earlier conditioning steps.
    const colC = Float64Array.from(AF, (f, c) => dot(AF[best], f) + kpostC(best, c));
    const colT = Float64Array.from(AT, (_a, j) => G0[j][best]);
    for (const st of steps) {
      const k = st.vC[best];
      for (let c = 0; c < C; c++) colC[c] -= st.vC[c] * k;
      for (let j = 0; j < T; j++) colT[j] -= st.vT[j] * k;
    }
    const scale = 1 / Math.sqrt(colC[best] + noise2);
    const vC = colC.map((v) => v * scale);
    const vT = colT.map((v) => v * scale);
    steps.push({ vT, vC });
    for (let j = 0; j < T; j++) {
      const gj = G[j];
      for (let c = 0; c < C; c++) gj[c] -= vT[j] * vC[c];
      vt[j] -= vT[j] * vT[j];
    }
    for (let c = 0; c < C; c++) d[c] -= vC[c] * vC[c];
    taken[best] = 1;
    left -= cands[best].cost;
    proposals.push({
      id: cands[best].id,
      rank: proposals.length + 1,
      cost: cands[best].cost,
      gain: bestGain,
      reason:
        `rank 1 of ${ranked}: largest expected reduction of the ${describeTarget(input.target)} variance ${costPower === 1 ? 'per unit cost' : `per cost^${costPower.toFixed(2)}`} ` +
        `(${bestGain.toExponential(2)} for cost ${cands[best].cost.toExponential(2)})` +
        (proposals.length ? `, after conditioning on the ${proposals.length} earlier pick(s) of this batch` : ''),
    });
  }
  return {
    mode: 'variance-reduction',
    proposals,
    eligible: eligible.length,
    targetSd: sdBefore,
    expectedSd: Math.sqrt(Math.max(0, vt.reduce((s, v) => s + v, 0)) / T),
    noiseSd: Math.sqrt(noise2),
  };
}

/**
 * The exponent p of the ranking gain / cost^p. Plain per-unit-cost (p = 1) is the knapsack rule,
 * right when gains add up; here they do not. The law is misspecified, so the cheap end's
 * information about an expensive target saturates faster than the linear-Gaussian model says, and
 * p = 1 spends a whole budget on hundreds of tiny models while the target is set by the expensive
 * end. Cost cooling (CArBO, Lee et al. 2020: cost^alpha, alpha falling from 1 to 0 over the
 * budget) spends the start of the budget cheaply, where a cheap point is worth as much as a dear
 * one, and the rest on the runs that carry the most information whatever their price.
 */
export function costExponent(input: Pick<ProposeInput, 'costPower' | 'budget' | 'budgetTotal'>): number {
  if (input.costPower !== undefined) return input.costPower;
  if (input.budgetTotal === undefined || input.budget === undefined) return 1;
  return Math.min(1, Math.max(0, input.budget / input.budgetTotal));
}

/**
 * The costPower an adaptive study (the replay and the live sweep alike) asks for: a prediction
 * ranks by gain alone (the budget caps the spend), other targets cool over the budget
 * (undefined: costExponent). Chosen on validation splits (see the module comment).
 */
export function studyCostPower(target: ProposeTarget): number | undefined {
  return target.kind === 'prediction' ? 0 : undefined;
}

export function describeTarget(t: ProposeTarget): string {
  if (t.kind === 'recipe') return 'recipe exponent a';
  if (t.kind === 'exponent') return `exponent ${t.name ?? 'alpha'}`;
  return t.at.length === 1 ? `prediction at x = ${t.at[0].map((v) => v.toExponential(2)).join(', ')}` : `prediction over ${t.at.length} x values`;
}
