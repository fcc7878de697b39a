import type { FitResult } from '../../scaling/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateCell, expandGrid, SweepSpecSchema } from '../../spec';
import type { SweepSummary } from '../../contract';
import { progressQuery } from '../../contract';
import { startHarness, type Harness } from './helpers/harness';
import { STUDY_GRID } from './helpers/studyGrid';
import { readLaunches } from './helpers/launchLog';
import { StoreReader, sweepRuns, sweepView } from '../../cli/sweepState';
import { formatProgress } from '../../cli/commands/control';

// An adaptive study over the synthetic trainer's grid (its costs come from the planner's
// estimates): it runs batches the propose activity picks, within the budget, never a cell twice.
const SPEC = SweepSpecSchema.parse({
  name: 'adapt',
  grid: STUDY_GRID,
  job: {
    command: ['node', '--import', 'tsx', 'sim/trainer/main.ts', '--seconds-per-eflop=0.01', '--max-seconds=0.3'],
    resources: { gpus: 1 },
  },
  concurrency: { maxRuns: 4 },
  metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
  fits: [
    { name: 'neuro', form: 'power_law', x: 'total_flops', y: { metrics: ['V1', 'V2', 'V4', 'IT'] }, bootstrap: 30 },
  ],
  refit: { every: 100, bootstrap: 30 },
  strategy: {
    kind: 'adaptive',
    target: 'neuro',
    objective: 'exponent',
    parameter: 'alpha',
    budget: { gpuHours: 0.5 },
    batch: 4,
  },
});

describe('an adaptive study', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('runs proposed batches within its budget, never a cell twice, and reports the rest as skipped', async () => {
    const cells = expandGrid(SPEC);
    const cost = new Map(cells.map((c) => [c.runId, estimateCell(SPEC, c.axes)!.gpuHours]));
    const total = [...cost.values()].reduce((a, b) => a + b, 0);
    // The budget buys part of the grid, not all of it.
    expect(total).toBeGreaterThan(SPEC.strategy!.budget.gpuHours);
    const handle = await h.env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/adapt',
      args: [SPEC],
    });
    const summary = (await handle.result()) as SweepSummary;
    const launches = readLaunches(h.dirs.launchLog);
    const ran = launches.map((l) => l.runId);
    expect(new Set(ran).size).toBe(ran.length);
    expect(launches.every((l) => l.attempt === 1)).toBe(true);
    const spent = ran.reduce((s, id) => s + cost.get(id)!, 0);
    expect(spent).toBeLessThanOrEqual(SPEC.strategy!.budget.gpuHours + 1e-9);
    expect(summary.byState.succeeded).toBe(ran.length);
    expect(summary.byState.failed).toBe(0);
    expect(summary.byState.pending).toBe(0);
    expect(summary.study?.skipped).toBe(cells.length - ran.length);
    expect(summary.study?.skipped).toBeGreaterThan(0);
    expect(summary.study?.spentGpuHours).toBeCloseTo(spent, 9);
    expect(summary.study?.stop).toMatch(/budget|GPU-hours left|narrower|every cell/);
    // Each chosen run says why, in its details.
    const first = await h.env.client.workflow.getHandle(`sweep/adapt/${ran[ran.length - 1]}`).describe();
    expect(await first.staticDetails()).toMatch(/\*\*Chosen:\*\* /);
    const p = await handle.query(progressQuery);
    expect(p.study?.budgetGpuHours).toBe(0.5);
    // `sweep runs` and `sweep status` read the ended study from the store: the cells it never ran are skipped, not pending.
    const reader = new StoreReader(h.store);
    const { page } = await sweepRuns(h.env.client, 'sweep/adapt', reader);
    expect(page.runs.filter((r) => r.state === 'skipped').map((r) => r.runId).sort()).toEqual(cells.map((c) => c.runId).filter((id) => !ran.includes(id)).sort());
    expect(page.runs.filter((r) => r.state === 'pending')).toEqual([]);
    const view = await sweepView(h.env.client, 'sweep/adapt', reader);
    expect(view.source).toBe('store');
    expect(view.progress.byState.pending).toBe(0);
    expect(view.progress.study).toMatchObject({ skipped: cells.length - ran.length, budgetGpuHours: 0.5 });
    expect(formatProgress(view.progress)).toContain(`${cells.length - ran.length} cells skipped`);
    // The target's fits weight each point by the share of the grid it stands for (as the replay's;
    // a power law's one x: untrimmed).
    const neuro = (await h.store.latestFits('adapt')).find((f) => f.name === 'neuro')?.fit as FitResult | undefined;
    expect(neuro?.weighting).toEqual({ kind: 'population', pool: cells.length });
  }, 240_000);

  it('stops when the target\'s 95% interval is narrower than stopWhen.ciWidth, before the budget is spent', async () => {
    // Any interval of alpha is narrower than 1000: the study stops at its first fit with a bootstrap.
    const spec = SweepSpecSchema.parse({ ...SPEC, name: 'adapt-ci', strategy: { ...SPEC.strategy, stopWhen: { ciWidth: 1000 } } });
    const cells = expandGrid(spec);
    const cost = new Map(cells.map((c) => [c.runId, estimateCell(spec, c.axes)!.gpuHours]));
    // The harness's launch log is shared with the test above: this sweep's launches come after.
    const before = readLaunches(h.dirs.launchLog).length;
    const handle = await h.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/adapt-ci', args: [spec] });
    const summary = (await handle.result()) as SweepSummary;
    const ran = readLaunches(h.dirs.launchLog)
      .slice(before)
      .map((l) => l.runId);
    expect(summary.study?.stop).toMatch(/^the alpha 95% interval \([\d.e+-]+\) is narrower than 1000$/);
    expect(summary.study?.ciWidth).toBeGreaterThan(0);
    expect(summary.study?.ciWidth).toBeLessThanOrEqual(1000);
    // Stopped at the first fit: one seed batch (4) or two if 4 points could not be fitted yet.
    expect([4, 8]).toContain(ran.length);
    expect(new Set(ran).size).toBe(ran.length);
    const spent = ran.reduce((s, id) => s + cost.get(id)!, 0);
    expect(summary.study?.spentGpuHours).toBeCloseTo(spent, 9);
    expect(spent).toBeLessThan(spec.strategy!.budget.gpuHours);
    expect(summary.byState.succeeded).toBe(ran.length);
    expect(summary.study?.skipped).toBe(cells.length - ran.length);
  }, 240_000);
});
