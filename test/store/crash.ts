import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { JobResult } from '../../spec';
import { openStore } from '../../store/open';
import type { AttemptEnd, AttemptStart, AttemptWrite, ResultsStore } from '../../store/types';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./crashChild.ts', import.meta.url));
/** Bounded: a child stuck on a lock fails the test instead of hanging it. */
const CHILD_TIMEOUT_MS = 30_000;

/**
 * A worker SIGKILLed between the writes of an attempt's launch or end: a child process opens
 * the store `target()` names, starts `launchAttempt` / `finishAttempt`, and kills itself
 * from the store's test hook right after one write. The parent then reopens the store and
 * checks that none of the writes landed (the transaction never committed), and that the
 * replay a retried activity makes completes it.
 */
export function describeCrashInjection(name: string, target: () => string): void {
  describe(`crash between an attempt's writes: ${name}`, () => {
    const withStore = async <T>(fn: (s: ResultsStore) => Promise<T>): Promise<T> => {
      const s = await openStore(target());
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    };

    it('the child runs finishAttempt to the end when not told to crash (control)', async () => {
      const s = uniq();
      await withStore((st) => st.launchAttempt(launched(s)));
      expect(await runChild('finish', 'never', finished(s))).toEqual({ code: 0, signal: null });
      await withStore(async (st) => expect(await rows(st, s)).toEqual(expectedFinished(s)));
    });

    for (const after of ['result', 'attempt'] as const) {
      it(`SIGKILL after the ${after} write of finishAttempt leaves the launch state; a replay completes it`, async () => {
        const s = uniq();
        await withStore((st) => st.launchAttempt(launched(s)));
        const before = await withStore((st) => rows(st, s));
        expect(before.runs.map((r) => r.state)).toEqual(['running']);

        // Killed by its own hook: proof that it got past the first write and no further.
        expect(await runChild('finish', after, finished(s))).toEqual({ code: null, signal: 'SIGKILL' });

        await withStore(async (st) => {
          const got = await rows(st, s);
          expect(inconsistencies(got)).toEqual([]);
          expect(got).toEqual(before);
          // The retried activity replays the same end: all three land, and a second replay changes nothing.
          await st.finishAttempt(finished(s));
          expect(await rows(st, s)).toEqual(expectedFinished(s));
          await st.finishAttempt(finished(s));
          expect(await rows(st, s)).toEqual(expectedFinished(s));
        });
      });
    }

    it('SIGKILL after the attempt write of launchAttempt leaves neither row; a replay records both', async () => {
      const s = uniq();
      const pending = { ...launched(s).run, state: 'pending' as const, attempts: 0 };
      await withStore((st) => st.upsertRun(pending));
      expect(await runChild('launch', 'attempt', launched(s))).toEqual({ code: null, signal: 'SIGKILL' });
      await withStore(async (st) => {
        const got = await rows(st, s);
        expect(got).toEqual({ runs: [pending], attempts: [], results: [] });
        await st.launchAttempt(launched(s));
        expect(await rows(st, s)).toEqual({ runs: [launched(s).run], attempts: [launched(s).attempt], results: [] });
      });
    });

    /** Spawns crashChild.ts; resolves with how it exited. */
    function runChild(
      call: 'launch' | 'finish',
      after: AttemptWrite | 'never',
      payload: AttemptStart | AttemptEnd,
    ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            SWEEP_CRASH_STORE: target(),
            SWEEP_CRASH_CALL: call,
            SWEEP_CRASH_AFTER: after,
            SWEEP_CRASH_ROWS: JSON.stringify(payload),
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`crash child did not exit within ${CHILD_TIMEOUT_MS} ms\n${stderr}`));
        }, CHILD_TIMEOUT_MS);
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          if (code !== 0 && signal === null) reject(new Error(`crash child failed (exit ${code}):\n${stderr}`));
          else resolve({ code, signal });
        });
      });
    }
  });
}

const uniq = () => `crash-${randomUUID().slice(0, 8)}`;
const ts = (minute: number) => new Date(Date.UTC(2024, 4, 1, 12, minute, 0, 250)).toISOString();
const RUN = 'resnet18-a1b2c3';
const axes = { arch: 'resnet18', samples_per_class: 100, seed: 0 };
const jobResult: JobResult = {
  metrics: { V1: 0.22, IT: 0.42, acc: 0.71 },
  n_params: 11689512,
  checkpoints: [{ epoch: 10, metrics: { V1: 0.1, IT: 0.2, acc: 0.3 } }],
};

const launched = (s: string): AttemptStart => ({
  attempt: {
    sweep: s,
    runId: RUN,
    attempt: 1,
    jobName: `sweep-${RUN}-a1`,
    state: 'running',
    startedAt: ts(1),
    gpuSeconds: 0,
  },
  run: { sweep: s, runId: RUN, axes, state: 'running', attempts: 1, gpus: 1, gpuSeconds: 0, updatedAt: ts(1) },
});

const finished = (s: string): AttemptEnd => ({
  result: { sweep: s, runId: RUN, attempt: 1, axes, result: jobResult, gpuSeconds: 120.5, recordedAt: ts(3) },
  attempt: { ...launched(s).attempt, state: 'succeeded', exitCode: 0, finishedAt: ts(3), gpuSeconds: 120.5 },
  run: { ...launched(s).run, state: 'succeeded', gpuSeconds: 120.5, updatedAt: ts(3) },
});

const expectedFinished = (s: string) => {
  const end = finished(s);
  return { runs: [end.run], attempts: [end.attempt], results: [end.result] };
};

const rows = async (st: ResultsStore, s: string) => ({
  runs: await st.listRuns(s),
  attempts: await st.listAttempts(s),
  results: await st.listResults(s),
});

/**
 * What a torn attempt end looks like: a run succeeded without its result, a result or a
 * finished attempt under a run still `running` at that attempt.
 */
function inconsistencies(got: Awaited<ReturnType<typeof rows>>): string[] {
  const out: string[] = [];
  for (const run of got.runs) {
    const result = got.results.find((r) => r.runId === run.runId);
    const last = got.attempts.find((a) => a.runId === run.runId && a.attempt === run.attempts);
    if (run.state === 'succeeded' && !result) out.push(`${run.runId}: succeeded without a result`);
    if (run.state === 'running' && last?.state === 'succeeded') out.push(`${run.runId}: running, attempt succeeded`);
    if (run.state === 'running' && result?.attempt === run.attempts) out.push(`${run.runId}: running with a result`);
  }
  return out;
}
