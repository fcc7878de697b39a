/**
 * Issue 5 acceptance, with the real `temporal` binary as the client: a sweep is started with
 * `temporal workflow start --input-file` (the JSON from `sweep render`, issue 2 item 9),
 * watched with `temporal workflow query`, paused / resumed with `temporal workflow signal`,
 * throttled with `temporal workflow update execute`, its failed runs listed with
 * `temporal workflow list --query` and retried with `retryFailed`, and grown with `extend`.
 *
 * The claims are checked three ways: the `progress` / `runs` queries (what a user sees), the
 * sweep's event history (what the workflow decided, and in which workflow task), and the
 * results store and the local executor's launch log (which processes really ran).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseTrainerArgs, planTraining, type TrainerFault } from '../../sim/trainer/model';
import { expandGrid, SweepSpecSchema, type Cell, type SweepSpecInput } from '../../spec';
import type { Progress, RunsPage } from '../../contract';
import { sweepCli, temporalCli, temporalOk } from './helpers/cli';
import { startHarness, waitFor, type Harness } from './helpers/harness';
import { attemptKeys, launchKeys, readLaunches, type Launch } from './helpers/launchLog';
import { childStarts, listWorkflows, queryWorkflow, workflowHistory, type Conn } from './helpers/temporalJson';

const TRAINER = ['node', '--import', 'tsx', 'sim/trainer/main.ts'];
const METRICS = ['V1', 'V2', 'V4', 'IT', 'Behavioral'];

let h: Harness;
let conn: Conn;

beforeAll(async () => {
  h = await startHarness();
  conn = { address: h.address, namespace: h.namespace };
});

afterAll(async () => {
  await h?.stop();
});

function sweepSpec(name: string, over: Partial<SweepSpecInput> & { args: string[] }): SweepSpecInput {
  const { args, ...rest } = over;
  return {
    name,
    description: `issue 5 acceptance: ${name}`,
    grid: { arch: ['resnet18'], dataset: ['imagenet'], samples_per_class: [10, 30], epochs: [1], seed: [0, 1, 2] },
    job: {
      image: 'ghcr.io/scaling-sweep/trainer:latest',
      command: TRAINER,
      args,
      resources: { gpus: 1, cpu: 1, memory: '1Gi' },
    },
    executor: { kind: 'local' },
    concurrency: { maxRuns: 3 },
    retry: { maxAttempts: 3, backoff: { initial: '1s', max: '2s' }, nonRetryableExitCodes: [3] },
    metrics: METRICS,
    ...rest,
  };
}

/** YAML spec -> `node bin/sweep.js render` -> JSON file -> `temporal workflow start`. */
async function startWithTemporalCli(spec: SweepSpecInput): Promise<string> {
  const yamlFile = join(h.dirs.root, `${spec.name}.yaml`);
  writeFileSync(yamlFile, stringify(spec));
  const render = await sweepCli(['render', yamlFile], h.childEnv);
  expect(render.code, render.stderr).toBe(0);
  const rendered = JSON.parse(render.stdout) as { name: string; grid: Record<string, unknown[]> };
  expect(rendered.name).toBe(spec.name);
  expect(rendered.grid).toEqual(spec.grid);
  const jsonFile = join(h.dirs.root, `${spec.name}.json`);
  writeFileSync(jsonFile, render.stdout);
  const workflowId = `sweep/${spec.name}`;
  const out = await temporalOk(conn, [
    'workflow',
    'start',
    '--type',
    'sweep',
    '--task-queue',
    'scaling-sweeps',
    '--workflow-id',
    workflowId,
    '--input-file',
    jsonFile,
  ]);
  expect(out).toContain(workflowId);
  return workflowId;
}

const progressOf = (wid: string) => queryWorkflow<Progress>(conn, wid, 'progress');
const runsOf = (wid: string, opts?: { state?: string; limit?: number }) =>
  queryWorkflow<RunsPage>(conn, wid, 'runs', opts ?? { limit: 1000 });
const updateArgs = (wid: string, name: string, input: unknown) => [
  'workflow',
  'update',
  'execute',
  '--workflow-id',
  wid,
  '--name',
  name,
  '--input',
  JSON.stringify(input),
  '--output',
  'json',
];
const signal = (wid: string, name: string) =>
  temporalOk(conn, ['workflow', 'signal', '--workflow-id', wid, '--name', name]);

