import { canonicalJson, shortHash } from './hash';
import type { JobTemplate, Resources } from './sweepSpec';

/**
 * Hash of what a run's job does: image, command, args, env and resources, all that can change
 * its result. A result is reused only by a run whose job hash is the same; a launched attempt is
 * adopted only by the same sweep instance with the same job hash. It must never change for an
 * unchanged job, or every re-submission would rerun everything: tests pin golden values.
 */
export function jobHashOf(job: Pick<JobTemplate, 'image' | 'command' | 'args' | 'env'>, resources: Resources): string {
  return shortHash(canonicalJson({ image: job.image ?? null, command: job.command, args: job.args, env: job.env, resources }));
}
