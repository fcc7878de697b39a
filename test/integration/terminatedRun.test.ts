import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterceptingCall } from '@grpc/grpc-js';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../activities/executors/local';
import { SweepSpecSchema, type SweepSpecInput } from '../../spec';
import { SqliteStore } from '../../store/sqlite';
import { createSweepWorker } from '../../worker';
import { startDevServer } from '../../worker/devServer';
import { REPO_ROOT } from '../../worker/settings';
import type { SweepSummary } from '../../contract';
import { runWorkflowId } from '../../contract';
import { temporalOk } from './helpers/cli';
import { waitFor } from './helpers/harness';

// The run whose first attempt takes long; every other attempt is instant.
const LONG = 300;
const spec = (name: string, extra: Partial<SweepSpecInput> = {}) =>
  SweepSpecSchema.parse({
    name,
    grid: { secs: [0.1, 0.2, 0.3, 0.4, 0.5, LONG] },
    job: {
      // A shell that waits on its child: stopping the job must stop the whole group.
      command: [
        'sh',
        '-c',
        `if [ "$SWEEP_ATTEMPT" = 1 ]; then s={{secs}}; else s=0; fi; node sim/sleepJob.mjs --seconds=$s; :`,
      ],
      resources: { gpus: 0 },
    },
    concurrency: { maxRuns: 6 },
    retry: { maxAttempts: 2 },
    reconcile: { interval: '2s' },
    metrics: ['score'],
    ...extra,
  });

