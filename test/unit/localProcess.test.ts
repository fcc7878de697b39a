// The local executor's process hygiene: what a job's environment holds, how a stopped job's
// whole process group goes, raw exit codes, portable times, slots and the result size limit.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SweepSpecSchema, type SweepSpecInput } from '../../spec';
import { classifyProcessExit } from '../../activities/executors/local/classify';
import {
  DEFAULT_GRACE_MS,
  INHERITED_ENV,
  jobEnv,
  LocalExecutor,
  readResultFile,
} from '../../activities/executors/local';
import type { JobOutcome, JobPhase, LaunchRequest } from '../../activities/executors/types';

const root = mkdtempSync(join(tmpdir(), 'sweep-localproc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const sandbox = () => {
  const dir = join(root, `t${n++}`);
  mkdirSync(dir, { recursive: true });
  return { dir, launchLog: join(dir, 'launches.log') };
};

function request(
  command: string[],
  over: {
    env?: Record<string, string>;
    timeouts?: SweepSpecInput['timeouts'];
    retry?: SweepSpecInput['retry'];
    slots?: number;
  } = {},
  runId = 'run-0-abcdef12',
): LaunchRequest {
  const spec = SweepSpecSchema.parse({
    name: 'local-proc',
    grid: { arch: ['resnet18'], seed: [0] },
    job: { image: 'unused', command, env: over.env ?? {} },
    executor: { kind: 'local', ...(over.slots !== undefined ? { slots: over.slots } : {}) },
    timeouts: over.timeouts ?? { run: '30s' },
    retry: over.retry ?? { nonRetryableExitCodes: [3] },
  });
  return {
    sweep: 'local-proc',
    instance: 'inst-proc',
    jobHash: 'job-proc',
    runId,
    attempt: 1,
    axes: { arch: 'resnet18', seed: 0 },
    resources: { gpus: 2, cpu: 1, memory: '1Gi' },
    spec: { job: spec.job!, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
  };
}

const node = (script: string) => [process.execPath, '-e', script];

async function launchAndWatch(ex: LocalExecutor, req: LaunchRequest, phases: JobPhase[] = []): Promise<JobOutcome> {
  await ex.launch(req);
  return ex.watch(req, (p) => phases.push(p), new AbortController().signal);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Gone: no such process, or a zombie nobody has reaped yet (it runs nothing). */
const gone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return false;
  }
};

/** Polls `cond` every 25 ms for at most `ms`; returns whether it held. */
async function eventually(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await sleep(25);
  }
}

/** Waits for a pid file a job writes, and returns the pid in it. */
async function pidFrom(file: string): Promise<number> {
  expect(
    await eventually(() => existsSync(file) && /^\d+\s*$/.test(readFileSync(file, 'utf8')), 5000),
    `${file} written`,
  ).toBe(true);
  return Number(readFileSync(file, 'utf8').trim());
}

// ---------------------------------------------------------------------------------------------

