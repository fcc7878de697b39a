/**
 * Quasi-Newton minimisers (BFGS, L-BFGS) with a strong-Wolfe line search
 * (Nocedal & Wright, Numerical Optimization, 2nd ed., algorithms 3.5/3.6 and 7.4).
 */
import type { Objective } from './objective';

export interface MinimizeOptions {
  /** Stop when max |gradient| <= gtol (scipy's BFGS default is 1e-5). */
  gtol?: number;
  maxIter?: number;
  /** Stop after `stallIters` consecutive iterations whose loss decrease is below ftol * (|f| + 1e-300). */
  ftol?: number;
  stallIters?: number;
  /** L-BFGS memory. */
  memory?: number;
  /** BFGS: initial inverse Hessian (row-major dim x dim), e.g. from a previous run at this point. */
  hessInv0?: Float64Array;
}

export interface MinimizeResult {
  x: Float64Array;
  f: number;
  grad: Float64Array;
  iterations: number;
  evaluations: number;
  /** Why it stopped. */
  status: 'gtol' | 'ftol' | 'maxiter' | 'linesearch' | 'nonfinite';
  /** BFGS: the final inverse-Hessian approximation (lets a polishing run continue where this stopped). */
  hessInv?: Float64Array;
}

const C1 = 1e-4;
const C2 = 0.9;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

/** Minimiser of the cubic through (a, fa, da) and (b, fb, db); NaN if it does not exist. */
function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - (b - a) * ((db + d2 - d1) / (db - da + 2 * d2));
}

interface LineSearchResult {
  step: number;
  f: number;
  ok: boolean;
}

/**
 * Strong-Wolfe line search along p from x (value f0, slope d0 < 0). On success `xNew` and
 * `gNew` hold the accepted point and its gradient.
 */
function lineSearch(
  obj: Objective,
  x: Float64Array,
  p: Float64Array,
  f0: number,
  d0: number,
  initialStep: number,
  xNew: Float64Array,
  gNew: Float64Array,
  counter: { evals: number },
): LineSearchResult {
  const n = x.length;
  const evalAt = (step: number): { f: number; d: number } => {
    for (let i = 0; i < n; i++) xNew[i] = x[i] + step * p[i];
    counter.evals++;
    const f = obj.evaluate(xNew, gNew);
    return { f, d: dot(gNew, p) };
  };

  let stepPrev = 0;
  let fPrev = f0;
  let dPrev = d0;
  let step = initialStep;
  const maxStep = 1e10;
  for (let iter = 0; iter < 60; iter++) {
    let { f, d } = evalAt(step);
    // Non-finite values (overflowing exponents): shrink towards the last good step.
    let shrink = 0;
    while (!Number.isFinite(f) || !Number.isFinite(d)) {
      if (++shrink > 60) return { step: 0, f: f0, ok: false };
      step = stepPrev + 0.5 * (step - stepPrev);
      ({ f, d } = evalAt(step));
    }
    if (f > f0 + C1 * step * d0 || (iter > 0 && f >= fPrev)) {
      return zoom(stepPrev, fPrev, dPrev, step, f, d);
    }
    if (Math.abs(d) <= -C2 * d0) return { step, f, ok: true };
    if (d >= 0) return zoom(step, f, d, stepPrev, fPrev, dPrev);
    stepPrev = step;
    fPrev = f;
    dPrev = d;
    if (step >= maxStep) return { step, f, ok: true };
    step = Math.min(step * 4, maxStep);
  }
  return { step: stepPrev, f: fPrev, ok: stepPrev > 0 };

  function zoom(lo: number, fLo: number, dLo: number, hi: number, fHi: number, dHi: number): LineSearchResult {
    for (let k = 0; k < 40; k++) {
      const left = Math.min(lo, hi);
      const width = Math.abs(hi - lo);
      let trial = cubicMin(lo, fLo, dLo, hi, fHi, dHi);
      // Safeguard: stay well inside the bracket, else bisect.
      if (!Number.isFinite(trial) || trial < left + 0.1 * width || trial > left + 0.9 * width) trial = 0.5 * (lo + hi);
      const { f, d } = evalAt(trial);
      if (!Number.isFinite(f) || f > f0 + C1 * trial * d0 || f >= fLo) {
        hi = trial;
        fHi = Number.isFinite(f) ? f : Infinity;
        dHi = Number.isFinite(d) ? d : 0;
      } else {
        if (Math.abs(d) <= -C2 * d0) return { step: trial, f, ok: true };
        if (d * (hi - lo) >= 0) {
          hi = lo;
          fHi = fLo;
          dHi = dLo;
        }
        lo = trial;
        fLo = f;
        dLo = d;
      }
      if (Math.abs(hi - lo) <= 1e-16 * Math.max(1, Math.abs(lo))) break;
    }
    // Sufficient decrease without curvature is still progress; accept the best point.
    if (lo > 0 && fLo < f0) {
      const { f } = evalAt(lo);
      return { step: lo, f, ok: true };
    }
    return { step: 0, f: f0, ok: false };
  }
}

