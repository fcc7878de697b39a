import type { Container } from './types';

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

interface TrainerModule {
  planTraining(run: SimRun, knobs: unknown): WorkloadPlan;
  parseTrainerArgs(argv: string[]): unknown;
}

/**
 * The synthetic trainer as a workload: the same plan the trainer process would follow, computed
 * from the container's args (knobs) and SWEEP_RUN, so results equal what a real run would write.
 * Loaded lazily so the sim starts even where the trainer is not needed (tests inject workloads).
 */
export async function trainerWorkload(): Promise<Workload> {
  const path = '../trainer/model';
  const mod = (await import(path)) as TrainerModule;
  return ({ run, args }) => {
    if (!run) return { durationSeconds: 0, fault: 'user-error', resultText: 'SWEEP_RUN is missing or not valid JSON' };
    // The container's args include whatever precedes the trainer's flags (e.g. a script path);
    // the trainer's parser is given everything, as argv would be.
    return mod.planTraining(run, mod.parseTrainerArgs(args));
  };
}
