/**
 * The fitting objective: sum over points of Huber(Lhat(x) - log y) (PAPER_METHOD.md), with its
 * analytic gradient. Loops are written per form over typed arrays because this is the hot path
 * (millions of evaluations per bootstrap analysis).
 */
import type { FormName } from './forms';

/** The fitted data in the form the objective needs: scaled x and the target y (already inverted if asked). */
export interface FitData {
  form: FormName;
  /** Scaled x (N for chinchilla). */
  x1: Float64Array;
  /** Scaled D for chinchilla. */
  x2?: Float64Array;
  /** Target y (> 0). */
  y: Float64Array;
  /** Huber delta. */
  delta: number;
  /** Weight of each point (default 1): a population-weighted fit (scaling/population.ts). Resample counts multiply it. */
  weights?: Float64Array;
}

/** An objective over parameter vectors: returns the loss and writes the gradient into `grad`. */
export interface Objective {
  readonly dim: number;
  evaluate(theta: ArrayLike<number>, grad: Float64Array): number;
}

const LN10 = Math.log(10);

/**
 * Huber-LSE objective over points with multiplicities (a bootstrap resample is the original
 * points with counts: the sum over drawn rows equals the count-weighted sum over distinct rows,
 * and skipping undrawn rows saves about a third of the work).
 */
export class HuberLseObjective implements Objective {
  readonly dim: number;
  private readonly lx1: Float64Array;
  private readonly lx2: Float64Array;
  private readonly x1: Float64Array;
  private readonly ly: Float64Array;
  private readonly w: Float64Array;
  private readonly n: number;
  /** Number of evaluations so far (for benchmarks). */
  evaluations = 0;

  constructor(
    readonly data: FitData,
    counts?: ArrayLike<number>,
  ) {
    const form = data.form;
    this.dim = form === 'power_law' ? 3 : form === 'power_law_shift' ? 4 : 5;
    const keep: number[] = [];
    const weightOf = (i: number) => (counts ? counts[i] : 1) * (data.weights ? data.weights[i] : 1);
    for (let i = 0; i < data.y.length; i++) if (weightOf(i) > 0) keep.push(i);
    const n = keep.length;
    this.n = n;
    this.lx1 = new Float64Array(n);
    this.lx2 = new Float64Array(n);
    this.x1 = new Float64Array(n);
    this.ly = new Float64Array(n);
    this.w = new Float64Array(n);
    keep.forEach((i, k) => {
      this.x1[k] = data.x1[i];
      this.lx1[k] = Math.log(data.x1[i]);
      this.lx2[k] = data.x2 ? Math.log(data.x2[i]) : 0;
      this.ly[k] = Math.log(data.y[i]);
      this.w[k] = weightOf(i);
    });
  }

  /** Lhat at each (distinct) point: tells minima apart by what they predict, not where they sit. */
  predictions(theta: ArrayLike<number>): Float64Array {
    const out = new Float64Array(this.n);
    const [e, a] = [theta[0], theta[1]];
    for (let i = 0; i < this.n; i++) {
      let t1: number;
      let t2 = -Infinity;
      if (this.data.form === 'power_law') t1 = a - theta[2] * this.lx1[i];
      else if (this.data.form === 'power_law_shift') t1 = a - theta[3] * Math.log(this.x1[i] + Math.pow(10, theta[2]));
      else {
        t1 = a - theta[2] * this.lx1[i];
        t2 = theta[3] - theta[4] * this.lx2[i];
      }
      const m = Math.max(t1, t2, e);
      out[i] = m + Math.log(Math.exp(t1 - m) + Math.exp(t2 - m) + Math.exp(e - m));
    }
    return out;
  }

  evaluate(theta: ArrayLike<number>, grad: Float64Array): number {
    this.evaluations++;
    switch (this.data.form) {
      case 'power_law':
        return this.powerLaw(theta, grad);
      case 'power_law_shift':
        return this.powerLawShift(theta, grad);
      case 'chinchilla':
        return this.chinchilla(theta, grad);
    }
  }

  private powerLaw(theta: ArrayLike<number>, grad: Float64Array): number {
    const e = theta[0];
    const a = theta[1];
    const alpha = theta[2];
    const delta = this.data.delta;
    const halfDelta = 0.5 * delta;
    const { lx1, ly, w, n } = this;
    let loss = 0;
    let ge = 0;
    let ga = 0;
    let galpha = 0;
    for (let i = 0; i < n; i++) {
      const t = a - alpha * lx1[i];
      // log(exp(t) + exp(e)) = max + log1p(exp(-|t - e|)); weights are the softmax shares.
      let lhat: number;
      let wt: number;
      if (t > e) {
        const u = Math.exp(e - t);
        lhat = t + Math.log1p(u);
        wt = 1 / (1 + u);
      } else {
        const u = Math.exp(t - e);
        lhat = e + Math.log1p(u);
        wt = u / (1 + u);
      }
      const r = lhat - ly[i];
      const ar = r < 0 ? -r : r;
      let psi: number;
      if (ar <= delta) {
        loss += w[i] * 0.5 * r * r;
        psi = w[i] * r;
      } else {
        loss += w[i] * delta * (ar - halfDelta);
        psi = r < 0 ? -w[i] * delta : w[i] * delta;
      }
      const pt = psi * wt;
      ge += psi - pt;
      ga += pt;
      galpha -= pt * lx1[i];
    }
    grad[0] = ge;
    grad[1] = ga;
    grad[2] = galpha;
    return loss;
  }