/** BFGS with a dense inverse-Hessian approximation (scaled after the first step). */
export function minimizeBfgs(obj: Objective, x0: ArrayLike<number>, opts: MinimizeOptions = {}): MinimizeResult {
  const n = obj.dim;
  const gtol = opts.gtol ?? 1e-5;
  const maxIter = opts.maxIter ?? 200 * n;
  const ftol = opts.ftol ?? 1e-15;
  const stallIters = opts.stallIters ?? 3;
  const counter = { evals: 0 };

  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  counter.evals++;
  let f = obj.evaluate(x, g);
  if (!Number.isFinite(f)) return { x, f, grad: g, iterations: 0, evaluations: counter.evals, status: 'nonfinite' };

  const H = new Float64Array(n * n);
  if (opts.hessInv0 && opts.hessInv0.length === n * n && opts.hessInv0.every(Number.isFinite)) H.set(opts.hessInv0);
  else for (let i = 0; i < n; i++) H[i * n + i] = 1;
  const p = new Float64Array(n);
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  const s = new Float64Array(n);
  const y = new Float64Array(n);
  const Hy = new Float64Array(n);
  let firstUpdate = !opts.hessInv0;
  let stalls = 0;
  let status: MinimizeResult['status'] = 'maxiter';
  let iter = 0;

  for (; iter < maxIter; iter++) {
    if (maxAbs(g) <= gtol) {
      status = 'gtol';
      break;
    }
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v -= H[i * n + j] * g[j];
      p[i] = v;
    }
    let d0 = dot(g, p);
    if (!(d0 < 0)) {
      // Lost positive definiteness: restart from steepest descent.
      H.fill(0);
      for (let i = 0; i < n; i++) {
        H[i * n + i] = 1;
        p[i] = -g[i];
      }
      d0 = dot(g, p);
      firstUpdate = true;
    }
    const initial = firstUpdate ? Math.min(1, 1 / maxAbs(g)) : 1;
    const ls = lineSearch(obj, x, p, f, d0, initial, xNew, gNew, counter);
    if (!ls.ok) {
      status = 'linesearch';
      break;
    }
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = gNew[i] - g[i];
    }
    const decrease = f - ls.f;
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    f = ls.f;
    if (decrease <= ftol * (Math.abs(f) + 1e-300)) {
      if (++stalls >= stallIters) {
        status = 'ftol';
        iter++;
        break;
      }
    } else stalls = 0;

    const ys = dot(y, s);
    if (!(ys > 1e-300)) continue;
    if (firstUpdate) {
      // Shanno-Phua: scale H0 to the observed curvature before the first update.
      const scale = ys / dot(y, y);
      for (let i = 0; i < n * n; i++) H[i] *= scale;
      firstUpdate = false;
    }
    // H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T
    const rho = 1 / ys;
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v += H[i * n + j] * y[j];
      Hy[i] = v;
    }
    const yHy = dot(y, Hy);
    const coef = (1 + rho * yHy) * rho;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        H[i * n + j] += coef * s[i] * s[j] - rho * (Hy[i] * s[j] + s[i] * Hy[j]);
      }
    }
  }
  return { x, f, grad: g, iterations: iter, evaluations: counter.evals, status, hessInv: H };
}

/** Limited-memory BFGS (two-loop recursion). */
export function minimizeLbfgs(obj: Objective, x0: ArrayLike<number>, opts: MinimizeOptions = {}): MinimizeResult {
  const n = obj.dim;
  const gtol = opts.gtol ?? 1e-5;
  const maxIter = opts.maxIter ?? 200 * n;
  const ftol = opts.ftol ?? 1e-15;
  const stallIters = opts.stallIters ?? 3;
  const m = opts.memory ?? 10;
  const counter = { evals: 0 };

  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  counter.evals++;
  let f = obj.evaluate(x, g);
  if (!Number.isFinite(f)) return { x, f, grad: g, iterations: 0, evaluations: counter.evals, status: 'nonfinite' };
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rhos: number[] = [];
  const p = new Float64Array(n);
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  const alphas = new Float64Array(m);
  let stalls = 0;
  let status: MinimizeResult['status'] = 'maxiter';
  let iter = 0;

  for (; iter < maxIter; iter++) {
    if (maxAbs(g) <= gtol) {
      status = 'gtol';
      break;
    }
    for (let i = 0; i < n; i++) p[i] = -g[i];
    for (let k = S.length - 1; k >= 0; k--) {
      alphas[k] = rhos[k] * dot(S[k], p);
      for (let i = 0; i < n; i++) p[i] -= alphas[k] * Y[k][i];
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < n; i++) p[i] *= gamma;
    }
    for (let k = 0; k < S.length; k++) {
      const beta = rhos[k] * dot(Y[k], p);
      for (let i = 0; i < n; i++) p[i] += (alphas[k] - beta) * S[k][i];
    }
    let d0 = dot(g, p);
    if (!(d0 < 0)) {
      S.length = Y.length = rhos.length = 0;
      for (let i = 0; i < n; i++) p[i] = -g[i];
      d0 = dot(g, p);
    }
    const initial = S.length ? 1 : Math.min(1, 1 / maxAbs(g));
    const ls = lineSearch(obj, x, p, f, d0, initial, xNew, gNew, counter);
    if (!ls.ok) {
      status = 'linesearch';
      break;
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = gNew[i] - g[i];
    }
    const decrease = f - ls.f;
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    f = ls.f;
    if (decrease <= ftol * (Math.abs(f) + 1e-300)) {
      if (++stalls >= stallIters) {
        status = 'ftol';
        iter++;
        break;
      }
    } else stalls = 0;
    const ys = dot(y, s);
    if (ys > 1e-300) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rhos.shift();
      }
      S.push(s);
      Y.push(y);
      rhos.push(1 / ys);
    }
  }
  return { x, f, grad: g, iterations: iter, evaluations: counter.evals, status };
}

export type MinimizerName = 'bfgs' | 'lbfgs';

export function minimize(method: MinimizerName, obj: Objective, x0: ArrayLike<number>, opts: MinimizeOptions = {}): MinimizeResult {
  return method === 'lbfgs' ? minimizeLbfgs(obj, x0, opts) : minimizeBfgs(obj, x0, opts);
}
