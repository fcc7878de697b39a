/**
 * The sweep's bookkeeping, pure (no Temporal, no I/O): which cell starts next, what is in
 * flight, the counts by state, and what continue-as-new carries. The workflow drives it and
 * asks the store (through activities) whatever is per run.
 *
 * What is carried is O(window), never O(runs): a cursor into the grid order (every cell before
 * it has been started or skipped), the few cells started ahead of it (first-fit look-ahead),
 * the in-flight set, counters, the last few failures, and the re-run passes (retryFailed,
 * rescore) with their own cursors. Which cells failed or succeeded lives in the store: a pass
 * pages through the grid and asks the store which of a page's cells it reruns.
 */

import type { DoneState, Failure, LedgerState, Pass, Vetted } from '../contract';

export type { DoneState, Failure, LedgerState, Pass, Vetted };

/** A cell the ledger can start: its run id and the GPUs it holds while it runs. */
export interface LedgerCell {
  runId: string;
  gpus: number;
}

/** The next start the window allows. */
export interface Start {
  index: number;
  firstAttempt: number;
  mode?: 'rescore';
  reason?: string;
  /** An adaptive study's proposal: its estimated GPU-hours, charged to the budget when it starts. */
  cost?: number;
  /** A pass's rerun (retryFailed, rescore) of a run that has run before in this sweep. */
  rerun?: true;
}

/** A page of run ids the store must vet before they can start. */
export interface PageRequest {
  /** -1: the main cursor of a re-submitted sweep; else the pass's index. */
  pass: number;
  ids: string[];
  /** Where the pass (or the main vetting) goes on after this page. */
  next: number;
  /** The pass the page is of (in this execution's memory: a pass replaced meanwhile is not it). */
  of?: Pass;
}

export const PAGE = 200;
/** How far past the cursor the look-ahead may start cells: bounds `ahead`. */
export const AHEAD_SPAN = 256;
/** Queued cells examined for a first fit. */
export const LOOKAHEAD = 64;
export const MAX_RECENT_FAILURES = 10;
export const MAX_PASSES = 8;

export const emptyLedger = (vetMain = false): LedgerState => ({
  v: 2,
  cursor: 0,
  ahead: [],
  inFlight: [],
  done: { succeeded: 0, failed: 0, cancelled: 0 },
  reruns: [],
  passes: [],
  vetMain,
  recentFailures: [],
  extensions: [],
});

export interface WindowLimits {
  paused: boolean;
  maxRuns: number;
  maxGpus?: number;
}

/**
 * The ledger over one grid order. `state` is the carried plain object, changed in place;
 * indexes over it (sets, the vetted page) are rebuilt on construction.
 */
export class Ledger<C extends LedgerCell> {
  private readonly ahead: Set<number>;
  private readonly inFlight: Map<string, number>;
  private indexOf: Map<string, number>;
  /** Main-cursor cells the store vetted (a re-submitted sweep): start, or skip (undefined). */
  private readonly vettedMain = new Map<number, Vetted | undefined>();
  private vettedMainUpTo = 0;
  /** Adaptive study: cells proposed and not started (not carried: a new execution proposes again). */
  private proposals: (Start & { gpus: number })[] = [];
  /** Cells only an adaptive study's proposals start (the cursor never moves). */
  readonly proposalsOnly: boolean;
  /** A retry pass also vets runs in flight, and reruns those whose failure it picked once their signal comes. */
  private readonly awaitInFlight: boolean;
  constructor(
    readonly state: LedgerState,
    private order: readonly C[],
    opts: { proposalsOnly?: boolean; awaitInFlight?: boolean } = {},
  ) {
    this.proposalsOnly = !!opts.proposalsOnly;
    this.awaitInFlight = !!opts.awaitInFlight;
    this.ahead = new Set(state.ahead);
    this.inFlight = new Map(state.inFlight.map((r) => [r.id, r.g]));
    // Carried from before the field: whether those runs' starts met an open execution is not known.
    state.metOpen ??= state.inFlight.map((r) => r.id);
    this.indexOf = indexById(order);
    this.vettedMainUpTo = state.cursor;
  }