  private powerLawShift(theta: ArrayLike<number>, grad: Float64Array): number {
    const e = theta[0];
    const a = theta[1];
    const lambda = theta[2];
    const alpha = theta[3];
    const shift = Math.pow(10, lambda);
    const delta = this.data.delta;
    const halfDelta = 0.5 * delta;
    const { x1, ly, w, n } = this;
    let loss = 0;
    let ge = 0;
    let ga = 0;
    let glambda = 0;
    let galpha = 0;
    for (let i = 0; i < n; i++) {
      const xs = x1[i] + shift;
      const lxs = Math.log(xs);
      const t = a - alpha * lxs;
      let lhat: number;
      let wt: number;
      if (t > e) {
        const u = Math.exp(e - t);
        lhat = t + Math.log1p(u);
        wt = 1 / (1 + u);
      } else {
        const u = Math.exp(t - e);
        lhat = e + Math.log1p(u);
        wt = u / (1 + u);
      }
      const r = lhat - ly[i];
      const ar = r < 0 ? -r : r;
      let psi: number;
      if (ar <= delta) {
        loss += w[i] * 0.5 * r * r;
        psi = w[i] * r;
      } else {
        loss += w[i] * delta * (ar - halfDelta);
        psi = r < 0 ? -w[i] * delta : w[i] * delta;
      }
      const pt = psi * wt;
      ge += psi - pt;
      ga += pt;
      galpha -= pt * lxs;
      // d t / d lambda = -alpha * 10^lambda ln10 / (x + 10^lambda)
      glambda -= (pt * alpha * shift * LN10) / xs;
    }
    grad[0] = ge;
    grad[1] = ga;
    grad[2] = glambda;
    grad[3] = galpha;
    return loss;
  }

  private chinchilla(theta: ArrayLike<number>, grad: Float64Array): number {
    const e = theta[0];
    const a = theta[1];
    const alpha = theta[2];
    const b = theta[3];
    const beta = theta[4];
    const delta = this.data.delta;
    const halfDelta = 0.5 * delta;
    const { lx1, lx2, ly, w, n } = this;
    let loss = 0;
    let ge = 0;
    let ga = 0;
    let galpha = 0;
    let gb = 0;
    let gbeta = 0;
    for (let i = 0; i < n; i++) {
      const t1 = a - alpha * lx1[i];
      const t2 = b - beta * lx2[i];
      // Stable LSE of (t1, t2, e): shift by the largest term, which contributes exp(0) = 1.
      let u1: number;
      let u2: number;
      let u3: number;
      let m: number;
      if (t1 >= t2 && t1 >= e) {
        m = t1;
        u1 = 1;
        u2 = Math.exp(t2 - m);
        u3 = Math.exp(e - m);
      } else if (t2 >= e) {
        m = t2;
        u1 = Math.exp(t1 - m);
        u2 = 1;
        u3 = Math.exp(e - m);
      } else {
        m = e;
        u1 = Math.exp(t1 - m);
        u2 = Math.exp(t2 - m);
        u3 = 1;
      }
      const s = u1 + u2 + u3;
      const r = m + Math.log(s) - ly[i];
      const ar = r < 0 ? -r : r;
      let psi: number;
      if (ar <= delta) {
        loss += w[i] * 0.5 * r * r;
        psi = w[i] * r;
      } else {
        loss += w[i] * delta * (ar - halfDelta);
        psi = r < 0 ? -w[i] * delta : w[i] * delta;
      }
      const c = psi / s;
      const c1 = c * u1;
      const c2 = c * u2;
      ge += c * u3;
      ga += c1;
      galpha -= c1 * lx1[i];
      gb += c2;
      gbeta -= c2 * lx2[i];
    }
    grad[0] = ge;
    grad[1] = ga;
    grad[2] = galpha;
    grad[3] = gb;
    grad[4] = gbeta;
    return loss;
  }
}

/** Huber loss of one residual (PAPER_METHOD.md). */
export function huber(r: number, delta: number): number {
  const ar = Math.abs(r);
  return ar <= delta ? 0.5 * r * r : delta * (ar - 0.5 * delta);
}
