/**
 * Issue 10: an adaptive study across continue-as-new and `extend`. The sweep continues as new
 * often (a low history limit) while proposals wait for a free slot (batch 4, two slots): the
 * proposals a continue-as-new drops are charged to the budget only if they started, so the
 * budget spent is the estimated cost of the runs that ran, once each. An `extend` reaches the
 * study: the grown grid is in the stored spec, which the proposals are drawn from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobOutcome, LaunchRequest } from '../../activities/executors/types';
import { estimateCell, expandGrid, SweepSpecSchema, type SweepSpec } from '../../spec';
import { extendUpdate, pauseSignal, progressQuery, resumeSignal, type SweepSummary } from '../../contract';
import { waitFor } from './helpers/harness';
import { STUDY_GRID } from './helpers/studyGrid';
import { startInstantWorker, type InstantWorker } from './helpers/instantWorker';

const SPEC = SweepSpecSchema.parse({
  name: 'adapt-windows',
  grid: STUDY_GRID,
  job: { image: 'instant:test', command: ['true'], resources: { gpus: 0 } },
  concurrency: { maxRuns: 2 },
  metrics: ['V1', 'IT'],
  fits: [{ name: 'neuro', form: 'power_law', x: 'total_flops', y: { metrics: ['V1', 'IT'] }, bootstrap: 30 }],
  refit: { every: 100, bootstrap: 30 },
  strategy: { kind: 'adaptive', target: 'neuro', objective: 'exponent', parameter: 'alpha', budget: { gpuHours: 1.5 }, batch: 4 },
});

/** In sweeps named `*-preempt`: the cells whose first attempt is preempted (every other one, by run id). */
const preemptedFirst = (runId: string) => Number.parseInt(runId.slice(-4), 16) % 2 === 0;

/** Every run succeeds at once, its score a noisy power law of its planner-estimated compute; in sweeps named `*-preempt`, every other cell's first attempt is preempted. */
function outcome(req: LaunchRequest): JobOutcome {
  const e = estimateCell(SPEC, req.axes)!;
  if (req.sweep.endsWith('-preempt') && req.attempt === 1 && preemptedFirst(req.runId))
    return { status: 'failed', failureClass: 'preempted', message: 'node drained', gpuSeconds: 0 };
  const noise = (Number.parseInt(req.runId.slice(-4), 16) % 7) / 700;
  const score = 1 - 0.6 * (e.totalFlops / 1e15) ** -0.08 + noise;
  return {
    status: 'succeeded',
    resultText: JSON.stringify({ metrics: { V1: score, IT: score }, n_params: e.nParams, n_samples_seen: e.nSamplesSeen, total_flops: e.totalFlops }),
    gpuSeconds: 0,
  };
}

