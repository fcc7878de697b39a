import type { FailureClass, JobResult } from '../../spec';
import type { JobOutcome, JobPhase, LaunchRequest } from '../../contract';

export type { JobOutcome, JobPhase, LaunchRequest };

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
