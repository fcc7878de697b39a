import { loadCheckpoint } from '../trainer/checkpoint';
import { parseTrainerArgs, planTraining, USAGE_EXIT_CODE, USER_ERROR_EXIT_CODE, type TrainerResume } from '../trainer/model';
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
  /**
   * The container ignores SIGTERM: a preemption or deletion kills it (SIGKILL, exit 137) only
   * after the pod's terminationGracePeriodSeconds. Otherwise it dies by the SIGTERM at once.
   */
  ignoresSigterm?: boolean;
  /** Lines the container logs as it starts (e.g. the trainer's "attempt 2 resumed at epoch 6 of 10"). */
  startLog?: string[];
  /** Whole epochs trained, and where this attempt starts (the synthetic trainer's plan). */
  epochs?: number;
  startEpoch?: number;
  secondsPerEpoch?: number;
  samplesPerEpoch?: number;
  flopsPerEpoch?: number;
  /**
   * Save the trainer's checkpoint after every epoch into this host folder (the claim's folder a
   * PVC mount resolves to), as the trainer process does into SWEEP_CHECKPOINT_DIR.
   */
  checkpointing?: { dir: string; readOnly: boolean; epochsRunBefore: number };
}

/** A volume mount of the container resolved to the host folder that backs it (PVCs only). */
export interface SimMount {
  mountPath: string;
  hostPath: string;
  readOnly: boolean;
}

/** The host folder behind a path in the container, when a PVC mount covers it (the longest mount wins). */
export function hostPathOf(mounts: readonly SimMount[], containerPath: string): { path: string; readOnly: boolean } | undefined {
  const norm = (p: string) => p.replace(/\/+$/, '') || '/';
  const want = norm(containerPath);
  let best: SimMount | undefined;
  for (const m of mounts) {
    const mp = norm(m.mountPath);
    if ((want === mp || want.startsWith(mp === '/' ? '/' : `${mp}/`)) && (!best || mp.length > norm(best.mountPath).length)) best = m;
  }
  if (!best) return undefined;
  const rest = want.slice(norm(best.mountPath).length).replace(/^\/+/, '');
  if (rest.split('/').some((part) => part === '..')) return undefined;
  return { path: rest ? `${best.hostPath}/${rest}` : best.hostPath, readOnly: best.readOnly };
}

export interface WorkloadInput {
  container: Container;
  env: Record<string, string>;
  args: string[];
  /** Parsed SWEEP_RUN, when the container has one. */
  run?: SimRun;
  /** The container's PVC mounts and their host folders (kube-sim keeps a claim's files across pods). */
  mounts?: SimMount[];
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
 * Checkpoints as the trainer's: when SWEEP_CHECKPOINT_DIR lies on a PVC mount, the kubelet saves
 * the trainer's checkpoint file there after every epoch, and with SWEEP_RESUME=1 the attempt
 * resumes after the checkpoint's epoch. Without one (or not on a claim), it trains from scratch.
 */
export function trainerWorkload(): Workload {
  return ({ run, args, env, mounts }) => {
    if (!run) return { durationSeconds: 0, fault: 'user-error', exitCode: USAGE_EXIT_CODE, resultText: 'trainer: SWEEP_RUN is missing or not valid JSON' };
    try {
      const knobs = parseTrainerArgs(args);
      const fresh = planTraining(run, knobs);
      const dirPath = env.SWEEP_CHECKPOINT_DIR;
      const host = dirPath ? hostPathOf(mounts ?? [], dirPath) : undefined;
      if (!host || fresh.epochs === 0) return fresh;
      const startLog: string[] = [];
      let resume: TrainerResume | undefined;
      let epochsRunBefore = 0;
      if (env.SWEEP_RESUME === '1') {
        const read = loadCheckpoint(host.path, run.runId, fresh.epochs);
        if (read.ok) {
          resume = { fromEpoch: read.checkpoint.epoch };
          epochsRunBefore = read.checkpoint.epochsRun;
          startLog.push(`trainer: attempt ${run.attempt} resumed at epoch ${read.checkpoint.epoch} of ${fresh.epochs}`);
        } else startLog.push(`trainer: cannot resume (${read.reason}): training from scratch`);
      }
      const plan = resume ? planTraining(run, knobs, resume) : fresh;
      return { ...plan, startLog, checkpointing: { dir: host.path, readOnly: host.readOnly, epochsRunBefore } };
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