describe('a job gets a minimal environment, never the worker’s', () => {
  const saved: Record<string, string | undefined> = {};
  const setEnv = (k: string, v: string) => {
    if (!(k in saved)) saved[k] = process.env[k];
    process.env[k] = v;
  };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      delete saved[k];
    }
  });

  it('jobEnv keeps only the allow-list from the worker, then the spec’s env, then the SWEEP_* contract', () => {
    expect([...INHERITED_ENV]).toEqual(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']);
    const worker = {
      PATH: '/usr/bin',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      LC_TIME: 'de_DE.UTF-8',
      TZ: 'UTC',
      TEMPORAL_API_KEY: 'key',
      SWEEP_DB: 'postgres://u:pw@db/x',
      AWS_SECRET_ACCESS_KEY: 'aws',
      NODE_OPTIONS: '--inspect',
    };
    expect(jobEnv(worker, { WANDB_PROJECT: 'p', PATH: '/opt/bin' }, { SWEEP_RUN_ID: 'r' })).toEqual({
      PATH: '/opt/bin',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      LC_TIME: 'de_DE.UTF-8',
      TZ: 'UTC',
      WANDB_PROJECT: 'p',
      SWEEP_RUN_ID: 'r',
    });
    // The spec cannot redirect the result file: our contract wins.
    expect(jobEnv({}, { SWEEP_RESULT_FILE: '/etc/passwd' }, { SWEEP_RESULT_FILE: '/r.json' })).toEqual({
      SWEEP_RESULT_FILE: '/r.json',
    });
  });

  it('a real job sees no worker secret (marker, TEMPORAL_API_KEY, SWEEP_DB) and does see the spec’s env', async () => {
    const marker = 'marker-7f3a9c1e-do-not-leak';
    setEnv('SWEEP_TEST_SECRET_MARKER', marker);
    setEnv('TEMPORAL_API_KEY', `tak-${marker}`);
    setEnv('SWEEP_DB', `postgres://sweep:pw-${marker}@db:5432/sweep`);
    setEnv('LC_TIME', 'C');
    const box = sandbox();
    // `env` to stdout (what a shell script would see) and the node view to the result file.
    const script = `require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify(process.env))`;
    const req = request(['sh', '-c', 'env; exec "$0" -e "$1"', process.execPath, script], {
      env: { WANDB_RUN_GROUP: '{{arch}}-g' },
    });
    const ex = new LocalExecutor(box);
    const out = await launchAndWatch(ex, req);
    if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
    const stdout = readFileSync(join(ex.attemptDir(req), 'stdout.log'), 'utf8');
    expect(stdout).not.toContain(marker);
    expect(out.resultText).not.toContain(marker);
    const env = JSON.parse(out.resultText) as Record<string, string>;
    expect(env.TEMPORAL_API_KEY).toBeUndefined();
    expect(env.SWEEP_DB).toBeUndefined();
    expect(env.SWEEP_TEST_SECRET_MARKER).toBeUndefined();
    expect(env.WANDB_RUN_GROUP).toBe('resnet18-g');
    expect(stdout).toContain('WANDB_RUN_GROUP=resnet18-g');
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.LC_TIME).toBe('C');
    expect(env.SWEEP_RUN_ID).toBe('run-0-abcdef12');
    // Nothing else from the worker: every name is allow-listed, the spec's or ours (the shell adds PWD, SHLVL).
    const allowed = new Set([
      ...INHERITED_ENV,
      'WANDB_RUN_GROUP',
      'SWEEP_RUN',
      'SWEEP_STAGE',
      'SWEEP_CHECKPOINT_DIR',
      'SWEEP_RUN_ID',
      'SWEEP_ATTEMPT',
      'SWEEP_RESULT_FILE',
      'SWEEP_GPUS',
      'PWD',
      'SHLVL',
      '_',
      'OLDPWD',
    ]);
    expect(Object.keys(env).filter((k) => !allowed.has(k) && !k.startsWith('LC_'))).toEqual([]);
  });
});

