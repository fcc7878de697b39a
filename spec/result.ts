import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number (no NaN / Infinity)' });
const metrics = z.record(z.string(), finite);

export const CheckpointSchema = z
  .object({
    epoch: z.number().int().nonnegative(),
    n_samples_seen: finite.optional(),
    total_flops: finite.optional(),
    metrics,
  })
  .strict();

/** What a job writes to SWEEP_RESULT_FILE (DESIGN: Job -> run). */
export const JobResultSchema = z
  .object({
    metrics,
    n_params: finite.optional(),
    n_samples_seen: finite.optional(),
    total_flops: finite.optional(),
    artifacts: z.record(z.string(), z.string()).optional(),
    checkpoints: z.array(CheckpointSchema).optional(),
  })
  .strict();
export type JobResult = z.infer<typeof JobResultSchema>;
export type Checkpoint = z.infer<typeof CheckpointSchema>;

export type ParsedResult = { ok: true; result: JobResult } | { ok: false; reason: string };

/** Parse and validate a job's output; never throws (a bad result fails the run, not the sweep). */
export function parseJobResult(text: string, requiredMetrics: readonly string[]): ParsedResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `result is not valid JSON: ${(e as Error).message}` };
  }
  const parsed = JobResultSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return { ok: false, reason: `result field "${i.path.join('.') || '(root)'}": ${i.message}` };
  }
  const missing = requiredMetrics.filter((m) => !(m in parsed.data.metrics));
  if (missing.length) return { ok: false, reason: `result is missing required metric(s): ${missing.join(', ')}` };
  return { ok: true, result: parsed.data };
}
