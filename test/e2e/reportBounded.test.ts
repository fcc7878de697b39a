/**
 * The sweep report stays bounded (issue 8 item 5) and says why a fit could not run (item 4):
 * a 1,000-run sweep whose results carry 1,000 metrics and big artifact maps each renders
 * under 2 MB with the omissions said; a law whose final refit failed is listed with its
 * reason, and an older (live) fit of it is never shown as final.
 */
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport, type ReportFit, type ReportRun } from '../../report/index';
import { fitDataset } from '../../scaling/index';
import { refitSweep } from '../../activities/refit';
import { writeSweepReport } from '../../activities/report';
import { escapeHtml } from '../../report/html';
import { MAX_RESULT_BYTES, parseJobResult, SweepSpecSchema, type JobResult, type SweepSpec } from '../../spec';
import { SqliteStore } from '../../store/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'sweep-report-bounded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scoreAt = (flops: number) => 1 - (0.3 + 0.5 * (flops / 1e13) ** -0.3);
const ARTIFACT_MARK = 'ARTIFACT-PAYLOAD-';

const spec = (name: string, fits: unknown[]): SweepSpec =>
  SweepSpecSchema.parse({
    name,
    grid: { arch: ['resnet18'], seed: [0] },
    job: { image: 'trainer:latest', command: ['true'] },
    executor: { kind: 'local' },
    metrics: ['V1'],
    fits,
  });

/** A result as the job -> run boundary accepts it (throws its reason otherwise). */
function accepted(resultText: string): JobResult {
  const parsed = parseJobResult(resultText, []);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.result;
}

async function addRun(store: SqliteStore, sweep: string, i: number, result: JobResult) {
  const runId = `run-${String(i).padStart(4, '0')}`;
  const axes = { arch: 'resnet18', seed: i };
  await store.recordResult({ sweep, runId, attempt: 1, axes, result, gpuSeconds: 3600, recordedAt: '2025-01-01T00:00:00Z' });
  await store.upsertRun({ sweep, runId, axes, state: 'succeeded', attempts: 1, gpus: 1, gpuSeconds: 3600, updatedAt: '2025-01-01T00:00:00Z' });
}

describe('sweep report: bounded', () => {
  it('a 1,000-run sweep with 1,000 metrics and 64 KB of artifacts per result renders under 2 MB and says what it left out', async () => {
    // In memory: the same SQLite store, without 100 MB of disk writes in a unit of test time.
    const store = new SqliteStore(':memory:');
    const s = spec('big', [{ name: 'neuro', form: 'power_law', x: 'total_flops', y: { metrics: ['V1'] }, bootstrap: 0 }]);
    const artifacts = Object.fromEntries(Array.from({ length: 64 }, (_, k) => [`file-${k}`, ARTIFACT_MARK + 'x'.repeat(1000)]));
    const metrics: Record<string, number> = { V1: 0 };
    for (let k = 1; k < 1000; k++) metrics[`benchmark_metric_${String(k).padStart(4, '0')}`] = k / 1000;
    // One result passes the boundary (1,000 metrics and the artifacts are within its limits);
    // the others differ only in V1 and compute (validating 1,000 alike would cost seconds).
    const text = JSON.stringify({ metrics, n_params: 11689512, n_samples_seen: 1e6, total_flops: 1e14, artifacts });
    expect(text.length).toBeGreaterThan(64_000);
    expect(text.length).toBeLessThan(MAX_RESULT_BYTES);
    const template = accepted(text);
    for (let i = 0; i < 1000; i++) {
      const flops = 1e14 * 10 ** ((i % 100) / 25);
      const result = { ...template, metrics: { ...template.metrics, V1: i === 7 ? 7.5 : scoreAt(flops) }, total_flops: flops };
      await addRun(store, 'big', i, result);
    }
    const finalFits = await refitSweep(store, s, 'final');
    expect(finalFits).toHaveLength(1);
    expect(finalFits[0]).toMatchObject({ name: 'neuro', final: true, nPoints: 999, nExcluded: 1 });
    const path = await writeSweepReport(store, s, dir, finalFits);
    await store.close();

    const bytes = statSync(path).size;
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    const html = readFileSync(path, 'utf8');
    expect(html).not.toContain(ARTIFACT_MARK);
    expect(html).toContain('Left out of this report');
    expect(html).toContain('Metrics beyond the first 12 columns omitted from the run table (1000 metrics in the results).');
    expect(html).toContain('Raw result payloads (artifacts, checkpoint metrics, failure messages) are not included');
    // The fit is there, with the one point it left out and why.
    expect(html).toContain('id="fit-neuro"');
    expect(html).toContain(`<dt>Left out</dt><dd class="left-out">${escapeHtml('1 (1 - score <= 0: 1)')}</dd>`);
    // Every run is in the table; V1 is a column (the spec's metric), the 13th metric is not.
    expect(html.match(/<tr><td class="mono">run-\d{4}<\/td>/g)).toHaveLength(1000);
    expect(html).toContain('<th>V1</th>');
    expect(html).toContain('<th>benchmark_metric_0011</th>');
    expect(html).not.toContain('benchmark_metric_0012');
    console.log(`report of 1,000 runs x 1,000 metrics: ${bytes} bytes`);
  }, 120_000);
});