  get cells(): readonly C[] {
    return this.order;
  }
  cellOf(id: string): C | undefined {
    const i = this.indexOf.get(id);
    return i === undefined ? undefined : this.order[i];
  }
  has(id: string): boolean {
    return this.indexOf.has(id);
  }
  isInFlight(id: string): boolean {
    return this.inFlight.has(id);
  }
  inFlightIds(): string[] {
    return [...this.inFlight.keys()];
  }
  get inFlightCount(): number {
    return this.inFlight.size;
  }
  inFlightGpus(): number {
    let s = 0;
    for (const g of this.inFlight.values()) s += g;
    return s;
  }

  /** Counts by state; `pending` is everything neither running nor done. */
  byState(): Record<'pending' | 'running' | DoneState, number> {
    const d = this.state.done;
    const running = this.inFlight.size;
    return { pending: Math.max(0, this.order.length - running - d.succeeded - d.failed - d.cancelled), running, ...d };
  }

  /** Counted as done without running (a re-submission's reused or kept runs). */
  countDone(state: DoneState, n: number): void {
    this.state.done[state] += n;
  }

  // ---- what runs next ------------------------------------------------------------------

  /** Whether anything is left to start (or to vet before starting). */
  hasQueued(): boolean {
    // (An awaiting pick is in flight: it is not queued until its signal comes.)
    return this.state.reruns.length > 0 || this.proposals.length > 0 || this.state.passes.length > 0 || this.mainLeft();
  }
  private mainLeft(): boolean {
    if (this.proposalsOnly) return false;
    return this.state.cursor < this.order.length;
  }

  /** The page the store must vet before more can start, if the window is waiting on one. */
  pageNeeded(): PageRequest | undefined {
    if (!this.state.reruns.length && this.state.passes.length) {
      const pass = this.state.passes[0];
      const end = this.passEnd();
      const ids: string[] = [];
      let i = pass.at;
      for (; i < end && ids.length < PAGE; i++) {
        const id = this.order[i].runId;
        // A run in flight may have failed already (the store has it; its signal is on its way).
        if (this.inFlight.has(id) && !(this.awaitInFlight && pass.kind === 'retry')) continue;
        if (!this.proposalsOnly && i >= this.state.cursor && !this.ahead.has(i)) continue;
        if (pass.kind === 'rescore' && pass.runs && !pass.runs.includes(id)) continue;
        ids.push(id);
      }
      return { pass: 0, ids, next: i, of: pass };
    }
    if (this.state.vetMain && !this.proposalsOnly && this.vettedMainUpTo < Math.min(this.order.length, this.state.cursor + AHEAD_SPAN)) {
      // Vet only as far as the look-ahead can reach, so a page is never wasted.
      const look = this.candidates(LOOKAHEAD);
      if (look.length >= LOOKAHEAD) return undefined;
      const ids: string[] = [];
      let i = this.vettedMainUpTo;
      const stop = Math.min(this.order.length, this.state.cursor + AHEAD_SPAN);
      for (; i < stop && ids.length < PAGE; i++) if (!this.ahead.has(i)) ids.push(this.order[i].runId);
      return { pass: -1, ids, next: i };
    }
    return undefined;
  }

  /**
   * Where a pass ends: it scans only cells that have started (the others cannot have failed or
   * succeeded). An adaptive study starts cells anywhere in the order: its passes scan it all.
   */
  private passEnd(): number {
    if (this.proposalsOnly) return this.order.length;
    let end = this.state.cursor;
    for (const i of this.ahead) end = Math.max(end, i + 1);
    return Math.min(this.order.length, end);
  }

  /**
   * Whether a page is still its pass's: a retryFailed of the same class replaces the pass while
   * the store vets the page, and the new pass, scanning from the start, must not take its cursor.
   */
  isCurrent(req: PageRequest): boolean {
    return req.pass < 0 || this.state.passes[req.pass] === req.of;
  }

