import { Client, WorkflowNotFoundError, type Connection } from '@temporalio/client';
// @temporalio/proto is CommonJS: Node's ESM loader cannot see its named exports, so take the default.
import proto from '@temporalio/proto';
import { firstStageJob, jobHashOf, resourcesFor, SweepSpecSchema, type SweepSpec } from '../spec';
import type { ResultsStore } from '../store/types';
import type { RunFinished } from '../contract';
import { runWorkflowId } from '../contract';
import type { Executor, LaunchRequest } from './executors/types';
import { log } from './logger';

export interface ReconcileDeps {
  store: ResultsStore;
  executors: Partial<Record<Executor['kind'], Executor>>;
  connection: Connection;
  namespace: string;
}

export interface ReconcileResult {
  /** Runs that closed without telling the sweep, now recorded (the sweep applies them as signals). */
  finished: RunFinished[];
  /** Temporal calls this reconcile made: one page of visibility, plus one or two per run found closed. */
  calls: number;
}

const CLOSE_EVENT = proto.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
const PAGE = 1000;

/**
 * Asks Temporal how the sweep's in-flight runs stand, in one visibility query for the lot (not
 * one call per run): a run that is no longer running yet never signalled its sweep was closed
 * behind its back (Terminate in the Web UI, a run timeout). Such a run is recorded as failed
 * with class `terminated`, who and why where Temporal says, and its job is stopped.
 */
export async function reconcileRuns(
  deps: ReconcileDeps,
  sweepWorkflowId: string,
  sweep: string,
  inFlight: string[],
): Promise<ReconcileResult> {
  const client = new Client({ connection: deps.connection, namespace: deps.namespace });
  let calls = 0;
  const running = new Set<string>();
  const prefix = `${runWorkflowId(sweep, '')}`;
  const query = `WorkflowType="sweepRun" AND SweepId="${sweepWorkflowId}" AND ExecutionStatus="Running"`;
  let nextPageToken: Uint8Array | undefined;
  do {
    calls++;
    const page = await deps.connection.workflowService.listWorkflowExecutions({
      namespace: deps.namespace,
      query,
      pageSize: PAGE,
      nextPageToken,
    });
    for (const e of page.executions ?? []) {
      const id = e.execution?.workflowId ?? '';
      if (id.startsWith(prefix)) running.add(id.slice(prefix.length));
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);

  const suspects = inFlight.filter((id) => !running.has(id));
  if (!suspects.length) return { finished: [], calls };
  const row = await deps.store.getSweep(sweep);
  const spec = SweepSpecSchema.parse(row?.spec);
  const instance = row?.instanceId ?? '';
  const finished: RunFinished[] = [];
  for (const runId of suspects) {
    const wfId = runWorkflowId(sweep, runId);
    let status: string;
    try {
      calls++;
      status = (await client.workflow.getHandle(wfId).describe()).status.name;
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) throw e;
      status = 'NOT_FOUND';
    }
    // Visibility lags: a run it listed as closed may still be running (or was reset into a new run).
    if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') continue;
    const run = await deps.store.getRun(sweep, runId);
    if ((status === 'COMPLETED' || status === 'FAILED') && run && (run.state === 'succeeded' || run.state === 'failed')) {
      // Closed by our own code, whose signal was lost: its outcome is in the store.
      finished.push({
        runId,
        state: run.state,
        attempts: run.attempts,
        ...(run.failureClass ? { failureClass: run.failureClass } : {}),
        ...(run.message ? { message: run.message } : {}),
        gpuSeconds: run.gpuSeconds,
        durationMs: 0,
      });
      continue;
    }
    calls++;
    const message = `run workflow ${status.toLowerCase().replace('_', ' ')} from outside the sweep${await closeReason(deps, wfId)}`;
    finished.push(await recordTerminated(deps, spec, instance, runId, message));
  }
  return { finished, calls };
}

/** Who closed the run and why, as its close event says (" by <identity>: <reason>"). */
async function closeReason(deps: ReconcileDeps, workflowId: string): Promise<string> {
  try {
    const res = await deps.connection.workflowService.getWorkflowExecutionHistory({
      namespace: deps.namespace,
      execution: { workflowId },
      historyEventFilterType: CLOSE_EVENT,
    });
    const ev = res.history?.events?.[0];
    const t = ev?.workflowExecutionTerminatedEventAttributes;
    if (t) return `${t.identity ? ` by ${t.identity}` : ''}${t.reason ? `: ${t.reason}` : ''}`.slice(0, 300);
    if (ev?.workflowExecutionTimedOutEventAttributes) return ': its run timeout passed';
  } catch {
    /* the history is gone: the status alone says enough */
  }
  return '';
}

/** Records the run as failed (`terminated`) and stops the job of its attempt still running. */
async function recordTerminated(
  deps: ReconcileDeps,
  spec: SweepSpec,
  instance: string,
  runId: string,
  message: string,
): Promise<RunFinished> {
  const run = await deps.store.getRun(spec.name, runId);
  const attempts = await deps.store.listAttempts(spec.name, runId);
  const axes = run?.axes ?? {};
  const resources = resourcesFor(spec, axes);
  const now = new Date().toISOString();
  const executor = deps.executors[spec.executor.kind];
  const gpuSeconds = run?.gpuSeconds ?? 0;
  const lastAttempt = Math.max(run?.attempts ?? 0, ...attempts.map((a) => a.attempt));
  for (const a of attempts.filter((x) => x.state === 'running')) {
    const req: LaunchRequest = {
      sweep: spec.name,
      instance,
      jobHash: a.jobHash ?? jobHashOf(firstStageJob(spec), resources),
      runId,
      attempt: a.attempt,
      axes,
      resources,
      spec: { job: firstStageJob(spec), executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
    };
    await executor?.cancel(req);
    log.warn({ runId, attempt: a.attempt, job: a.jobName }, 'run closed behind the sweep: job stopped');
  }
  const open = attempts.filter((x) => x.state === 'running');
  const runRow = {
    sweep: spec.name,
    runId,
    axes,
    state: 'failed' as const,
    attempts: lastAttempt,
    failureClass: 'terminated' as const,
    message,
    gpus: resources.gpus,
    gpuSeconds,
    updatedAt: now,
  };
  if (open.length) {
    for (const a of open)
      await deps.store.finishAttempt({
        attempt: { ...a, state: 'failed', failureClass: 'terminated', message, finishedAt: now },
        run: runRow,
      });
  } else await deps.store.upsertRun(runRow);
  return { runId, state: 'failed', attempts: lastAttempt, failureClass: 'terminated', message, gpuSeconds, durationMs: 0 };
}
