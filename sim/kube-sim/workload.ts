import { parseTrainerArgs, planTraining, USAGE_EXIT_CODE, USER_ERROR_EXIT_CODE } from '../trainer/model';
import type { Container } from './types';

export { USER_ERROR_EXIT_CODE };

/** A run as the job's container sees it (env SWEEP_RUN). */
export interface SimRun {
  sweep: string;
  runId: string;
  attempt: number;
  axes: Record<string, string | number | boolean>;
}

export type WorkloadFault = 'none' | 'preempt' | 'oom' | 'user-error' | 'bad-output' | 'hang';

/** What the container will do once it starts, in simulated seconds. */
export interface WorkloadPlan {
  durationSeconds: number;
  fault: WorkloadFault;
  /** When the fault strikes (seconds after start); the run's end when absent. */
  faultAtSeconds?: number;
  /** What the trainer writes to SWEEP_RESULT_FILE (the termination message) and its log. */
  resultText: string;
  /** Exit code of a `user-error` fault (default: the trainer's USER_ERROR_EXIT_CODE, 3). */
  exitCode?: number;
  /** false: the result goes to the log only, not to SWEEP_RESULT_FILE (readers fall back to the log). */
  writesResultFile?: boolean;
}

export interface WorkloadInput {
  container: Container;
  env: Record<string, string>;
  args: string[];
  /** Parsed SWEEP_RUN, when the container has one. */
  run?: SimRun;
}

/** Decides what a pod's container does. The default runs the synthetic trainer's plan. */
export type Workload = (input: WorkloadInput) => WorkloadPlan;

export function containerEnv(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
  return env;
}

export function parseRun(env: Record<string, string>): SimRun | undefined {
  const raw = env.SWEEP_RUN;
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as Partial<SimRun>;
    if (typeof r.runId !== 'string' || typeof r.attempt !== 'number') return undefined;
    return { sweep: String(r.sweep ?? ''), runId: r.runId, attempt: r.attempt, axes: r.axes ?? {} };
  } catch {
    return undefined;
  }
}

/**
 * The synthetic trainer as a workload: the same plan the trainer process would follow, computed
 * from the container's args (knobs) and SWEEP_RUN, so results equal what a real run would write.
 * Bad flags or axes end the container like the trainer does: a usage error (exit 2).
 */
export function trainerWorkload(): Workload {
  return ({ run, args }) => {
    if (!run) return { durationSeconds: 0, fault: 'user-error', exitCode: USAGE_EXIT_CODE, resultText: 'trainer: SWEEP_RUN is missing or not valid JSON' };
    try {
      return planTraining(run, parseTrainerArgs(args));
    } catch (e) {
      return { durationSeconds: 0, fault: 'user-error', exitCode: USAGE_EXIT_CODE, resultText: `trainer: ${(e as Error).message}` };
    }
  };
}

/**
 * A workload that runs for the simulated seconds named by one of its axes (benchmarks: the
 * durations a compute estimate predicts) and reports a fixed, valid result.
 */
export function axisDurationWorkload(axis = 'duration_s'): Workload {
  return ({ run }) => ({
    durationSeconds: Number(run?.axes[axis] ?? 60),
    fault: 'none',
    resultText: JSON.stringify({ metrics: { acc: 0.5 }, n_params: 1e6 }),
  });
}
