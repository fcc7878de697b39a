import { durationMs } from './duration';
import type { FailureClass } from './failure';
import type { SweepSpec } from './sweepSpec';

type RetryConfig = SweepSpec['retry'];

/** Whether a failed attempt is tried again: its class is retryable and attempts remain. */
export function shouldRetry(failureClass: FailureClass, attempt: number, retry: RetryConfig): boolean {
  return retry.retryOn.includes(failureClass) && attempt < retry.maxAttempts;
}

/** Backoff before attempt `attempt + 1`: initial x coefficient^(attempt-1), capped at max. */
export function backoffMs(attempt: number, retry: RetryConfig): number {
  const initial = durationMs(retry.backoff.initial);
  const max = durationMs(retry.backoff.max);
  return Math.min(max, initial * retry.backoff.coefficient ** Math.max(0, attempt - 1));
}
