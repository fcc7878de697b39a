import { z } from 'zod';

/** Why an attempt failed. Every attempt of every run records one of these. */
export const FailureClassSchema = z.enum([
  'preempted',
  'node-lost',
  'oom',
  'timeout',
  'image',
  'unschedulable',
  'user-error',
  'bad-result',
  'infrastructure',
  'unknown',
]);
export type FailureClass = z.infer<typeof FailureClassSchema>;

/** Retried unless a sweep says otherwise (DESIGN: failure classes). */
export const DEFAULT_RETRY_ON: FailureClass[] = ['preempted', 'node-lost', 'infrastructure', 'unknown'];
