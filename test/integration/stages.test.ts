import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatorHashOf, SweepSpecSchema, type SweepSpecInput } from '../../spec';
import type { SweepSummary } from '../../contract';
import { sweepCli } from './helpers/cli';
import { startHarness, type Harness } from './helpers/harness';

describe('train -> evaluate stages, re-scoring, evaluate-only sweeps', () => {
  let h: Harness;
  let stageLog: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    h = await startHarness();
    stageLog = join(h.dirs.root, 'stages.log');
    env = { STAGE_LOG: stageLog, MARKER_DIR: join(h.dirs.root, 'markers') };
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });
  const log = () => (existsSync(stageLog) ? readFileSync(stageLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ')) : []);
  const count = (stage: string, from = 0) => log().slice(from).filter((l) => l[0] === stage).length;
  const spec = (over: Partial<SweepSpecInput> = {}) =>
    SweepSpecSchema.parse({
      name: 'staged',
      grid: { x: [1, 2, 4, 8] },
      job: { command: ['node', 'test/fixtures/stageJob.mjs', 'train'], env, resources: { gpus: 0 } },
      evaluate: { command: ['node', 'test/fixtures/stageJob.mjs', 'evaluate', '--fail-once'], env, retry: { maxAttempts: 3, backoff: { initial: '100ms', max: '200ms' } } },
      concurrency: { maxRuns: 4 },
      metrics: ['score'],
      fits: [{ name: 'law', form: 'power_law', x: 'total_flops', y: { metrics: ['score'] }, bootstrap: 10 }],
      refit: { every: 100, bootstrap: 0 },
      ...over,
    });

  it('an evaluate failure is retried on its own: training launched once per run, the run succeeds on the second evaluation', async () => {
    const summary = (await h.env.client.workflow.execute('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/staged', args: [spec()] })) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 4, failed: 0, cancelled: 0 });
    expect(count('train')).toBe(4);
    expect(count('evaluate')).toBe(8);
    // Training's attempts are one each; the evaluations took two.
    for (const a of await h.store.listAttempts('staged')) expect(a.attempt).toBe(1);
    const evals = await h.store.listEvaluations('staged');
    expect(evals.map((e) => [e.state, e.attempts])).toEqual(Array(4).fill(['succeeded', 2]));
    // The fit reads the evaluation's score with training's compute.
    expect(summary.fits[0].error).toBeUndefined();
    expect(summary.fits[0].nPoints).toBe(4);
  }, 120_000);

  it('re-scoring with a new evaluator runs only evaluate jobs, keeps the old scores beside the new, and refits; the same rescore again launches nothing', async () => {
    const before = log().length;
    const next = spec({ evaluate: { command: ['node', 'test/fixtures/stageJob.mjs', 'evaluate', '--extra'], env } });
    const file = join(h.dirs.root, 'staged-extra.json');
    writeFileSync(file, JSON.stringify(next));
    const cliEnv = { ...h.childEnv, SWEEP_DB: h.dirs.db, NO_COLOR: '1' };
    const r = await sweepCli(['rescore', 'staged', '--spec', file], cliEnv);
    expect(r.code, r.stderr).toBe(0);
    const evaluator = evaluatorHashOf(next.evaluate!);
    expect(r.stdout).toContain(`evaluator ${evaluator}`);
    const summary = (await h.env.client.workflow.getHandle('sweep/staged').result()) as SweepSummary;
    expect(summary.byState.succeeded).toBe(4);
    expect(count('train', before)).toBe(0);
    expect(count('evaluate', before)).toBe(4);
    expect((await h.store.listEvaluators('staged')).map((e) => [e.evaluator, e.succeeded])).toEqual([
      [evaluator, 4],
      [evaluatorHashOf(spec().evaluate!), 4],
    ]);
    const points = await h.store.listDataPoints('staged');
    expect(points.every((p) => typeof p.metrics.extra === 'number')).toBe(true);
    expect(summary.fits[0].final).toBe(true);

    // The same rescore again, this time from the Temporal CLI's side (a plain workflow start): nothing launches.
    const again = log().length;
    const second = (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/staged',
      args: [next, { rescore: {} }],
    })) as SweepSummary;
    expect(second.byState.succeeded).toBe(4);
    expect(log().length).toBe(again);
  }, 180_000);

  it('an evaluate-only sweep over "pretrained" models completes and fits', async () => {
    const s = SweepSpecSchema.parse({
      name: 'pretrained',
      grid: { x: [1, 2, 4, 8, 16] },
      evaluate: { command: ['node', 'test/fixtures/stageJob.mjs', 'evaluate', '--pretrained'], env },
      metrics: ['score'],
      fits: [{ name: 'law', form: 'power_law', x: 'total_flops', y: { metrics: ['score'] }, bootstrap: 10 }],
    });
    const before = log().length;
    const summary = (await h.env.client.workflow.execute('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/pretrained', args: [s] })) as SweepSummary;
    expect(summary.byState.succeeded).toBe(5);
    expect(count('train', before)).toBe(0);
    expect(count('evaluate', before)).toBe(5);
    expect(summary.fits[0].error).toBeUndefined();
    expect(summary.fits[0].nPoints).toBe(5);
  }, 120_000);
});
