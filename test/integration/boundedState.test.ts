/**
 * Issue 11: what a sweep carries through continue-as-new is O(window), never O(runs). A
 * 3,000-run sweep on a real dev server, with an executor that ends each attempt at once (so
 * the test measures the orchestration, not processes): the input of every execution after the
 * first is read from its history, and must stay under 64 KB and not grow. Some runs fail;
 * `retryFailed` sent with the Temporal CLI after the sweep has continued as new reruns those.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaunchRequest } from '../../activities/executors/types';
import { expandGrid, SweepSpecSchema } from '../../spec';
import { temporalCliPath } from '../../worker/settings';
import type { Progress, SweepSummary } from '../../contract';
import { waitFor } from './helpers/harness';
import { startInstantWorker, type InstantWorker } from './helpers/instantWorker';

const N = 3000;
const SPEC = SweepSpecSchema.parse({
  name: 'bounded',
  grid: { x: Array.from({ length: N / 3 }, (_, i) => i + 1), seed: [0, 1, 2] },
  job: { image: 'instant:test', command: ['true'], resources: { gpus: 1 } },
  concurrency: { maxRuns: 48, maxGpus: 48 },
  retry: { maxAttempts: 1 },
  metrics: ['score'],
  refit: { every: 100000 },
});

/** Every attempt ends at once; the first attempt of every 7th cell fails (user error, not retried). */
const outcome = (req: LaunchRequest) =>
  Number(req.axes.x) % 7 === 0 && req.attempt === 1
    ? { status: 'failed' as const, failureClass: 'user-error' as const, message: 'exit 2: planned failure of a long message '.repeat(4), exitCode: 2, gpuSeconds: 1 }
    : { status: 'succeeded' as const, resultText: JSON.stringify({ metrics: { score: Number(req.axes.x) / N } }), gpuSeconds: 1 };

describe('a 3,000-run sweep carries O(window) state through continue-as-new', () => {
  let w: InstantWorker;

  beforeAll(async () => {
    w = await startInstantWorker({ outcome });
  }, 120_000);

  afterAll(async () => {
    await w?.stop();
  });

  it('keeps every continue-as-new input under 64 KB and not growing, and reruns failed runs after it', async () => {
    const { env, address, store, executor } = w;
    const client = env.client;
    const handle = await client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/bounded', args: [SPEC] });
    const failedFirst = expandGrid(SPEC).filter((c) => Number(c.axes.x) % 7 === 0).length;
    // Once it has continued as new (twice) and runs have failed, while much is still to run, ask for
    // the failed ones again, as a user would.
    await waitFor(
      'the sweep to continue as new with failures behind it',
      async () => {
        const p = await handle.query<Progress>('progress');
        return p.continuedAsNew >= 2 && p.byState.failed >= 10 && p.byState.pending > 500;
      },
      { timeoutMs: 600_000, intervalMs: 500 },
    ).catch(async (e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(await handle.query('progress'))}`);
    });
    // As a user would: a workflow task that timed out on this loaded 2-core box makes the server
    // refuse updates for a moment ("Workflow Task in failed state"); try again, a few times.
    // Asynchronously: the update's activity runs on this process's worker.
    const update = async () =>
      (
        await promisify(execFile)(
          temporalCliPath(),
          ['workflow', 'update', 'execute', '--address', address, '--workflow-id', 'sweep/bounded', '--name', 'retryFailed', '--input', '{}', '-o', 'json'],
          { encoding: 'utf8' },
        )
      ).stdout;
    const out = await waitFor(
      'the retryFailed update to be accepted',
      async () => {
        try {
          return await update();
        } catch (e) {
          if (/Workflow Task in failed state|deadline exceeded/.test(String((e as { stderr?: string }).stderr ?? e))) return undefined;
          throw e;
        }
      },
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
    const answer = JSON.parse(out) as { result: { count: number; rerun: string[] } };
    const retried = answer.result.count;
    expect(retried).toBeGreaterThanOrEqual(10);
    expect(answer.result.rerun).toHaveLength(retried);

    const summary = (await handle.result()) as SweepSummary;
    // What had failed when asked reran (and succeeded); the cells that failed later stay failed.
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: N - failedFirst + retried, failed: failedFirst - retried, cancelled: 0 });
    for (const id of answer.result.rerun) expect(executor.launches.get(`bounded/${id}#2`)).toBe(1);

    // Every run recorded once (a result for each that succeeded); every attempt launched once.
    const runs = await store.listRuns('bounded');
    expect(runs).toHaveLength(N);
    expect(runs.filter((r) => r.state === 'succeeded')).toHaveLength(summary.byState.succeeded);
    const results = await store.listResults('bounded');
    expect(results).toHaveLength(summary.byState.succeeded);
    expect(new Set(results.map((r) => r.runId)).size).toBe(summary.byState.succeeded);
    expect([...executor.launches.values()].every((n) => n === 1)).toBe(true);
    expect(executor.launches.size).toBe(N + retried);

    // The input each continued execution started with.
    const inputs: { at: number; size: number }[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId="sweep/bounded"` })) {
      const history = await client.workflow.getHandle('sweep/bounded', wf.runId).fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      if (!started?.continuedExecutionRunId) continue;
      inputs.push({ at: wf.startTime.getTime(), size: (started.input?.payloads ?? []).reduce((s, p) => s + (p.data?.length ?? 0), 0) });
    }
    const sizes = inputs.sort((a, b) => a.at - b.at).map((x) => x.size);
    // Bounded starts per execution force several continue-as-new even below the history limit.
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...sizes)).toBeLessThan(64 * 1024);
    // Not growing with the runs done: the last is no larger than the first plus the window's jitter.
    expect(sizes[sizes.length - 1]).toBeLessThanOrEqual(sizes[0] + 4096);
  }, 900_000);
});
