import { ApplicationFailure, Context, heartbeat, cancellationSignal } from '@temporalio/activity';
import type { Connection } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { canonicalJson, EvaluateSchema, parseJobResult, shortHash, SweepSpecSchema, type AxisValue, type EvaluateTemplate, type FailureClass, type JobResult, type SweepSpec } from '../spec';
import { SpecError, validateSweepSpec } from '../spec/load';
import type { AttemptRow, ResultRow, ResultsStore, RunState } from '../store/types';
import type { Executor, JobOutcome, JobPhase, LaunchRequest } from './executors/types';
import type { FitSummary, SweepSummary } from '../contract';
import { SEARCH_ATTRIBUTES } from '../contract';
import { refitSweep, type RefitStage } from './refit';
import { reconcileRuns, type ReconcileResult } from './reconcile';
import { planResubmission, selectRuns, vetCells, type ResubmitRule, type VetPick, type VetRule } from './resubmission';
import { proposeNext, type NextBatch } from './propose';
import { log } from './logger';

export interface ActivityDeps {
  store: ResultsStore;
  executors: Partial<Record<Executor['kind'], Executor>>;
  /** For checks against the Temporal server (search attributes). */
  connection?: Connection;
  namespace?: string;
  /** Where reports go (default: out/). */
  reportDir?: string;
}

export interface AttemptResult {
  ok: boolean;
  failureClass?: FailureClass;
  message?: string;
  /** The failure's class is in the sweep's `retry.retryOn` (the workflow checks the attempt budget). */
  retryable: boolean;
  gpuSeconds: number;
}

const now = () => new Date().toISOString();

/**
 * What an executor's error during launch or watch means for the attempt, for both stages: a job
 * the cluster refused (invalid spec, name taken by another run) fails the run, retrying can't
 * help; an API that kept failing (infrastructure) or a job that vanished (JobGoneError, node-lost)
 * is an attempt failure retried by the sweep's policy; anything else is the activity's to retry.
 */
function launchFailure(err: unknown): JobOutcome {
  const e = err as Error & { failureClass?: FailureClass };
  if (e.name === 'JobRejectedError' || e.name === 'JobNameConflictError') throw ApplicationFailure.nonRetryable(e.message, e.name);
  if (e.failureClass !== 'infrastructure' && e.name !== 'JobGoneError') throw err;
  return { status: 'failed', failureClass: e.failureClass ?? 'infrastructure', message: e.message, gpuSeconds: 0 };
}

