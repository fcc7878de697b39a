import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  makeContinueAsNewFunc,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  WorkflowIdReusePolicy,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type SearchAttributePair, type UpdateDefinition } from '@temporalio/common';
import type { Activities } from '../activities';
import type { VetRule } from '../contract';
// Zod-free modules only: workflow code is re-initialised for every run, and schema construction is costly.
import { expandGrid, gridSize, totalGpus, type Cell } from '../spec/grid';
import { durationMs } from '../spec/duration';
import { jobHashOf } from '../spec/identity';
import { evaluatorHashOf, firstStageJob } from '../spec/stages';
import { FAILURE_CLASSES, isFailureClass, type FailureClass } from '../spec/failure';
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
  type CarriedStateV1,
  type Progress,
  type ResubmitRule,
  type RunsPage,
  type RunFinished,
  type RunInput,
  type SweepInputState,
  type SweepSummary,
} from '../contract';
import { Arch, Dataset, RunId, RunState, SamplesPerClass, SweepId, SweepName } from '../contract';
import { sweepRun } from './sweepRun';
import { freshState, fromV1 } from './carried';
import { axisLengths, Ledger, orderAcrossExtensions, type PageRequest, type Start } from './ledger';
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

/**
 * Patch: an adaptive study charges a proposal's cost when the run starts, not when it is queued
 * (queued proposals are not carried through continue-as-new: charged early, they were paid twice).
 */
const STUDY_CHARGED_AT_START = 'study-charged-at-start';

/** Patch: an `extend` writes the grown grid into the stored spec. */
const STORED_EXTENSIONS = 'stored-extensions';

/** Patch: an `extend` stores the grown grid before the sweep takes it (a failed write changes neither), one at a time. */
const EXTEND_STORED_FIRST = 'extend-stored-first';

/** Patch: the sweep ends only once its handlers are done and nothing they queued is left. */
const FINISH_AFTER_HANDLERS = 'finish-after-handlers';

/** Patch: a retry pass vets runs in flight too, and reruns one whose failure it picked when its signal comes. */
const PASSES_AWAIT_IN_FLIGHT = 'passes-await-in-flight';

/** Patch: a page vetted for a pass that was replaced meanwhile is dropped (the new pass scans again). */
const PAGE_OF_ITS_PASS = 'page-of-its-pass';

/** Patch: no live refit starts when continue-as-new is due (it would hold the next execution's starts). */
const NO_REFIT_BEFORE_CONTINUE = 'no-refit-before-continue';

/** Patch: a rerun whose run's last execution has not closed yet (it has signalled) waits for it, then starts. */
const RERUN_WAITS_FOR_CLOSE = 'rerun-waits-for-close';
/**
 * The end of another sweep's execution of a run in flight here (another instance, or another job
 * definition: a terminated sweep's run still going when this one met it open at its start) is not
 * this run's end: the run starts again once that execution closes. Before, it counted as this one's.
 */
const FOREIGN_FINISH = 'foreign-finish';
/** Longest wait between a waiting rerun's starts (1 s, doubling). */
const RERUN_START_MAX_DELAY_MS = 10_000;

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

/** A cell in grid order, with the GPUs it holds while it runs (nodes x GPUs). */
type RunCell = Cell & { gpus: number };

/**
 * Child starts per execution before continuing as new: pending children stay far below Temporal's
 * 2,000, and a history stays small enough (about 3,000 events) that a replay after an eviction
 * takes seconds, not the 10 s workflow-task timeout, on a loaded 2-core machine.
 */
export const MAX_CHILD_STARTS_PER_EXECUTION = 500;
/** retryFailed and rescore ask the store which runs to rerun (before: a per-run map the sweep carried). */
const STORE_BACKED_RERUNS = 'store-backed-reruns';
/** Run ids an update answers with (its count says how many there are in all). */
const MAX_IDS_IN_ANSWER = 1000;

type Registration = Awaited<ReturnType<Activities['registerSweep']>>;
/** What `registerSweep` answered before this release (still in the histories of sweeps that started then). */
interface RegistrationV1 {
  specHash: string;
  instance: string;
  succeeded: string[];
  rerun: { runId: string; attempts: number; state: string; failureClass?: FailureClass; message?: string }[];
}