describe('renderReport: bounded whatever the number of fits', () => {
  it('40 fits of 1,000 points each and 1,000 runs of 8 axes and 1,000 metrics: under 2 MB, omissions said', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => {
      const f = 1e14 * 10 ** ((i % 100) / 25);
      const family = ['ResNet', 'ViT', 'ConvNeXt'][i % 3];
      return { model_id: `m${i}`, arch: 'resnet18', arch_family: family, dataset: 'imagenet', region: 'V1', score: scoreAt(f) + 0.01 * Math.sin(i), total_flops: f };
    });
    const one = fitDataset(rows, { name: 'law', form: 'power_law', x: 'total_flops', y: { metrics: ['V1'], invert: true }, bootstrap: 50 }) as ReportFit;
    expect(one.points).toHaveLength(1000);
    const fits = Array.from({ length: 40 }, (_, i) => ({ ...one, name: `law-${i}` }));
    const metrics = Object.fromEntries(Array.from({ length: 1000 }, (_, k) => [`metric_${k}`, k / 7]));
    const runs: ReportRun[] = Array.from({ length: 1200 }, (_, i) => ({
      runId: `convnext_tiny-ecoset-300-100-${i}-0a1b2c3d`,
      state: i % 10 ? 'succeeded' : 'failed',
      axes: { arch: 'convnext_tiny', dataset: 'ecoset', samples_per_class: 300, epochs: 100, seed: i, lr: 0.001, wd: 0.05, width: 64 },
      attempts: 2,
      failureClass: i % 10 ? undefined : 'oom',
      gpuHours: 1.2345,
      metrics,
    }));
    const html = await renderReport({ fits, generatedAt: '2025-01-01T00:00:00Z', sweep: { name: 'wide', counts: { succeeded: 1080, failed: 120 }, runs } });
    const bytes = Buffer.byteLength(html, 'utf8');
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    expect(html).toContain('Figures and parameter tables of 32 fits beyond the first 8 omitted (they are in the overview table).');
    expect(html).toContain('Table shows 1000 of 1200 runs. Metrics beyond the first 12 columns omitted (1000 metrics in the results).');
    expect(html).toContain('figures plot 125 of 1000 points (evenly sampled)');
    expect(html.match(/<section class="fit" /g)).toHaveLength(8);
    expect(html.match(/<tr><td><a href="#fit-law-\d+">/g)).toHaveLength(40);
    console.log(`report of 40 fits x 1,000 points, 1,200 runs: ${bytes} bytes`);
  }, 60_000);
});

describe('sweep report: fits that could not run', () => {
  const fit = { name: 'neuro', form: 'power_law', x: 'total_flops', y: { metrics: ['V1'] }, bootstrap: 0 };

  it("a sweep whose only fit cannot run: the report gives the reason and shows no older fit as final", async () => {
    const store = new SqliteStore(join(dir, 'broken.db'));
    const s = spec('broken', [fit]);
    // Four good runs: a live refit succeeds and is stored (version 1) ...
    for (let i = 0; i < 4; i++) {
      const f = 1e14 * 10 ** i;
      await addRun(store, 'broken', i, accepted(JSON.stringify({ metrics: { V1: scoreAt(f) }, n_params: 10, total_flops: f })));
    }
    const [live] = await refitSweep(store, s, 'point');
    expect(live).toMatchObject({ version: 1 });
    expect(live.error).toBeUndefined();
    // ... then the runs are re-recorded with impossible scores: the final refit cannot run.
    for (let i = 0; i < 4; i++) {
      await addRun(store, 'broken', i, accepted(JSON.stringify({ metrics: { V1: 7.5 }, n_params: 10, total_flops: 1e14 * 10 ** i })));
    }
    const finalFits = await refitSweep(store, s, 'final');
    const reason = 'only 0 usable points (need 4); 4 left out: 1 - score <= 0 (4)';
    expect(finalFits).toEqual([{ name: 'neuro', form: 'power_law', nPoints: 0, stage: 'point', params: {}, version: 0, nExcluded: 4, error: reason }]);
    const path = await writeSweepReport(store, s, dir, finalFits);
    await store.close();
    const html = readFileSync(path, 'utf8');
    expect(html).toContain('Fits that could not run');
    expect(html).toContain(`<td class="reason">${escapeHtml(reason)}</td>`);
    expect(html).not.toContain('id="fit-neuro"'); // the stale live fit is not presented
    expect(html).toContain('<p>No fits.</p>');
  });
});
