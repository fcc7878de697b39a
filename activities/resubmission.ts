import { randomUUID } from 'node:crypto';
import { expandGrid, firstStageJob, jobHashOf, type FailureClass, type SweepSpec } from '../spec';
import type { ResubmitRule, VetPick, VetRule } from '../contract';
import type { AttemptRow, ResultsStore, RunRow, RunState } from '../store/types';

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
  /** The sweep instance: the store's, or a new one for a sweep this store has not seen before. */
  instance: string;
  newInstance: boolean;
  /** Succeeded runs whose job definition is unchanged: their results are kept, they do not run. */
  reused: string[];
  rerun: RerunEntry[];
  /** Runs this store knows of the sweep (0: nothing to vet). */
  known: number;
  /** Cells the submission's rule counts as done without running them (reused, or kept as they ended). */
  counts: Record<'succeeded' | 'failed' | 'cancelled', number>;
}

/** A new sweep instance id: 12 hex digits, enough that two stores never share one. */
export const newInstanceId = () => randomUUID().replace(/-/g, '').slice(0, 12);

/**
 * Compares a spec with what the store already holds for a sweep of its name. A result is kept
 * only if its run succeeded with the same job definition (image, command, args, env,
 * resources); every other run the store knows runs again at its next attempt number. A store
 * that has not seen the sweep before gives it a new instance, so nothing of another sweep of the
 * same name (an old registry entry, a Job still on the cluster) is ever adopted.
 */
