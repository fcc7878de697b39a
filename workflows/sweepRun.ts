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
import type { LaunchRequest } from '../contract';
import { backoffMs } from '../spec/retry';
import { durationMs } from '../spec/duration';
import type { FailureClass } from '../spec/failure';
import { runFinishedSignal, type RunFinished, type RunInput, type RunOutcome } from '../contract';
import { RunState } from '../contract';
import { runCurrentDetails } from './text';
import { evaluateJob } from '../spec/stages';

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
  const evalJob = evaluateJob(input.spec);
  const stageOf = (stage: 'train' | 'evaluate', n: number): LaunchRequest => {
    const job = stage === 'evaluate' ? evalJob! : input.spec.job!;
    return {
      sweep: input.sweep,
      // Runs started before instances existed carry none: their sweep's name stands for it.
      instance: input.instance ?? '',
      jobHash: stage === 'evaluate' ? (input.evaluator ?? '') : (input.jobHash ?? ''),
      runId: input.runId,
      attempt: n,
      axes: input.axes,
      resources: stage === 'evaluate' ? job.resources : input.resources,
      spec: {
        job,
        executor: input.spec.executor,
        timeouts: input.spec.timeouts,
        retry: stage === 'evaluate' ? (input.spec.evaluate?.retry ?? input.spec.retry) : input.spec.retry,
        // With an evaluate stage, the metrics are the evaluation's to give, not training's.
        metrics: stage === 'train' && evalJob ? [] : input.spec.metrics,
      },
      ...(stage === 'evaluate' ? { stage, evaluator: input.evaluator } : evalJob ? { evaluateNext: true } : {}),
    };
  };
  const req = (): LaunchRequest => stageOf(input.spec.job ? 'train' : 'evaluate', attempt);
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
      instance: input.instance,
      jobHash: input.jobHash,
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

  /**
   * One stage, attempt after attempt: retried by its own class policy with a durable backoff.
   * Returns whether it succeeded; `last` holds the failure otherwise.
   */
  const runStage = async (stage: 'train' | 'evaluate', first: number, onAttempt: (n: number) => void): Promise<boolean> => {
    const retry = stageOf(stage, first).spec.retry;
    const lastAttempt = first - 1 + retry.maxAttempts;
    for (let n = first; ; n++) {
      onAttempt(n);
      const r = stageOf(stage, n);
      setCurrentDetails(runCurrentDetails(input, { phase: stage === 'evaluate' ? 'evaluating' : 'pending' }, attempt, last));
      let result;
      try {
        result = await attempts.runAttempt(r);
      } catch (err) {
        // The executor refused the job outright (rejected spec, name owned by another run).
        if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
          last = { failureClass: 'user-error', message: err.cause.message };
          classes.push('user-error');
          await quick.markRun(r, 'failed', err.cause.message, 'user-error');
          return false;
        }
        throw err;
      }
      gpuSeconds += result.gpuSeconds;
      if (result.ok) {
        // A note of a success (e.g. "attempt 2 resumed at epoch 12") stays in the run's details.
        last = result.message ? { message: result.message } : {};
        return true;
      }
      classes.push(result.failureClass ?? 'unknown');
      last = { failureClass: result.failureClass, message: result.message };
      if (!result.retryable) return false;
      if (n >= lastAttempt) {
        await quick.markRun(r, 'failed', `${result.message} (after ${n - first + 1} attempts)`);
        return false;
      }
      await quick.cancelJob(r);
      setCurrentDetails(runCurrentDetails(input, { phase: 'backoff' }, attempt, last));
      await sleep(backoffMs(n - first + 1, retry));
    }
  };

  try {
    // Training (unless this is a rescore, or the sweep only evaluates), then evaluation: an
    // evaluate failure is retried on its own and never relaunches training.
    if (input.spec.job && input.mode !== 'rescore') {
      if (!(await runStage('train', input.firstAttempt, (n) => (attempt = n)))) return await finish('failed');
    }
    if (evalJob) {
      // Evaluations are keyed by (run, evaluator): one already made is never made again.
      const prior = await quick.evaluationStatus(input.sweep, input.runId, input.evaluator ?? '');
      if (!prior.succeeded && !(await runStage('evaluate', prior.attempts + 1, () => undefined))) return await finish('failed');
      if (prior.succeeded) await quick.markRun(stageOf('evaluate', prior.attempts), 'succeeded');
    }
    return await finish('succeeded');
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
