import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { durationMs, renderTemplate } from '../../../spec';
import type { Executor, JobOutcome, JobPhase, LaunchRequest } from '../types';
import { classifyProcessExit, type ProcessExit } from './classify';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.mjs', import.meta.url));
const POLL_MS = 100;

interface LaunchRecord {
  supervisorPid: number;
  pid: number | null;
  startedAt: string;
}
interface ExitRecord {
  code: number | null;
  signal: string | null;
  finishedAt: string;
  error?: string;
}
interface KillRecord {
  reason: 'timeout' | 'cancelled';
}

export interface LocalExecutorOptions {
  /** Registry of launched attempts (default: SWEEP_LOCAL_DIR or .sweep/local). */
  dir?: string;
  /** Processes at once on this machine (default: unlimited; the sweep window bounds it). */
  slots?: number;
  /** Working directory of jobs (default: the worker's). */
  cwd?: string;
  /** Append a line per started process here (tests prove no attempt started twice). */
  launchLog?: string;
}

export class NoFreeSlotError extends Error {
  constructor(slots: number) {
    super(`all ${slots} local slots are busy`);
    this.name = 'NoFreeSlot';
  }
}

const readJson = <T>(file: string): T | undefined => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
};

const alive = (pid: number | null | undefined): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res) => {
    const onAbort = () => {
      clearTimeout(t);
      res();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs jobs as local processes. Each attempt has a folder in a registry on disk; a detached
 * supervisor owns the process and records its exit, so after a worker crash the retried
 * watch finds the attempt again and waits for it instead of starting it twice.
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;
  private readonly dir: string;
  private readonly cwd: string;

  constructor(private readonly opts: LocalExecutorOptions = {}) {
    this.dir = resolve(opts.dir ?? process.env.SWEEP_LOCAL_DIR ?? '.sweep/local');
    this.cwd = opts.cwd ?? process.cwd();
  }

  attemptDir(req: Pick<LaunchRequest, 'sweep' | 'runId' | 'attempt'>): string {
    return join(this.dir, req.sweep, req.runId, String(req.attempt));
  }

  jobName(req: Pick<LaunchRequest, 'runId' | 'attempt'>): string {
    return `${req.runId}-a${req.attempt}`;
  }

  private runningCount(): number {
    let n = 0;
    if (!existsSync(this.dir)) return 0;
    for (const sweep of readdirSync(this.dir))
      for (const run of readdirSync(join(this.dir, sweep)))
        for (const attempt of readdirSync(join(this.dir, sweep, run))) {
          const d = join(this.dir, sweep, run, attempt);
          if (existsSync(join(d, 'lock')) && !existsSync(join(d, 'exit.json'))) n++;
        }
    return n;
  }

  async launch(req: LaunchRequest): Promise<{ jobName: string; adopted: boolean }> {
    const dir = this.attemptDir(req);
    const jobName = this.jobName(req);
    if (existsSync(join(dir, 'launch.json'))) return { jobName, adopted: true };
    if (this.opts.slots !== undefined && this.runningCount() >= this.opts.slots) throw new NoFreeSlotError(this.opts.slots);
    mkdirSync(dir, { recursive: true });
    const vars = { ...req.axes, sweep: req.sweep, runId: req.runId, attempt: req.attempt };
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      ...Object.fromEntries(Object.entries(req.spec.job.env).map(([k, v]) => [k, renderTemplate(v, vars)])),
      SWEEP_RUN: JSON.stringify({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, axes: req.axes }),
      SWEEP_RUN_ID: req.runId,
      SWEEP_ATTEMPT: String(req.attempt),
      SWEEP_RESULT_FILE: join(dir, 'result.json'),
      SWEEP_GPUS: String(req.resources.gpus),
    };
    const command = [...req.spec.job.command, ...req.spec.job.args].map((a) => renderTemplate(a, vars));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, command, env, cwd: this.cwd, launchLog: this.opts.launchLog }),
    );
    const sup = spawn(process.execPath, [SUPERVISOR, dir], { detached: true, stdio: 'ignore' });
    sup.unref();
    // The supervisor writes launch.json once it owns the attempt (or exits if another one does).
    for (let i = 0; i < 200; i++) {
      const rec = readJson<LaunchRecord>(join(dir, 'launch.json'));
      if (rec) return { jobName, adopted: rec.supervisorPid !== sup.pid };
      await sleep(25);
    }
    throw new Error(`supervisor of ${jobName} did not start within 5 s`);
  }

  async watch(req: LaunchRequest, onPhase: (p: JobPhase) => void, signal: AbortSignal): Promise<JobOutcome> {
    const dir = this.attemptDir(req);
    const launch = readJson<LaunchRecord>(join(dir, 'launch.json'));
    if (!launch) {
      return { status: 'failed', failureClass: 'node-lost', message: 'attempt was never launched on this machine', gpuSeconds: 0 };
    }
    const started = Date.parse(launch.startedAt);
    const deadline = started + durationMs(req.spec.timeouts.run);
    const gpuSeconds = (end: number) => (Math.max(0, end - started) / 1000) * req.resources.gpus;
    onPhase({ phase: 'running', pod: `pid ${launch.pid}`, node: 'local' });
    let missingSince: number | undefined;
    while (!signal.aborted) {
      const exit = readJson<ExitRecord>(join(dir, 'exit.json'));
      if (exit) {
        const killed = readJson<KillRecord>(join(dir, 'killed.json'));
        const end = Date.parse(exit.finishedAt);
        const pe: ProcessExit = { code: exit.code, signal: exit.signal, killedFor: killed?.reason };
        const failure = classifyProcessExit(pe, req.spec.retry.nonRetryableExitCodes);
        if (exit.error) {
          return { status: 'failed', failureClass: 'user-error', message: `cannot start the command: ${exit.error}`, exitCode: 127, gpuSeconds: 0 };
        }
        if (failure) {
          onPhase({ phase: 'failed', pod: `pid ${launch.pid}`, node: 'local', message: failure.message });
          return { status: 'failed', ...failure, exitCode: exit.code ?? undefined, gpuSeconds: gpuSeconds(end) };
        }
        let resultText: string;
        try {
          resultText = readFileSync(join(dir, 'result.json'), 'utf8');
        } catch {
          return { status: 'failed', failureClass: 'bad-result', message: 'exit 0 but no result file was written', exitCode: 0, gpuSeconds: gpuSeconds(end) };
        }
        onPhase({ phase: 'succeeded', pod: `pid ${launch.pid}`, node: 'local' });
        return { status: 'succeeded', resultText, gpuSeconds: gpuSeconds(end) };
      }
      if (!alive(launch.supervisorPid)) {
        // Supervisor gone without a record: the machine restarted under it.
        missingSince ??= Date.now();
        if (Date.now() - missingSince > 2000 && !readJson<ExitRecord>(join(dir, 'exit.json'))) {
          return { status: 'failed', failureClass: 'node-lost', message: 'the supervising process vanished', gpuSeconds: gpuSeconds(Date.now()) };
        }
      }
      if (Date.now() > deadline && !existsSync(join(dir, 'killed.json'))) {
        writeFileSync(join(dir, 'killed.json'), JSON.stringify({ reason: 'timeout' } satisfies KillRecord));
        if (launch.pid) this.kill(launch.pid, 'SIGKILL');
      }
      await sleep(POLL_MS, signal);
    }
    return { status: 'failed', failureClass: 'unknown', message: 'watch cancelled', gpuSeconds: gpuSeconds(Date.now()) };
  }

  private kill(pid: number, sig: NodeJS.Signals) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }

  async cancel(req: LaunchRequest): Promise<void> {
    const dir = this.attemptDir(req);
    const launch = readJson<LaunchRecord>(join(dir, 'launch.json'));
    if (!launch?.pid || existsSync(join(dir, 'exit.json'))) return;
    if (!existsSync(join(dir, 'killed.json')))
      writeFileSync(join(dir, 'killed.json'), JSON.stringify({ reason: 'cancelled' } satisfies KillRecord));
    this.kill(launch.pid, 'SIGTERM');
    for (let i = 0; i < 50 && !existsSync(join(dir, 'exit.json')); i++) await sleep(100);
    if (!existsSync(join(dir, 'exit.json'))) this.kill(launch.pid, 'SIGKILL');
  }
}
