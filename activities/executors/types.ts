import type { AxisValue, FailureClass, JobResult, JobTemplate, Resources, SweepSpec } from '../../spec';

/** Everything an executor needs to start one attempt of one run. */
export interface LaunchRequest {
  sweep: string;
  /**
   * The sweep instance (made when the sweep was first registered in its results store): an
   * attempt left by another instance of a sweep of the same name is never adopted.
   */
  instance: string;
  /** Hash of the job definition this attempt runs (`jobHashOf`); adoption requires it to match. */
  jobHash: string;
  /**
   * Which stage this attempt runs (default train). For `evaluate`, `spec.job` holds the evaluate
   * block (as a job template) and `resources` its resources; jobs get SWEEP_STAGE.
   */
  stage?: 'train' | 'evaluate';
  /** Evaluate stage: hash of the evaluate block; attempts of different evaluators never share a name. */
  evaluator?: string;
  /** Evaluate stage: the training stage's result JSON, given to the job as SWEEP_TRAIN_RESULT. */
  trainResult?: string;
  /**
   * An earlier attempt of this run (same instance and job definition) exists: the job gets
   * SWEEP_RESUME=1 and should resume from its checkpoint directory.
   */
  resume?: boolean;
  /** Training stage of a run with an evaluate stage: a successful attempt leaves the run running. */
  evaluateNext?: boolean;
  runId: string;
  attempt: number;
  axes: Record<string, AxisValue>;
  resources: Resources;
  /** The spec's job template, executor settings, timeouts, retry and metrics. */
  spec: Pick<SweepSpec, 'executor' | 'timeouts' | 'retry' | 'metrics'> & { job: JobTemplate };
}

/** Live state of an attempt, heartbeated and shown in the UI. */
export interface JobPhase {
  phase: 'pending' | 'running' | 'succeeded' | 'failed';
  /** Pod / process the attempt runs as. */
  pod?: string;
  node?: string;
  message?: string;
}

export type JobOutcome =
  | {
      status: 'succeeded';
      /** The raw text the job wrote to its result file (validated by the caller). */
      resultText: string;
      gpuSeconds: number;
    }
  | {
      status: 'failed';
      failureClass: FailureClass;
      message: string;
      exitCode?: number;
      gpuSeconds: number;
    };

/**
 * A place jobs run: local processes or Kubernetes Jobs. Launch is idempotent per
 * (runId, attempt): launching an attempt that already exists adopts it. A launched
 * attempt outlives the worker, so `watch` after a worker crash finds it again.
 */
export interface Executor {
  readonly kind: 'local' | 'kubernetes';
  /**
   * Start the attempt (or adopt it if it exists). Returns the job's name. With `adoptOnly`
   * (the attempt was launched before), never create: a job that is gone throws `JobGoneError`.
   */
  launch(req: LaunchRequest, opts?: { adoptOnly?: boolean }): Promise<{ jobName: string; adopted: boolean }>;
  /** Wait for the attempt to end. Calls `onPhase` on every change; stops early when `signal` aborts. */
  watch(req: LaunchRequest, onPhase: (p: JobPhase) => void, signal: AbortSignal): Promise<JobOutcome>;
  /** Stop and delete the attempt's job (no-op when it is gone). */
  cancel(req: LaunchRequest): Promise<void>;
  /** Release what the executor holds open (watches); jobs keep running. Called when the worker stops. */
  close?(): void;
}

export type { JobResult };

/** An attempt launched before has no job any more (collected after its TTL, or its machine's state was lost). */
export class JobGoneError extends Error {
  readonly failureClass: FailureClass = 'node-lost';
  constructor(message: string) {
    super(message);
    this.name = 'JobGoneError';
  }
}

/** A job under the attempt's name exists but belongs to another run, attempt, sweep instance or job definition. */
export class JobNameConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobNameConflictError';
  }
}