describe('a stopped job’s whole process group goes', () => {
  // The job forks a child (as a data loader would) and waits on it.
  const withChild = (pidFile: string) => ['sh', '-c', 'sleep 1000 & echo $! > "$1"; wait', 'job', pidFile];

  it('cancel kills the job’s children too', async () => {
    const box = sandbox();
    const ex = new LocalExecutor(box);
    const pidFile = join(box.dir, 'child.pid');
    const req = request(withChild(pidFile));
    await ex.launch(req);
    const watching = ex.watch(req, () => {}, new AbortController().signal);
    const child = await pidFrom(pidFile);
    expect(gone(child)).toBe(false);
    await ex.cancel(req);
    expect(await eventually(() => gone(child), 3000), `child ${child} of the cancelled job is gone`).toBe(true);
    expect((await watching).status).toBe('failed');
  });

  it('a timeout kills the job’s children too', async () => {
    const box = sandbox();
    const ex = new LocalExecutor(box);
    const pidFile = join(box.dir, 'child.pid');
    const req = request(withChild(pidFile), { timeouts: { run: '1s' } });
    const watching = launchAndWatch(ex, req);
    const child = await pidFrom(pidFile);
    expect(gone(child)).toBe(false);
    expect(await watching).toMatchObject({ status: 'failed', failureClass: 'timeout' });
    expect(await eventually(() => gone(child), 3000), `child ${child} of the timed-out job is gone`).toBe(true);
  });

  it('SIGTERM first; SIGKILL to the group after the grace period when the job ignores it', async () => {
    expect(DEFAULT_GRACE_MS).toBe(10_000);
    const box = sandbox();
    const ex = new LocalExecutor({ ...box, graceMs: 1000 });
    const pidFile = join(box.dir, 'child.pid');
    const termFile = join(box.dir, 'term');
    // The main process notes SIGTERM and carries on; its child ignores SIGTERM altogether.
    const script = `trap 'echo term >> "$2"' TERM; (trap '' TERM; exec sleep 1000) & echo $! > "$1"; while :; do sleep 0.1; done`;
    const req = request(['sh', '-c', script, 'job', pidFile, termFile], { timeouts: { run: '1s' } });
    const t0 = Date.now();
    const watching = launchAndWatch(ex, req);
    const child = await pidFrom(pidFile);
    const out = await watching;
    const took = Date.now() - t0;
    expect(out).toMatchObject({ status: 'failed', failureClass: 'timeout', exitCode: 137 });
    expect(readFileSync(termFile, 'utf8')).toContain('term'); // it was asked first
    expect(took).toBeGreaterThanOrEqual(2000); // 1 s to the deadline + 1 s of grace
    expect(took).toBeLessThan(8000);
    expect(await eventually(() => gone(child), 3000), `child ${child} that ignored SIGTERM is gone`).toBe(true);
  });

  describe('on a machine without setsid(1) (macOS)', () => {
    const savedPath = process.env.PATH;
    afterEach(() => {
      process.env.PATH = savedPath;
    });
    /** A PATH holding only these tools (and never setsid). */
    const pathWith = (dir: string, tools: string[]) => {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      for (const t of tools) {
        const real = ['/usr/bin', '/bin'].map((d) => join(d, t)).find((p) => existsSync(p));
        if (!real) throw new Error(`no ${t} on this machine`);
        symlinkSync(real, join(bin, t));
      }
      return bin;
    };
    const BASIC = ['sh', 'sleep', 'date', 'mv', 'mkdir', 'rm'];

    it('perl makes the group, and cancel still kills the children', async () => {
      const box = sandbox();
      process.env.PATH = pathWith(box.dir, [...BASIC, 'perl']);
      const ex = new LocalExecutor(box);
      const pidFile = join(box.dir, 'child.pid');
      const req = request(withChild(pidFile));
      await ex.launch(req);
      const launch = JSON.parse(readFileSync(join(ex.attemptDir(req), 'launch.json'), 'utf8')) as {
        pid: number;
        pgid: number | null;
      };
      expect(launch.pgid).toBe(launch.pid);
      const watching = ex.watch(req, () => {}, new AbortController().signal);
      const child = await pidFrom(pidFile);
      await ex.cancel(req);
      expect(await eventually(() => gone(child), 3000), `child ${child} is gone`).toBe(true);
      expect((await watching).status).toBe('failed');
      // A command that does not exist is still "cannot start" (127), through perl.
      const missing = await launchAndWatch(ex, request(['/nonexistent/trainer'], {}, 'missing'));
      expect(missing).toMatchObject({
        status: 'failed',
        failureClass: 'user-error',
        exitCode: 127,
        message: expect.stringContaining('/nonexistent/trainer'),
      });
    });

    it('with neither setsid nor perl the job still runs and is stopped (no group recorded)', async () => {
      const box = sandbox();
      process.env.PATH = pathWith(box.dir, BASIC);
      const ex = new LocalExecutor(box);
      const req = request(['sh', '-c', 'exec sleep 1000']);
      await ex.launch(req);
      const launch = JSON.parse(readFileSync(join(ex.attemptDir(req), 'launch.json'), 'utf8')) as {
        pid: number;
        pgid: number | null;
      };
      expect(launch.pgid).toBeNull();
      // Cancelled at once after the launch: the supervisor's stop trap is already set (it was set
      // only after launch.json, so such a SIGTERM killed the supervisor and left the job running).
      const t0 = Date.now();
      await ex.cancel(req);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(JSON.parse(readFileSync(join(ex.attemptDir(req), 'exit.json'), 'utf8'))).toMatchObject({
        code: 143,
        signal: 'SIGTERM',
      });
      expect(await eventually(() => gone(launch.pid), 3000)).toBe(true);
    });
  });

  it('children left behind by a job that exited are killed with it (as a pod ends)', async () => {
    const box = sandbox();
    const ex = new LocalExecutor(box);
    const pidFile = join(box.dir, 'child.pid');
    const req = request(['sh', '-c', 'sleep 1000 & echo $! > "$1"; exit 1', 'job', pidFile]);
    expect(await launchAndWatch(ex, req)).toMatchObject({ status: 'failed', failureClass: 'unknown', exitCode: 1 });
    const child = await pidFrom(pidFile);
    expect(await eventually(() => gone(child), 3000), `orphan ${child} is gone`).toBe(true);
  });
});