describe('runs closed behind the sweep', () => {
  let env: TestWorkflowEnvironment;
  let address: string;
  let worker: Worker;
  let running: Promise<void>;
  let store: SqliteStore;
  let root: string;
  /** Temporal calls the worker's activities made, by method. */
  const calls = new Map<string, number>();

  beforeAll(async () => {
    ({ env, address } = await startDevServer());
    root = mkdtempSync(join(tmpdir(), 'sweep-term-'));
    store = new SqliteStore(join(root, 'results.db'));
    const counted = await Connection.connect({
      address,
      interceptors: [
        (options, next) => {
          const method = options.method_definition.path.split('/').pop() ?? '';
          calls.set(method, (calls.get(method) ?? 0) + 1);
          return new InterceptingCall(next(options));
        },
        makeGrpcRetryInterceptor(defaultGrpcRetryOptions()),
      ],
    });
    ({ worker } = await createSweepWorker({
      connection: env.nativeConnection,
      clientConnection: counted,
      namespace: 'default',
      store,
      executors: {
        local: new LocalExecutor({ dir: join(root, 'local'), cwd: REPO_ROOT, launchLog: join(root, 'launches.log') }),
      },
      reportDir: join(root, 'reports'),
    }));
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await store?.close();
    await env?.teardown();
    rmSync(root, { recursive: true, force: true });
  });

  const launches = () =>
    readFileSync(join(root, 'launches.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { runId: string; attempt: number; pid: number });
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const longRunOf = async (sweep: string) =>
    waitFor(`the long run of ${sweep} to start its job`, async () => {
      const runs = await store.listRuns(sweep);
      const run = runs.find((r) => r.axes.secs === LONG && r.state === 'running');
      return run && launches().find((l) => l.runId === run.runId && l.attempt === 1) ? run : undefined;
    });

  it('a run terminated from outside fails as `terminated`, its job stops, the sweep completes, and retry-failed reruns it', async () => {
    const handle = await env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/term',
      args: [spec('term')],
    });
    const run = await longRunOf('term');
    const job = launches().find((l) => l.runId === run.runId)!;
    calls.clear();
    const t0 = Date.now();
    await temporalOk({ address, namespace: 'default' }, [
      'workflow',
      'terminate',
      '--workflow-id',
      runWorkflowId('term', run.runId),
      '--reason',
      'pressed Terminate',
    ]);
    const summary = (await handle.result()) as SweepSummary;
    // Within the reconcile interval (2 s) plus a minute.
    expect(Date.now() - t0).toBeLessThan(62_000);
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 5, failed: 1, cancelled: 0 });
    const row = await store.getRun('term', run.runId);
    expect(row?.state).toBe('failed');
    expect(row?.failureClass).toBe('terminated');
    expect(row?.message).toMatch(/terminated from outside the sweep.*pressed Terminate/);
    const attempts = await store.listAttempts('term', run.runId);
    expect(attempts.map((a) => [a.attempt, a.state, a.failureClass])).toEqual([[1, 'failed', 'terminated']]);
    // Its job (the shell and its node child) is gone.
    await waitFor('the terminated run’s job to be stopped', () => !alive(job.pid), { timeoutMs: 20_000 });
    // One visibility query per reconcile and one describe + one close-event read for the run found closed.
    expect(calls.get('DescribeWorkflowExecution')).toBe(1);
    expect(calls.get('GetWorkflowExecutionHistory')).toBe(1);

    // The sweep has ended: `retry-failed --class terminated` reruns it (the next attempt is instant).
    const { sweepCli } = await import('./helpers/cli');
    const r = await sweepCli(['retry-failed', 'term', '--class', 'terminated'], {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      SWEEP_DB: join(root, 'results.db'),
    });
    expect(r.code, r.stderr).toBe(0);
    const again = (await env.client.workflow.getHandle('sweep/term').result()) as SweepSummary;
    expect(again.byState.succeeded).toBe(6);
    expect((await store.getRun('term', run.runId))?.state).toBe('succeeded');
    expect(
      launches()
        .filter((l) => l.runId === run.runId)
        .map((l) => l.attempt),
    ).toEqual([1, 2]);
  }, 180_000);

  it('costs one visibility query per reconcile however many runs are in flight', async () => {
    calls.clear();
    const s = SweepSpecSchema.parse({
      name: 'recon',
      grid: { x: Array.from({ length: 12 }, (_, i) => i + 1) },
      job: { command: ['node', 'sim/sleepJob.mjs', '--seconds=7'], resources: { gpus: 0 } },
      concurrency: { maxRuns: 12 },
      reconcile: { interval: '2s' },
      metrics: ['score'],
    });
    const handle = await env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/recon',
      args: [s],
    });
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState.succeeded).toBe(12);
    const history = await handle.fetchHistory();
    const reconciles = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reconcileRuns',
    ).length;
    // 7 s of jobs at a 2 s interval: a few reconciles, each with 12 runs in flight.
    expect(reconciles).toBeGreaterThanOrEqual(2);
    expect(calls.get('ListWorkflowExecutions')).toBe(reconciles);
    expect(calls.get('DescribeWorkflowExecution') ?? 0).toBe(0);
  }, 120_000);

  it('a reset run goes on and the sweep completes', async () => {
    const handle = await env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/reset',
      args: [spec('reset', { grid: { secs: [0.1, 0.2, 6] } })],
    });
    const run = await waitFor('the 6 s run to start', async () =>
      (await store.listRuns('reset')).find((r) => r.axes.secs === 6 && r.state === 'running'),
    );
    await temporalOk({ address, namespace: 'default' }, [
      'workflow',
      'reset',
      '--workflow-id',
      runWorkflowId('reset', run.runId),
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'reset from the UI',
    ]);
    const summary = (await handle.result()) as SweepSummary;
    // The reset run replays from its start, adopts the job its first attempt launched, and reports.
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0, cancelled: 0 });
    expect(
      launches()
        .filter((l) => l.runId === run.runId)
        .map((l) => l.attempt),
    ).toEqual([1]);
    expect((await store.getRun('reset', run.runId))?.state).toBe('succeeded');
  }, 120_000);

  it('a run whose workflow timed out fails as `terminated` and the sweep completes', async () => {
    const handle = await env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/tmo',
      args: [spec('tmo', { grid: { secs: [0.1, LONG] }, retry: { maxAttempts: 1 } })],
    });
    const run = await longRunOf('tmo');
    const wfId = runWorkflowId('tmo', run.runId);
    // A run execution that times out: the sweep's own child carries no run timeout, so replace it
    // (as a reset or a re-start from the UI would) with one whose run timeout is a second.
    const input = (await env.client.workflow.getHandle(wfId).fetchHistory()).events?.[0]
      ?.workflowExecutionStartedEventAttributes?.input;
    expect(input?.payloads?.length).toBe(1);
    const { defaultPayloadConverter } = await import('@temporalio/common');
    const runInput = defaultPayloadConverter.fromPayload(input!.payloads![0]);
    await env.client.workflow.start('sweepRun', {
      taskQueue: 'nobody-polls-this',
      workflowId: wfId,
      args: [runInput],
      workflowRunTimeout: '1s',
      // Atomically: no moment at which the sweep could see the old run closed and no new one.
      workflowIdConflictPolicy: 'TERMINATE_EXISTING',
    });
    await waitFor(
      'the replacement to time out',
      async () => (await env.client.workflow.getHandle(wfId).describe()).status.name === 'TIMED_OUT',
    );
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 1, cancelled: 0 });
    const row = await store.getRun('tmo', run.runId);
    expect(row?.failureClass).toBe('terminated');
    expect(row?.message).toMatch(/timed out from outside the sweep: its run timeout passed/);
  }, 120_000);
});
