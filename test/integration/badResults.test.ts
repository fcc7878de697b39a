import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SweepSpecSchema } from '../../spec';
import type { SweepSummary } from '../../contract';
import { progressQuery } from '../../contract';
import { startHarness, type Harness } from './helpers/harness';

const FIT = { name: 'law', form: 'power_law', x: 'total_flops', y: { metrics: ['score'] }, bootstrap: 20 };

describe('impossible results fail their own run; unusable points are left out and counted', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('a mix of valid and impossible results: bad-result with the field named, fits from the valid points', async () => {
    const spec = SweepSpecSchema.parse({
      name: 'mixed',
      grid: { kind: ['valid'], x: [1, 2, 4, 8, 16, 32] },
      include: ['score75', 'negparams', 'zeroflops', 'huge', 'manymetrics'].map((kind) => ({ kind, x: 3 })),
      job: { command: ['node', 'test/fixtures/resultJob.mjs'], resources: { gpus: 0 } },
      concurrency: { maxRuns: 6 },
      metrics: ['score'],
      fits: [FIT],
      refit: { every: 3, bootstrap: 10 },
    });
    const handle = await h.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/mixed', args: [spec] });
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState).toEqual({ pending: 0, running: 0, succeeded: 7, failed: 4, cancelled: 0 });
    const runs = await h.store.listRuns('mixed');
    const byKind = Object.fromEntries(runs.map((r) => [String(r.axes.kind) + (r.axes.kind === 'valid' ? r.axes.x : ''), r]));
    expect(byKind.score75.state).toBe('succeeded');
    for (const [kind, field] of [
      ['negparams', /result field "n_params": must be a whole number >= 1/],
      ['zeroflops', /result field "total_flops": must be > 0/],
      ['huge', /result( file)? is \d+ bytes, over the limit of 1048576 bytes/],
      ['manymetrics', /result field "metrics": has 5001 metrics \(limit 1000\)/],
    ] as const) {
      expect(byKind[kind].state, kind).toBe('failed');
      expect(byKind[kind].failureClass, kind).toBe('bad-result');
      expect(byKind[kind].message, kind).toMatch(field);
    }
    // The final fit uses the six valid points and leaves the 7.5 out (1 - score <= 0).
    expect(summary.fits).toHaveLength(1);
    const [fit] = summary.fits;
    expect(fit.error).toBeUndefined();
    expect(fit.final).toBe(true);
    expect(fit.nPoints).toBe(6);
    expect(fit.nExcluded).toBe(1);
    const report = readFileSync(summary.reportPath!, 'utf8');
    expect(report).toMatch(/Left out/);
    // The sweep's details in the Web UI say it too.
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toMatch(/law \(power_law, 6 points, 1 left out, final\)/);
    const progress = await handle.query(progressQuery);
    expect(progress.fits[0].nExcluded).toBe(1);
  }, 180_000);

  it('a sweep whose only fit cannot run ends with the reason in its summary, details and report', async () => {
    const spec = SweepSpecSchema.parse({
      name: 'unfit',
      grid: { kind: ['score75'], x: [1, 2, 3, 4, 5] },
      job: { command: ['node', 'test/fixtures/resultJob.mjs'], resources: { gpus: 0 } },
      metrics: ['score'],
      fits: [FIT],
      refit: { every: 2, bootstrap: 0 },
    });
    const handle = await h.env.client.workflow.start('sweep', { taskQueue: 'scaling-sweeps', workflowId: 'sweep/unfit', args: [spec] });
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState.succeeded).toBe(5);
    expect(summary.fits).toHaveLength(1);
    expect(summary.fits[0].error).toMatch(/5 left out: 1 - score <= 0/);
    expect(summary.fits[0].final).toBeUndefined();
    const progress = await handle.query(progressQuery);
    expect(progress.fits[0].error).toMatch(/1 - score <= 0/);
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toMatch(/law \(power_law, 5 left out\): not fitted - .*1 - score <= 0/);
    const report = readFileSync(summary.reportPath!, 'utf8');
    expect(report).toMatch(/could not run/i);
    expect(report).toMatch(/1 - score &lt;= 0|1 - score <= 0/);
  }, 120_000);
});
