import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SweepSummary } from '../../contract';
import { REPO_ROOT } from '../../worker/settings';
import { runProcess, temporalOk } from './helpers/cli';
import { startHarness, type Harness } from './helpers/harness';

// Ten axes of ten values: 10^10 cells. Once this grew `sweep validate` to 4 GB and took down
// the workers of a task queue (the validateSpec activity grew past 3.8 GB and was retried forever).
const HUGE = {
  name: 'huge',
  grid: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`ax${i}`, Array.from({ length: 10 }, (_, j) => j)])),
  job: { command: ['node', 'sim/sleepJob.mjs'] },
  concurrency: { maxRuns: 4, maxGpus: 8 },
};

const dir = mkdtempSync(join(tmpdir(), 'sweep-hostile-'));
const hugeFile = join(dir, 'huge.yaml');
writeFileSync(hugeFile, JSON.stringify(HUGE));
const rssHook = join(dir, 'rss.mjs');
// Records the CLI's peak RSS (KiB) when it exits, however it exits.
writeFileSync(
  rssHook,
  "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.RSS_OUT, String(process.resourceUsage().maxRSS)));\n",
);

async function cliMeasured(args: string[], env: NodeJS.ProcessEnv) {
  const out = join(dir, `rss-${args[0]}.txt`);
  const t0 = Date.now();
  const r = await runProcess(process.execPath, ['--import', rssHook, resolve(REPO_ROOT, 'bin/sweep.js'), ...args], {
    env: { ...env, RSS_OUT: out, NO_COLOR: '1' },
  });
  return { ...r, ms: Date.now() - t0, rssMiB: Number(readFileSync(out, 'utf8')) / 1024 };
}

describe('a 10^10-cell spec is refused, never expanded', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  for (const command of ['validate', 'start']) {
    it(`sweep ${command}: exit 2 in under 2 s and 300 MB, with the size and the limit`, async () => {
      const r = await cliMeasured([command, hugeFile], h.childEnv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/grid: the grid has 10,000,000,000 cells, over the limit of 10,000/);
      expect(r.ms).toBeLessThan(2000);
      expect(r.rssMiB).toBeLessThan(300);
    }, 30_000);
  }

  it('started with `temporal workflow start`, the sweep fails as InvalidSpec at once and the worker serves the next sweep', async () => {
    const input = join(dir, 'huge.json');
    writeFileSync(input, JSON.stringify(HUGE));
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const t0 = Date.now();
    try {
      await temporalOk(h, ['workflow', 'start', '--type', 'sweep', '--task-queue', 'scaling-sweeps', '--workflow-id', 'sweep/huge', '--input-file', input]);
      const err = await h.env.client.workflow
        .getHandle('sweep/huge')
        .result()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('InvalidSpec');
      expect((cause as ApplicationFailure).message).toMatch(/10,000,000,000 cells, over the limit of 10,000/);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const desc = await h.env.client.workflow.getHandle('sweep/huge').describe();
      expect(desc.status.name).toBe('FAILED');
    } finally {
      clearInterval(sampler);
    }
    // The worker is this process: it never grew toward the old 3.8 GB.
    expect(peak).toBeLessThan(1024 ** 3);
    const ok = (await h.env.client.workflow.execute('sweep', {
      taskQueue: 'scaling-sweeps',
      workflowId: 'sweep/after-huge',
      args: [{ name: 'after-huge', grid: { x: [1, 2, 3] }, job: { command: ['node', 'sim/sleepJob.mjs'] }, metrics: ['score'] }],
    })) as SweepSummary;
    expect(ok.byState.succeeded).toBe(3);
  }, 90_000);
});