  /** The store's answer for a page: the cells it starts (the rest of the page is skipped). */
  acceptPage(req: PageRequest, picks: (Vetted & { prior?: DoneState })[]): void {
    const wanted = new Set(req.ids);
    if (req.pass === -1) {
      const byId = new Map(picks.filter((p) => wanted.has(p.id)).map((p) => [p.id, p]));
      for (const id of req.ids) {
        const i = this.indexOf.get(id);
        if (i !== undefined) this.vettedMain.set(i, byId.get(id));
      }
      this.vettedMainUpTo = Math.max(this.vettedMainUpTo, req.next);
      this.advanceCursor();
      return;
    }
    const pass = this.state.passes[req.pass];
    if (!pass) return;
    for (const p of picks) {
      if (!wanted.has(p.id) || this.state.reruns.some((r) => r.id === p.id)) continue;
      if (this.inFlight.has(p.id)) {
        // Its failure is in the store, its signal not here yet: it reruns when the signal comes.
        if (this.awaitInFlight && pass.kind === 'retry') {
          const awaiting = (this.state.awaiting ??= []);
          if (!awaiting.some((w) => w.id === p.id)) awaiting.push({ id: p.id, a: p.a });
        }
        continue;
      }
      // Picked runs are pending again: they leave the count of their old state.
      if (p.prior) this.state.done[p.prior] = Math.max(0, this.state.done[p.prior] - 1);
      this.forgetFailure(p.id);
      this.state.reruns.push({ id: p.id, a: p.a, ...(p.m ? { m: p.m } : {}) });
    }
    pass.at = req.next;
    if (pass.at >= this.passEnd() || req.ids.length === 0) this.state.passes.shift();
  }

  /** Puts runs at the front of the reruns, in the order given (an earlier release's retryFailed did so). */
  requeue(picks: (Vetted & { prior?: DoneState })[]): void {
    const front: Vetted[] = [];
    for (const p of picks) {
      if (!this.indexOf.has(p.id) || this.inFlight.has(p.id) || this.state.reruns.some((r) => r.id === p.id)) continue;
      if (p.prior) this.state.done[p.prior] = Math.max(0, this.state.done[p.prior] - 1);
      this.forgetFailure(p.id);
      front.push({ id: p.id, a: p.a, ...(p.m ? { m: p.m } : {}) });
    }
    this.state.reruns.unshift(...front);
  }

  /** Main-cursor cells that may start now, in order (at most `max`; vetted ones only on a re-submission). */
  private candidates(max: number): Start[] {
    const out: Start[] = [];
    const stop = Math.min(this.order.length, this.state.cursor + AHEAD_SPAN);
    for (let i = this.state.cursor; i < stop && out.length < max; i++) {
      if (this.ahead.has(i)) continue;
      if (this.state.vetMain) {
        if (i >= this.vettedMainUpTo) break;
        const v = this.vettedMain.get(i);
        if (!v) continue;
        out.push({ index: i, firstAttempt: v.a, ...(v.m ? { mode: v.m } : {}) });
      } else out.push({ index: i, firstAttempt: 1 });
    }
    return out;
  }

  /**
   * The next start the window allows: reruns first, then an adaptive study's proposals or the
   * grid in order (first fit within a short look-ahead, so one large run does not idle GPUs).
   */
  nextStart(limits: WindowLimits): Start | undefined {
    if (limits.paused || this.inFlight.size >= limits.maxRuns) return undefined;
    const free = limits.maxGpus === undefined ? Infinity : limits.maxGpus - this.inFlightGpus();
    const fits = (i: number) => this.order[i].gpus <= free;
    for (const r of this.state.reruns.slice(0, LOOKAHEAD)) {
      const i = this.indexOf.get(r.id);
      if (i !== undefined && fits(i)) return { index: i, firstAttempt: r.a, ...(r.m ? { mode: r.m } : {}), rerun: true };
    }
    for (const p of this.proposals.slice(0, LOOKAHEAD)) if (fits(p.index)) return p;
    if (this.proposalsOnly) return undefined;
    return this.candidates(LOOKAHEAD).find((c) => fits(c.index));
  }

