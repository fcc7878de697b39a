import { SpecError } from '../spec/load';
import { errorText, TemporalUnreachableError, unreachableMessage } from '../worker/connect';
import { temporalSettings } from '../worker/settings';

/**
 * Exit codes: 1 for failures at run time (and a sweep that failed), 2 for bad input (spec, flags,
 * values), 3 for a sweep that was cancelled or terminated (`start --watch`, `watch`: cli/sweepState.ts).
 */
export const EXIT_BAD_INPUT = 2;

export class UsageError extends Error {}

/** Prints an error the way a user can act on it, and exits with the right code. */
export function exitWithError(err: unknown): never {
  if (err instanceof SpecError || err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT_BAD_INPUT);
  }
  if (err instanceof TemporalUnreachableError) {
    // Already says where, why and what to do; the transport's raw error would only bury that.
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  }
  // A connection lost after the first call (the server stopped mid-command) says the same: the one
  // home of that message is unreachableMessage (worker/connect.ts).
  if (/\b14 UNAVAILABLE\b|ECONNREFUSED|Connection refused|tonic::transport|transport error|Failed to connect/i.test(errorText(err))) {
    process.stderr.write(`error: ${unreachableMessage(temporalSettings(), err)}\n`);
    process.exit(1);
  }
  const e = err as Error & { details?: string; cause?: Error };
  process.stderr.write(`error: ${e?.message ?? String(err)}${e?.cause?.message ? `\n  cause: ${e.cause.message}` : ''}\n`);
  process.exit(1);
}
