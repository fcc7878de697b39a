import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  WorkflowIdReusePolicy,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type SearchAttributePair } from '@temporalio/common';
import type { Activities } from '../activities';
// Zod-free modules only: workflow code is re-initialised for every run, and schema construction is costly.
import { expandGrid, gridSize, totalGpus, type Cell } from '../spec/grid';
import { durationMs } from '../spec/duration';
import { jobHashOf } from '../spec/identity';
import { evaluatorHashOf, firstStageJob } from '../spec/stages';
import { FAILURE_CLASSES, isFailureClass } from '../spec/failure';
import type { AxisValue, SweepSpec, SweepSpecInput } from '../spec/sweepSpec';
import {
  cancelSignal,
  extendUpdate,
  fitQuery,
  pauseSignal,
  progressQuery,
  resumeSignal,
  rescoreUpdate,
  retryFailedUpdate,
  runFinishedSignal,
  runsQuery,
  runWorkflowId,
  setConcurrencyUpdate,
  type CarriedState,
  type Progress,
  type RunsPage,
  type RunFinished,
  type RunInput,
  type RunStatus,
  type SweepInputState,
  type SweepSummary,
} from './api';
import { Arch, Dataset, RunId, RunState, SamplesPerClass, SweepId, SweepName } from './searchAttributes';
import { sweepRun } from './sweepRun';
import { runDetails, runSummary, sweepCurrentDetails } from './text';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes: ['MissingSearchAttributes', 'InvalidSpec'] },
});
// A spec is checked in milliseconds and bounded memory; one that makes the check fail any other
// way (a crashed or overloaded worker) is retried a few times, never forever.
const specActs = proxyActivities<Activities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3, nonRetryableErrorTypes: ['InvalidSpec'] },
});
const reconcileActs = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
  summary: 'reconcile in-flight runs',
});
const fitActs = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '2s', maximumInterval: '30s', maximumAttempts: 5 },
  summary: 'refit scaling laws',
});

/** How long a cancelled sweep waits for its runs to stop their jobs. */
const CANCEL_GRACE_MS = 5 * 60_000;

/** The innermost message of an activity or application failure. */
function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** The spec, validated and defaulted by an activity; a refusal fails the sweep at once as `InvalidSpec`. */
async function validated(rawSpec: SweepSpecInput): Promise<SweepSpec> {
  try {
    return await specActs.validateSpec(rawSpec);
  } catch (err) {
    const why = failureMessage(err);
    throw ApplicationFailure.nonRetryable(why.startsWith('invalid sweep spec') ? why : `invalid sweep spec: ${why}`, 'InvalidSpec');
  }
}

interface Queued {
  cell: Cell;
  /** Adaptive study: why this cell was chosen (shown in the run's details). */
  reason?: string;
  firstAttempt: number;
  /** Re-score only: the evaluate stage on what training saved. */
  mode?: 'rescore';
}

/**
 * A sweep: expands the grid and runs every cell as a `sweepRun` child in a sliding window
 * bounded by maxRuns and maxGpus; refits laws as results arrive; continues-as-new with
 * compact state. Results live in the store, never in workflow state.
 */