  /** Records a start (the child workflow is being started). */
  started(s: Start): void {
    const cell = this.order[s.index];
    this.vettedMain.delete(s.index);
    this.inFlight.set(cell.runId, cell.gpus);
    const r = this.state.reruns.findIndex((x) => x.id === cell.runId);
    if (r >= 0) {
      this.state.reruns.splice(r, 1);
      return;
    }
    const p = this.proposals.findIndex((x) => x.index === s.index);
    if (p >= 0) {
      this.proposals.splice(p, 1);
      return;
    }
    if (s.index === this.state.cursor) this.advanceCursor(true);
    else this.ahead.add(s.index);
  }

  private advanceCursor(pastCurrent = false): void {
    const st = this.state;
    if (pastCurrent) st.cursor++;
    for (;;) {
      if (this.ahead.delete(st.cursor)) {
        st.cursor++;
        continue;
      }
      // A vetted cell the store skips (reused, or kept as it ended) is passed over.
      if (st.vetMain && st.cursor < this.vettedMainUpTo && !this.vettedMain.get(st.cursor)) {
        this.vettedMain.delete(st.cursor);
        st.cursor++;
        continue;
      }
      break;
    }
  }

  /** An adaptive study's batch: cells the proposer chose, with why. Returns those queued. */
  propose(picks: { runId: string; reason?: string; costGpuHours?: number }[]): string[] {
    const queued: string[] = [];
    for (const p of picks) {
      const i = this.indexOf.get(p.runId);
      if (i === undefined || this.inFlight.has(p.runId) || this.proposals.some((x) => x.index === i)) continue;
      this.proposals.push({
        index: i,
        firstAttempt: 1,
        gpus: this.order[i].gpus,
        ...(p.reason ? { reason: p.reason } : {}),
        ...(p.costGpuHours !== undefined ? { cost: p.costGpuHours } : {}),
      });
      queued.push(p.runId);
    }
    return queued;
  }

  // ---- what comes back -----------------------------------------------------------------

  /**
   * A run ended. Only a run in flight counts: a duplicate, or a signal from a run of another
   * execution or sweep (an orphan of a terminated one), must not skew the counts.
   */
  finished(r: { runId: string; state: DoneState; failureClass?: string; message?: string; attempts: number }): boolean {
    if (!this.inFlight.delete(r.runId)) return false;
    this.forgetMetOpen(r.runId);
    const pick = this.takeAwaiting(r.runId);
    if (pick) {
      // The failure the pass picked (an earlier attempt than the rerun's first): pending again.
      // A later one (a rerun that failed after the pass was asked for) is not retried twice.
      if (r.state === 'failed' && r.attempts < pick.a) {
        this.state.reruns.push(pick);
        return true;
      }
    }
    this.state.done[r.state]++;
    this.forgetFailure(r.runId);
    if (r.state === 'failed') {
      this.state.recentFailures.push({
        runId: r.runId,
        attempts: r.attempts,
        ...(r.failureClass ? { failureClass: r.failureClass } : {}),
        ...(r.message ? { message: r.message.slice(0, 200) } : {}),
      });
      if (this.state.recentFailures.length > MAX_RECENT_FAILURES) this.state.recentFailures.shift();
    }
    return true;
  }

  /**
   * A run in flight whose end came from an execution this sweep did not start: in flight no more,
   * it starts again first in the queue, as a rerun from attempt `a`.
   */
  restart(id: string, a: number): boolean {
    if (!this.inFlight.delete(id)) return false;
    this.forgetMetOpen(id);
    this.takeAwaiting(id);
    this.state.reruns.unshift({ id, a });
    return true;
  }

  /** The start of a run in flight met an execution already open: its end may be another sweep's. */
  metOpen(id: string): void {
    if (this.inFlight.has(id) && !this.state.metOpen!.includes(id)) this.state.metOpen!.push(id);
  }

