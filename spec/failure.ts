/** Why an attempt failed. Every attempt of every run records one of these. (No zod here: workflow code imports it.) */
export const FAILURE_CLASSES = [
  'preempted',
  'node-lost',
  'oom',
  'timeout',
  'image',
  'unschedulable',
  'user-error',
  'bad-result',
  'infrastructure',
  // The run's workflow was closed from outside (Terminate in the Web UI, a run timeout): the
  // sweep finds it by reconciling its in-flight runs. Not retried by default.
  'terminated',
  'unknown',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export function isFailureClass(value: unknown): value is FailureClass {
  return typeof value === 'string' && (FAILURE_CLASSES as readonly string[]).includes(value);
}

/** Retried unless a sweep says otherwise (DESIGN: failure classes). */
export const DEFAULT_RETRY_ON: FailureClass[] = ['preempted', 'node-lost', 'infrastructure', 'unknown'];
