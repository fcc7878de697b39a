import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { LaunchRequest } from '../activities/executors/types';
import { backoffMs } from '../spec/retry';
import { durationMs } from '../spec/duration';
import type { FailureClass } from '../spec/failure';
import { runFinishedSignal, type RunFinished, type RunInput, type RunOutcome } from './api';
import { RunState } from './searchAttributes';
import { runCurrentDetails } from './text';

const quick = proxyActivities<Activities>({
  // Short: after a worker crash, a lost launch is retried (and adopts its job) this soon.
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes: ['NoExecutor'] },
});

/**
 * One cell of the grid: launch attempt k -> watch -> classify -> retry by class with a durable
 * backoff timer, or record the result -> tell the sweep.
 */
export async function sweepRun(input: RunInput): Promise<RunOutcome> {
  const runTimeoutMs = durationMs(input.spec.timeouts.run) + durationMs(input.spec.timeouts.pending);
  const attempts = proxyActivities<Activities>({
    startToCloseTimeout: runTimeoutMs + 5 * 60_000,
    // A dead worker is noticed by its missing heartbeats; the retried watch finds the job again.
    heartbeatTimeout: '10s',
    // On cancel, wait until the attempt has stopped watching: nothing records it after the run is marked cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', maximumInterval: '5s', nonRetryableErrorTypes: ['NoExecutor'] },
    summary: `${input.runId}: launch, watch and record the job`,
  });
  const started = Date.now();
  const classes: FailureClass[] = [];
  let gpuSeconds = 0;
  let attempt = input.firstAttempt;
  let last: { failureClass?: FailureClass; message?: string } = {};
  const req = (): LaunchRequest => ({
    sweep: input.sweep,
    // Runs started before instances existed carry none: their sweep's name stands for it.
    instance: input.instance ?? '',
    jobHash: input.jobHash ?? '',
    runId: input.runId,
    attempt,
    axes: input.axes,
    resources: input.resources,
    spec: input.spec,
  });
  const lastAttempt = input.firstAttempt - 1 + input.spec.retry.maxAttempts;

  const finish = async (state: RunFinished['state']): Promise<RunOutcome> => {
    upsertSearchAttributes([{ key: RunState, value: state }]);
    setCurrentDetails(runCurrentDetails(input, { phase: state }, attempt, last));
    const outcome: RunOutcome = {
      runId: input.runId,
      state,
      attempts: attempt,
      failureClass: last.failureClass,
      message: last.message,
      gpuSeconds,
      durationMs: Date.now() - started,
      attemptClasses: classes,
    };
    const { attemptClasses: _omit, ...signal } = outcome;
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(runFinishedSignal, signal);
    } catch {
      // The sweep is gone (terminated or done): the run's result is in the store regardless.
    }
    // A failed run closes as Failed, so the Web UI's failure filters list it (the sweep
    // already has its outcome by signal; runs are abandoned children, nobody awaits them).
    if (state === 'failed')
      throw ApplicationFailure.nonRetryable(
        `run failed: ${last.failureClass ?? 'unknown'} - ${last.message ?? ''}`,
        last.failureClass ?? 'unknown',
        outcome,
      );
    return outcome;
  };

  try {
    for (;;) {
      setCurrentDetails(runCurrentDetails(input, { phase: 'pending' }, attempt, last));
      let result;
      try {
        result = await attempts.runAttempt(req());
      } catch (err) {
        // The executor refused the job outright (rejected spec, name owned by another run).
        if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
          last = { failureClass: 'user-error', message: err.cause.message };
          classes.push('user-error');
          await quick.markRun(req(), 'failed', err.cause.message, 'user-error');
          return await finish('failed');
        }
        throw err;
      }
      gpuSeconds += result.gpuSeconds;
      if (result.ok) {
        last = {};
        return await finish('succeeded');
      }
      classes.push(result.failureClass ?? 'unknown');
      last = { failureClass: result.failureClass, message: result.message };
      if (!result.retryable) return await finish('failed');
      if (attempt >= lastAttempt) {
        await quick.markRun(req(), 'failed', `${result.message} (after ${attempt - input.firstAttempt + 1} attempts)`);
        return await finish('failed');
      }
      await quick.cancelJob(req());
      setCurrentDetails(runCurrentDetails(input, { phase: 'backoff' }, attempt, last));
      await sleep(backoffMs(attempt - input.firstAttempt + 1, input.spec.retry));
      attempt++;
    }
  } catch (err) {
    if (isCancellation(err) || (err instanceof ActivityFailure && isCancellation(err.cause))) {
      // Cancelling a run stops its job: clean up outside the cancelled scope.
      await CancellationScope.nonCancellable(async () => {
        await quick.cancelJob(req());
        await quick.markRun(req(), 'cancelled', 'sweep cancelled');
        last = { message: 'cancelled' };
        await finish('cancelled');
      });
      throw err;
    }
    throw err;
  }
}