  /** Whether the start of a run in flight met an execution already open (else the run is this sweep's own). */
  startMetOpen(id: string): boolean {
    return this.state.metOpen!.includes(id);
  }

  /** The pick awaiting this run's signal, taken off the list. */
  private takeAwaiting(id: string): Vetted | undefined {
    const w = this.state.awaiting?.findIndex((x) => x.id === id) ?? -1;
    return w >= 0 ? this.state.awaiting!.splice(w, 1)[0] : undefined;
  }

  private forgetMetOpen(id: string): void {
    const i = this.state.metOpen!.indexOf(id);
    if (i >= 0) this.state.metOpen!.splice(i, 1);
  }

  /** A failure that no longer stands (the run runs again) leaves the recent list. */
  private forgetFailure(id: string): void {
    const i = this.state.recentFailures.findIndex((f) => f.runId === id);
    if (i >= 0) this.state.recentFailures.splice(i, 1);
  }

  // ---- handlers' effects -----------------------------------------------------------------

  /**
   * Queues a pass. A new pass of the same kind (and class) replaces the old one: it scans again
   * from the start, picking what has failed (or succeeded) since.
   */
  addPass(pass: Pass): void {
    if (pass.kind === 'retry')
      this.state.passes = this.state.passes.filter((p) => !(p.kind === 'retry' && p.failureClass === pass.failureClass));
    if (this.state.passes.length >= MAX_PASSES) throw new Error(`${MAX_PASSES} reruns are already queued: wait for them`);
    this.state.passes.push(pass);
  }

  /** Whether another pass may be queued (checked by the update's validator, before it is accepted). */
  canAddPass(pass: Pick<Pass, 'kind'> & { failureClass?: string }): boolean {
    const replaces = pass.kind === 'retry' && this.state.passes.some((p) => p.kind === 'retry' && p.failureClass === pass.failureClass);
    return replaces || this.state.passes.length < MAX_PASSES;
  }

  /** Cancelling: nothing more starts. */
  clearQueue(): void {
    this.state.reruns = [];
    this.state.passes = [];
    if (this.state.awaiting) this.state.awaiting = [];
    this.proposals = [];
    this.state.cursor = this.order.length;
    this.ahead.clear();
  }

  /** The carried state, for continue-as-new (`state` with its in-flight set and look-ahead written back). */
  snapshot(): LedgerState {
    this.state.inFlight = [...this.inFlight].map(([id, g]) => ({ id, g }));
    this.state.ahead = [...this.ahead];
    return this.state;
  }

  /** The grid grew (`extend`): the new order keeps every old cell's index; new cells come after. */
  extend(order: readonly C[], before: Record<string, number>): void {
    this.order = order;
    this.indexOf = indexById(order);
    this.state.extensions.push(before);
  }
}

/** Run id -> index in the order (a loop: no pair array per cell). */
function indexById(order: readonly LedgerCell[]): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < order.length; i++) m.set(order[i].runId, i);
  return m;
}

/** The axis lengths of a grid (what `extensions` records). */
export const axisLengths = (grid: Record<string, readonly unknown[]>): Record<string, number> =>
  Object.fromEntries(Object.entries(grid).map(([k, v]) => [k, v.length]));

/**
 * The grid order across extensions: the cells of the first grid in its order, then each
 * extension's new cells in the order of its grid. `expand` expands one grid (of axis values).
 */
export function orderAcrossExtensions<C extends LedgerCell, V>(
  grid: Record<string, V[]>,
  extensions: readonly Record<string, number>[],
  expand: (grid: Record<string, V[]>) => C[],
): C[] {
  if (!extensions.length) return expand(grid);
  const truncated = (lens: Record<string, number>) =>
    Object.fromEntries(Object.entries(grid).map(([k, v]) => [k, v.slice(0, lens[k] ?? v.length)]));
  const grids = [...extensions.map(truncated), grid];
  const seen = new Set<string>();
  const out: C[] = [];
  for (const g of grids)
    for (const c of expand(g))
      if (!seen.has(c.runId)) {
        seen.add(c.runId);
        out.push(c);
      }
  return out;
}