/** Activities close over their dependencies (store, executors), as in Temporal's samples. */
export function createActivities(deps: ActivityDeps) {
  const executorFor = (req: LaunchRequest): Executor => {
    const ex = deps.executors[req.spec.executor.kind];
    if (!ex)
      throw ApplicationFailure.nonRetryable(
        `this worker has no ${req.spec.executor.kind} executor: start a worker with --executor ${req.spec.executor.kind}`,
        'NoExecutor',
      );
    return ex;
  };

  /** Launches (or, if launched before, re-attaches to) the attempt's job and records it running. */
  const launchJob = async (
    req: LaunchRequest,
    prior: AttemptRow | undefined,
  ): Promise<{ jobName: string; startedAt: string }> => {
    // Launched before (a retried activity after a worker crash): re-attach only, never start it twice.
    const launched = await executorFor(req).launch(req, { adoptOnly: prior?.state === 'running' });
    // An adopted job keeps the start time its first launch recorded.
    const startedAt = (launched.adopted ? prior?.startedAt : undefined) ?? now();
    // The attempt and its run are marked running together (one transaction), so neither lags the other.
    await deps.store.launchAttempt({
      attempt: {
        sweep: req.sweep,
        runId: req.runId,
        attempt: req.attempt,
        jobName: launched.jobName,
        jobHash: req.jobHash,
        state: 'running',
        startedAt,
        gpuSeconds: 0,
      },
      run: {
        sweep: req.sweep,
        runId: req.runId,
        axes: req.axes,
        state: 'running',
        attempts: req.attempt,
        jobHash: req.jobHash,
        gpus: req.resources.gpus,
        gpuSeconds: 0,
        updatedAt: now(),
      },
    });
    log.info({ runId: req.runId, attempt: req.attempt, job: launched.jobName, adopted: launched.adopted }, 'launched');
    return { jobName: launched.jobName, startedAt };
  };

  /** Waits for the attempt's job to end, heartbeating its phase (the UI and retries see it). */
  const watchJob = async (req: LaunchRequest): Promise<JobOutcome> => {
    const ex = executorFor(req);
    let last: JobPhase = { phase: 'pending' };
    const beat = setInterval(() => heartbeat(last), 1000);
    try {
      heartbeat(last);
      return await ex.watch(
        req,
        (p) => {
          last = p;
          heartbeat(p);
        },
        cancellationSignal(),
      );
    } finally {
      clearInterval(beat);
    }
  };

  /**
   * Records how an attempt ended; on success validates and stores the result (a bad
   * result fails the run as `bad-result`, never the sweep). Says whether to retry.
   */
  const failed = (
    req: LaunchRequest,
    failureClass: FailureClass,
    message: string | undefined,
    gpuSeconds: number,
  ): AttemptResult => ({
    ok: false,
    failureClass,
    message,
    retryable: req.spec.retry.retryOn.includes(failureClass),
    gpuSeconds,
  });

  const finishAttempt = async (
    req: LaunchRequest,
    outcome: JobOutcome,
    launched: { jobName: string; startedAt: string; history: AttemptRow[] },
  ): Promise<AttemptResult> => {
    let res: AttemptResult;
    let result: ResultRow | undefined;
    if (outcome.status === 'succeeded') {
      const parsed = parseJobResult(outcome.resultText, req.spec.metrics);
      if (parsed.ok) {
        result = {
          sweep: req.sweep,
          runId: req.runId,
          attempt: req.attempt,
          axes: req.axes,
          result: parsed.result,
          jobHash: req.jobHash,
          gpuSeconds: outcome.gpuSeconds,
          recordedAt: now(),
        };
        // A job that resumed from its checkpoint says where (the synthetic trainer and the digits
        // example report `resumed_from_epoch`): `sweep runs` and the run's details show it.
        const from = parsed.result.metrics.resumed_from_epoch;
        const note = typeof from === 'number' && req.attempt > 1 ? `attempt ${req.attempt} resumed at epoch ${from}` : undefined;
        res = { ok: true, retryable: false, gpuSeconds: outcome.gpuSeconds, ...(note ? { message: note } : {}) };
      } else {
        res = failed(req, 'bad-result', parsed.reason, outcome.gpuSeconds);
      }
    } else {
      res = failed(req, outcome.failureClass, outcome.message, outcome.gpuSeconds);
    }
    const gpuSeconds =
      launched.history.reduce((sum, a) => sum + (a.attempt === req.attempt ? 0 : a.gpuSeconds), 0) + outcome.gpuSeconds;
    // Result, attempt and run in one transaction: a crash between them can leave no run
    // `running` whose attempt is recorded, and a replay after a crash completes it.
    await deps.store.finishAttempt({
      result,
      attempt: {
        sweep: req.sweep,
        runId: req.runId,
        attempt: req.attempt,
        jobName: launched.jobName,
        jobHash: req.jobHash,
        state: res.ok ? 'succeeded' : 'failed',
        failureClass: res.failureClass,
        message: res.message,
        exitCode: outcome.status === 'failed' ? outcome.exitCode : 0,
        startedAt: launched.startedAt,
        finishedAt: now(),
        gpuSeconds: outcome.gpuSeconds,
      },
      run: {
        sweep: req.sweep,
        runId: req.runId,
        axes: req.axes,
        // Trained, but the evaluate stage is still to come: the run is not done yet.
        state: res.ok ? (req.evaluateNext ? 'running' : 'succeeded') : res.retryable ? 'running' : 'failed',
        attempts: req.attempt,
        jobHash: req.jobHash,
        failureClass: res.failureClass,
        message: res.message,
        gpus: req.resources.gpus,
        gpuSeconds,
        updatedAt: now(),
      },
    });
    log.info(
      { runId: req.runId, attempt: req.attempt, ok: res.ok, failureClass: res.failureClass, retryable: res.retryable },
      'attempt finished',
    );
    return res;
  };

  /**
   * One evaluate attempt: scores the run's checkpoints (or the model its axes name) with the
   * training result in SWEEP_TRAIN_RESULT. Recorded per (run, evaluator), never as a training
   * attempt; an evaluation already made is returned as it is, without a launch.
   */
  const evaluateAttempt = async (req: LaunchRequest): Promise<AttemptResult & { jobName: string }> => {
    const evaluator = req.evaluator ?? '';
    const [prior] = await deps.store.listEvaluations(req.sweep, { runId: req.runId, evaluator });
    if (prior?.state === 'succeeded') return { ok: true, retryable: false, gpuSeconds: 0, jobName: `${req.runId}-e${evaluator}` };
    const train = (await deps.store.listResults(req.sweep)).find((r) => r.runId === req.runId);
    const full: LaunchRequest = { ...req, resume: false, ...(train ? { trainResult: JSON.stringify(train.result) } : {}) };
    const base = {
      sweep: req.sweep,
      runId: req.runId,
      evaluator,
      attempts: req.attempt,
      jobHash: req.jobHash,
      gpuSeconds: prior?.gpuSeconds ?? 0,
    };
    const beat = setInterval(() => heartbeat({ phase: 'pending' }), 1000);
    let jobName = `${req.runId}-e${evaluator}-a${req.attempt}`;
    let outcome: JobOutcome;
    try {
      try {
        const launched = await executorFor(full).launch(full, { adoptOnly: prior?.state === 'running' && prior.attempts === req.attempt });
        jobName = launched.jobName;
      } finally {
        clearInterval(beat);
      }
      await deps.store.upsertEvaluation({ ...base, state: 'running', updatedAt: now() });
      outcome = await watchJob(full);
    } catch (err) {
      outcome = launchFailure(err);
    }
    if (cancellationSignal().aborted) throw new CancelledFailure('attempt cancelled');
    let res: AttemptResult;
    let result: JobResult | undefined;
    if (outcome.status === 'succeeded') {
      const parsed = parseJobResult(outcome.resultText, req.spec.metrics);
      if (parsed.ok) {
        result = parsed.result;
        res = { ok: true, retryable: false, gpuSeconds: outcome.gpuSeconds };
      } else res = failed(req, 'bad-result', parsed.reason, outcome.gpuSeconds);
    } else res = failed(req, outcome.failureClass, outcome.message, outcome.gpuSeconds);
    await deps.store.upsertEvaluation({
      ...base,
      state: res.ok ? 'succeeded' : 'failed',
      failureClass: res.failureClass,
      message: res.message,
      result,
      gpuSeconds: base.gpuSeconds + outcome.gpuSeconds,
      updatedAt: now(),
    });
    const run = await deps.store.getRun(req.sweep, req.runId);
    await deps.store.upsertRun({
      sweep: req.sweep,
      runId: req.runId,
      axes: req.axes,
      state: res.ok ? 'succeeded' : res.retryable ? 'running' : 'failed',
      attempts: run?.attempts ?? 0,
      failureClass: res.failureClass,
      message: res.message ? `evaluate: ${res.message}` : undefined,
      gpus: run?.gpus ?? req.resources.gpus,
      gpuSeconds: (run?.gpuSeconds ?? 0) + outcome.gpuSeconds,
      updatedAt: now(),
    });
    log.info({ runId: req.runId, evaluator, attempt: req.attempt, ok: res.ok, failureClass: res.failureClass }, 'evaluation finished');
    return { ...res, jobName };
  };

  return {
    /** Fails fast, with the fix, when the namespace lacks our search attributes. */
    async checkSearchAttributes(): Promise<void> {
      if (!deps.connection) return;
      const res = await deps.connection.operatorService.listSearchAttributes({
        namespace: deps.namespace ?? 'default',
      });
      const have = new Set(Object.keys(res.customAttributes ?? {}));
      const missing = SEARCH_ATTRIBUTES.filter((k) => !have.has(k.name));
      if (missing.length)
        throw ApplicationFailure.nonRetryable(
          `search attributes missing on namespace "${deps.namespace ?? 'default'}": ${missing.map((k) => k.name).join(', ')}. ` +
            `Register them with \`npx sweep setup\` (or start the dev server with ` +
            `${missing.map((k) => `--search-attribute ${k.name}=${k.type === 'INT' ? 'Int' : 'Keyword'}`).join(' ')}).`,
          'MissingSearchAttributes',
        );
    },

    /**
     * Validates a sweep spec (schema, semantics, grid size) and applies its defaults: outside
     * the workflow, so workflow code never loads the schema library.
     */
    async validateSpec(raw: unknown): Promise<SweepSpec> {
      try {
        return validateSweepSpec(raw, 'sweep spec');
      } catch (e) {
        if (!(e instanceof SpecError)) throw e;
        const problems = e.problems.map((p) => `${p.path || '(spec)'}: ${p.message}`).join('; ');
        throw ApplicationFailure.nonRetryable(
          `invalid sweep spec: ${problems}. Check it with \`sweep validate\`.`,
          'InvalidSpec',
        );
      }
    },

    /**
     * Records the sweep and says what this submission reuses: the runs already succeeded with
     * the same job definition are skipped; every other run the store knows really runs again,
     * at its next attempt number, instead of replaying a stale outcome. Gives a sweep that this
     * store has not seen before a new instance, so no attempt of another sweep of its name is adopted.
     */
    async registerSweep(
      spec: SweepSpec,
      rule: ResubmitRule = {},
    ): Promise<{ specHash: string; instance: string; counts: Record<'succeeded' | 'failed' | 'cancelled', number>; resubmitted: boolean }> {
      const specHash = shortHash(canonicalJson(spec));
      const existing = await deps.store.getSweep(spec.name);
      const plan = await planResubmission(deps.store, spec, rule);
      await deps.store.upsertSweep({ name: spec.name, specHash, spec, instanceId: plan.instance, createdAt: existing?.createdAt ?? now() });
      // First writer wins: read back the instance the store keeps.
      const instance = (await deps.store.getSweep(spec.name))?.instanceId ?? plan.instance;
      // Counts only: which cell runs is asked page by page (`vetCells`), so no answer grows with the sweep.
      log.info(
        { sweep: spec.name, instance, reused: plan.reused.length, rerun: plan.rerun.length, jobChanged: plan.rerun.filter((r) => r.why === 'job-changed').length },
        'sweep registered',
      );
      return { specHash, instance, counts: plan.counts, resubmitted: plan.known > 0 };
    },

    /** Which cells of a page start, and at which attempt (the sweep carries a cursor, the store every run's state). */
    async vetCells(sweep: string, vet: VetRule, cells: { id: string; h: string }[]): Promise<VetPick[]> {
      if (cells.length > 1000) throw ApplicationFailure.nonRetryable(`vetCells: at most 1000 cells a page (got ${cells.length})`);
      return vetCells(deps.store, sweep, vet, cells);
    },

    /** A count and the first ids of the sweep's runs in one state: what retryFailed and rescore answer. */
    async selectRuns(sweep: string, q: Parameters<typeof selectRuns>[2], limit: number): Promise<{ count: number; runIds: string[] }> {
      return selectRuns(deps.store, sweep, q, Math.min(limit, 10_000));
    },

    /**
     * One attempt, start to end: launch the job (idempotent: after a worker crash the retried
     * activity adopts the running job), watch it while heartbeating its phase, then validate
     * and record how it ended. One activity per attempt keeps the per-run overhead small.
     */
    async runAttempt(req: LaunchRequest): Promise<AttemptResult & { jobName: string }> {
      if (req.stage === 'evaluate') return evaluateAttempt(req);
      // One read of the run's attempts serves the whole attempt.
      const history = await deps.store.listAttempts(req.sweep, req.runId);
      // An earlier attempt of the same job definition saved checkpoints to resume from.
      req = { ...req, resume: history.some((a) => a.attempt < req.attempt && (a.jobHash === undefined || a.jobHash === req.jobHash)) };
      const prior = history.find((a) => a.attempt === req.attempt);
      // Already recorded (the worker died after recording, before reporting): never launch again.
      if (prior && (prior.state === 'succeeded' || prior.state === 'failed')) {
        const res = prior.failureClass ? failed(req, prior.failureClass, prior.message, prior.gpuSeconds) : undefined;
        return { ...(res ?? { ok: true, retryable: false, gpuSeconds: prior.gpuSeconds }), jobName: prior.jobName };
      }
      // Heartbeat from the start: a launch may wait for a free slot (a queued GPU job).
      const beat = setInterval(() => heartbeat({ phase: 'pending' }), 1000);
      let launched = { jobName: `${req.runId}-a${req.attempt}`, startedAt: prior?.startedAt ?? now() };
      let outcome: JobOutcome;
      try {
        try {
          launched = await launchJob(req, prior);
        } finally {
          clearInterval(beat);
        }
        outcome = await watchJob(req);
      } catch (err) {
        outcome = launchFailure(err);
      }
      // Cancelled (the sweep is being cancelled): the workflow records the run as cancelled.
      if (cancellationSignal().aborted) throw new CancelledFailure('attempt cancelled');
      // The run's workflow was closed behind the sweep's back and the sweep has recorded it (and
      // stopped its job): this activity of the closed run has not heard yet, and must not undo that.
      const now_ = (await deps.store.listAttempts(req.sweep, req.runId)).find((a) => a.attempt === req.attempt);
      if (now_?.state === 'failed' && now_.failureClass === 'terminated')
        return { ...failed(req, 'terminated', now_.message, now_.gpuSeconds), jobName: launched.jobName };
      return { ...(await finishAttempt(req, outcome, { ...launched, history })), jobName: launched.jobName };
    },

    /** Finds the in-flight runs closed without telling the sweep (DESIGN: failure class `terminated`). */
    async reconcileRuns(sweepWorkflowId: string, sweep: string, inFlight: string[]): Promise<ReconcileResult> {
      if (!deps.connection) return { finished: [], calls: 0 };
      return reconcileRuns(
        { store: deps.store, executors: deps.executors, connection: deps.connection, namespace: deps.namespace ?? 'default' },
        sweepWorkflowId,
        sweep,
        inFlight,
      );
    },

    /**
     * A rescore's new evaluate block: validated (a bad one fails the update with the field named,
     * never the sweep) and recorded in the store's copy of the spec, which refits and re-submissions read.
     */
    async prepareRescore(sweep: string, raw: unknown): Promise<EvaluateTemplate> {
      const parsed = EvaluateSchema.safeParse(raw);
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        throw ApplicationFailure.nonRetryable(`invalid evaluate block: evaluate.${i.path.join('.')}: ${i.message}`, 'InvalidSpec');
      }
      const row = await deps.store.getSweep(sweep);
      if (row) await deps.store.upsertSweep({ ...row, spec: { ...(row.spec as object), evaluate: parsed.data } });
      return parsed.data;
    },

    /**
     * An `extend` update's grid, into the stored spec: what reads the spec (an adaptive study's
     * proposals, a refit's population weights, `sweep status` and `runs`, a later retry) sees the new cells.
     */
    async recordGrid(sweep: string, grid: Record<string, AxisValue[]>): Promise<void> {
      const row = await deps.store.getSweep(sweep);
      if (row) await deps.store.upsertSweep({ ...row, spec: { ...(row.spec as object), grid } });
    },

    /** The next batch of an adaptive study, or why it is done (DESIGN data flow step 3). */
    async proposeNext(sweep: string, inFlight: string[], spentGpuHours: number, batch: number): Promise<NextBatch> {
      return proposeNext(deps.store, sweep, inFlight, spentGpuHours, batch);
    },

    /** Whether the run already has this evaluator's scores, and how many evaluate attempts it spent. */
    async evaluationStatus(sweep: string, runId: string, evaluator: string): Promise<{ succeeded: boolean; attempts: number }> {
      const [ev] = await deps.store.listEvaluations(sweep, { runId, evaluator });
      return { succeeded: ev?.state === 'succeeded', attempts: ev?.attempts ?? 0 };
    },

    async cancelJob(req: LaunchRequest): Promise<void> {
      await executorFor(req).cancel(req);
    },

    /** Final state of a run that ended without a result of this attempt (cancelled). */
    async markRun(req: LaunchRequest, state: RunState, message?: string, failureClass?: FailureClass): Promise<void> {
      const run = await deps.store.getRun(req.sweep, req.runId);
      await deps.store.upsertRun({
        sweep: req.sweep,
        runId: req.runId,
        axes: req.axes,
        state,
        attempts: Math.max(run?.attempts ?? 0, req.attempt),
        failureClass: failureClass ?? run?.failureClass,
        message: message ?? run?.message,
        gpus: req.resources.gpus,
        gpuSeconds: run?.gpuSeconds ?? 0,
        updatedAt: now(),
      });
      const attempts = await deps.store.listAttempts(req.sweep, req.runId);
      for (const a of attempts.filter(
        (x) => x.state === 'running' || (state === 'cancelled' && x.attempt === req.attempt),
      ))
        await deps.store.upsertAttempt({
          ...a,
          state: 'cancelled',
          finishedAt: now(),
          message: message ?? 'cancelled',
        });
    },

    /** Refits the sweep's laws from the store (DESIGN step 5). */
    async refit(sweep: string, stage: RefitStage): Promise<FitSummary[]> {
      const spec = SweepSpecSchema.parse((await deps.store.getSweep(sweep))?.spec);
      return refitSweep(deps.store, spec, stage, () => Context.current().heartbeat());
    },

    /** Final refit with the full bootstrap, and the report. */
    async finalizeSweep(sweep: string): Promise<Pick<SweepSummary, 'fits' | 'reportPath'>> {
      const spec = SweepSpecSchema.parse((await deps.store.getSweep(sweep))?.spec);
      const fits = await refitSweep(deps.store, spec, 'final', () => Context.current().heartbeat());
      const { writeSweepReport } = await import('./report');
      const reportPath = await writeSweepReport(deps.store, spec, deps.reportDir ?? 'out', fits);
      return { fits, reportPath };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
