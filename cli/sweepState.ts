/**
 * What the read commands (`status`, `runs`, `watch`) know about a sweep. A running sweep answers
 * its queries; an ended one (or one whose worker is down) is read from Temporal's own record of
 * it (status, result, search attributes) and the results store, so no worker is needed.
 */
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { expandGrid, SweepSpecSchema, type Cell } from '../spec';
import { openStore } from '../store/open';
import type { ResultsStore, RunRow } from '../store/types';
import {
  progressQuery,
  runsQuery,
  type FitSummary,
  type Progress,
  type RunsPage,
  type RunStatus,
  type SweepSummary,
} from '../contract';
import { RunState } from '../contract';
import { fitLine } from '../workflows/text';
import { errorText } from '../worker/connect';

/**
 * Exit codes of `sweep start --watch` and `sweep watch`: how the sweep ended. 2 stays "bad input"
 * (cli/errors.ts) and is never used for an outcome.
 */
export const EXIT_COMPLETED = 0;
export const EXIT_FAILED = 1;
export const EXIT_CANCELLED = 3;

export interface SweepOutcome {
  /** Temporal's close status (COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT) or RUNNING. */
  status: string;
  /** What a user calls it: completed, failed, cancelled (also `sweep cancel`, which completes the workflow), terminated, timed out. */
  word: string;
  exitCode: number;
}

/** The sweep's outcome from its description: `sweep cancel` completes the workflow with RunState=cancelled. */
export function sweepOutcome(desc: Pick<WorkflowExecutionDescription, 'status' | 'typedSearchAttributes'>): SweepOutcome {
  const status = desc.status.name;
  switch (status) {
    case 'COMPLETED':
      return desc.typedSearchAttributes.get(RunState) === 'cancelled'
        ? { status, word: 'cancelled', exitCode: EXIT_CANCELLED }
        : { status, word: 'completed', exitCode: EXIT_COMPLETED };
    case 'CANCELLED':
      return { status, word: 'cancelled', exitCode: EXIT_CANCELLED };
    case 'TERMINATED':
      return { status, word: 'terminated', exitCode: EXIT_CANCELLED };
    case 'TIMED_OUT':
      return { status, word: 'timed out', exitCode: EXIT_FAILED };
    case 'RUNNING':
      return { status, word: 'running', exitCode: EXIT_COMPLETED };
    default:
      return { status, word: status.toLowerCase(), exitCode: EXIT_FAILED };
  }
}

/** How long a query may wait for a worker before the store answers instead. */
export const QUERY_DEADLINE_MS = 5_000;

