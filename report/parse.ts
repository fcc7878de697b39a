/**
 * Validation of fit JSON read from disk (`sweep fit --json` output), so a malformed
 * file fails with a message naming the field instead of a NaN-filled plot.
 */
import { z } from 'zod';
import type { ReportFit } from './types';

const num = z.number();
// JSON has no NaN/Infinity: JSON.stringify writes them as null. Read null back as NaN
// (shown as "–") where a non-finite value is legitimate: unidentifiable e, degenerate intervals.
const numOrNull = z.number().nullable().transform((v) => v ?? NaN);
const pct = z.object({ 'p2.5': numOrNull, p50: numOrNull, 'p97.5': numOrNull });
const point = z.looseObject({
  x: z.array(num).min(1),
  y: num,
  rawX: z.array(num).min(1),
  score: num,
  arch: z.string().optional(),
  arch_family: z.string().optional(),
  model_id: z.string().optional(),
});
const fit = z.looseObject({
  name: z.string(),
  form: z.enum(['power_law', 'power_law_shift', 'chinchilla']),
  x: z.array(z.string()).min(1).max(2),
  scalers: z.array(num).min(1).max(2),
  y: z.object({ metrics: z.array(z.string()).min(1), invert: z.boolean() }),
  n_points: num,
  loss: numOrNull,
  lse_params: z.record(z.string(), numOrNull),
  params: z.record(z.string(), num),
  bootstrap: z
    .looseObject({ n: num, seed: num, percentiles: z.record(z.string(), pct), lse_samples: z.array(z.array(numOrNull)).optional() })
    .optional(),
  recipe: z
    .looseObject({
      a: numOrNull, b: numOrNull, G: numOrNull, m: numOrNull, n: numOrNull, a_over_n: numOrNull, b_over_n: numOrNull,
      bootstrap: z.looseObject({ n: num, percentiles: z.record(z.string(), pct) }).optional(),
    })
    .optional(),
  points: z.array(point).optional(),
  warnings: z.array(z.string()).optional(),
  band: z.looseObject({ x: z.array(num), lo: z.array(num), hi: z.array(num) }).optional(),
  bootstrapParams: z.array(z.record(z.string(), num)).optional(),
});

/** Accepts `{"fits": [...]}`, a bare array of fits, or one fit. Throws naming the bad field. */
export function parseFitOutput(json: unknown): { fits: ReportFit[] } {
  const wrapped = Array.isArray(json) ? { fits: json } : json && typeof json === 'object' && 'fits' in json ? json : { fits: [json] };
  const r = z.object({ fits: z.array(fit) }).safeParse(wrapped);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`not a fit result (sweep fit --json output): ${issues.join('; ')}`);
  }
  return r.data as { fits: ReportFit[] };
}