describe('an adaptive study across continue-as-new and extend', () => {
  let w: InstantWorker;
  beforeAll(async () => {
    w = await startInstantWorker({ outcome, extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=60'] });
  }, 120_000);
  afterAll(async () => {
    await w?.stop();
  });

  it('charges the budget once per run that started, and proposes from the extended grid', async () => {
    const handle = await w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/adapt-windows', args: [SPEC] });
    // Once the study has spent something, grow its grid by one samples-per-class value.
    await waitFor('the study to start spending', async () => ((await handle.query(progressQuery)).study?.spentGpuHours ?? 0) > 0, { timeoutMs: 60_000 });
    const ext = await handle.executeUpdate(extendUpdate, { args: [{ axes: { samples_per_class: [3] } }] });
    expect(ext.count).toBe(5);
    const stored = (await w.store.getSweep('adapt-windows'))?.spec as SweepSpec;
    expect(stored.grid.samples_per_class).toEqual([10, 30, 100, 300, 3]);

    const summary = (await handle.result()) as SweepSummary;
    const grown = SweepSpecSchema.parse({ ...SPEC, grid: { ...SPEC.grid, samples_per_class: [10, 30, 100, 300, 3] } });
    const cost = new Map(expandGrid(grown).map((c) => [c.runId, estimateCell(grown, c.axes)!.gpuHours]));
    const launched = [...w.executor.launches.entries()].filter(([k]) => k.startsWith('adapt-windows/'));
    // Every run once, at attempt 1.
    expect(launched.every(([k, n]) => n === 1 && k.endsWith('#1'))).toBe(true);
    const ran = launched.map(([k]) => k.slice('adapt-windows/'.length).split('#')[0]);
    expect(ran.length).toBeGreaterThan(4);
    expect(summary.byState.succeeded).toBe(ran.length);
    // The budget spent is what ran, charged once: not also the proposals a continue-as-new dropped.
    const spent = ran.reduce((s, id) => s + cost.get(id)!, 0);
    expect(summary.study?.spentGpuHours).toBeCloseTo(spent, 9);
    expect(spent).toBeLessThanOrEqual(SPEC.strategy!.budget.gpuHours + 1e-9);
    expect(summary.study?.skipped).toBe(cost.size - ran.length);
    // The study reports its target: alpha's estimate and 95% interval, whose width is the one it stops on.
    const target = summary.study?.target;
    expect(Number.isFinite(target?.value)).toBe(true);
    expect(target!.ci![0]).toBeLessThan(target!.ci![1]);
    expect(target!.ci![1] - target!.ci![0]).toBeCloseTo(summary.study!.ciWidth!, 12);
    // Each run's summary (its line in the Web UI) says why the study chose it.
    for (const id of ran) {
      const d = await w.env.client.workflow.getHandle(`sweep/adapt-windows/${id}`).describe();
      expect(await d.staticSummary()).toMatch(/^chosen: (rank \d+ of \d+|seed design \d+ of \d+) - \w+/);
    }
    const statuses: string[] = [];
    for await (const wf of w.env.client.workflow.list({ query: 'WorkflowId="sweep/adapt-windows"' })) statuses.push(wf.status.name);
    expect(statuses.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThan(0);
  }, 240_000);

  it('retries preempted attempts of its picks, and pauses and resumes, charging each run once', async () => {
    const spec = SweepSpecSchema.parse({ ...SPEC, name: 'adapt-preempt', retry: { maxAttempts: 3, backoff: { initial: '1s', max: '1s', coefficient: 1 } } });
    const handle = await w.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/adapt-preempt', args: [spec] });
    await waitFor('the study to start spending', async () => ((await handle.query(progressQuery)).study?.spentGpuHours ?? 0) > 0, { timeoutMs: 60_000 });
    await handle.signal(pauseSignal);
    await waitFor('the paused sweep to have nothing in flight', async () => {
      const q = await handle.query(progressQuery);
      return q.paused && q.byState.running === 0 ? q : undefined;
    }, { timeoutMs: 60_000 });
    // Paused: nothing new launches.
    const launchesOf = () => [...w.executor.launches.entries()].filter(([k]) => k.startsWith('adapt-preempt/'));
    const before = launchesOf().length;
    await new Promise((r) => setTimeout(r, 2_000));
    expect(launchesOf().length).toBe(before);
    await handle.signal(resumeSignal);
    const summary = (await handle.result()) as SweepSummary;

    const cost = new Map(expandGrid(spec).map((c) => [c.runId, estimateCell(spec, c.axes)!.gpuHours]));
    const launched = launchesOf();
    expect(launched.every(([, n]) => n === 1)).toBe(true);
    const attemptsOf = new Map<string, number[]>();
    for (const [k] of launched) {
      const [id, a] = k.slice('adapt-preempt/'.length).split('#');
      attemptsOf.set(id, [...(attemptsOf.get(id) ?? []), Number(a)]);
    }
    const preempted = [...attemptsOf].filter(([id]) => preemptedFirst(id));
    expect(preempted.length).toBeGreaterThan(0);
    // A preempted pick ran again at attempt 2, and succeeded; the others ran once.
    for (const [id, as] of attemptsOf) expect(as.sort()).toEqual(preemptedFirst(id) ? [1, 2] : [1]);
    expect(summary.byState.succeeded).toBe(attemptsOf.size);
    expect(summary.byState.failed).toBe(0);
    // A retry is the same run: the budget counts it once.
    const spent = [...attemptsOf.keys()].reduce((t, id) => t + cost.get(id)!, 0);
    expect(summary.study?.spentGpuHours).toBeCloseTo(spent, 9);
    expect(summary.study?.skipped).toBe(cost.size - attemptsOf.size);
  }, 240_000);
});
