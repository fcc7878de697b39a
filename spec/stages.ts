import { canonicalJson, shortHash } from './hash';
import type { EvaluateTemplate, JobTemplate, SweepSpec } from './sweepSpec';

/** The evaluate block as the job template executors run (its image defaults to the training one). */
export function evaluateJob(spec: Pick<SweepSpec, 'job' | 'evaluate'>): JobTemplate | undefined {
  const e = spec.evaluate;
  if (!e) return undefined;
  return {
    image: e.image ?? spec.job?.image,
    command: e.command,
    args: e.args,
    env: e.env,
    resources: e.resources,
    overrides: [],
    gracePeriod: e.gracePeriod,
  };
}

/**
 * Hash of the evaluate block: evaluations are keyed by (run, this), so re-running the same
 * rescore launches nothing and a new evaluator's scores are a new version beside the old.
 */
export function evaluatorHashOf(e: EvaluateTemplate): string {
  return shortHash(canonicalJson({ image: e.image ?? null, command: e.command, args: e.args, env: e.env, resources: e.resources }));
}

/** The template of the run's first stage: training, or evaluation for an evaluate-only sweep. */
export function firstStageJob(spec: Pick<SweepSpec, 'job' | 'evaluate'>): JobTemplate {
  const job = spec.job ?? evaluateJob(spec);
  if (!job) throw new Error('the spec has neither a job nor an evaluate stage');
  return job;
}
