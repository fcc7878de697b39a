import type { SimRun, WorkloadPlan } from './workload';

/** What the sim remembers of every job and pod it ever created (tests and benches inspect it). */
export interface PodOutcome {
  phase: 'Succeeded' | 'Failed' | 'Deleted';
  reason: string;
  exitCode?: number;
  /** Termination message written to the container status. */
  message?: string;
  /** Reason of the DisruptionTarget condition, when the pod was disrupted. */
  disruption?: string;
}

/** Everything the sim knows about one pod it ever created (for test assertions). */
export interface PodRecord {
  name: string;
  node?: string;
  plan: WorkloadPlan;
  /** Simulated ISO timestamps. */
  startedAt?: string;
  finishedAt?: string;
  outcome?: PodOutcome;
  /**
   * Why the pod object was removed, when it was (a pod that had already ended keeps its
   * `outcome`, e.g. one garbage-collected with a lost node: a watcher that missed its end can
   * only see it disappear).
   */
  removed?: { reason: string; at: string };
}

/** Everything the sim knows about one job it ever created. */
export interface JobRecord {
  namespace: string;
  name: string;
  uid: string;
  createdAt: string;
  labels: Record<string, string>;
  /** The run from the pod template's SWEEP_RUN env, when present. */
  run?: SimRun;
  pods: PodRecord[];
  finished?: { type: 'Complete' | 'Failed'; reason: string; at: string };
  deletedAt?: string;
}


/** One attempt of one run as the sim saw it: how many Jobs it got, and what its trainer did. */
export interface AttemptSummary {
  sweep: string;
  runId: string;
  attempt: number;
  /** Jobs ever created for the attempt (more than 1 is a duplicate launch). */
  jobs: number;
  jobName: string;
  /** The trainer plan's fault of the attempt's last pod. */
  fault?: WorkloadPlan['fault'];
  /** What the trainer wrote (the termination message it got, for completed pods). */
  resultText?: string;
  /** How the attempt's last pod ended (undefined while it runs). */
  outcome?: PodOutcome;
  /** Why the attempt's last pod object was removed, if it was (NodeLost, Deleted, ...). */
  removedReason?: string;
}
