import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SweepSpecSchema } from '../../spec';
import type { SweepSummary } from '../../contract';
import { startHarness, type Harness } from './helpers/harness';

const MARKER = 'sk-test-9f8e7d6c5b4a-never-in-history';

/** Every file below a folder, as text (the results store, reports, the executor's registry). */
function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesBelow(p) : [p];
  });
}

describe('a secret reference in a sweep', () => {
  let h: Harness;
  beforeAll(async () => {
    // The worker has the secret (as a cluster would have it in a Secret); the spec names it only.
    process.env.SWEEP_SECRET_WANDB__TOKEN = MARKER;
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    delete process.env.SWEEP_SECRET_WANDB__TOKEN;
    await h?.stop();
  });

  it('reaches the job, and no history, memo, result or store row holds its value', async () => {
    const spec = SweepSpecSchema.parse({
      name: 'secret',
      grid: { x: [1, 2] },
      job: {
        // The job proves it saw the value without writing it anywhere
        // (a digest of it, as a number: the value itself must not be in the spec either).
        command: [
          'node',
          '-e',
          "const fs=require('fs');const d=parseInt(require('crypto').createHash('sha256').update(process.env.TOKEN||'').digest('hex').slice(0,8),16);fs.writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify({metrics:{score:0.5, seen: d}, n_params: 10, total_flops: 100, n_samples_seen: 10}))",
        ],
        env: { TOKEN: { secretKeyRef: { name: 'wandb', key: 'token' } } },
        resources: { gpus: 0 },
      },
      metrics: ['score'],
    });
    const handle = await h.env.client.workflow.start('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/secret',
      args: [spec],
    });
    const summary = (await handle.result()) as SweepSummary;
    expect(summary.byState.succeeded).toBe(2);
    const results = await h.store.listResults('secret');
    const digest = parseInt(createHash('sha256').update(MARKER).digest('hex').slice(0, 8), 16);
    expect(results.map((r) => r.result.metrics.seen)).toEqual([digest, digest]);
    // Histories (inputs, activity arguments, details, memos) of the sweep and of every run.
    const texts: string[] = [];
    for await (const wf of h.env.client.workflow.list({ query: 'WorkflowId STARTS_WITH "sweep/secret"' })) {
      const hist = await h.env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      // Payloads are base64 in the JSON form: decode them, so the search sees inputs, results, details.
      texts.push(
        JSON.stringify(hist, (k, v: unknown) =>
          k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : v,
        ),
      );
      texts.push(JSON.stringify(wf.memo ?? {}));
    }
    expect(texts.length).toBeGreaterThanOrEqual(6);
    expect(texts.join('\n')).toContain('secretKeyRef');
    expect(texts.join('\n')).not.toContain(MARKER);
    // The results store and every file the executor and the report wrote.
    for (const f of filesBelow(h.dirs.root)) expect(readFileSync(f, 'latin1').includes(MARKER), f).toBe(false);
  }, 120_000);
});