export async function planResubmission(store: ResultsStore, spec: SweepSpec, rule: ResubmitRule = {}): Promise<ResubmissionPlan> {
  const existing = await store.getSweep(spec.name);
  const instance = existing?.instanceId ?? newInstanceId();
  const runs = await store.listRuns(spec.name);
  const counts = { succeeded: 0, failed: 0, cancelled: 0 };
  const plan: ResubmissionPlan = { instance, newInstance: !existing?.instanceId, reused: [], rerun: [], known: runs.length, counts };
  if (!runs.length) return plan;
  const hashes = new Map(expandGrid(spec).map((c) => [c.runId, jobHashOf(firstStageJob(spec), c.resources)]));
  const spent = new Map<string, number>();
  // The attempt rows are the ground truth: a run row may lag its last attempt after a crash.
  for (const a of await store.listAttempts(spec.name)) spent.set(a.runId, Math.max(spent.get(a.runId) ?? 0, a.attempt));
  for (const r of runs) {
    const want = hashes.get(r.runId);
    if (want === undefined) continue; // no longer a cell of this grid
    const attempts = Math.max(r.attempts, spent.get(r.runId) ?? 0);
    // What a plain re-submission does (the preview lists it), and what this one's rule counts as done.
    const plain = decideResubmitted(r, attempts, want, {});
    if (!plain.start) plan.reused.push(r.runId);
    else if (attempts > 0)
      plan.rerun.push({
        runId: r.runId,
        attempts,
        state: r.state,
        ...(r.failureClass ? { failureClass: r.failureClass } : {}),
        ...(r.message ? { message: r.message.slice(0, 200) } : {}),
        why: r.state === 'succeeded' ? 'job-changed' : 'not-succeeded',
      });
    const d = rule.retryFailed || rule.rescore ? decideResubmitted(r, attempts, want, rule) : plain;
    if (!d.start && d.counted) counts[d.counted]++;
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

/**
 * How the runs of a (re-)submitted sweep are treated: a plain re-submission reruns every run
 * that did not succeed; `retryFailed` reruns only failed runs (of one class, if given);
 * `rescore` only re-scores succeeded runs (all, or those named) and runs nothing else.
 */
export type { ResubmitRule, VetPick, VetRule };

/** What the sweep does with one cell: start it (at attempt `a`, maybe only re-scoring), or skip it as it stands. */
export type CellDecision = { start: true; a: number; m?: 'rescore' } | { start: false; counted?: 'succeeded' | 'failed' | 'cancelled' };

/** The decision for one cell of a re-submitted sweep, from its run row (if any) and attempts spent. */
export function decideResubmitted(
  run: Pick<RunRow, 'runId' | 'state' | 'failureClass' | 'jobHash'> | undefined,
  attempts: number,
  jobHash: string,
  rule: ResubmitRule,
): CellDecision {
  const rescore = rule.rescore;
  if (!run) return rescore ? { start: false } : { start: true, a: 1 };
  // A run recorded before job hashes existed counts as unchanged.
  const changed = run.jobHash !== undefined && run.jobHash !== jobHash;
  if (run.state === 'succeeded') {
    if (rescore) return !changed && (!rescore.runs || rescore.runs.includes(run.runId)) ? { start: true, a: 1, m: 'rescore' } : { start: false, counted: 'succeeded' };
    return changed ? { start: true, a: attempts + 1 } : { start: false, counted: 'succeeded' };
  }
  if (run.state === 'failed' || run.state === 'cancelled') {
    const only = rule.retryFailed;
    const keep = !!rescore || (only && (run.state !== 'failed' || (only.failureClass !== undefined && run.failureClass !== only.failureClass)));
    if (keep) return { start: false, counted: run.state };
  } else if (rescore) return { start: false };
  return { start: true, a: attempts + 1 };
}

/** Attempts a run has spent: the attempt rows are the ground truth (a run row may lag its last attempt after a crash). */
function spentAttempts(run: RunRow | undefined, attempts: AttemptRow[]): number {
  return Math.max(run?.attempts ?? 0, ...attempts.map((a) => a.attempt));
}

/** Which cells of a page start, and at which attempt: the store holds every run's state, the sweep only a cursor. */
export async function vetCells(store: ResultsStore, sweep: string, vet: VetRule, cells: { id: string; h: string }[]): Promise<VetPick[]> {
  const picks: VetPick[] = [];
  for (const { id, h } of cells) {
    const run = await store.getRun(sweep, id);
    if (vet.kind === 'resubmit') {
      const d = decideResubmitted(run, spentAttempts(run, run ? await store.listAttempts(sweep, id) : []), h, vet.rule);
      if (d.start) picks.push({ id, a: d.a, ...(d.m ? { m: d.m } : {}) });
    } else if (vet.kind === 'retry') {
      if (run?.state !== 'failed' || (vet.failureClass && run.failureClass !== vet.failureClass)) continue;
      // Only what had failed when retryFailed was asked: a run that fails again during the pass is not retried twice.
      if (Date.parse(run.updatedAt) > vet.before) continue;
      picks.push({ id, a: spentAttempts(run, await store.listAttempts(sweep, id)) + 1, prior: 'failed' });
    } else if (run?.state === 'succeeded' && (!vet.runs || vet.runs.includes(id))) picks.push({ id, a: 1, m: 'rescore', prior: 'succeeded' });
  }
  return picks;
}

/** The sweep's runs in one state (optionally of one failure class, or among `runs`): a count and the first ids, for an update's answer. */
export async function selectRuns(
  store: ResultsStore,
  sweep: string,
  q: { state: 'failed' | 'succeeded'; failureClass?: FailureClass; runs?: string[]; exclude?: string[]; before?: number },
  limit: number,
): Promise<{ count: number; runIds: string[] }> {
  const only = q.runs ? new Set(q.runs) : undefined;
  const exclude = new Set(q.exclude ?? []);
  const rows = (await store.listRuns(sweep, { state: q.state })).filter(
    (r) =>
      (!q.failureClass || r.failureClass === q.failureClass) &&
      (!only || only.has(r.runId)) &&
      !exclude.has(r.runId) &&
      (q.before === undefined || Date.parse(r.updatedAt) <= q.before),
  );
  return { count: rows.length, runIds: rows.slice(0, limit).map((r) => r.runId) };
}
