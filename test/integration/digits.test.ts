import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitStatusLine } from '../../cli/sweepState';
import { SweepSpecSchema, type SweepSpec } from '../../spec';
import { loadSweepSpec } from '../../spec/load';
import type { SweepSummary } from '../../contract';
import { REPO_ROOT } from '../../worker/settings';
import { startHarness, type Harness } from './helpers/harness';

// examples/digits end to end: real PyTorch training (CPU) of small CNNs on scikit-learn's digits,
// real processes on the local executor, a real dev server. The spec is configs/examples/digits.yaml
// cut down to 2 widths x 2 sizes x 3 epochs, with its injected preemption moved to epoch 2.

const TOOLS = join(REPO_ROOT, '.tools', 'digits');
const PREEMPTED = { width: 16, samples_per_class: 50 };
const EPOCHS = 3;
const PREEMPT_AT = 2;

/** Hand-computed from the architecture (conv 1->w, conv w->2w, 3x3 with biases; linear 2w*16 -> 10). */
const N_PARAMS: Record<number, number> = { 4: 1626, 16: 9930 };
/** 6 x forward MACs per sample: conv1 64*w*9, conv2 64*2w*w*9, linear 2w*16*10 (w=4: 22,016; w=16: 309,248). */
const FLOPS_PER_SAMPLE: Record<number, number> = { 4: 132_096, 16: 1_855_488 };

function smallSpec(checkpointDir: string): SweepSpec {
  const full = loadSweepSpec(join(REPO_ROOT, 'configs/examples/digits.yaml'));
  const job = full.job!;
  const args = [...job.args];
  const at = args.indexOf('--preempt-at-epoch');
  // The config's own injection (width 16, 50 per class), earlier: this grid trains 3 epochs.
  expect(args.slice(at, at + 4)).toEqual(['--preempt-at-epoch', '6', '--preempt-if', 'width=16,samples_per_class=50']);
  args[at + 1] = String(PREEMPT_AT);
  return SweepSpecSchema.parse({
    ...full,
    name: 'digits-it',
    grid: { width: [4, 16], samples_per_class: [10, 50], epochs: [EPOCHS], seed: [0] },
    job: { ...job, args },
    executor: { kind: 'local', slots: 2, checkpointDir },
    concurrency: { maxRuns: 2 },
    fits: full.fits.map((f) => ({ ...f, bootstrap: 20 })),
    refit: { every: 100, bootstrap: 0 },
  });
}

describe('examples/digits: real training -> evaluate, resumed after a preemption, fitted', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('trains 4 CNNs (one preempted after epoch 2 and resumed there), scores every checkpoint on held-out data, fits error vs FLOPs', async () => {
    // Not a skip: without the install this fails and says how to get it.
    expect(existsSync(join(TOOLS, 'torch')) && existsSync(join(TOOLS, 'sklearn')), `no torch / scikit-learn in ${TOOLS}: run  bash scripts/setup.sh test`).toBe(true);
    const checkpoints = join(h.dirs.root, 'checkpoints');
    const spec = smallSpec(checkpoints);
    const t0 = Date.now();
    const summary = (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/digits-it',
      args: [spec],
    })) as SweepSummary;
    console.log(`digits sweep: ${((Date.now() - t0) / 1000).toFixed(1)} s; ${summary.fits.map(fitStatusLine).join('; ')}`);
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 4, failed: 0, cancelled: 0 });

    const runs = await h.store.listRuns('digits-it');
    const isPreempted = (axes: Record<string, unknown>) => axes.width === PREEMPTED.width && axes.samples_per_class === PREEMPTED.samples_per_class;
    const preempted = runs.find((r) => isPreempted(r.axes))!;
    expect(preempted).toBeDefined();

    // Attempts: only the chosen run was preempted (SIGTERM -> preempted, retried); the others ran once.
    const attempts = await h.store.listAttempts('digits-it');
    for (const r of runs) {
      const mine = attempts.filter((a) => a.runId === r.runId).sort((a, b) => a.attempt - b.attempt);
      const want = r.runId === preempted.runId ? [[1, 'failed', 'preempted'], [2, 'succeeded', undefined]] : [[1, 'succeeded', undefined]];
      expect(mine.map((a) => [a.attempt, a.state, a.failureClass]), r.runId).toEqual(want);
    }

    // Training results: the resumed attempt started at the epoch attempt 1 saved and trained only the rest;
    // its result still lists every epoch's checkpoint, with the counts of an uninterrupted run.
    const results = await h.store.listResults('digits-it');
    expect(results).toHaveLength(4);
    for (const r of results) {
      const width = Number(r.axes.width);
      const samples = 10 * Number(r.axes.samples_per_class);
      const m = r.result.metrics;
      if (r.runId === preempted.runId) {
        expect(r.attempt).toBe(2);
        expect(m.resumed_from_epoch).toBe(PREEMPT_AT);
        expect(m.epochs_trained).toBe(EPOCHS - PREEMPT_AT);
      } else {
        expect(m.resumed_from_epoch).toBeUndefined();
        expect(m.epochs_trained).toBe(EPOCHS);
      }
      expect(r.result.n_params).toBe(N_PARAMS[width]);
      expect(r.result.n_samples_seen).toBe(samples * EPOCHS);
      expect(r.result.total_flops).toBe(samples * EPOCHS * FLOPS_PER_SAMPLE[width]);
      expect(r.result.checkpoints?.map((c) => [c.epoch, c.n_samples_seen, c.total_flops])).toEqual(
        [1, 2, 3].map((e) => [e, samples * e, samples * e * FLOPS_PER_SAMPLE[width]]),
      );
    }
    // The run's checkpoint folder (persists across attempts) holds every epoch, written by both attempts.
    expect(readdirSync(join(checkpoints, 'digits-it', preempted.runId)).filter((f) => !f.startsWith('.')).sort()).toEqual([
      'ep001.pt',
      'ep002.pt',
      'ep003.pt',
    ]);

    // The evaluate stage ran once per run and scored each checkpoint: 3 data points per run.
    const evals = await h.store.listEvaluations('digits-it');
    expect(evals.map((e) => [e.state, e.attempts])).toEqual(Array(4).fill(['succeeded', 1]));
    const points = await h.store.listDataPoints('digits-it');
    expect(points).toHaveLength(12);
    for (const p of points) {
      expect(p.metrics.acc).toBeGreaterThan(0);
      expect(p.metrics.acc).toBeLessThanOrEqual(1);
      expect(p.metrics.err).toBeCloseTo(1 - p.metrics.acc, 6);
    }
    // Real learning: the most-trained model beats chance (10%) by far on the held-out images.
    const best = points.find((p) => isPreempted(p.axes) && p.epoch === undefined)!;
    expect(best.metrics.acc).toBeGreaterThan(0.5);

    // The fitted law: every checkpoint used, error falling with compute (alpha > 0).
    const fit = summary.fits.find((f) => f.name === 'err_vs_flops')!;
    expect(fit.error).toBeUndefined();
    expect(fit.final).toBe(true);
    expect(fit.nPoints).toBe(12);
    expect(fit.nExcluded ?? 0).toBe(0);
    expect(fit.params.alpha).toBeGreaterThan(0);
  }, 240_000);
});
