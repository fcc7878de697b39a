/**
 * Helpers for integration tests of the Kubernetes executor against kube-sim: what the sim saw
 * of each attempt, as the failure class the orchestrator must have recorded for it.
 */
import type { AttemptSummary } from '../../../sim/kube-sim';
import type { FailureClass } from '../../../spec';
import type { ResultsStore } from '../../../store/types';

export type AttemptClass = FailureClass | 'succeeded';

/** The exit code the synthetic trainer uses for a user error (listed in retry.nonRetryableExitCodes). */
const USER_ERROR_EXIT = 3;

/**
 * The class an attempt must have been recorded with, from how its pod ended in the sim (trainer
 * fault or cluster fault, whichever struck first). `undefined`: the pod never ended on its own
 * (it is still running, or the executor deleted it while pending).
 */
export function simAttemptClass(a: AttemptSummary): AttemptClass | undefined {
  const o = a.outcome;
  if (!o) return undefined;
  if (o.phase === 'Succeeded') return a.fault === 'bad-output' ? 'bad-result' : 'succeeded';
  if (o.reason === 'NodeLost') return 'node-lost';
  if (o.phase === 'Deleted') return undefined;
  if (o.disruption) return 'preempted';
  if (o.reason === 'OOMKilled') return 'oom';
  if (o.exitCode === USER_ERROR_EXIT) return 'user-error';
  if (o.reason === 'DeadlineExceeded') return 'timeout';
  return 'unknown';
}

/**
 * Every class the orchestrator may rightly have recorded for an attempt: the sim's class, and
 * `node-lost` as well when the pod had ended but was then collected with its lost node (an
 * executor whose watch was down at that moment only sees the pod vanish: it cannot know more).
 */
export function acceptableAttemptClasses(a: AttemptSummary): (AttemptClass | undefined)[] {
  const cls = simAttemptClass(a);
  const collectedWithNode = a.removedReason === 'NodeLost' && (a.outcome?.phase === 'Failed' || a.outcome?.phase === 'Succeeded');
  return collectedWithNode && cls !== 'node-lost' ? [cls, 'node-lost'] : [cls];
}

/** Per run, the sim's attempts in attempt order. */
export function simAttemptsByRun(summaries: AttemptSummary[], sweep: string): Map<string, AttemptSummary[]> {
  const byRun = new Map<string, AttemptSummary[]>();
  for (const a of summaries.filter((s) => s.sweep === sweep)) byRun.set(a.runId, [...(byRun.get(a.runId) ?? []), a]);
  for (const list of byRun.values()) list.sort((x, y) => x.attempt - y.attempt);
  return byRun;
}

/** Per run, the orchestrator's recorded attempts as classes, in attempt order. */
export async function storedAttemptClasses(store: ResultsStore, sweep: string): Promise<Map<string, { attempt: number; cls: AttemptClass | undefined }[]>> {
  const byRun = new Map<string, { attempt: number; cls: AttemptClass | undefined }[]>();
  for (const a of await store.listAttempts(sweep)) {
    const cls: AttemptClass | undefined = a.failureClass ?? (a.state === 'succeeded' ? 'succeeded' : undefined);
    byRun.set(a.runId, [...(byRun.get(a.runId) ?? []), { attempt: a.attempt, cls }]);
  }
  for (const list of byRun.values()) list.sort((x, y) => x.attempt - y.attempt);
  return byRun;
}

/** Tally of values (fault counts for the test's log line). */
export function tally<T extends string>(values: Iterable<T>): Partial<Record<T, number>> {
  const out: Partial<Record<T, number>> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
