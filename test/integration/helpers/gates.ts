/**
 * Forcing a sweep's windows in tests: a gate holds every call of an activity type while armed
 * (an activity interceptor), and a small instant-job sweep over one axis x whose every n-th cell
 * fails its first attempt.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import type { JobOutcome, LaunchRequest } from '../../../activities/executors/types';
import { SweepSpecSchema } from '../../../spec';

/** Holds every call of one activity type while armed (or fails it), and says how many it holds. */
export class ActivityGate {
  armed = false;
  /** While set, every call fails with it instead (a store that cannot take a write). */
  failWith?: Error;
  private waiters: (() => void)[] = [];
  get held(): number {
    return this.waiters.length;
  }
  async pass(): Promise<void> {
    if (this.failWith) throw this.failWith;
    if (this.armed) await new Promise<void>((r) => this.waiters.push(r));
  }
  /** Lets the oldest held call go on; the gate stays armed. */
  releaseOne(): void {
    this.waiters.shift()?.();
  }
  release(): void {
    this.armed = false;
    for (const w of this.waiters.splice(0)) w();
  }
}

/** The worker's activity interceptor: each call of a gated activity type waits at its gate. */
export function holdAt(gates: Record<string, ActivityGate>) {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
        await gates[ctx.info.activityType]?.pass();
        return next(input);
      },
    },
  });
}

/** A sweep of `cells` instant jobs over x = 1..cells, one try each, refitting a power law after every result. */
export const instantSweepSpec = (name: string, cells: number, maxRuns: number) =>
  SweepSpecSchema.parse({
    name,
    grid: { x: Array.from({ length: cells }, (_, i) => i + 1) },
    job: { image: 'instant:test', command: ['true'], resources: { gpus: 0 } },
    concurrency: { maxRuns },
    retry: { maxAttempts: 1 },
    metrics: ['score'],
    fits: [{ name: 'law', form: 'power_law', x: 'total_flops', y: { metrics: ['score'] } }],
    refit: { every: 1, bootstrap: 0 },
  });

/** Attempt 1 of every `failEvery`-th cell fails (user error, not retried); everything else succeeds at once. */
export const failEveryNth =
  (failEvery: number) =>
  (req: LaunchRequest): JobOutcome => {
    const x = Number(req.axes.x);
    if (x % failEvery === 0 && req.attempt === 1) return { status: 'failed', failureClass: 'user-error', message: 'exit 2', exitCode: 2, gpuSeconds: 0 };
    return {
      status: 'succeeded',
      resultText: JSON.stringify({ metrics: { score: 1 - 0.5 * x ** -0.3 }, n_params: 1e6 * x, n_samples_seen: 1e6, total_flops: 6e12 * x }),
      gpuSeconds: 0,
    };
  };