/** An earlier release's registration, as that release's per-run state (what it made of it). */
function registrationAsV1(reg: RegistrationV1, rule: ResubmitRule, ledger: Ledger<RunCell>): Pick<CarriedStateV1, 'finished' | 'inFlight' | 'requeued' | 'rescoring'> {
  const finished: CarriedStateV1['finished'] = {};
  const only = rule.rescore?.runs ? new Set(rule.rescore.runs) : undefined;
  for (const id of reg.succeeded) if (ledger.has(id) && (!rule.rescore || (only && !only.has(id)))) finished[id] = { s: 'succeeded', a: 0 };
  const requeued: { runId: string; a: number }[] = [];
  for (const r of reg.rerun) {
    if (!ledger.has(r.runId)) continue;
    const f = rule.retryFailed;
    const keep = !!rule.rescore || (f && (r.state !== 'failed' || (f.failureClass !== undefined && r.failureClass !== f.failureClass)));
    if (keep && (r.state === 'failed' || r.state === 'cancelled'))
      finished[r.runId] = { s: r.state, a: r.attempts, ...(r.failureClass ? { c: r.failureClass } : {}), ...(r.message ? { m: r.message } : {}) };
    else requeued.push({ runId: r.runId, a: r.attempts + 1 });
  }
  const rescoring = rule.rescore ? reg.succeeded.filter((id) => ledger.has(id) && !finished[id]) : [];
  return { finished, inFlight: [], requeued, rescoring };
}

/** The grid order, across the sweep's extensions (each one's new cells after the last's). */
function gridOrder(spec: SweepSpec, extensions: readonly Record<string, number>[]): RunCell[] {
  // Fields written out, not spread: the bundle's spread helper costs a few microseconds a cell.
  return orderAcrossExtensions(spec.grid, extensions, (grid) =>
    expandGrid({ ...spec, grid }).map((c) => ({ runId: c.runId, axes: c.axes, resources: c.resources, gpus: totalGpus(c.resources) })),
  );
}

/**
 * A sweep: expands the grid and runs every cell as a `sweepRun` child in a sliding window
 * bounded by maxRuns and maxGpus; refits laws as results arrive; continues-as-new carrying
 * O(window) state (workflows/ledger.ts). Results and per-run states live in the store.
 */
