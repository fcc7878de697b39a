import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { durationMs, renderTemplate } from '../../../spec';
import { JobGoneError, type Executor, type JobOutcome, type JobPhase, type LaunchRequest } from '../types';
import { classifyProcessExit, type ProcessExit } from './classify';
import { DetachedSpawner } from './detachedSpawner';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.sh', import.meta.url));
const POLL_MS = 50;

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
  /** Jobs at once on this machine (default: the spec's executor.slots, else unlimited: the sweep window bounds it). */
  slots?: number;
  /** Working directory of jobs (default: the worker's). */
  cwd?: string;
  /** Append a line per started process here (tests prove no attempt started twice). */
  launchLog?: string;
}

const readJson = <T>(file: string): T | undefined => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
};

const readTail = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-1)[0] || undefined;
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
  private readonly spawner = new DetachedSpawner();

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

  /**
   * Takes one of `slots` machine-wide job slots (a directory per slot, made atomically), waiting
   * while all are busy. The supervisor frees its slot the moment its job exits, so a run that is
   * already waiting starts its job within milliseconds: runs queue for slots as Kubernetes pods
   * queue for GPUs, and the orchestration steps of the next run overlap the current job.
   */
  private async acquireSlot(slots: number, owner: string): Promise<string> {
    const root = join(this.dir, '.slots');
    mkdirSync(root, { recursive: true });
    for (let round = 0; ; round++) {
      for (let k = 0; k < slots; k++) {
        const slot = join(root, String(k));
        try {
          mkdirSync(slot);
          writeFileSync(join(slot, 'owner'), owner);
          return slot;
        } catch {
          if (round % 50 === 49) this.reclaimIfStale(slot);
        }
      }
      await sleep(round < 200 ? 5 : 20);
    }
  }

  /** A slot whose attempt has ended, or whose supervisor vanished, is free again. */
  private reclaimIfStale(slot: string) {
    let owner: string;
    try {
      owner = readFileSync(join(slot, 'owner'), 'utf8');
    } catch {
      try {
        if (Date.now() - statSync(slot).mtimeMs > 10_000) rmSync(slot, { recursive: true, force: true });
      } catch {
        /* freed meanwhile */
      }
      return;
    }
    const launch = readJson<LaunchRecord>(join(owner, 'launch.json'));
    const ended = existsSync(join(owner, 'exit.json'));
    const orphan = !launch && Date.now() - statSync(join(slot, 'owner')).mtimeMs > 10_000;
    if (ended || orphan || (launch && !alive(launch.supervisorPid))) rmSync(slot, { recursive: true, force: true });
  }

  async launch(req: LaunchRequest, opts: { adoptOnly?: boolean } = {}): Promise<{ jobName: string; adopted: boolean }> {
    const dir = this.attemptDir(req);
    const jobName = this.jobName(req);
    if (existsSync(join(dir, 'launch.json'))) return { jobName, adopted: true };
    if (opts.adoptOnly) throw new JobGoneError(`attempt ${req.attempt} of ${req.runId} was launched but its record in ${dir} is gone`);
    const slots = (req.spec.executor.kind === 'local' ? req.spec.executor.slots : undefined) ?? this.opts.slots;
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
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, command, cwd: this.cwd }));
    const slot = slots !== undefined ? await this.acquireSlot(slots, dir) : undefined;
    const supPid = await this.spawner.spawnDetached('/bin/sh', [SUPERVISOR, dir, this.opts.launchLog ?? '-', slot ?? '-', ...command], {
      cwd: this.cwd,
      env,
    });
    // The supervisor writes launch.json once it owns the attempt (or exits if another one does).
    for (let i = 0; i < 1000; i++) {
      const rec = readJson<LaunchRecord>(join(dir, 'launch.json'));
      if (rec) {
        const adopted = rec.supervisorPid !== supPid;
        // Another supervisor owns the attempt and its own slot: give ours back.
        if (adopted && slot) rmSync(slot, { recursive: true, force: true });
        return { jobName, adopted };
      }
      await sleep(i < 100 ? 5 : 25);
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
        if (exit.error || exit.code === 126 || exit.code === 127) {
          const why = exit.error ?? readTail(join(dir, 'stderr.log')) ?? `exit code ${exit.code}`;
          return { status: 'failed', failureClass: 'user-error', message: `cannot start the command: ${why}`, exitCode: exit.code ?? 127, gpuSeconds: 0 };
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