/**
 * Lines of the local executor's launch log (one per process ever started) for the given run
 * ids. Run ids hash the axes only, so the two sweeps here use disjoint grids.
 */
function launches(runIds: Iterable<string>): Launch[] {
  const ids = new Set(runIds);
  return readLaunches(h.dirs.launchLog).filter((l) => ids.has(l.runId));
}
const launchCounts = (runIds: Iterable<string>) => {
  const m = new Map<string, number>();
  for (const l of launches(runIds)) m.set(l.runId, (m.get(l.runId) ?? 0) + 1);
  return m;
};

/** Checks `check` repeatedly for `ms`: a negative claim ("nothing starts") needs a window. */
async function holdFor(ms: number, check: () => Promise<void>) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await check();
    await new Promise((r) => setTimeout(r, 150));
  }
  await check();
}

const sorted = (xs: string[]) => [...xs].sort();

// ---------------------------------------------------------------------------------------
describe('a sweep driven with the temporal CLI: start, query, pause / resume, setConcurrency', () => {
  const name = 'cli-control';
  const wid = `sweep/${name}`;
  // 14 runs of exactly 2 s each, no faults, 3 at a time.
  const spec = sweepSpec(name, {
    grid: {
      arch: ['resnet18'],
      dataset: ['imagenet'],
      samples_per_class: [20, 40],
      epochs: [1],
      seed: [0, 1, 2, 3, 4, 5, 6],
    },
    args: ['--min-seconds=2', '--max-seconds=2'],
    concurrency: { maxRuns: 3 },
  });
  const total = 14;
  const runIds = expandGrid(SweepSpecSchema.parse(spec)).map((c) => c.runId);
  let drainedAtMs = 0;

  it('starts with `temporal workflow start --input-file <sweep render output>` and answers `temporal workflow query progress`', async () => {
    await startWithTemporalCli(spec);
    const p = await waitFor(
      'a run to succeed while others run',
      async () => {
        const p = await progressOf(wid);
        return p.byState.succeeded >= 1 && p.byState.running >= 1 ? p : undefined;
      },
      { timeoutMs: 40_000 },
    );
    expect(p).toMatchObject({ sweep: name, total, paused: false, maxRuns: 3 });
    expect(p.byState.running).toBeLessThanOrEqual(3);
    expect(p.byState.pending + p.byState.running + p.byState.succeeded).toBe(total);
    // The Temporal CLI's plain output carries the same JSON.
    const plain = await temporalOk(conn, ['workflow', 'query', '--workflow-id', wid, '--name', 'progress']);
    expect(plain).toContain(`"sweep":"${name}"`);
  }, 60_000);

  it('`temporal workflow signal --name pause` stops new launches; running runs drain and nothing starts while paused', async () => {
    const before = await progressOf(wid);
    expect(before.byState.running).toBeGreaterThan(0);
    await signal(wid, 'pause');
    const drained = await waitFor(
      'the running runs to drain',
      async () => {
        const p = await progressOf(wid);
        return p.byState.running === 0 ? p : undefined;
      },
      { timeoutMs: 30_000 },
    );
    drainedAtMs = Date.now();
    expect(drained.paused).toBe(true);
    expect(drained.byState.pending).toBeGreaterThan(0);
    const attemptsAtDrain = (await h.store.listAttempts(name)).length;
    const launchesAtDrain = launches(runIds).length;
    // Longer than a run: had the window stayed open, a new run would have started and shown.
    await holdFor(3_000, async () => {
      const p = await progressOf(wid);
      expect(p.paused).toBe(true);
      expect(p.byState).toEqual(drained.byState);
    });
    expect((await h.store.listAttempts(name)).length).toBe(attemptsAtDrain);
    expect(launches(runIds).length).toBe(launchesAtDrain);
  }, 60_000);

  it('rejects a negative or too-small concurrency and an unknown `extend` axis with a reason, changing nothing', async () => {
    const before = await progressOf(wid);
    const runsBefore = await runsOf(wid);

    const neg = await temporalCli(conn, updateArgs(wid, 'setConcurrency', { maxRuns: -1 }));
    expect(neg.code).not.toBe(0);
    expect(neg.stderr).toContain('maxRuns must be an integer >= 1 (got -1)');

    const noGpus = await temporalCli(conn, updateArgs(wid, 'setConcurrency', { maxGpus: 0 }));
    expect(noGpus.code).not.toBe(0);
    expect(noGpus.stderr).toContain('maxGpus 0 is below the 1 GPUs one run needs');

    const ext = await temporalCli(conn, updateArgs(wid, 'extend', { axes: { optimizer: ['adam'] } }));
    expect(ext.code).not.toBe(0);
    expect(ext.stderr).toContain('"optimizer" is not an axis of this sweep');

    const after = await progressOf(wid);
    expect(after).toMatchObject({ maxRuns: 3, total, paused: true, byState: before.byState });
    expect(after.maxGpus).toBe(before.maxGpus);
    expect(await runsOf(wid)).toEqual(runsBefore);
    // Rejected by the validators: not even written to the history.
    const hist = await workflowHistory(conn, wid);
    expect(hist.filter((e) => e.type === 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED')).toEqual([]);
  }, 60_000);

  it('`temporal workflow signal --name resume` continues; the history shows no child started between pause and resume', async () => {
    const before = await progressOf(wid);
    await signal(wid, 'resume');
    const p = await waitFor('a launch after resume', async () => {
      const p = await progressOf(wid);
      return !p.paused && p.byState.running > 0 ? p : undefined;
    });
    expect(p.byState.pending).toBeLessThan(before.byState.pending);

    const hist = await workflowHistory(conn, wid);
    const pause = hist.filter((e) => e.signal === 'pause');
    const resume = hist.filter((e) => e.signal === 'resume');
    expect(pause).toHaveLength(1);
    expect(resume).toHaveLength(1);
    const starts = childStarts(hist);
    // Runs finished while paused (slots opened) ...
    const finishedWhilePaused = hist.filter(
      (e) => e.signal === 'runFinished' && e.id > pause[0].id && e.id < resume[0].id,
    );
    expect(finishedWhilePaused.length).toBeGreaterThan(0);
    // ... yet no workflow task after the pause signal started a child, until the resume.
    expect(starts.filter((s) => s.id > pause[0].id && s.id < resume[0].id)).toEqual([]);
    expect(starts.filter((s) => s.id > resume[0].id).length).toBeGreaterThan(0);
    // And no attempt started between the drain and the resume.
    const resumeMs = resume[0].time;
    const attempts = await h.store.listAttempts(name);
    expect(attempts.filter((a) => Date.parse(a.startedAt) > drainedAtMs && Date.parse(a.startedAt) < resumeMs)).toEqual(
      [],
    );
  }, 60_000);

  it('`temporal workflow update execute --name setConcurrency --input {"maxRuns": 1}` takes effect', async () => {
    const out = await temporalOk(conn, updateArgs(wid, 'setConcurrency', { maxRuns: 1 }));
    expect((JSON.parse(out) as { result: unknown }).result).toMatchObject({ maxRuns: 1 });
    const seen: Progress[] = [await progressOf(wid)];
    expect(seen[0].maxRuns).toBe(1);
    expect(seen[0].byState.pending).toBeGreaterThanOrEqual(2); // enough left to show the new limit
    const final = await waitFor(
      'the sweep to finish',
      async () => {
        const p = await progressOf(wid);
        seen.push(p);
        return p.byState.pending + p.byState.running === 0 ? p : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 150 },
    );
    expect(final.byState).toMatchObject({ succeeded: total, failed: 0, cancelled: 0 });
    // Runs already in flight finish; from the first time one (or none) runs, never more than one.
    const first = seen.findIndex((p) => p.byState.running <= 1);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(seen.slice(first).filter((p) => p.byState.running > 1)).toEqual([]);

    // The workflow's decisions: after the update, each child started with nothing in flight.
    const hist = await workflowHistory(conn, wid);
    const upd = hist.filter((e) => e.type === 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
    expect(upd).toHaveLength(1);
    expect(upd[0]).toMatchObject({ update: 'setConcurrency', updateArg: { maxRuns: 1 } });
    const after = childStarts(hist).filter((s) => s.id > upd[0].id);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(after.map((s) => s.inFlightBefore)).toEqual(after.map(() => 0));
    expect(childStarts(hist)).toHaveLength(total);

    // The processes: the attempt of each run started after the update overlapped no other attempt.
    const all = await h.store.listAttempts(name);
    expect(all).toHaveLength(total);
    const lateRuns = new Set(after.map((s) => s.workflowId.split('/').pop()));
    const span = (a: (typeof all)[number]) => {
      expect(a.finishedAt, `attempt of ${a.runId} has finished`).toBeDefined();
      return [Date.parse(a.startedAt), Date.parse(a.finishedAt ?? '')] as const;
    };
    for (const a of all.filter((x) => lateRuns.has(x.runId))) {
      const [s0, e0] = span(a);
      for (const b of all.filter((x) => x !== a)) {
        const [s1, e1] = span(b);
        expect(
          e1 <= s0 || s1 >= e0,
          `${a.runId} [${a.startedAt}, ${a.finishedAt}] overlaps ${b.runId} [${b.startedAt}, ${b.finishedAt}]`,
        ).toBe(true);
      }
    }

    const res = JSON.parse(
      await temporalOk(conn, ['workflow', 'result', '--workflow-id', wid, '--output', 'json']),
    ) as {
      status: string;
      result: { byState: Progress['byState']; total: number };
    };
    expect(res.status).toBe('COMPLETED');
    expect(res.result).toMatchObject({ total, byState: { succeeded: total, failed: 0, pending: 0, running: 0 } });
    expect(sorted((await h.store.listResults(name)).map((r) => r.runId))).toEqual(sorted(runIds));
    // Exactly one process per run through pause, resume and the new limit.
    expect(launchKeys(launches(runIds))).toEqual(attemptKeys(runIds));
  }, 90_000);
});

// ---------------------------------------------------------------------------------------
describe('failed runs with the temporal CLI: list, retryFailed, extend, cancel', () => {
  const name = 'cli-retry';
  const wid = `sweep/${name}`;
  // Ten half-second runs, some of which fail with a user error (exit 3) on attempt 1, plus one
  // 60 s run that keeps the sweep open while the test retries and extends it; all start at once.
  const spec = sweepSpec(name, {
    grid: {
      arch: ['resnet18'],
      dataset: ['imagenet'],
      samples_per_class: [10, 30],
      epochs: [1],
      seed: [0, 1, 2, 3, 4],
    },
    include: [{ arch: 'resnet18', dataset: 'imagenet', samples_per_class: 30, epochs: 400, seed: 0 }],
    args: ['--seconds-per-eflop=900', '--min-seconds=0.5', '--max-seconds=60', '--p-user-error=0.3', '--fault-seed=8'],
    concurrency: { maxRuns: 16 },
  });
  const parsed = SweepSpecSchema.parse(spec);
  const cells = expandGrid(parsed);
  const knobs = parseTrainerArgs(parsed.job!.args);
  const plan = (c: Cell, attempt = 1) => planTraining({ sweep: name, runId: c.runId, attempt, axes: c.axes }, knobs);
  const sentinel = cells.find((c) => c.axes.epochs === 400);
  const shortCells = cells.filter((c) => c !== sentinel);
  const expectedFailed = sorted(shortCells.filter((c) => plan(c).fault === 'user-error').map((c) => c.runId));
  const extended = expandGrid({ ...parsed, grid: { ...parsed.grid, seed: [0, 1, 2, 3, 4, 5] } });
  const newCells = extended.filter((c) => !cells.some((o) => o.runId === c.runId));
  const allIds = extended.map((c) => c.runId).concat(sentinel ? [sentinel.runId] : []);

  it('has the failure pattern the test relies on (fixed fault seed)', () => {
    expect(cells).toHaveLength(11);
    expect(sentinel).toBeDefined();
    expect(plan(sentinel as Cell)).toMatchObject({ fault: 'none', durationSeconds: 60 });
    const faults = new Set<TrainerFault>(shortCells.map((c) => plan(c).fault));
    expect([...faults].sort()).toEqual(['none', 'user-error']);
    // Fault seed 8 fails exactly these three on attempt 1 (golden: pins the trainer's fault plan).
    expect(expectedFailed).toEqual(['resnet18-imagenet-1-10-2-fd926a8d', 'resnet18-imagenet-1-10-4-b4c75f86', 'resnet18-imagenet-1-30-2-4d2fb1e9']);
    for (const c of shortCells) expect(plan(c).durationSeconds).toBe(0.5);
    for (const c of shortCells) expect(plan(c, 2).fault).toBe('none'); // faults on attempt 1 only
    expect(newCells.map((c) => c.axes.seed)).toEqual([5, 5]);
    for (const c of newCells) expect(plan(c).fault).toBe('none');
  });

  it('`temporal workflow list --query \'SweepId=... AND RunState="failed"\'` lists exactly the runs the `runs` query reports failed', async () => {
    await startWithTemporalCli(spec);
    await waitFor(
      'every short run to finish',
      async () => {
        const p = await progressOf(wid);
        return p.byState.succeeded + p.byState.failed === shortCells.length ? p : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const p = await progressOf(wid);
    expect(p.byState).toMatchObject({ running: 1, pending: 0, failed: expectedFailed.length });

    const failed = await runsOf(wid, { state: 'failed', limit: 100 });
    expect(sorted(failed.runs.map((r) => r.runId))).toEqual(expectedFailed);
    for (const r of failed.runs) expect(r).toMatchObject({ state: 'failed', failureClass: 'user-error', attempts: 1 });

    const query = `SweepId="${wid}" AND RunState="failed"`;
    const listed = await waitFor('visibility to list every failed run', async () => {
      const l = await listWorkflows(conn, query);
      return l.length === expectedFailed.length ? l : undefined;
    });
    expect(sorted(listed.map((w) => String(w.searchAttributes.SweepRunId)))).toEqual(expectedFailed);
    expect(sorted(listed.map((w) => w.workflowId))).toEqual(expectedFailed.map((id) => `${wid}/${id}`));
    for (const w of listed)
      expect(w).toMatchObject({
        type: 'sweepRun',
        searchAttributes: { SweepName: name, SweepId: wid, RunState: 'failed' },
      });
  }, 90_000);

  it('rejects `retryFailed` with an unknown failure class, changing nothing', async () => {
    const r = await temporalCli(conn, updateArgs(wid, 'retryFailed', { failureClass: 'bogus' }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown failure class "bogus"');
    const failed = await runsOf(wid, { state: 'failed', limit: 100 });
    expect(sorted(failed.runs.map((x) => x.runId))).toEqual(expectedFailed);
  }, 30_000);

  it('`temporal workflow update execute --name retryFailed` reruns exactly the failed runs', async () => {
    const before = launchCounts(allIds);
    const out = await temporalOk(conn, updateArgs(wid, 'retryFailed', {}));
    const { result } = JSON.parse(out) as { result: { rerun: string[] } };
    expect(sorted(result.rerun)).toEqual(expectedFailed);

    await waitFor(
      'the reruns to succeed',
      async () => {
        const p = await progressOf(wid);
        return p.byState.failed === 0 && p.byState.succeeded === shortCells.length ? p : undefined;
      },
      { timeoutMs: 40_000 },
    );
    // The `runs` query lists the window; every run's state is in the store.
    const runs = await h.store.listRuns(name);
    expect(runs.length).toBe(shortCells.length + 1);
    for (const r of runs.filter((x) => x.runId !== sentinel?.runId)) expect(r.state).toBe('succeeded');
    const stillFailed = await runsOf(wid, { state: 'failed' });
    expect(stillFailed.total).toBe(0);
    expect(stillFailed.runs ?? []).toEqual([]); // the CLI prints an empty list as null

    // Exactly the failed runs ran again (attempt 2); no other run started a process.
    const after = launchCounts(allIds);
    for (const c of shortCells) {
      const wasFailed = expectedFailed.includes(c.runId);
      expect(after.get(c.runId), c.runId).toBe((before.get(c.runId) ?? 0) + (wasFailed ? 1 : 0));
      const attempts = (await h.store.listAttempts(name, c.runId)).sort((a, b) => a.attempt - b.attempt);
      if (wasFailed)
        expect(attempts.map((a) => [a.attempt, a.state, a.failureClass ?? null])).toEqual([
          [1, 'failed', 'user-error'],
          [2, 'succeeded', null],
        ]);
      else expect(attempts.map((a) => [a.attempt, a.state])).toEqual([[1, 'succeeded']]);
    }
    expect(after.get(sentinel?.runId ?? '')).toBe(1);
    const results = await h.store.listResults(name);
    expect(sorted(results.map((r) => r.runId))).toEqual(sorted(shortCells.map((c) => c.runId)));
    for (const id of expectedFailed) expect(results.find((r) => r.runId === id)?.attempt).toBe(2);
  }, 60_000);

  it('`extend` adds only the new cells: new run ids, existing runs not rerun', async () => {
    const idsBefore = (await h.store.listRuns(name)).map((r) => r.runId);
    expect(idsBefore.length).toBe(shortCells.length + 1);
    const before = launchCounts(allIds);
    // 0 is already on the axis, 5 is new.
    const out = await temporalOk(conn, updateArgs(wid, 'extend', { axes: { seed: [0, 5] } }));
    const { result } = JSON.parse(out) as { result: { added: string[] } };
    expect(sorted(result.added)).toEqual(sorted(newCells.map((c) => c.runId)));
    for (const id of result.added) expect(idsBefore).not.toContain(id);

    const p = await waitFor(
      'the new cells to succeed',
      async () => {
        const p = await progressOf(wid);
        return p.byState.succeeded === shortCells.length + newCells.length ? p : undefined;
      },
      { timeoutMs: 40_000 },
    );
    expect(p.total).toBe(cells.length + newCells.length);
    expect(p.byState).toMatchObject({ failed: 0, running: 1, pending: 0 });
    const runs = await h.store.listRuns(name);
    expect(sorted(runs.map((r) => r.runId))).toEqual(sorted([...idsBefore, ...result.added]));
    // The `runs` query answers for the window (the sentinel still runs) and says where the rest are.
    const window = await runsOf(wid);
    expect(window.runs.map((r) => r.runId)).toEqual([sentinel?.runId]);
    expect(window.total).toBe(cells.length + newCells.length);
    expect(window.note).toContain(`sweep runs ${name}`);

    const after = launchCounts(allIds);
    for (const id of idsBefore) expect(after.get(id), id).toBe(before.get(id));
    for (const id of result.added) expect(after.get(id), id).toBe(1);
    for (const c of newCells) expect((await h.store.getRun(name, c.runId))?.axes).toEqual(c.axes);
  }, 60_000);

  it('`temporal workflow signal --name cancel` stops the remaining run and ends the sweep', async () => {
    await signal(wid, 'cancel');
    const res = JSON.parse(
      await temporalOk(conn, ['workflow', 'result', '--workflow-id', wid, '--output', 'json']),
    ) as {
      status: string;
      result: { byState: Progress['byState']; total: number };
    };
    expect(res.status).toBe('COMPLETED');
    expect(res.result).toMatchObject({
      total: cells.length + newCells.length,
      byState: { succeeded: shortCells.length + newCells.length, cancelled: 1, failed: 0, running: 0, pending: 0 },
    });
    expect((await h.store.getRun(name, sentinel?.runId ?? ''))?.state).toBe('cancelled');
    const attempts = await h.store.listAttempts(name, sentinel?.runId ?? '');
    expect(
      attempts.map((a) => a.state),
      JSON.stringify(attempts),
    ).toEqual(['cancelled']);
    const swept = await listWorkflows(conn, `WorkflowId="${wid}"`);
    expect(swept.map((w) => w.searchAttributes.RunState)).toEqual(['cancelled']);
    // Over the sweep's whole life: attempt 1 of every run (the sentinel's included), attempt 2 of each
    // retried failure, and nothing else.
    const everyRun = [...new Set(allIds)];
    expect(everyRun).toHaveLength(cells.length + newCells.length);
    expect(launchKeys(launches(everyRun))).toEqual(
      attemptKeys(everyRun.map((id) => [id, expectedFailed.includes(id) ? 2 : 1] as const)),
    );
  }, 60_000);
});
