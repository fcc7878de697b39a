import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// @temporalio/proto is CommonJS: Node's ESM loader cannot see its named exports, so take the default.
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundlePath } from '../../worker/bundle';
import { REPO_ROOT } from '../../worker/settings';

// Histories recorded by `scripts/record-histories.ts` from sweeps that continued as new, were
// paused, resumed, extended, retried and cancelled, and from runs that were preempted and
// evaluated. Today's workflow code must replay every one: a sweep already running when a new
// worker release rolls out goes on where it was. A change that breaks one needs `patched()`.
const DIR = join(REPO_ROOT, 'test/histories');

describe('workflow code replays the committed histories', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.binpb'));
  const read = (f: string) => proto.temporal.api.history.v1.History.decode(readFileSync(join(DIR, f)));

  it('has histories of both workflows and of a sweep that continued as new', () => {
    const types = files.map((f) => read(f).events[0].workflowExecutionStartedEventAttributes?.workflowType?.name);
    expect(new Set(types)).toEqual(new Set(['sweep', 'sweepRun']));
    expect(files.filter((f) => /^sweep_hist_life-/.test(f)).length).toBeGreaterThanOrEqual(2);
  });

  it('replays each without a nondeterminism error', async () => {
    const bundle = await workflowBundlePath();
    const histories = files.map((f) => ({ workflowId: f, history: read(f) }));
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: bundle } }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(histories.length).toBe(files.length);
  }, 120_000);
});