export async function sweep(rawSpec: SweepSpecInput, carried: SweepInputState = {}): Promise<SweepSummary> {
  // Until the spec is validated the sweep still answers `progress` (signals and updates wait in
  // Temporal's buffer for their handlers; a query would fail instead).
  if (!carried.state)
    setHandler(progressQuery, () => ({
      sweep: String((rawSpec as { name?: unknown }).name ?? ''),
      total: 0,
      byState: { pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 },
      paused: false,
      cancelling: false,
      maxRuns: 0,
      gpuHours: 0,
      recentFailures: [],
      fits: [],
      continuedAsNew: 0,
      starting: true,
    }));
  // A new sweep's spec is validated (and defaulted) by an activity; a continued one carries its normalised spec.
  let spec: SweepSpec = carried.state ? (rawSpec as SweepSpec) : await validated(rawSpec);
  const info = workflowInfo();
  const sweepId = info.workflowId;
  let cells: Cell[];
  try {
    cells = expandGrid(spec);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`invalid sweep spec: ${(e as Error).message}`, 'InvalidSpec');
  }
  const st: CarriedState = carried.state ?? {
    finished: {},
    inFlight: [],
    gpuSeconds: 0,
    runMsTotal: 0,
    runsTimed: 0,
    resultsSinceRefit: 0,
    resultsTotal: 0,
    fits: [],
    paused: false,
    maxRuns: spec.concurrency.maxRuns,
    maxGpus: spec.concurrency.maxGpus,
    continuedAsNew: 0,
    registered: false,
    startedAtMs: Date.now(),
  };
  let cellById = new Map(cells.map((c) => [c.runId, c]));
  const inFlight = new Set(st.inFlight);
  const inFlightGpus = () => [...inFlight].reduce((s, id) => s + (cellById.has(id) ? totalGpus(cellById.get(id)!.resources) : 0), 0);
  const carriedRescores = new Set(st.rescoring ?? []);
  const carriedReruns = new Map((st.requeued ?? []).map((r) => [r.runId, r.a]));
  delete st.rescoring;
  delete st.requeued;
  let queue: Queued[] = cells
    .filter((c) => !st.finished[c.runId] && !inFlight.has(c.runId))
    .map((cell) => ({
      cell,
      firstAttempt: carriedReruns.get(cell.runId) ?? 1,
      ...(carriedRescores.has(cell.runId) ? { mode: 'rescore' as const } : {}),
    }));
  // An adaptive study queues only what it proposes (proposals not yet started are proposed again).
  if (spec.strategy?.kind === 'adaptive') queue = queue.filter((q) => carriedReruns.has(q.cell.runId));
  // retryFailed's reruns go first, as they did before continue-as-new.
  queue = [...queue.filter((q) => carriedReruns.has(q.cell.runId)), ...queue.filter((q) => !carriedReruns.has(q.cell.runId))];
  let cancelling = false;
  /** The final refit and report are running: nothing new may be queued (it would be dropped). */
  let finalizing = false;
  let refitting = false;
  let lastRefitAt = Date.now();
  const recentFailures: Progress['recentFailures'] = [];

  // ---- read side: queries -------------------------------------------------------------
  const progress = (): Progress => {
    const byState: Record<RunStatus, number> = { pending: 0, running: inFlight.size, succeeded: 0, failed: 0, cancelled: 0 };
    for (const f of Object.values(st.finished)) byState[f.s]++;
    byState.pending = cells.length - byState.running - byState.succeeded - byState.failed - byState.cancelled;
    // An adaptive study that is done never runs the rest: they are skipped, not pending.
    const skipped = st.studyStop !== undefined ? byState.pending : 0;
    byState.pending -= skipped;
    const meanMs = st.runsTimed ? st.runMsTotal / st.runsTimed : undefined;
    const remaining = byState.pending + byState.running;
    return {
      sweep: spec.name,
      total: cells.length,
      byState,
      paused: st.paused,
      cancelling,
      maxRuns: st.maxRuns,
      maxGpus: st.maxGpus,
      gpuHours: st.gpuSeconds / 3600,
      etaSeconds: meanMs === undefined ? undefined : (remaining * meanMs) / Math.max(1, st.maxRuns) / 1000,
      recentFailures: recentFailures.slice(-10),
      fits: st.fits,
      ...(spec.strategy ? { study: { spentGpuHours: st.studySpent ?? 0, budgetGpuHours: spec.strategy.budget.gpuHours, skipped, ...(st.studyStop ? { stop: st.studyStop } : {}), ...(st.studyCi !== undefined ? { ciWidth: st.studyCi } : {}) } } : {}),
      ...(st.refitError ? { refitError: st.refitError } : {}),
      continuedAsNew: st.continuedAsNew,
    };
  };
  setHandler(progressQuery, progress);
  setHandler(fitQuery, () => st.fits);
  setHandler(runsQuery, (opts = {}): RunsPage => {
    const all = cells.map((c) => {
      const f = st.finished[c.runId];
      const state: RunStatus = f ? f.s : inFlight.has(c.runId) ? 'running' : 'pending';
      return { runId: c.runId, axes: c.axes, state, attempts: f?.a ?? 0, failureClass: f?.c, message: f?.m };
    });
    const sel = opts.state ? all.filter((r) => r.state === opts.state) : all;
    const offset = opts.offset ?? 0;
    return { total: sel.length, runs: sel.slice(offset, offset + (opts.limit ?? 100)) };
  });

  // ---- write side: signals and updates ------------------------------------------------
  const applyFinished = (r: RunFinished) => {
    // Only a run this sweep has in flight counts: a duplicate, or a signal from a run of another
    // execution or sweep (an orphan of a terminated one), must not skew the counts.
    if (!inFlight.has(r.runId)) return;
    inFlight.delete(r.runId);
    st.finished[r.runId] = { s: r.state, a: r.attempts, ...(r.failureClass ? { c: r.failureClass } : {}), ...(r.message && r.state !== 'succeeded' ? { m: r.message.slice(0, 200) } : {}) };
    st.gpuSeconds += r.gpuSeconds;
    st.runMsTotal += r.durationMs;
    st.runsTimed++;
    if (r.state === 'succeeded') {
      st.resultsSinceRefit++;
      st.resultsTotal++;
    } else if (r.state === 'failed') {
      recentFailures.push({ runId: r.runId, failureClass: r.failureClass, message: r.message, attempts: r.attempts });
      if (recentFailures.length > 20) recentFailures.shift();
    }
  };
  setHandler(runFinishedSignal, applyFinished);
  setHandler(pauseSignal, () => {
    st.paused = true;
  });
  setHandler(resumeSignal, () => {
    st.paused = false;
  });
  setHandler(cancelSignal, () => {
    cancelling = true;
  });
  setHandler(
    setConcurrencyUpdate,
    (c) => {
      if (c.maxRuns !== undefined) st.maxRuns = c.maxRuns;
      if (c.maxGpus !== undefined) st.maxGpus = c.maxGpus;
      return { maxRuns: st.maxRuns, maxGpus: st.maxGpus };
    },
    {
      validator: (c) => {
        if (!c || (c.maxRuns === undefined && c.maxGpus === undefined)) throw new Error('give maxRuns and/or maxGpus');
        if (c.maxRuns !== undefined && !(Number.isInteger(c.maxRuns) && c.maxRuns >= 1))
          throw new Error(`maxRuns must be an integer >= 1 (got ${c.maxRuns})`);
        if (c.maxGpus !== undefined) {
          if (!(Number.isInteger(c.maxGpus) && c.maxGpus >= 0)) throw new Error(`maxGpus must be an integer >= 0 (got ${c.maxGpus})`);
          const need = Math.max(0, ...cells.map((x) => totalGpus(x.resources)));
          if (c.maxGpus < need) throw new Error(`maxGpus ${c.maxGpus} is below the ${need} GPUs one run needs`);
        }
      },
    },
  );
  setHandler(
    retryFailedUpdate,
    (opts = {}) => {
      const rerun = cells.filter((c) => {
        const f = st.finished[c.runId];
        return f?.s === 'failed' && (!opts.failureClass || f.c === opts.failureClass);
      });
      const front: Queued[] = rerun.map((cell) => ({ cell, firstAttempt: (st.finished[cell.runId]?.a ?? 0) + 1 }));
      for (const c of rerun) delete st.finished[c.runId];
      queue = [...front, ...queue];
      return { rerun: rerun.map((c) => c.runId) };
    },
    {
      validator: (opts = {}) => {
        if (opts.failureClass !== undefined && !isFailureClass(opts.failureClass))
          throw new Error(`unknown failure class "${opts.failureClass}": one of ${FAILURE_CLASSES.join(', ')}`);
        if (cancelling) throw new Error('the sweep is being cancelled');
        if (finalizing) throw new Error('the sweep is finishing (final refit and report): re-submit it, or use `sweep retry-failed` once it has ended');
      },
    },
  );
  setHandler(
    rescoreUpdate,
    async (req) => {
      if (req?.evaluate !== undefined) spec = { ...spec, evaluate: await specActs.prepareRescore(spec.name, req.evaluate) };
      if (!spec.evaluate) throw ApplicationFailure.nonRetryable('this sweep has no evaluate stage: give one (--spec new.yaml with an evaluate block)', 'InvalidSpec');
      const only = req?.runs ? new Set(req.runs) : undefined;
      const picked = cells.filter((c) => st.finished[c.runId]?.s === 'succeeded' && (!only || only.has(c.runId)));
      for (const c of picked) delete st.finished[c.runId];
      queue = [...picked.map((cell) => ({ cell, firstAttempt: 1, mode: 'rescore' as const })), ...queue];
      return { rescoring: picked.map((c) => c.runId), evaluator: evaluatorHashOf(spec.evaluate) };
    },
    {
      validator: (req) => {
        if (cancelling) throw new Error('the sweep is being cancelled');
        if (finalizing) throw new Error('the sweep is finishing (final refit and report): re-submit it, or use `sweep retry-failed` once it has ended');
        if (req?.runs !== undefined && !(Array.isArray(req.runs) && (req.runs as unknown[]).every((r) => typeof r === 'string' && cellById.has(r as string))))
          throw new Error('runs: give run ids of this sweep');
        if (req?.evaluate === undefined && !spec.evaluate) throw new Error('this sweep has no evaluate stage: give one');
      },
    },
  );
  setHandler(
    extendUpdate,
    ({ axes }) => {
      const grid: Record<string, AxisValue[]> = { ...spec.grid };
      for (const [axis, values] of Object.entries(axes)) grid[axis] = [...grid[axis], ...values.filter((v) => !grid[axis].includes(v))];
      spec = { ...spec, grid };
      const next = expandGrid(spec);
      const added = next.filter((c) => !cellById.has(c.runId));
      cells = next;
      cellById = new Map(cells.map((c) => [c.runId, c]));
      queue = [...queue, ...added.map((cell) => ({ cell, firstAttempt: 1 }))];
      return { added: added.map((c) => c.runId) };
    },
    {
      validator: ({ axes }) => {
        if (!axes || typeof axes !== 'object' || !Object.keys(axes).length) throw new Error('give axes: {axis: [new values]}');
        for (const [axis, values] of Object.entries(axes)) {
          if (!(axis in spec.grid)) throw new Error(`"${axis}" is not an axis of this sweep (${Object.keys(spec.grid).join(', ')})`);
          if (!Array.isArray(values) || !values.length) throw new Error(`axis "${axis}": give a non-empty list of values`);
          for (const v of values)
            if (!['string', 'number', 'boolean'].includes(typeof v)) throw new Error(`axis "${axis}": values must be strings, numbers or booleans`);
        }
        const entries = Object.entries(axes as Record<string, AxisValue[]>);
        const fresh = entries.some(([axis, values]) => values.some((v) => !spec.grid[axis].includes(v)));
        if (!fresh) throw new Error('no new values: every value is already on its axis');
        if (cancelling) throw new Error('the sweep is being cancelled');
        if (finalizing) throw new Error('the sweep is finishing (final refit and report): re-submit it, or use `sweep retry-failed` once it has ended');
        const grid = { ...spec.grid };
        for (const [axis, values] of entries) grid[axis] = [...grid[axis], ...values];
        if (gridSize({ grid }) > spec.maxGridSize)
          throw new Error(`the grid would have ${gridSize({ grid })} cells, over maxGridSize ${spec.maxGridSize}`);
      },
    },
  );

  // ---- helpers ----------------------------------------------------------------------
  const launch = (q: Queued) => {
    const { cell } = q;
    inFlight.add(cell.runId);
    const sa: SearchAttributePair[] = [
      { key: SweepName, value: spec.name },
      { key: SweepId, value: sweepId },
      { key: RunId, value: cell.runId },
      // Started = running (its job is launching or queued for a slot); the run itself only
      // upserts its final state, one event fewer per run.
      { key: RunState, value: 'running' },
      ...(cell.axes.arch !== undefined ? [{ key: Arch, value: String(cell.axes.arch) }] : []),
      ...(cell.axes.dataset !== undefined ? [{ key: Dataset, value: String(cell.axes.dataset) }] : []),
      ...(typeof cell.axes.samples_per_class === 'number' ? [{ key: SamplesPerClass, value: cell.axes.samples_per_class }] : []),
    ];
    const input: RunInput = {
      sweep: spec.name,
      instance: st.instance ?? '',
      jobHash: jobHashOf(firstStageJob(spec), cell.resources),
      parentWorkflowId: sweepId,
      runId: cell.runId,
      axes: cell.axes,
      resources: cell.resources,
      spec: { job: spec.job, evaluate: spec.evaluate, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
      ...(spec.evaluate ? { evaluator: evaluatorHashOf(spec.evaluate) } : {}),
      ...(q.mode === 'rescore' ? { mode: 'rescore' as const } : {}),
      firstAttempt: q.firstAttempt,
    };
    return startChild(sweepRun, {
      workflowId: runWorkflowId(spec.name, cell.runId),
      args: [input],
      // Runs outlive continue-as-new; they report back by signal to the sweep's workflow id.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: sa,
      staticSummary: runSummary(cell.axes, cell.resources),
      staticDetails: q.reason ? `**Chosen:** ${q.reason}\n\n${runDetails(input)}` : runDetails(input),
    }).then(
      () => undefined,
      (err: unknown) => {
        // Already running (e.g. from before a restart of the sweep): it will signal us.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      },
    );
  };

  const refitLoop = async (stage: 'point' | 'bootstrap') => {
    // One entry per fit: a fit that could not run this time says why (`error`), and is tried again.
    const fits = await fitActs.refit(spec.name, stage);
    if (fits.length) st.fits = fits;
    delete st.refitError;
  };
  const maybeRefit = () => {
    if (!refitDue()) return;
    refitting = true;
    st.resultsSinceRefit = 0;
    lastRefitAt = Date.now();
    // Point fit first (fast), then the bootstrap; the main loop does not wait for either.
    refitLoop('point')
      .then(() => (spec.refit.bootstrap > 0 ? refitLoop('bootstrap') : undefined))
      // A failed live refit never stops the sweep: it is shown (details, `progress`, `sweep status`) and the next one retries.
      .catch((err: unknown) => {
        st.refitError = `live refit failed: ${failureMessage(err)}`.slice(0, 500);
      })
      .finally(() => {
        refitting = false;
        setCurrentDetails(sweepCurrentDetails(progress()));
      });
  };

  const cancelRuns = async () => {
    await CancellationScope.nonCancellable(async () => {
      queue = [];
      await Promise.all(
        [...inFlight].map((id) =>
          getExternalWorkflowHandle(runWorkflowId(spec.name, id))
            .cancel()
            .catch(() => inFlight.delete(id)),
        ),
      );
      await condition(() => inFlight.size === 0, CANCEL_GRACE_MS);
    });
  };

  const summary = (reportPath?: string): SweepSummary => {
    const p = progress();
    return { sweep: spec.name, total: p.total, byState: p.byState, gpuHours: p.gpuHours, fits: st.fits, reportPath, ...(p.study ? { study: p.study } : {}) };
  };

  // ---- main loop ----------------------------------------------------------------------
  /** Index (in a short look-ahead) of the next queued run that fits the free GPUs, or -1. */
  const nextStartable = (): number => {
    if (st.paused || !queue.length || inFlight.size >= st.maxRuns) return -1;
    // First fit in order within a short look-ahead, so one large run doesn't idle GPUs.
    const budget = st.maxGpus === undefined ? Infinity : st.maxGpus - inFlightGpus();
    return queue.slice(0, 64).findIndex((q) => totalGpus(q.cell.resources) <= budget);
  };
  // An adaptive study runs batches the `proposeNext` activity picks after each refit, until its
  // budget is spent or its target is certain enough; a grid sweep runs its whole queue.
  const adaptive = spec.strategy?.kind === 'adaptive';
  const studyDone = () => st.studyStop !== undefined;
  const allDone = () => !queue.length && !inFlight.size && (!adaptive || studyDone());
  const needBatch = () => adaptive && !studyDone() && !queue.length && !inFlight.size && !refitting && !cancelling && !st.paused;
  const nextBatch = async () => {
    if (st.resultsTotal > 0 && spec.fits.length) {
      // The batch is chosen from the fit of every result so far, with its bootstrap ensemble.
      refitting = true;
      try {
        await refitLoop('bootstrap');
        st.resultsSinceRefit = 0;
      } catch (err) {
        st.refitError = `live refit failed: ${failureMessage(err)}`.slice(0, 500);
      } finally {
        refitting = false;
      }
    }
    // The budget counts the planner's estimated GPU-hours of the runs the study starts: the unit it
    // chooses in, so it never overspends on its own estimates.
    const nb = await acts.proposeNext(spec.name, [...inFlight], st.studySpent ?? 0, spec.strategy?.batch ?? st.maxRuns);
    if (nb.ciWidth !== undefined) st.studyCi = nb.ciWidth;
    if (nb.stop !== undefined || !nb.picks.length) st.studyStop = nb.stop ?? 'nothing left to propose';
    for (const p of nb.picks) {
      const cell = cellById.get(p.runId);
      if (cell && !st.finished[p.runId] && !inFlight.has(p.runId)) {
        queue.push({ cell, firstAttempt: 1, reason: p.reason });
        st.studySpent = (st.studySpent ?? 0) + p.costGpuHours;
      }
    }
  };
  // A run closed behind the sweep's back (Terminate in the Web UI, a run timeout) sends no signal:
  // while runs are in flight, ask Temporal how they stand every reconcile interval (one query).
  const reconcileMs = durationMs(spec.reconcile?.interval ?? '2m') // a spec carried from before this field existed has none;
  let lastReconcileAt = Date.now();
  const reconcileDue = () => inFlight.size > 0 && Date.now() - lastReconcileAt >= reconcileMs;
  // Only runs in flight at the previous reconcile too are asked about: one just started may not
  // be visible yet, and asking about it would cost a describe for nothing.
  let inFlightAtLastReconcile = new Set<string>();
  const reconcile = async () => {
    lastReconcileAt = Date.now();
    const overdue = [...inFlight].filter((id) => inFlightAtLastReconcile.has(id));
    inFlightAtLastReconcile = new Set(inFlight);
    if (!overdue.length) return;
    try {
      const { finished } = await reconcileActs.reconcileRuns(sweepId, spec.name, overdue);
      for (const r of finished) applyFinished(r);
    } catch {
      // Visibility unavailable for a while: the next interval asks again; signals still arrive.
    }
  };
  const refitDue = () =>
    spec.fits.length > 0 &&
    !refitting &&
    (st.resultsSinceRefit >= spec.refit.every ||
      (spec.refit.interval !== undefined && st.resultsSinceRefit > 0 && Date.now() - lastRefitAt >= durationMs(spec.refit.interval)));

  try {
    if (!st.registered) {
      await acts.checkSearchAttributes();
      const reg = await acts.registerSweep(spec);
      const rescore = carried.rescore;
      const rescoreOnly = rescore?.runs ? new Set(rescore.runs) : undefined;
      for (const id of reg.succeeded) if (cellById.has(id) && (!rescore || (rescoreOnly && !rescoreOnly.has(id)))) st.finished[id] = { s: 'succeeded', a: 0 };
      if (rescore) {
        // Re-scoring an ended sweep: the succeeded runs get the evaluate stage; nothing else runs.
        const succeeded = new Set(reg.succeeded);
        queue = queue.filter((q) => succeeded.has(q.cell.runId) && !st.finished[q.cell.runId]).map((q) => ({ ...q, mode: 'rescore' as const }));
      }
      // A re-submitted run that failed or was cancelled before really runs again, at its next
      // attempt; `retry-failed --class` on an ended sweep reruns only the failed runs of that class.
      const only = carried.retryFailed;
      const prior = new Map<string, number>();
      for (const r of reg.rerun) {
        if (!cellById.has(r.runId)) continue;
        // A rescore reruns no failed run; retry-failed --class only its class.
        const keep =
          !!carried.rescore || (only && (r.state !== 'failed' || (only.failureClass !== undefined && r.failureClass !== only.failureClass)));
        if (keep && (r.state === 'failed' || r.state === 'cancelled'))
          st.finished[r.runId] = { s: r.state, a: r.attempts, ...(r.failureClass ? { c: r.failureClass } : {}), ...(r.message ? { m: r.message } : {}) };
        else prior.set(r.runId, r.attempts);
      }
      queue = queue
        .filter((q) => !st.finished[q.cell.runId])
        .map((q) => ({ ...q, firstAttempt: Math.max(q.firstAttempt, (prior.get(q.cell.runId) ?? 0) + 1) }));
      st.registered = true;
      st.instance = reg.instance;
      upsertMemo({ instance: reg.instance, specHash: reg.specHash, gridSize: cells.length, executor: spec.executor.kind });
    }
    upsertSearchAttributes([
      { key: SweepName, value: spec.name },
      { key: SweepId, value: sweepId },
      { key: RunState, value: 'running' },
    ]);

    for (;;) {
      if (cancelling) {
        await cancelRuns();
        break;
      }
      const starts: Promise<void>[] = [];
      for (let i = nextStartable(); i >= 0; i = nextStartable()) {
        const [q] = queue.splice(i, 1);
        starts.push(launch(q));
      }
      await Promise.all(starts);
      setCurrentDetails(sweepCurrentDetails(progress()));
      if (allDone()) break;
      if (needBatch()) {
        await nextBatch();
        continue;
      }
      maybeRefit();
      if (reconcileDue()) {
        await reconcile();
        continue;
      }
      if (workflowInfo().continueAsNewSuggested) {
        await condition(() => !refitting && allHandlersFinished());
        // A cancel that arrived while we waited is handled here, not lost in the next execution.
        if (cancelling) continue;
        st.inFlight = [...inFlight];
        st.continuedAsNew++;
        // Reruns queued by retryFailed keep their place and attempt numbers; rescores their mode.
        st.rescoring = queue.filter((q) => q.mode === 'rescore').map((q) => q.cell.runId);
        st.requeued = queue.filter((q) => q.firstAttempt > 1 && q.mode !== 'rescore').map((q) => ({ runId: q.cell.runId, a: q.firstAttempt }));
        await continueAsNew<typeof sweep>(spec, { state: st });
      }
      // Wait on the state itself, never on a flag reset after the fact: runs that finished while
      // children were being started (all of them, with fast or failing jobs) are seen here, so no
      // wake-up can be lost. The timeout re-checks a refit interval or a reconcile that has come due.
      const wake = () =>
        needBatch() ||
        cancelling || allDone() || nextStartable() >= 0 || refitDue() || workflowInfo().continueAsNewSuggested;
      const untilReconcile = inFlight.size ? Math.max(1, reconcileMs - (Date.now() - lastReconcileAt)) : undefined;
      const timeout = Math.min(spec.refit.interval ? durationMs(spec.refit.interval) : Infinity, untilReconcile ?? Infinity);
      if (Number.isFinite(timeout)) await condition(wake, timeout);
      else await condition(wake);
    }
    await condition(() => !refitting);
    finalizing = true;
    const final = await fitActs.finalizeSweep(spec.name);
    // Only fits the final refit made are reported as final; a live fit is never passed off as one.
    st.fits = final.fits;
    delete st.refitError;
    upsertSearchAttributes([{ key: RunState, value: cancelling ? 'cancelled' : 'completed' }]);
    setCurrentDetails(sweepCurrentDetails(progress()));
    return summary(final.reportPath);
  } catch (err) {
    if (isCancellation(err)) {
      cancelling = true;
      await cancelRuns();
      await CancellationScope.nonCancellable(async () => {
        upsertSearchAttributes([{ key: RunState, value: 'cancelled' }]);
        setCurrentDetails(sweepCurrentDetails(progress()));
      });
    }
    throw err;
  }
}
