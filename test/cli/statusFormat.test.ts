/**
 * Issue 8: what `status` / `watch` print and how they exit, pinned: fits show the points they
 * left out and why they could not run; a sweep's outcome maps to its exit code; a server that
 * is still starting is waited for, briefly and boundedly.
 */
import { TypedSearchAttributes } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { fitStatusLine, sweepOutcome } from '../../cli/sweepState';
import { studyLine } from '../../workflows/text';
import { connectWithRetry, TemporalUnreachableError } from '../../worker/connect';
import { RunState } from '../../contract';

const desc = (name: string, runState?: string) => ({
  status: { name, code: 0 } as never,
  typedSearchAttributes: new TypedSearchAttributes(runState ? [{ key: RunState, value: runState }] : []),
});

describe('fit lines in `sweep status`', () => {
  it('show the points a fit left out', () => {
    const line = fitStatusLine({ name: 'neuro', form: 'power_law', nPoints: 20, stage: 'bootstrap', params: { alpha: 0.1234, E: 0.3 }, intervals: { alpha: [0.1, 0.15] }, version: 3, nExcluded: 2 });
    expect(line).toContain('neuro (power_law, 20 points');
    expect(line).toContain('2 left out');
    expect(line).toContain('alpha = 0.123 [0.100, 0.150]');
  });
  it('say why a fit could not run', () => {
    const line = fitStatusLine({ name: 'neuro', form: 'power_law', nPoints: 0, stage: 'point', params: {}, version: 0, nExcluded: 5, error: 'only 2 usable points (need 4)' });
    expect(line).toContain('neuro (power_law');
    expect(line).toContain('only 2 usable points (need 4)');
    expect(line).toContain('5 left out');
  });
});

describe('exit codes of `start --watch` / `watch`', () => {
  it('0 completed, 1 failed or timed out, 3 cancelled (also by `sweep cancel`) or terminated', () => {
    expect(sweepOutcome(desc('COMPLETED', 'completed'))).toEqual({ status: 'COMPLETED', word: 'completed', exitCode: 0 });
    expect(sweepOutcome(desc('COMPLETED', 'cancelled'))).toEqual({ status: 'COMPLETED', word: 'cancelled', exitCode: 3 });
    expect(sweepOutcome(desc('FAILED'))).toEqual({ status: 'FAILED', word: 'failed', exitCode: 1 });
    expect(sweepOutcome(desc('TIMED_OUT'))).toEqual({ status: 'TIMED_OUT', word: 'timed out', exitCode: 1 });
    expect(sweepOutcome(desc('CANCELLED'))).toEqual({ status: 'CANCELLED', word: 'cancelled', exitCode: 3 });
    expect(sweepOutcome(desc('TERMINATED'))).toEqual({ status: 'TERMINATED', word: 'terminated', exitCode: 3 });
  });
});

describe('waiting for a server that is still starting', () => {
  const settings = { address: '127.0.0.1:7233', namespace: 'default', tls: undefined };
  it('retries `14 UNAVAILABLE: shard status unknown` until it answers', async () => {
    let calls = 0;
    const v = await connectWithRetry(
      settings,
      async () => {
        if (++calls < 3) throw new Error('14 UNAVAILABLE: shard status unknown');
        return 'ok';
      },
      { totalMs: 5_000, intervalMs: 10 },
    );
    expect(v).toBe('ok');
    expect(calls).toBe(3);
  });
  it('gives up within its bound with the address and how to start a server', async () => {
    const t0 = Date.now();
    const err = await connectWithRetry(settings, () => Promise.reject(new Error('14 UNAVAILABLE: shard status unknown')), { totalMs: 300, intervalMs: 50 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(TemporalUnreachableError);
    expect((err as Error).message).toContain('cannot reach Temporal at 127.0.0.1:7233 (namespace default)');
    expect((err as Error).message).toContain('the server is still starting (shard status unknown)');
    expect((err as Error).message).toContain('temporal server start-dev');
  });
  it('does not retry what waiting cannot fix', async () => {
    let calls = 0;
    await expect(
      connectWithRetry(settings, () => {
        calls++;
        return Promise.reject(new Error('7 PERMISSION_DENIED: Request unauthorized'));
      }, { totalMs: 5_000, intervalMs: 10 }),
    ).rejects.toThrow('PERMISSION_DENIED');
    expect(calls).toBe(1);
  });
});

describe('the adaptive study line of `sweep status` and the Web UI', () => {
  it('gives the budget spent, the target with its interval, and once done why and how many cells it skipped', () => {
    const running = studyLine({ spentGpuHours: 0.1234, budgetGpuHours: 0.5, skipped: 0, ciWidth: 0.0456, target: { value: 0.18123, ci: [0.151, 0.1966] } });
    expect(running).toBe('0.123 of 0.5 GPU-hours spent - target 0.1812 [0.1510, 0.1966] - target 95% interval width 0.0456');
    const done = studyLine({ spentGpuHours: 0.49, budgetGpuHours: 0.5, skipped: 17, stop: 'budget spent' });
    expect(done).toBe('0.490 of 0.5 GPU-hours spent - done: budget spent; 17 cells skipped');
    // Read back from the store after the sweep failed: what it spent is not known.
    expect(studyLine({ spentGpuHours: NaN, budgetGpuHours: 2, skipped: 3 })).toBe('budget 2 GPU-hours');
  });
});
