import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SweepSpecSchema, type AxisValue, type FailureClass, type SweepSpecInput } from '../../spec';
import { classifyProcessExit, type ProcessExit } from '../../activities/executors/local/classify';
import { JobGoneError } from '../../activities/executors/types';
import { LocalExecutor } from '../../activities/executors/local';
import type { JobOutcome, JobPhase, LaunchRequest } from '../../activities/executors/types';

describe('classifyProcessExit', () => {
  const table: [string, ProcessExit, FailureClass | undefined][] = [
    ['exit 0', { code: 0, signal: null }, undefined],
    ['SIGKILL', { code: null, signal: 'SIGKILL' }, 'oom'],
    ['exit 137', { code: 137, signal: null }, 'oom'],
    ['SIGTERM', { code: null, signal: 'SIGTERM' }, 'preempted'],
    ['exit 143', { code: 143, signal: null }, 'preempted'],
    ['listed exit code 3', { code: 3, signal: null }, 'user-error'],
    ['listed exit code 42', { code: 42, signal: null }, 'user-error'],
    ['unlisted exit code 1', { code: 1, signal: null }, 'unknown'],
    ['other signal', { code: null, signal: 'SIGSEGV' }, 'unknown'],
    ['killed for timeout (SIGKILL)', { code: null, signal: 'SIGKILL', killedFor: 'timeout' }, 'timeout'],
    ['killed for timeout (exit 0 on the way out)', { code: 0, signal: null, killedFor: 'timeout' }, 'timeout'],
  ];
  it.each(table)('%s', (_name, exit, want) => {
    const got = classifyProcessExit(exit, [3, 42]);
    expect(got?.failureClass).toBe(want);
    if (got) expect(got.message.length).toBeGreaterThan(0);
  });

  it('the message says what happened', () => {
    expect(classifyProcessExit({ code: 3, signal: null }, [3])?.message).toMatch(/exit code 3.*nonRetryableExitCodes/);
    expect(classifyProcessExit({ code: 1, signal: null }, [3])?.message).toBe('exit code 1');
    expect(classifyProcessExit({ code: null, signal: 'SIGSEGV' }, [])?.message).toBe('killed by SIGSEGV');
  });
});

// ---------------------------------------------------------------------------------------------
// The real LocalExecutor, with tiny `node -e` jobs.