describe('exit codes 129-255 are recorded raw', () => {
  it('classifies by nonRetryableExitCodes before reading a code as a signal', () => {
    expect(classifyProcessExit({ code: 200, signal: null }, [200])?.failureClass).toBe('user-error');
    expect(classifyProcessExit({ code: 255, signal: null }, [255])?.failureClass).toBe('user-error');
    // The user listed 137 themselves: their word wins over the OOM reading.
    expect(classifyProcessExit({ code: 137, signal: 'SIGKILL' }, [137])?.failureClass).toBe('user-error');
    expect(classifyProcessExit({ code: 137, signal: 'SIGKILL' }, [])?.failureClass).toBe('oom');
    expect(classifyProcessExit({ code: 143, signal: 'SIGTERM' }, [])?.failureClass).toBe('preempted');
    expect(classifyProcessExit({ code: 139, signal: 'SIGSEGV' }, [])).toEqual({
      failureClass: 'unknown',
      message: 'status 139 (killed by SIGSEGV, or exit 139)',
    });
  });

  it('real jobs: exit 200 listed is user-error; exit 255 is code 255, not signal "SIG"; SIGKILL is oom; SIGTERM is preempted', async () => {
    const ex = new LocalExecutor(sandbox());
    const retry = { nonRetryableExitCodes: [200] };
    const cases: [string, string[], JobOutcome][] = [
      [
        'e200',
        ['sh', '-c', 'exit 200'],
        {
          status: 'failed',
          failureClass: 'user-error',
          message: 'exit code 200 (listed in retry.nonRetryableExitCodes)',
          exitCode: 200,
          gpuSeconds: expect.any(Number),
        },
      ],
      [
        'e255',
        ['sh', '-c', 'exit 255'],
        {
          status: 'failed',
          failureClass: 'unknown',
          message: 'exit code 255',
          exitCode: 255,
          gpuSeconds: expect.any(Number),
        },
      ],
      [
        'kill',
        node("process.kill(process.pid, 'SIGKILL')"),
        expect.objectContaining({ status: 'failed', failureClass: 'oom', exitCode: 137 }),
      ],
      [
        'term',
        node("process.kill(process.pid, 'SIGTERM')"),
        expect.objectContaining({ status: 'failed', failureClass: 'preempted', exitCode: 143 }),
      ],
    ];
    const reqs = cases.map(([id, cmd]) => request(cmd, { retry }, id));
    const outs = await Promise.all(reqs.map((r) => launchAndWatch(ex, r)));
    outs.forEach((out, i) => expect(out, cases[i][0]).toEqual(cases[i][2]));
    const exitRecord = (i: number) =>
      JSON.parse(readFileSync(join(ex.attemptDir(reqs[i]), 'exit.json'), 'utf8')) as {
        code: number;
        signal: string | null;
      };
    expect(exitRecord(1)).toMatchObject({ code: 255, signal: null });
    expect(exitRecord(2)).toMatchObject({ code: 137, signal: 'SIGKILL' });
  });
});

