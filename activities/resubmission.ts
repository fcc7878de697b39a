import { randomUUID } from 'node:crypto';
import { expandGrid, firstStageJob, jobHashOf, type FailureClass, type SweepSpec } from '../spec';
import type { ResultsStore, RunState } from '../store/types';

export interface RerunEntry {
  runId: string;
  /** Attempts already spent: the run starts again at the next one. */
  attempts: number;
  state: RunState;
  failureClass?: FailureClass;
  message?: string;
  /** Why it runs again: it did not succeed, or its job definition changed since it did. */
  why: 'not-succeeded' | 'job-changed';
}

/** What (re-)submitting a sweep to a results store will do, before anything starts. */
export interface ResubmissionPlan {
  /** The sweep instance: the store's, or a new one for a sweep this store has never seen. */
  instance: string;
  newInstance: boolean;
  /** Succeeded runs whose job definition is unchanged: their results are kept, they do not run. */
  reused: string[];
  rerun: RerunEntry[];
}

/** A new sweep instance id: 12 hex digits, enough that two stores never share one. */
export const newInstanceId = () => randomUUID().replace(/-/g, '').slice(0, 12);

/**
 * Compares a spec with what the store already holds for a sweep of its name. A result is kept
 * only if its run succeeded with the same job definition (image, command, args, env,
 * resources); every other run the store knows runs again at its next attempt number. A store
 * that has never seen the sweep gives it a new instance, so nothing of another sweep of the
 * same name (an old registry entry, a Job still on the cluster) is ever adopted.
 */
export async function planResubmission(store: ResultsStore, spec: SweepSpec): Promise<ResubmissionPlan> {
  const existing = await store.getSweep(spec.name);
  const instance = existing?.instanceId ?? newInstanceId();
  const runs = await store.listRuns(spec.name);
  const plan: ResubmissionPlan = { instance, newInstance: !existing?.instanceId, reused: [], rerun: [] };
  if (!runs.length) return plan;
  const hashes = new Map(expandGrid(spec).map((c) => [c.runId, jobHashOf(firstStageJob(spec), c.resources)]));
  const spent = new Map<string, number>();
  // The attempt rows are the ground truth: a run row may lag its last attempt after a crash.
  for (const a of await store.listAttempts(spec.name)) spent.set(a.runId, Math.max(spent.get(a.runId) ?? 0, a.attempt));
  for (const r of runs) {
    const want = hashes.get(r.runId);
    if (want === undefined) continue; // no longer a cell of this grid
    const attempts = Math.max(r.attempts, spent.get(r.runId) ?? 0);
    // A run recorded before job hashes existed counts as unchanged.
    const changed = r.jobHash !== undefined && r.jobHash !== want;
    if (r.state === 'succeeded' && !changed) plan.reused.push(r.runId);
    else if (attempts > 0)
      plan.rerun.push({
        runId: r.runId,
        attempts,
        state: r.state,
        ...(r.failureClass ? { failureClass: r.failureClass } : {}),
        ...(r.message ? { message: r.message.slice(0, 200) } : {}),
        why: r.state === 'succeeded' ? 'job-changed' : 'not-succeeded',
      });
  }
  return plan;
}

/** One line for `sweep start` / `sweep plan`: what a submission reuses and what it reruns, and why. */
export function describePlan(plan: ResubmissionPlan, total: number): string {
  if (plan.newInstance && !plan.reused.length && !plan.rerun.length) return `new sweep: all ${total} runs will run`;
  const changed = plan.rerun.filter((r) => r.why === 'job-changed').length;
  const failed = plan.rerun.length - changed;
  const parts = [`${plan.reused.length} of ${total} runs reused (succeeded, same job definition)`];
  if (changed) parts.push(`${changed} rerun because the job definition changed (image, command, args, env or resources)`);
  if (failed) parts.push(`${failed} rerun because they did not succeed`);
  const fresh = total - plan.reused.length - plan.rerun.length;
  if (fresh > 0) parts.push(`${fresh} new`);
  return parts.join('; ');
}