export const sweepNameOf = (sweepId: string) => sweepId.replace(/^sweep\//, '');

/** A query with a deadline: a sweep with no worker to answer fails it instead of hanging. */
async function tryQuery<T>(client: Client, fn: () => Promise<T>, deadlineMs = QUERY_DEADLINE_MS): Promise<T | undefined> {
  try {
    return await client.connection.withDeadline(Date.now() + deadlineMs, fn);
  } catch {
    return undefined;
  }
}

/** The results store SWEEP_DB names, opened lazily and only once per command. */
export class StoreReader {
  private store?: Promise<ResultsStore>;
  /** With `store`: read that one (the caller's, e.g. the demo's own) and leave closing it to the caller. */
  constructor(private readonly given?: ResultsStore) {}
  open(): Promise<ResultsStore> {
    if (this.given) return Promise.resolve(this.given);
    this.store ??= openStore();
    return this.store;
  }
  async close(): Promise<void> {
    if (this.store) await (await this.store).close().catch(() => undefined);
  }
}

interface StoredSweep {
  runs: RunRow[];
  /** Cells of the grid when the stored spec can be expanded (runs never started are pending). */
  cells?: Cell[];
  maxRuns: number;
  maxGpus?: number;
  /** An adaptive study: the cells it never started are skipped once it has stopped, not pending. */
  adaptive?: { budgetGpuHours: number };
}

async function storedSweep(reader: StoreReader, name: string): Promise<StoredSweep | undefined> {
  const store = await reader.open();
  const row = await store.getSweep(name);
  if (!row) return undefined;
  const runs = await store.listRuns(name);
  const parsed = SweepSpecSchema.safeParse(row.spec);
  let cells: Cell[] | undefined;
  if (parsed.success) {
    try {
      cells = expandGrid(parsed.data, { maxGridSize: parsed.data.maxGridSize });
    } catch {
      cells = undefined; // a spec the store kept but cannot be expanded: count the store's runs only
    }
  }
  return {
    runs,
    cells,
    maxRuns: parsed.success ? parsed.data.concurrency.maxRuns : 0,
    maxGpus: parsed.success ? parsed.data.concurrency.maxGpus : undefined,
    ...(parsed.success && parsed.data.strategy?.kind === 'adaptive' ? { adaptive: { budgetGpuHours: parsed.data.strategy.budget.gpuHours } } : {}),
  };
}

/** The summary a completed sweep returned (undefined for any other outcome, or a summary of another shape). */
async function completedSummary(handle: WorkflowHandle, outcome: SweepOutcome): Promise<SweepSummary | undefined> {
  if (outcome.status !== 'COMPLETED') return undefined;
  try {
    const summary = (await handle.result()) as SweepSummary;
    return summary && typeof summary === 'object' ? summary : undefined;
  } catch {
    return undefined;
  }
}

/** Fits of an ended sweep: the final summary if it completed, else the store's latest versions. */
async function endedFits(summary: SweepSummary | undefined, reader: StoreReader, name: string): Promise<FitSummary[]> {
  if (Array.isArray(summary?.fits)) return summary.fits;
  const rows = await (await reader.open()).latestFits(name);
  if (!rows.length) return [];
  const { summarizeFit } = await import('../activities/refit');
  const out: FitSummary[] = [];
  for (const r of rows) {
    try {
      out.push(summarizeFit(r.fit as Parameters<typeof summarizeFit>[0], r.stage, r.version));
    } catch {
      /* a fit row of another shape: leave it out of the summary */
    }
  }
  return out;
}

/**
 * Progress from the store, of a sweep that has ended (or whose worker does not answer): an
 * adaptive study that ended never runs the cells it did not start, so they are skipped, with the
 * budget it spent as its summary says.
 */
function progressFromStore(name: string, s: StoredSweep, fits: FitSummary[], ended: boolean, summary?: SweepSummary): Progress {
  const byState: Record<RunStatus, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  for (const r of s.runs) byState[r.state]++;
  const known = new Set(s.runs.map((r) => r.runId));
  const unstarted = s.cells ? s.cells.filter((c) => !known.has(c.runId)).length : 0;
  const skipped = s.adaptive && ended ? unstarted : 0;
  byState.pending += unstarted - skipped;
  const study: Progress['study'] = s.adaptive
    ? { ...(summary?.study ?? { spentGpuHours: NaN, budgetGpuHours: s.adaptive.budgetGpuHours }), skipped }
    : undefined;
  const failures = s.runs
    .filter((r) => r.state === 'failed')
    .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt))
    .slice(-20)
    .map((r) => ({ runId: r.runId, failureClass: r.failureClass, message: r.message, attempts: r.attempts }));
  return {
    sweep: name,
    total: s.runs.length + unstarted,
    byState,
    paused: false,
    cancelling: false,
    maxRuns: s.maxRuns,
    maxGpus: s.maxGpus,
    gpuHours: s.runs.reduce((sum, r) => sum + r.gpuSeconds, 0) / 3600,
    recentFailures: failures,
    fits,
    ...(study ? { study } : {}),
    continuedAsNew: 0,
  };
}

export interface SweepView {
  desc: WorkflowExecutionDescription;
  outcome: SweepOutcome;
  progress: Progress;
  /** Where the numbers come from: the workflow's query, or the results store (no worker answered, or ended). */
  source: 'workflow' | 'store';
}