describe('times do not depend on GNU date', () => {
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it('with a `date` that prints nothing (as BSD date mangles %N), GPU-seconds are finite and the timeout still fires', async () => {
    const box = sandbox();
    const bin = join(box.dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'date'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bin, 'date'), 0o755);
    process.env.PATH = `${bin}:${savedPath}`;
    const ex = new LocalExecutor(box);
    const ok = await launchAndWatch(
      ex,
      request(
        node(`setTimeout(() => require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, '{"metrics":{}}'), 400)`),
        {},
        'ok',
      ),
    );
    expect(ok.status).toBe('succeeded');
    // 2 GPUs x >= 0.4 s.
    expect(Number.isFinite(ok.gpuSeconds)).toBe(true);
    expect(ok.gpuSeconds).toBeGreaterThanOrEqual(0.75);
    expect(ok.gpuSeconds).toBeLessThan(20);
    const t0 = Date.now();
    const hung = await launchAndWatch(
      ex,
      request(node('setInterval(() => {}, 1000)'), { timeouts: { run: '1s' } }, 'hang'),
    );
    expect(hung).toMatchObject({ status: 'failed', failureClass: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(Number.isFinite(hung.gpuSeconds)).toBe(true);
  });
});

describe('slots', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'new LocalExecutor({slots: %s}) throws, naming slots and the value',
    (slots) => {
      expect(() => new LocalExecutor({ dir: join(root, 'never'), slots })).toThrow(
        new RegExp(`slots must be a positive integer.*got ${String(slots)}`),
      );
    },
  );

  it('the spec’s executor.slots never raises the machine’s: the smaller of the two holds', async () => {
    // Each job notes when it ran; with one slot the two intervals must not overlap.
    const script = `const t0 = Date.now(); setTimeout(() => require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify({ metrics: {}, t0, t1: Date.now() })), 400)`;
    const run = async (machine: number | undefined, spec: number | undefined) => {
      const ex = new LocalExecutor({ ...sandbox(), slots: machine });
      const outs = await Promise.all(
        ['a', 'b'].map((id) => launchAndWatch(ex, request(node(script), { slots: spec }, id))),
      );
      const [x, y] = outs.map((o) => {
        if (o.status !== 'succeeded') throw new Error(JSON.stringify(o));
        return JSON.parse(o.resultText) as { t0: number; t1: number };
      });
      return x.t1 <= y.t0 || y.t1 <= x.t0 ? 'serial' : 'overlap';
    };
    const [m1s4, m4s1, m2s2, none] = await Promise.all([
      run(1, 4),
      run(4, 1),
      run(undefined, 2),
      run(undefined, undefined),
    ]);
    expect({ m1s4, m4s1, m2s2, none }).toEqual({ m1s4: 'serial', m4s1: 'serial', m2s2: 'overlap', none: 'overlap' });
  });
});

describe('result size limit (1 MiB)', () => {
  const MiB = 1024 * 1024;

  it('a job writing a 20 MB result fails as bad-result, naming the size and the limit', async () => {
    const script = `require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, '{"metrics":{},"pad":"' + 'x'.repeat(20 * 1024 * 1024) + '"}')`;
    const out = await launchAndWatch(new LocalExecutor(sandbox()), request(node(script)));
    expect(out).toEqual({
      status: 'failed',
      failureClass: 'bad-result',
      message: `result file is ${20 * MiB + 23} bytes, over the limit of 1048576 bytes (1 MiB)`,
      exitCode: 0,
      gpuSeconds: expect.any(Number),
    });
  });

  it('readResultFile: exactly 1 MiB is read, one byte more is refused, a missing file is undefined', () => {
    const dir = sandbox().dir;
    writeFileSync(join(dir, 'max'), 'a'.repeat(MiB));
    writeFileSync(join(dir, 'over'), 'a'.repeat(MiB + 1));
    const max = readResultFile(join(dir, 'max'));
    expect(max?.ok && max.text.length).toBe(MiB);
    expect(readResultFile(join(dir, 'over'))).toEqual({
      ok: false,
      message: 'result file is 1048577 bytes, over the limit of 1048576 bytes (1 MiB)',
    });
    expect(readResultFile(join(dir, 'missing'))).toBeUndefined();
  });
});
