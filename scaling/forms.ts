/**
 * Functional forms of PAPER_METHOD.md in the log-sum-exp (LSE) parametrisation, and their
 * conversion to the linear reading (E = exp(e), A = exp(a), B = exp(b)).
 */
export type FormName = 'power_law' | 'power_law_shift' | 'chinchilla';

export const FORM_NAMES: readonly FormName[] = ['power_law', 'power_law_shift', 'chinchilla'];

/** LSE parameter names, in vector order. */
export const LSE_PARAM_NAMES: Record<FormName, readonly string[]> = {
  power_law: ['e', 'a', 'alpha'],
  power_law_shift: ['e', 'a', 'lambda', 'alpha'],
  chinchilla: ['e', 'a', 'alpha', 'b', 'beta'],
};

/** Linear parameter names, in the same order as LSE_PARAM_NAMES. */
export const LINEAR_PARAM_NAMES: Record<FormName, readonly string[]> = {
  power_law: ['E', 'A', 'alpha'],
  power_law_shift: ['E', 'A', 'lambda', 'alpha'],
  chinchilla: ['E', 'A', 'alpha', 'B', 'beta'],
};

/** Number of x variables of a form. */
export function formArity(form: FormName): 1 | 2 {
  return form === 'chinchilla' ? 2 : 1;
}

/** e, a, b are logs; the rest (exponents, lambda) are the same in both readings. */
const LOG_PARAMS = new Set(['e', 'a', 'b']);

export function toLinear(form: FormName, lse: ArrayLike<number>): number[] {
  return LSE_PARAM_NAMES[form].map((name, i) => (LOG_PARAMS.has(name) ? Math.exp(lse[i]) : lse[i]));
}

export function toLse(form: FormName, linear: ArrayLike<number>): number[] {
  return LSE_PARAM_NAMES[form].map((name, i) => (LOG_PARAMS.has(name) ? Math.log(linear[i]) : linear[i]));
}

export function namedParams(names: readonly string[], values: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  names.forEach((n, i) => (out[n] = values[i]));
  return out;
}

export function paramVector(names: readonly string[], values: Record<string, number>): number[] {
  return names.map((n) => {
    const v = values[n];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`missing or non-finite parameter "${n}"`);
    return v;
  });
}

/**
 * Lhat (the predicted log of y) at scaled inputs x (x[1] only for chinchilla).
 * Computed as a stable log-sum-exp.
 */
export function predictLog(form: FormName, lse: ArrayLike<number>, x: readonly number[]): number {
  const e = lse[0];
  const a = lse[1];
  if (form === 'power_law') return logSumExp([a - lse[2] * Math.log(x[0]), e]);
  if (form === 'power_law_shift') return logSumExp([a - lse[3] * Math.log(x[0] + Math.pow(10, lse[2])), e]);
  return logSumExp([a - lse[2] * Math.log(x[0]), lse[3] - lse[4] * Math.log(x[1]), e]);
}

export function logSumExp(terms: readonly number[]): number {
  let m = -Infinity;
  for (const t of terms) if (t > m) m = t;
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (const t of terms) s += Math.exp(t - m);
  return m + Math.log(s);
}