const root = mkdtempSync(join(tmpdir(), 'sweep-local-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh registry dir and launch log per test. */
const sandbox = () => {
  const dir = join(root, `t${n++}`);
  return { dir, launchLog: join(dir, 'launches.log') };
};

const WRITE_RESULT = `require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify({ metrics: { V1: 0.5 }, n_params: 7 }))`;
const RESULT_TEXT = JSON.stringify({ metrics: { V1: 0.5 }, n_params: 7 });
const HANG = 'setInterval(() => {}, 1000)';

function request(
  script: string,
  over: {
    job?: Partial<SweepSpecInput['job']>;
    timeouts?: SweepSpecInput['timeouts'];
    retry?: SweepSpecInput['retry'];
  } = {},
  cell: { runId?: string; attempt?: number; axes?: Record<string, AxisValue> } = {},
): LaunchRequest {
  const spec = SweepSpecSchema.parse({
    name: 'local-test',
    grid: { arch: ['resnet18'], seed: [0] },
    // "--" ends node's own options, so job args like --arch=... reach the script.
    job: { image: 'unused', command: ['node', '-e', script, '--'], ...over.job },
    timeouts: over.timeouts ?? { run: '30s' },
    retry: over.retry ?? { nonRetryableExitCodes: [3] },
  });
  return {
    sweep: 'local-test',
    instance: 'inst-test',
    jobHash: 'job-test',
    runId: cell.runId ?? 'resnet18-0-abcdef12',
    attempt: cell.attempt ?? 1,
    axes: cell.axes ?? { arch: 'resnet18', seed: 0 },
    resources: { gpus: 2, cpu: 1, memory: '1Gi' },
    spec: { job: spec.job!, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
  };
}

async function launchAndWatch(ex: LocalExecutor, req: LaunchRequest, phases: JobPhase[] = []): Promise<JobOutcome> {
  await ex.launch(req);
  return ex.watch(req, (p) => phases.push(p), new AbortController().signal);
}

const launchLines = (file: string): string[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
    : [];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const pidOf = (phases: JobPhase[]): number => {
  const m = /pid (\d+)/.exec(phases.find((p) => p.phase === 'running')?.pod ?? '');
  if (!m) throw new Error(`no pid in ${JSON.stringify(phases)}`);
  return Number(m[1]);
};

describe('LocalExecutor', () => {
  it('a job that writes its result succeeds with the result text', async () => {
    const ex = new LocalExecutor(sandbox());
    const phases: JobPhase[] = [];
    const out = await launchAndWatch(ex, request(WRITE_RESULT), phases);
    expect(out).toMatchObject({ status: 'succeeded', resultText: RESULT_TEXT });
    expect(out.gpuSeconds).toBeGreaterThanOrEqual(0);
    expect(phases.map((p) => p.phase)).toEqual(['running', 'succeeded']);
    expect(phases[0].node).toBe('local');
  });

  it('adopt-only launch of an attempt with no record throws JobGoneError and starts nothing', async () => {
    const ex = new LocalExecutor(sandbox());
    const req = request('process.exit(0)', {}, { runId: 'gone' });
    await expect(ex.launch(req, { adoptOnly: true })).rejects.toBeInstanceOf(JobGoneError);
    expect((await ex.launch(req)).adopted).toBe(false);
    expect((await ex.launch(req, { adoptOnly: true })).adopted).toBe(true);
  });

  it('exit 0 without a result file is bad-result', async () => {
    const out = await launchAndWatch(new LocalExecutor(sandbox()), request('process.exit(0)'));
    expect(out).toMatchObject({ status: 'failed', failureClass: 'bad-result', exitCode: 0 });
  });

  it('real exits are classified: listed code -> user-error, other code -> unknown, SIGKILL -> oom, SIGTERM -> preempted', async () => {
    const ex = new LocalExecutor(sandbox());
    const cases: [string, string, JobOutcome][] = [
      [
        'a',
        'process.exit(3)',
        {
          status: 'failed',
          failureClass: 'user-error',
          message: expect.any(String),
          exitCode: 3,
          gpuSeconds: expect.any(Number),
        },
      ],
      [
        'b',
        'process.exit(1)',
        {
          status: 'failed',
          failureClass: 'unknown',
          message: 'exit code 1',
          exitCode: 1,
          gpuSeconds: expect.any(Number),
        },
      ],
      ['c', "process.kill(process.pid, 'SIGKILL')", expect.objectContaining({ status: 'failed', failureClass: 'oom' })],
      [
        'd',
        "process.kill(process.pid, 'SIGTERM')",
        expect.objectContaining({ status: 'failed', failureClass: 'preempted' }),
      ],
    ];
    const outs = await Promise.all(cases.map(([id, script]) => launchAndWatch(ex, request(script, {}, { runId: id }))));
    outs.forEach((out, i) => expect(out, cases[i][1]).toEqual(cases[i][2]));
  });

  it('a command that cannot start is a user error', async () => {
    const req = request('', { job: { command: ['/nonexistent/trainer-binary'] } });
    const out = await launchAndWatch(new LocalExecutor(sandbox()), req);
    expect(out).toMatchObject({
      status: 'failed',
      failureClass: 'user-error',
      message: expect.stringContaining('cannot start the command'),
    });
  });

  it('a job that never exits is killed and classed timeout after timeouts.run', async () => {
    const ex = new LocalExecutor(sandbox());
    const phases: JobPhase[] = [];
    const t0 = Date.now();
    const out = await launchAndWatch(ex, request(HANG, { timeouts: { run: '1s' } }), phases);
    const took = Date.now() - t0;
    expect(out).toMatchObject({ status: 'failed', failureClass: 'timeout' });
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(6000);
    expect(alive(pidOf(phases))).toBe(false);
  });

  it('launch is idempotent: a second launch of the same attempt adopts it, and the job runs once', async () => {
    const box = sandbox();
    const ex = new LocalExecutor(box);
    const req = request(`setTimeout(() => { ${WRITE_RESULT} }, 300)`);
    expect(await ex.launch(req)).toEqual({ jobName: 'resnet18-0-abcdef12-a1', adopted: false });
    expect(await ex.launch(req)).toEqual({ jobName: 'resnet18-0-abcdef12-a1', adopted: true });
    // Two workers launching the same attempt at once: one starts it, the other adopts it.
    const req2 = { ...req, attempt: 2 };
    const both = await Promise.all([ex.launch(req2), new LocalExecutor(box).launch(req2)]);
    expect(both.map((b) => b.adopted).sort()).toEqual([false, true]);

    const signal = new AbortController().signal;
    const [o1, o2] = await Promise.all([ex.watch(req, () => {}, signal), ex.watch(req2, () => {}, signal)]);
    expect(o1).toMatchObject({ status: 'succeeded', resultText: RESULT_TEXT });
    expect(o2).toMatchObject({ status: 'succeeded', resultText: RESULT_TEXT });
    // After the attempt ended, launching it again still adopts it rather than re-running it.
    expect((await ex.launch(req)).adopted).toBe(true);
    const lines = launchLines(box.launchLog);
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => (JSON.parse(l) as { attempt: number }).attempt).sort()).toEqual([1, 2]);
  });

  it('a new executor (a restarted worker) finds a running attempt and waits for its result', async () => {
    const box = sandbox();
    const req = request(`setTimeout(() => { ${WRITE_RESULT} }, 1200)`);
    expect((await new LocalExecutor(box).launch(req)).adopted).toBe(false);
    // The first worker is gone; a new one retries the launch + watch activity.
    const restarted = new LocalExecutor(box);
    const t0 = Date.now();
    expect((await restarted.launch(req)).adopted).toBe(true);
    const out = await restarted.watch(req, () => {}, new AbortController().signal);
    expect(out).toMatchObject({ status: 'succeeded', resultText: RESULT_TEXT });
    // It waited for the job that was still running (no second launch).
    expect(Date.now() - t0).toBeGreaterThan(500);
    expect(launchLines(box.launchLog)).toHaveLength(1);
  });

  it('a watch without a launch on this machine reports node-lost, without starting anything', async () => {
    const box = sandbox();
    const out = await new LocalExecutor(box).watch(request(WRITE_RESULT), () => {}, new AbortController().signal);
    expect(out).toMatchObject({ status: 'failed', failureClass: 'node-lost' });
    expect(launchLines(box.launchLog)).toHaveLength(0);
  });

  it('cancel stops a running job', async () => {
    const ex = new LocalExecutor(sandbox());
    const req = request(HANG);
    await ex.launch(req);
    const phases: JobPhase[] = [];
    const watching = ex.watch(req, (p) => phases.push(p), new AbortController().signal);
    await new Promise((r) => setTimeout(r, 200));
    const pid = pidOf(phases);
    expect(alive(pid)).toBe(true);
    const t0 = Date.now();
    await ex.cancel(req);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(alive(pid)).toBe(false);
    const out = await watching;
    expect(out.status).toBe('failed');
    // Cancelling an attempt that has ended is a no-op.
    await ex.cancel(req);
  });

  it('an aborted watch returns promptly and leaves the job running', async () => {
    const ex = new LocalExecutor(sandbox());
    const req = request(HANG);
    await ex.launch(req);
    const ac = new AbortController();
    const phases: JobPhase[] = [];
    const watching = ex.watch(req, (p) => phases.push(p), ac.signal);
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    const out = await watching;
    expect(out.status).toBe('failed');
    const pid = pidOf(phases);
    expect(alive(pid)).toBe(true);
    await ex.cancel(req);
    expect(alive(pid)).toBe(false);
  });

  it('gives the job the env contract and renders templates in env and args', async () => {
    const script = `require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify({
      env: Object.fromEntries(['SWEEP_RUN', 'SWEEP_RUN_ID', 'SWEEP_ATTEMPT', 'SWEEP_RESULT_FILE', 'SWEEP_GPUS', 'LABEL', 'OUT'].map((k) => [k, process.env[k]])),
      argv: process.argv.slice(1),
    }))`;
    const box = sandbox();
    const req = request(
      script,
      {
        job: {
          args: [
            '--arch={{arch}}',
            '--spc={{ samples_per_class }}',
            '{{sweep}}/{{runId}}/{{attempt}}',
            'plain arg with spaces',
          ],
          env: { LABEL: '{{arch}}-{{samples_per_class}}-s{{seed}}', OUT: '/out/{{runId}}/a{{attempt}}' },
        },
      },
      { runId: 'vit-b-16-100-1-0123abcd', attempt: 3, axes: { arch: 'vit_b_16', samples_per_class: 100, seed: 1 } },
    );
    const out = await launchAndWatch(new LocalExecutor(box), req);
    if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
    const got = JSON.parse(out.resultText) as { env: Record<string, string>; argv: string[] };
    expect(JSON.parse(got.env.SWEEP_RUN)).toEqual({
      sweep: 'local-test',
      runId: 'vit-b-16-100-1-0123abcd',
      attempt: 3,
      axes: { arch: 'vit_b_16', samples_per_class: 100, seed: 1 },
    });
    expect(got.env.SWEEP_RUN_ID).toBe('vit-b-16-100-1-0123abcd');
    expect(got.env.SWEEP_ATTEMPT).toBe('3');
    expect(got.env.SWEEP_RESULT_FILE).toMatch(/result\.json$/);
    expect(got.env.SWEEP_RESULT_FILE.startsWith(box.dir)).toBe(true);
    expect(got.env.SWEEP_GPUS).toBe('2');
    expect(got.env.LABEL).toBe('vit_b_16-100-s1');
    expect(got.env.OUT).toBe('/out/vit-b-16-100-1-0123abcd/a3');
    // argv, never a shell string: the spaces stay inside one argument.
    expect(got.argv).toEqual([
      '--arch=vit_b_16',
      '--spc=100',
      'local-test/vit-b-16-100-1-0123abcd/3',
      'plain arg with spaces',
    ]);
  });

  it('each attempt gets its own result file', async () => {
    const ex = new LocalExecutor(sandbox());
    const script = `require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify({ metrics: { a: Number(process.env.SWEEP_ATTEMPT) } }))`;
    const [a1, a2] = await Promise.all([1, 2].map((attempt) => launchAndWatch(ex, request(script, {}, { attempt }))));
    expect(a1).toMatchObject({ status: 'succeeded', resultText: '{"metrics":{"a":1}}' });
    expect(a2).toMatchObject({ status: 'succeeded', resultText: '{"metrics":{"a":2}}' });
  });
});