const noRecordMessage = (sweepId: string, outcome: SweepOutcome) =>
  `${sweepId} is ${outcome.word} and no worker answered its query, and the results store ` +
  `(SWEEP_DB=${process.env.SWEEP_DB || '.sweep/results.db'}) has no sweep "${sweepNameOf(sweepId)}": ` +
  'point SWEEP_DB at the store its worker used, or start a worker (`sweep worker`).';

/** The sweep's progress: its live query while it runs and a worker answers, else the store. */
export async function sweepView(client: Client, sweepId: string, reader: StoreReader, desc?: WorkflowExecutionDescription): Promise<SweepView> {
  const handle = client.workflow.getHandle(sweepId);
  desc ??= await handle.describe();
  const outcome = sweepOutcome(desc);
  const name = sweepNameOf(sweepId);
  if (outcome.status === 'RUNNING') {
    const p = await tryQuery(client, () => handle.query(progressQuery));
    if (p) return { desc, outcome, progress: p, source: 'workflow' };
  }
  const stored = await storedSweep(reader, name);
  if (stored) {
    const summary = await completedSummary(handle, outcome);
    const progress = progressFromStore(name, stored, await endedFits(summary, reader, name), outcome.status !== 'RUNNING', summary);
    return { desc, outcome, progress, source: 'store' };
  }
  // Not in this store: a worker elsewhere may still replay it for a query.
  if (outcome.status !== 'RUNNING') {
    const p = await tryQuery(client, () => handle.query(progressQuery));
    if (p) return { desc, outcome, progress: p, source: 'workflow' };
  }
  throw new Error(noRecordMessage(sweepId, outcome));
}

/**
 * The sweep's runs (optionally in one state), from the store, which has every run; the `runs`
 * query (which answers for the sweep's window only) when this store does not know the sweep.
 */
export async function sweepRuns(
  client: Client,
  sweepId: string,
  reader: StoreReader,
  state?: RunStatus | 'skipped',
): Promise<{ page: RunsPage; outcome: SweepOutcome; source: 'workflow' | 'store' }> {
  const handle = client.workflow.getHandle(sweepId);
  const outcome = sweepOutcome(await handle.describe());
  const name = sweepNameOf(sweepId);
  const stored = await storedSweep(reader, name);
  if (!stored) {
    // The query lists no skipped cell: only the store knows them.
    const page = state === 'skipped' ? undefined : await tryQuery(client, () => handle.query(runsQuery, { state, limit: 100_000 }));
    if (page) return { page, outcome, source: 'workflow' };
    throw new Error(noRecordMessage(sweepId, outcome));
  }
  const known = new Set(stored.runs.map((r) => r.runId));
  // An adaptive study that has stopped (its sweep ended, or its study is done) never starts the rest.
  const studyStopped =
    !!stored.adaptive &&
    (outcome.status !== 'RUNNING' || (await tryQuery(client, () => handle.query(progressQuery)))?.study?.stop !== undefined);
  const unstartedState = studyStopped ? ('skipped' as const) : ('pending' as const);
  const all: RunsPage['runs'] = [
    ...stored.runs.map((r) => ({ runId: r.runId, axes: r.axes, state: r.state, attempts: r.attempts, failureClass: r.failureClass, message: r.message })),
    ...(stored.cells ?? []).filter((c) => !known.has(c.runId)).map((c) => ({ runId: c.runId, axes: c.axes, state: unstartedState, attempts: 0 })),
  ];
  const runs = state ? all.filter((r) => r.state === state) : all;
  return { page: { total: runs.length, runs }, outcome, source: 'store' };
}

/** Why a FAILED sweep failed (its failure message), for the last line of `watch`. */
export async function failureReason(client: Client, sweepId: string): Promise<string | undefined> {
  try {
    await client.workflow.getHandle(sweepId).result();
    return undefined;
  } catch (e) {
    return errorText(e).replace(/^Workflow execution failed: /, '').slice(0, 500);
  }
}

/**
 * One line per fit: exponents, points left out (`nExcluded`), or why it could not run (`error`).
 * The same line the sweep's current details in the Web UI show (workflows/text.ts).
 */
export const fitStatusLine = (f: FitSummary): string => fitLine(f);
