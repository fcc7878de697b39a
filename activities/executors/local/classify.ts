import type { FailureClass } from '../../../spec';

export interface ProcessExit {
  code: number | null;
  signal: string | null;
  /** Why we killed it ourselves, if we did. */
  killedFor?: 'timeout' | 'cancelled';
}

/**
 * Failure class of a finished local process. SIGKILL / 137 is what the kernel's OOM killer
 * leaves; SIGTERM / 143 is what a preempting scheduler sends.
 */
export function classifyProcessExit(
  exit: ProcessExit,
  nonRetryableExitCodes: readonly number[],
): { failureClass: FailureClass; message: string } | undefined {
  if (exit.killedFor === 'timeout') return { failureClass: 'timeout', message: 'no exit before timeouts.run; killed' };
  if (exit.code === 0) return undefined;
  if (exit.signal === 'SIGKILL' || exit.code === 137) return { failureClass: 'oom', message: 'killed by SIGKILL (out of memory)' };
  if (exit.signal === 'SIGTERM' || exit.code === 143) return { failureClass: 'preempted', message: 'terminated by SIGTERM (preempted)' };
  if (exit.code !== null && nonRetryableExitCodes.includes(exit.code))
    return { failureClass: 'user-error', message: `exit code ${exit.code} (listed in retry.nonRetryableExitCodes)` };
  if (exit.signal) return { failureClass: 'unknown', message: `killed by ${exit.signal}` };
  return { failureClass: 'unknown', message: `exit code ${exit.code}` };
}
