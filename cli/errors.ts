import { SpecError } from '../spec/load';

/** Exit codes: 1 for failures at run time, 2 for bad input (spec, flags, values). */
export const EXIT_BAD_INPUT = 2;

export class UsageError extends Error {}

/** Prints an error the way a user can act on it, and exits with the right code. */
export function exitWithError(err: unknown): never {
  if (err instanceof SpecError || err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT_BAD_INPUT);
  }
  const e = err as Error & { details?: string; cause?: Error };
  process.stderr.write(`error: ${e?.message ?? String(err)}${e?.cause?.message ? `\n  cause: ${e.cause.message}` : ''}\n`);
  process.exit(1);
}