export async function sweep(rawSpec: SweepSpecInput, carried: SweepInputState = {}): Promise<SweepSummary> {
  /** The update handlers, once the spec is validated (an update that came earlier waits for them). */
  const updates = new Map<string, { validate(args: unknown[]): void; run(args: unknown[]): unknown }>();
  const onUpdate = <Ret, Args extends unknown[]>(
    def: UpdateDefinition<Ret, Args>,
    handler: (...args: Args) => Ret | Promise<Ret>,
    options?: { validator: (...args: Args) => void },
  ) => {
    updates.set(def.name, { validate: (args) => options?.validator(...(args as Args)), run: (args) => handler(...(args as Args)) });
    setHandler(def, handler, options);
  };
  // Until the spec is validated the sweep still answers `progress`, and updates wait for their
  // handlers: Temporal buffers signals until a handler is set, but rejects an update that finds
  // none at the end of the activation ("No registered handler").
  if (!carried.state)
    for (const def of [setConcurrencyUpdate, retryFailedUpdate, rescoreUpdate, extendUpdate] as UpdateDefinition<unknown, unknown[]>[])
      setHandler(def, async (...args: unknown[]) => {
        await condition(() => updates.has(def.name));
        const real = updates.get(def.name)!;
        try {
          real.validate(args);
        } catch (e) {
          // Thrown from a handler, only a Temporal failure fails the update (anything else fails the task).
          throw ApplicationFailure.nonRetryable((e as Error).message, 'InvalidUpdate');
        }
        return real.run(args);
      });
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
  const sweepId = workflowInfo().workflowId;
  const adaptive = spec.strategy?.kind === 'adaptive';
  // Decided once per execution (a marker in new histories; replayed ones keep what they did).
  const chargeAtStart = adaptive && patched(STUDY_CHARGED_AT_START);
  const prior = carried.state;
  let order: RunCell[];
  try {
    order = gridOrder(spec, prior?.v === 2 ? prior.extensions : []);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`invalid sweep spec: ${(e as Error).message}`, 'InvalidSpec');
  }
  let st: CarriedState = !prior ? freshState(spec, Date.now()) : prior.v === 2 ? prior : fromV1(prior, order, adaptive);
  const awaitInFlight = patched(PASSES_AWAIT_IN_FLIGHT);
  let ledger = new Ledger(st, order, { proposalsOnly: adaptive, awaitInFlight });
  /**
   * How the runs that ended in this execution (and, for a state an earlier release carried, before
   * it) ended: memory only, never carried. Only the handlers of histories recorded before the
   * store-backed reruns (`patched` below) read it, to do what that release did.
   */
  const endedHere = new Map<string, { s: 'succeeded' | 'failed' | 'cancelled'; a: number; c?: string }>(
    prior && prior.v !== 2 ? Object.entries(prior.finished).map(([id, f]) => [id, { s: f.s, a: f.a, c: f.c }]) : [],
  );
  let maxCellGpus = order.reduce((m, c) => Math.max(m, c.gpus), 0);
  let cancelling = false;
  /** The final refit and report are running: nothing new may be queued (it would be dropped). */
  let finalizing = false;
  let refitting = false;
  /** An extend is writing its grid to the store. */
  let extending = false;
  /** Updates still at work (an update may call an activity): the sweep does not end under one. */
  let updatesRunning = 0;
  let startsThisExecution = 0;
  let continuing = false;
  let lastRefitAt = Date.now();
  const limits = () => ({ paused: st.paused, maxRuns: st.maxRuns, maxGpus: st.maxGpus });
  const notFinishing = () => {
    if (cancelling) throw new Error('the sweep is being cancelled');
    if (finalizing) throw new Error('the sweep is finishing (final refit and report): re-submit it, or use `sweep retry-failed` once it has ended');
  };
  const counting = async <T>(fn: () => Promise<T>): Promise<T> => {
    updatesRunning++;
    try {
      return await fn();
    } finally {
      updatesRunning--;
    }
  };

  /**
   * retryFailed / rescore as the release before store-backed reruns did them, for histories it
   * recorded: the runs it knew ended so, in grid order, to the front of the queue.
   */
  const rerunEndedHere = (state: 'failed' | 'succeeded', failureClass?: string, runs?: string[]) => {
    const only = runs ? new Set(runs) : undefined;
    const picked = expandGrid(spec).filter((c) => {
      const e = endedHere.get(c.runId);
      return e?.s === state && (state !== 'failed' || !failureClass || e.c === failureClass) && (!only || only.has(c.runId));
    });
    ledger.requeue(
      picked.map((c) => ({
        id: c.runId,
        a: state === 'failed' ? endedHere.get(c.runId)!.a + 1 : 1,
        prior: state,
        ...(state === 'succeeded' ? { m: 'rescore' as const } : {}),
      })),
    );
    for (const c of picked) endedHere.delete(c.runId);
    return { rerun: picked.map((c) => c.runId), count: picked.length };
  };

  // ---- read side: queries -------------------------------------------------------------
  const progress = (): Progress => {
    const byState = ledger.byState();
    // An adaptive study that is done never runs the rest: they are skipped, not pending.
    const skipped = st.studyStop !== undefined ? byState.pending : 0;
    byState.pending -= skipped;
    const meanMs = st.runsTimed ? st.runMsTotal / st.runsTimed : undefined;
    const remaining = byState.pending + byState.running;
    return {
      sweep: spec.name,
      total: order.length,
      byState,
      paused: st.paused,
      cancelling,
      maxRuns: st.maxRuns,
      maxGpus: st.maxGpus,
      gpuHours: st.gpuSeconds / 3600,
      etaSeconds: meanMs === undefined ? undefined : (remaining * meanMs) / Math.max(1, st.maxRuns) / 1000,
      recentFailures: st.recentFailures.map((f) => ({ ...f, failureClass: f.failureClass as FailureClass | undefined })),
      fits: st.fits,
      ...(spec.strategy ? { study: { spentGpuHours: st.studySpent ?? 0, budgetGpuHours: spec.strategy.budget.gpuHours, skipped, ...(st.studyStop ? { stop: st.studyStop } : {}), ...(st.studyCi !== undefined ? { ciWidth: st.studyCi } : {}), ...(st.studyTarget ? { target: st.studyTarget } : {}) } } : {}),
      ...(st.refitError ? { refitError: st.refitError } : {}),
      continuedAsNew: st.continuedAsNew,
      ...(continuing ? { continuing } : {}),
    };
  };
  setHandler(progressQuery, progress);
  setHandler(fitQuery, () => st.fits);
  setHandler(runsQuery, (opts = {}): RunsPage => {
    // The window only: runs in flight and the last failures. The store has every run.
    const running = ledger.inFlightIds().map((id) => ({ runId: id, axes: ledger.cellOf(id)?.axes ?? {}, state: 'running' as const, attempts: 0 }));
    const failed = st.recentFailures.map((f) => ({
      runId: f.runId,
      axes: ledger.cellOf(f.runId)?.axes ?? {},
      state: 'failed' as const,
      attempts: f.attempts,
      failureClass: f.failureClass as FailureClass | undefined,
      message: f.message,
    }));
    const listed = !opts.state ? [...running, ...failed] : opts.state === 'running' ? running : opts.state === 'failed' ? failed : [];
    const total = opts.state ? ledger.byState()[opts.state] : order.length;
    const offset = opts.offset ?? 0;
    return {
      total,
      runs: listed.slice(offset, offset + (opts.limit ?? 100)),
      ...(listed.length < total ? { note: `the sweep lists runs in flight and its last ${st.recentFailures.length} failures; every run: \`sweep runs ${spec.name}\`` } : {}),
    };
  });

  // ---- write side: signals and updates ------------------------------------------------
  const queuedRescoreIds = () => st.passes.reduce((n, p) => n + (p.kind === 'rescore' && p.runs ? p.runs.length : 0), 0);
  /** A pass, from an update handler: a full queue (updates accepted together) fails the update, not the sweep. */
  const queuePass = (pass: Parameters<typeof ledger.addPass>[0]) => {
    try {
      ledger.addPass(pass);
    } catch (e) {
      throw ApplicationFailure.nonRetryable((e as Error).message, 'InvalidUpdate');
    }
  };
  const cellHash = (cell: Cell) => jobHashOf(firstStageJob(spec), cell.resources);
  /** The instance this sweep's runs carry ('' until the store registered it). */
  const ownInstance = () => st.instance ?? '';
  /** A signal from a run this sweep did not start: another instance's, or of another job definition. */
  const foreign = (r: RunFinished) => {
    const cell = ledger.cellOf(r.runId);
    return (r.instance !== undefined && r.instance !== ownInstance()) || (r.jobHash !== undefined && cell !== undefined && r.jobHash !== cellHash(cell));
  };
  const applyFinished = (r: RunFinished) => {
    if (ledger.isInFlight(r.runId) && foreign(r) && patched(FOREIGN_FINISH)) {
      // Our start met that execution open: ours starts when it closes (a rerun meets it open and
      // waits); its attempts, in our store when the instance is ours, keep their numbers. Else our
      // own run is going (started once that one closed), and its own end will come.
      if (ledger.startMetOpen(r.runId)) ledger.restart(r.runId, r.instance === ownInstance() ? r.attempts + 1 : 1);
      return;
    }
    if (!ledger.finished(r)) return;
    endedHere.set(r.runId, { s: r.state, a: r.attempts, c: r.failureClass });
    st.gpuSeconds += r.gpuSeconds;
    st.runMsTotal += r.durationMs;
    st.runsTimed++;
    if (r.state === 'succeeded') {
      st.resultsSinceRefit++;
      st.resultsTotal++;
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
  onUpdate(
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
          if (c.maxGpus < maxCellGpus) throw new Error(`maxGpus ${c.maxGpus} is below the ${maxCellGpus} GPUs one run needs`);
        }
      },
    },
  );
  onUpdate(
    retryFailedUpdate,
    (opts = {}) =>
      counting(async () => {
        if (!patched(STORE_BACKED_RERUNS)) return rerunEndedHere('failed', opts.failureClass);
        // A pass over the grid reruns what had failed by now; the store says which runs those are.
        const before = Date.now();
        // A run the store has as failed has ended, even if its signal has not reached us yet: the pass
        // will pick it, so the answer counts it too.
        const sel = await acts.selectRuns(spec.name, { state: 'failed', failureClass: opts.failureClass, before }, MAX_IDS_IN_ANSWER);
        if (sel.count) queuePass({ kind: 'retry', ...(opts.failureClass ? { failureClass: opts.failureClass } : {}), before, at: 0 });
        return { rerun: sel.runIds, count: sel.count };
      }),
    {
      validator: (opts = {}) => {
        if (opts.failureClass !== undefined && !isFailureClass(opts.failureClass))
          throw new Error(`unknown failure class "${opts.failureClass}": one of ${FAILURE_CLASSES.join(', ')}`);
        notFinishing();
        if (!ledger.canAddPass({ kind: 'retry', failureClass: opts.failureClass })) throw new Error('too many reruns are queued already: wait for them to start');
      },
    },
  );
  onUpdate(
    rescoreUpdate,
    (req) =>
      counting(async () => {
        if (req?.evaluate !== undefined) spec = { ...spec, evaluate: await specActs.prepareRescore(spec.name, req.evaluate) };
        if (!spec.evaluate) throw ApplicationFailure.nonRetryable('this sweep has no evaluate stage: give one (--spec new.yaml with an evaluate block)', 'InvalidSpec');
        if (!patched(STORE_BACKED_RERUNS)) {
          const { rerun, count } = rerunEndedHere('succeeded', undefined, req?.runs);
          return { rescoring: rerun, count, evaluator: evaluatorHashOf(spec.evaluate) };
        }
        const sel = await acts.selectRuns(spec.name, { state: 'succeeded', runs: req?.runs }, MAX_IDS_IN_ANSWER);
        // Checked again: other updates may have queued passes while the store answered.
        if (req?.runs && queuedRescoreIds() + req.runs.length > MAX_IDS_IN_ANSWER)
          throw ApplicationFailure.nonRetryable(`runs: at most ${MAX_IDS_IN_ANSWER} run ids queued for rescoring in all: wait for them to start`, 'InvalidUpdate');
        if (sel.count) queuePass({ kind: 'rescore', ...(req?.runs ? { runs: req.runs } : {}), at: 0 });
        return { rescoring: sel.runIds, count: sel.count, evaluator: evaluatorHashOf(spec.evaluate) };
      }),
    {
      validator: (req) => {
        notFinishing();
        if (req?.runs !== undefined) {
          if (!Array.isArray(req.runs) || req.runs.length > MAX_IDS_IN_ANSWER)
            throw new Error(`runs: give at most ${MAX_IDS_IN_ANSWER} run ids of this sweep (or none, for every succeeded run)`);
          if (!(req.runs as unknown[]).every((r) => typeof r === 'string' && ledger.has(r))) throw new Error('runs: give run ids of this sweep');
          // The queued passes' run ids are carried through continue-as-new: their total is bounded, not 8 x 1,000.
          const queuedIds = queuedRescoreIds();
          if (queuedIds + req.runs.length > MAX_IDS_IN_ANSWER)
            throw new Error(`runs: ${queuedIds} run ids are queued for rescoring already; at most ${MAX_IDS_IN_ANSWER} in all: wait for them to start, or rescore every succeeded run (no runs)`);
        }
        if (req?.evaluate === undefined && !spec.evaluate) throw new Error('this sweep has no evaluate stage: give one');
        if (!ledger.canAddPass({ kind: 'rescore' })) throw new Error('too many reruns are queued already: wait for them to start');
      },
    },
  );
  onUpdate(
    extendUpdate,
    ({ axes }) => {
      const grow = () => {
        const grid: Record<string, AxisValue[]> = { ...spec.grid };
        for (const [axis, values] of Object.entries(axes)) grid[axis] = [...grid[axis], ...values.filter((v) => !grid[axis].includes(v))];
        return grid;
      };
      const apply = (grid: Record<string, AxisValue[]>) => {
        const before = axisLengths(spec.grid);
        spec = { ...spec, grid };
        const oldLength = order.length;
        order = gridOrder(spec, [...st.extensions, before]);
        ledger.extend(order, before);
        maxCellGpus = order.reduce((m, c) => Math.max(m, c.gpus), 0);
        const added = order.slice(oldLength);
        return { added: added.slice(0, MAX_IDS_IN_ANSWER).map((c) => c.runId), count: added.length };
      };
      if (!patched(STORED_EXTENSIONS)) return apply(grow());
      if (!patched(EXTEND_STORED_FIRST)) {
        const grid = grow();
        const answer = apply(grid);
        return counting(async () => {
          await condition(() => !!st.registered);
          await specActs.recordGrid(spec.name, grid);
          return answer;
        });
      }
      // The grown grid goes into the store first (an adaptive study proposes from the stored spec),
      // then into the sweep: a failed write leaves both as they were. One extend at a time, each
      // growing the grid as it is then, so the store always ends with the sweep's grid.
      return counting(async () => {
        // After the sweep's registration (which stores the spec it has then), never racing it. A
        // condition wakes every waiter whose test holds at once: each looks again before it takes the turn.
        while (!st.registered || extending) await condition(() => !!st.registered && !extending);
        extending = true;
        try {
          const grid = grow();
          const size = gridSize({ grid });
          if (size > spec.maxGridSize) throw ApplicationFailure.nonRetryable(`the grid would have ${size} cells, over maxGridSize ${spec.maxGridSize}`, 'InvalidUpdate');
          if (size === order.length) return { added: [], count: 0 };
          await specActs.recordGrid(spec.name, grid);
          return apply(grid);
        } finally {
          extending = false;
        }
      });
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
        notFinishing();
        const grid = { ...spec.grid };
        for (const [axis, values] of entries) grid[axis] = [...grid[axis], ...values];
        if (gridSize({ grid }) > spec.maxGridSize)
          throw new Error(`the grid would have ${gridSize({ grid })} cells, over maxGridSize ${spec.maxGridSize}`);
      },
    },
  );

  // ---- helpers ----------------------------------------------------------------------
  const launch = (s: Start) => {
    const cell = order[s.index];
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
      instance: ownInstance(),
      jobHash: cellHash(cell),
      parentWorkflowId: sweepId,
      runId: cell.runId,
      axes: cell.axes,
      resources: cell.resources,
      spec: { job: spec.job, evaluate: spec.evaluate, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
      ...(spec.evaluate ? { evaluator: evaluatorHashOf(spec.evaluate) } : {}),
      ...(s.mode === 'rescore' ? { mode: 'rescore' as const } : {}),
      firstAttempt: s.firstAttempt,
    };
    const start = () =>
      startChild(sweepRun, {
        workflowId: runWorkflowId(spec.name, cell.runId),
        args: [input],
        // Runs outlive continue-as-new; they report back by signal to the sweep's workflow id.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: sa,
        staticSummary: runSummary(cell.axes, cell.resources, s.reason),
        staticDetails: s.reason ? `**Chosen:** ${s.reason}\n\n${runDetails(input)}` : runDetails(input),
      });
    return start().then(
      () => undefined,
      (err: unknown) => {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        // A first start: already running from before a restart of the sweep, it will signal us
        // (or, another sweep's run, it will not count: see FOREIGN_FINISH).
        if (!s.rerun) return ledger.metOpen(cell.runId);
        if (!patched(RERUN_WAITS_FOR_CLOSE)) return;
        // A rerun (retryFailed, rescore) follows its run's last execution, which has signalled its
        // end but not closed yet: its start waits for that close, off the main loop.
        void startWhenClosed(cell.runId, start);
      },
    );
  };

  /** Reruns whose start waits for their run's last execution to close (continue-as-new waits for them). */
  const startingReruns = new Set<string>();
  const startWhenClosed = async (runId: string, start: () => Promise<unknown>) => {
    startingReruns.add(runId);
    try {
      for (let delayMs = 1000; ; delayMs = Math.min(RERUN_START_MAX_DELAY_MS, delayMs * 2)) {
        await sleep(delayMs);
        if (cancelling) {
          ledger.finished({ runId, state: 'cancelled', attempts: 0 });
          return;
        }
        try {
          await start();
          return;
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) continue;
          // Not startable at all: the run fails, it does not sit in flight with no workflow.
          applyFinished({ runId, state: 'failed', attempts: 0, failureClass: 'unknown', message: `its rerun could not start: ${failureMessage(err)}`.slice(0, 300), gpuSeconds: 0, durationMs: 0 });
          return;
        }
      }
    } catch {
      // Only the sleep throws here: the sweep itself is being cancelled, and the rerun never starts.
      ledger.finished({ runId, state: 'cancelled', attempts: 0 });
    } finally {
      startingReruns.delete(runId);
    }
  };

  /** Asks the store which cells of a page start (a pass's reruns, or a re-submitted sweep's cells at the cursor). */
  const vetPage = async (page: PageRequest) => {
    const pass = page.pass >= 0 ? st.passes[page.pass] : undefined;
    const vet: VetRule = !pass
      ? { kind: 'resubmit', rule: st.resubmit ?? {} }
      : pass.kind === 'retry'
        ? { kind: 'retry', before: pass.before, ...(pass.failureClass && isFailureClass(pass.failureClass) ? { failureClass: pass.failureClass } : {}) }
        : { kind: 'rescore', ...(pass.runs ? { runs: pass.runs } : {}) };
    const cells = page.ids.map((id) => ({ id, h: cellHash(ledger.cellOf(id)!) }));
    const picks = cells.length ? await acts.vetCells(spec.name, vet, cells) : [];
    // A retryFailed of the same class replaced the pass while the store vetted its page: the new
    // pass scans from the start, and this page's cursor is not its own.
    if (!ledger.isCurrent(page) && patched(PAGE_OF_ITS_PASS)) return;
    ledger.acceptPage(page, picks);
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
      ledger.clearQueue();
      await Promise.all(
        ledger.inFlightIds().map((id) =>
          getExternalWorkflowHandle(runWorkflowId(spec.name, id))
            .cancel()
            .catch(() => ledger.finished({ runId: id, state: 'cancelled', attempts: 0 })),
        ),
      );
      await condition(() => ledger.inFlightCount === 0, CANCEL_GRACE_MS);
    });
  };

  const summary = (reportPath?: string): SweepSummary => {
    const p = progress();
    return { sweep: spec.name, total: p.total, byState: p.byState, gpuHours: p.gpuHours, fits: st.fits, reportPath, ...(p.study ? { study: p.study } : {}) };
  };

  // ---- main loop ----------------------------------------------------------------------
  // An adaptive study runs batches the `proposeNext` activity picks after each refit, until its
  // budget is spent or its target is certain enough; a grid sweep runs its whole grid.
  const studyDone = () => st.studyStop !== undefined;
  const allDone = () => !ledger.hasQueued() && ledger.inFlightCount === 0 && updatesRunning === 0 && (!adaptive || studyDone());
  const needBatch = () =>
    adaptive && !studyDone() && !ledger.hasQueued() && ledger.inFlightCount === 0 && !refitting && !cancelling && !st.paused && updatesRunning === 0;
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
    const nb = await acts.proposeNext(spec.name, ledger.inFlightIds(), st.studySpent ?? 0, spec.strategy?.batch ?? st.maxRuns);
    if (nb.ciWidth !== undefined) st.studyCi = nb.ciWidth;
    if (nb.target) st.studyTarget = nb.target;
    if (nb.stop !== undefined || !nb.picks.length) st.studyStop = nb.stop ?? 'nothing left to propose';
    if (chargeAtStart) ledger.propose(nb.picks);
    else {
      const queued = new Set(ledger.propose(nb.picks.map(({ costGpuHours: _, ...p }) => p)));
      for (const p of nb.picks) if (queued.has(p.runId)) st.studySpent = (st.studySpent ?? 0) + p.costGpuHours;
    }
  };
  // A run closed behind the sweep's back (Terminate in the Web UI, a run timeout) sends no signal:
  // while runs are in flight, ask Temporal how they stand every reconcile interval (one query).
  const reconcileMs = durationMs(spec.reconcile?.interval ?? '2m'); // a spec carried from before this field existed has none
  let lastReconcileAt = Date.now();
  const reconcileDue = () => ledger.inFlightCount > 0 && Date.now() - lastReconcileAt >= reconcileMs;
  // Only runs in flight at the previous reconcile too are asked about: one just started may not
  // be visible yet, and asking about it would cost a describe for nothing.
  let inFlightAtLastReconcile = new Set<string>();
  const reconcile = async () => {
    lastReconcileAt = Date.now();
    const now = ledger.inFlightIds();
    // A rerun waiting to start has no workflow of its own yet: its old one, closed, is not its end.
    const overdue = now.filter((id) => inFlightAtLastReconcile.has(id) && !startingReruns.has(id));
    inFlightAtLastReconcile = new Set(now);
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
  const continueDue = () =>
    workflowInfo().continueAsNewSuggested ||
    startsThisExecution >= MAX_CHILD_STARTS_PER_EXECUTION ||
    // Worker Versioning: a new current version: move to it soon (the state carried is small).
    !!workflowInfo().targetWorkerDeploymentVersionChanged;

  try {
    if (!st.registered) {
      await acts.checkSearchAttributes();
      const rule: ResubmitRule = {
        ...(carried.retryFailed ? { retryFailed: carried.retryFailed } : {}),
        ...(carried.rescore ? { rescore: carried.rescore } : {}),
      };
      const reg: Registration | RegistrationV1 = await acts.registerSweep(spec, rule);
      if ('counts' in reg) {
        for (const k of ['succeeded', 'failed', 'cancelled'] as const) ledger.countDone(k, reg.counts[k]);
        // A re-submission: the store says, page by page, which cells run again and at which attempt.
        if (reg.resubmitted || carried.retryFailed || carried.rescore) {
          st.vetMain = true;
          st.resubmit = rule;
        }
      } else {
        // An earlier release's answer, replayed from its history: its per-run lists, read as that release's state.
        st = fromV1({ ...st, ...registrationAsV1(reg, rule, ledger) }, order, adaptive);
        ledger = new Ledger(st, order, { proposalsOnly: adaptive, awaitInFlight });
      }
      st.registered = true;
      st.instance = reg.instance;
      upsertMemo({ instance: reg.instance, specHash: reg.specHash, gridSize: order.length, executor: spec.executor.kind });
    }
    upsertSearchAttributes([
      { key: SweepName, value: spec.name },
      { key: SweepId, value: sweepId },
      { key: RunState, value: 'running' },
    ]);

    // The outer loop: a retryFailed or extend accepted while the last refit ran, after the runs
    // had ended, queued more; it runs before the final refit, never dropped by it.
    const finishAfterHandlers = patched(FINISH_AFTER_HANDLERS);
    for (;;) {
      for (;;) {
        if (cancelling) {
          await cancelRuns();
          break;
        }
        const page = ledger.pageNeeded();
        if (page) {
          await vetPage(page);
          continue;
        }
        const starts: Promise<void>[] = [];
        for (let s = ledger.nextStart(limits()); s && !continueDue(); s = ledger.nextStart(limits())) {
          starts.push(launch(s));
          ledger.started(s);
          if (s.cost !== undefined) st.studySpent = (st.studySpent ?? 0) + s.cost;
          startsThisExecution++;
        }
        await Promise.all(starts);
        setCurrentDetails(sweepCurrentDetails(progress()));
        if (allDone()) break;
        if (needBatch()) {
          await nextBatch();
          continue;
        }
        // Not when continuing: the wait for the refit would hold every start; the next execution refits.
        if (!(continueDue() && patched(NO_REFIT_BEFORE_CONTINUE))) maybeRefit();
        if (reconcileDue()) {
          await reconcile();
          continue;
        }
        if (continueDue()) {
          continuing = true;
          await condition(() => !refitting && allHandlersFinished() && startingReruns.size === 0);
          continuing = false;
          // A cancel that arrived while we waited is handled here, not lost in the next execution.
          if (cancelling) continue;
          st.continuedAsNew++;
          await continueOnCurrentVersion(spec, { state: ledger.snapshot() as CarriedState });
        }
        // Wait on the state itself, never on a flag reset after the fact: runs that finished while
        // children were being started (all of them, with fast or failing jobs) are seen here, so no
        // wake-up can be lost. The timeout re-checks a refit interval or a reconcile that has come due.
        const wake = () =>
          needBatch() ||
          cancelling ||
          allDone() ||
          ledger.pageNeeded() !== undefined ||
          ledger.nextStart(limits()) !== undefined ||
          refitDue() ||
          continueDue();
        const untilReconcile = ledger.inFlightCount ? Math.max(1, reconcileMs - (Date.now() - lastReconcileAt)) : undefined;
        const timeout = Math.min(spec.refit.interval ? durationMs(spec.refit.interval) : Infinity, untilReconcile ?? Infinity);
        if (Number.isFinite(timeout)) await condition(wake, timeout);
        else await condition(wake);
      }
      if (!finishAfterHandlers) break;
      await condition(() => !refitting && allHandlersFinished());
      if (cancelling || allDone()) break;
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

/**
 * Worker Versioning (a versioned worker pins every execution to its build, worker/index.ts):
 * at continue-as-new the sweep moves to the deployment's current version. An unversioned
 * worker must not name a versioning behavior (the server refuses the command).
 */
const upgradingContinueAsNew = makeContinueAsNewFunc<typeof sweep>({ initialVersioningBehavior: 'AUTO_UPGRADE' });
const continueOnCurrentVersion: typeof upgradingContinueAsNew = (...args) =>
  workflowInfo().currentDeploymentVersion ? upgradingContinueAsNew(...args) : continueAsNew<typeof sweep>(...args);
