import { z } from 'zod';

/**
 * Largest result a job may write (UTF-8 bytes). Generous (Kubernetes' termination message is
 * 4 KiB); beyond it the run fails as bad-result before the text is parsed or stored.
 */
export const MAX_RESULT_BYTES = 1024 * 1024;
/** Most metrics one result (or one checkpoint) may report. */
export const MAX_METRICS = 1000;
/** Longest metric name, in characters. */
export const MAX_METRIC_NAME = 200;
/** Most checkpoints one result may carry (each is a data point for every fit). */
export const MAX_CHECKPOINTS = 10_000;
/** Most artifacts (name -> URI) one result may list. */
export const MAX_ARTIFACTS = 1000;

/** The first characters of a (possibly huge) name, for a message. */
const clip = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}...` : s);

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number (no NaN / Infinity)' });
/** A finite number that must also satisfy `ok`; the message names the rule and the value. */
const finiteWhere = (ok: (v: number) => boolean, rule: string) =>
  finite.superRefine((v, ctx) => {
    if (!ok(v)) ctx.addIssue({ code: 'custom', message: `must be ${rule}, got ${v}` });
  });
/** Counts of training compute: a trained model has seen data and spent FLOPs (and the fits take their log). */
const positive = finiteWhere((v) => v > 0, '> 0 (zero or negative training compute is impossible)');
const paramCount = finiteWhere((v) => Number.isInteger(v) && v >= 1, 'a whole number >= 1 (a count of parameters)');

/** Bounded in count and name length before anyone iterates it further. Scores are NOT range-checked: metrics may be losses. */
const metrics = z.record(z.string(), finite).superRefine((m, ctx) => {
  const keys = Object.keys(m);
  if (keys.length > MAX_METRICS) {
    ctx.addIssue({ code: 'custom', message: `has ${keys.length} metrics (limit ${MAX_METRICS})` });
    return;
  }
  const long = keys.find((k) => k.length > MAX_METRIC_NAME);
  if (long !== undefined) {
    ctx.addIssue({ code: 'custom', message: `metric name "${clip(long)}" is ${long.length} characters (limit ${MAX_METRIC_NAME})` });
  }
});

export const CheckpointSchema = z
  .object({
    epoch: z.number().int().nonnegative(),
    n_samples_seen: positive.optional(),
    total_flops: positive.optional(),
    metrics,
  })
  .strict();

/** What a job writes to SWEEP_RESULT_FILE (DESIGN: Job -> run). */
export const JobResultSchema = z
  .object({
    metrics,
    n_params: paramCount.optional(),
    n_samples_seen: positive.optional(),
    total_flops: positive.optional(),
    artifacts: z
      .record(z.string(), z.string())
      .superRefine((a, ctx) => {
        const n = Object.keys(a).length;
        if (n > MAX_ARTIFACTS) ctx.addIssue({ code: 'custom', message: `has ${n} artifacts (limit ${MAX_ARTIFACTS})` });
      })
      .optional(),
    checkpoints: z
      .array(CheckpointSchema)
      .superRefine((c, ctx) => {
        if (c.length > MAX_CHECKPOINTS) ctx.addIssue({ code: 'custom', message: `has ${c.length} checkpoints (limit ${MAX_CHECKPOINTS})` });
      })
      .optional(),
  })
  .strict();
export type JobResult = z.infer<typeof JobResultSchema>;
export type Checkpoint = z.infer<typeof CheckpointSchema>;

export type ParsedResult = { ok: true; result: JobResult } | { ok: false; reason: string };

/** UTF-8 length of `s` without encoding it (lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes them). */
export function utf8ByteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Parse and validate a job's output; never throws (a bad result fails the run, not the sweep). */
export function parseJobResult(text: string, requiredMetrics: readonly string[]): ParsedResult {
  // Counted, not encoded: the text is already in memory, a copy of it need not be.
  const bytes = utf8ByteLength(text);
  if (bytes > MAX_RESULT_BYTES) {
    return { ok: false, reason: `result is ${bytes} bytes, over the limit of ${MAX_RESULT_BYTES} bytes (1 MiB)` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `result is not valid JSON: ${(e as Error).message}` };
  }
  const parsed = JobResultSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return { ok: false, reason: `result field "${i.path.map((p) => clip(String(p))).join('.') || '(root)'}": ${i.message}` };
  }
  const missing = requiredMetrics.filter((m) => !Object.hasOwn(parsed.data.metrics, m));
  if (missing.length) return { ok: false, reason: `result is missing required metric(s): ${missing.join(', ')}` };
  return { ok: true, result: parsed.data };
}
