import type { FailureClass } from '../../../spec';

export interface ProcessExit {
  /** The raw status: the exit code, or 128 + n for a death by signal n (the shell cannot tell them apart). */
  code: number | null;
  /** The signal's name, when the status reads as one (a hint: `exit 137` looks like SIGKILL). */
  signal: string | null;
  /** Why we killed it ourselves, if we did. */
  killedFor?: 'timeout' | 'cancelled';
  /** It ignored a SIGTERM (a preemption, or our stop) for the whole grace period and was SIGKILLed. */
  graceKilled?: boolean;
  /** That grace period (for the message). */
  graceMs?: number;
}

/**
 * Failure class of a finished local process. The user's `nonRetryableExitCodes` come first, for
 * any code (129-255 included): the user said what their codes mean (except a SIGKILL we sent ourselves
 * at the end of a grace period: that is a preemption). Then SIGKILL / 137 is what
 * the kernel's OOM killer leaves, and SIGTERM / 143 what a preempting scheduler sends.
 */
export function classifyProcessExit(
  exit: ProcessExit,
  nonRetryableExitCodes: readonly number[],
): { failureClass: FailureClass; message: string } | undefined {
  if (exit.killedFor === 'timeout') return { failureClass: 'timeout', message: 'no exit before timeouts.run; killed' };
  if (exit.code === 0) return undefined;
  // Our SIGKILL, not the OOM killer's: the stop (a preemption) came first.
  if (exit.graceKilled)
    return {
      failureClass: 'preempted',
      message: `ignored SIGTERM for the grace period${exit.graceMs !== undefined ? ` of ${Math.ceil(exit.graceMs / 1000)} s` : ''}; killed by SIGKILL (preempted)`,
    };
  if (exit.code !== null && nonRetryableExitCodes.includes(exit.code))
    return { failureClass: 'user-error', message: `exit code ${exit.code} (listed in retry.nonRetryableExitCodes)` };
  if (exit.signal === 'SIGKILL' || exit.code === 137) return { failureClass: 'oom', message: 'killed by SIGKILL (out of memory)' };
  if (exit.signal === 'SIGTERM' || exit.code === 143) return { failureClass: 'preempted', message: 'terminated by SIGTERM (preempted)' };
  if (exit.signal)
    return { failureClass: 'unknown', message: exit.code === null ? `killed by ${exit.signal}` : `status ${exit.code} (killed by ${exit.signal}, or exit ${exit.code})` };
  return { failureClass: 'unknown', message: `exit code ${exit.code}` };
}
