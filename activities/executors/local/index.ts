import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { durationMs, MAX_RESULT_BYTES, nodesOf, renderTemplate, shortHash, type EnvValue, type FailureClass, type SecretKeyRef } from '../../../spec';
import { JobGoneError, JobNameConflictError, type Executor, type JobOutcome, type JobPhase, type LaunchRequest } from '../types';
import { classifyProcessExit, type ProcessExit } from './classify';
import { DetachedSpawner } from './detachedSpawner';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.sh', import.meta.url));
const POLL_MS = 50;

/**
 * How long a stopped job (preemption, timeout, cancel) has between SIGTERM and SIGKILL to its
 * process group, as Kubernetes' terminationGracePeriodSeconds: time to save a checkpoint. It is
 * the spec's `job.gracePeriod` (default 30s); this is only for a request whose spec predates
 * that field (a workflow started before it existed), and is what such runs were started with.
 */
export const DEFAULT_GRACE_MS = 10_000;
/** Default root of the runs' checkpoint folders (beside the default results store, .sweep/results.db). */
export const DEFAULT_CHECKPOINT_ROOT = '.sweep/checkpoints';
/**
 * Largest SWEEP_TRAIN_RESULT passed in the environment: Linux refuses a single environment
 * string over 128 KiB (MAX_ARG_STRLEN), and the job would not start. A larger training result
 * reaches the job as the file SWEEP_TRAIN_RESULT_FILE only.
 */
export const MAX_TRAIN_RESULT_ENV_BYTES = 96 * 1024;
/** Longest a cancel waits for the job to go; past it the supervisor still enforces the grace period. */
const CANCEL_WAIT_MS = 8_000;
/** Past the grace period by this much with no exit recorded, the worker SIGKILLs the group itself. */
const BACKSTOP_MS = 5_000;

/**
 * All a job inherits from the worker's environment: enough to find programs, a home, a locale and
 * a temp dir. Nothing else, on purpose: the worker's environment holds credentials
 * (TEMPORAL_API_KEY, SWEEP_DB with its Postgres password, cloud keys) a training script must never
 * see. Not even the worker's own SWEEP_* (SWEEP_DB is one): a job gets the spec's `job.env` and
 * the SWEEP_* contract we set for it, on top of these.
 */
export const INHERITED_ENV: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];
/** Locale categories (LC_CTYPE, LC_NUMERIC, ...) pass too. */
const INHERITED_ENV_PREFIX = 'LC_';

/** A job's whole environment: the allow-listed part of the worker's, then the spec's env, then ours. */
export function jobEnv(worker: NodeJS.ProcessEnv, specEnv: Record<string, string>, contract: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(worker)) {
    if (v !== undefined && (INHERITED_ENV.includes(k) || k.startsWith(INHERITED_ENV_PREFIX))) env[k] = v;
  }
  return { ...env, ...specEnv, ...contract };
}

/**
 * The spec asks for what this executor cannot do (several nodes, envFrom) or names a secret the
 * worker does not have: retrying cannot help. Named as the Kubernetes executor's rejection, so
 * the attempt fails at once (non-retryable) with this message.
 */
export class LocalJobRejectedError extends Error {
  readonly failureClass: FailureClass = 'user-error';
  constructor(message: string) {
    super(message);
    this.name = 'JobRejectedError';
  }
}

/** Largest secrets file the worker reads (checked before reading it). */
export const MAX_SECRETS_FILE_BYTES = 1024 * 1024;
/** Largest secret value put in a job's environment (Linux refuses one env string over 128 KiB). */
const MAX_SECRET_VALUE_BYTES = 96 * 1024;

/**
 * The worker environment variable a local `secretKeyRef` reads: `SWEEP_SECRET_<NAME>__<KEY>`,
 * upper-cased, every character other than a letter or digit as "_" (a Secret's name has no "_",
 * so the double "_" keeps name and key apart). `{name: hf-token, key: token}` -> SWEEP_SECRET_HF_TOKEN__TOKEN.
 */
export function secretEnvName(ref: SecretKeyRef): string {
  const part = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return `SWEEP_SECRET_${part(ref.name)}__${part(ref.key)}`;
}

/**
 * Where a local `secretKeyRef` is looked up: the worker's environment (secretEnvName), then the
 * file the worker's SWEEP_SECRETS_FILE names: JSON as a Secret's stringData per secret,
 * `{"<name>": {"<key>": "<value>"}}`, or dotenv lines `SWEEP_SECRET_<NAME>__<KEY>=<value>`.
 * Read at launch, in the worker; values go only into the job's environment, never into a
 * message, a log, the attempt's folder or the workflow.
 */
export function resolveSecretRef(ref: SecretKeyRef, worker: NodeJS.ProcessEnv = process.env): string {
  const varName = secretEnvName(ref);
  const fromEnv = worker[varName];
  const file = worker.SWEEP_SECRETS_FILE;
  const value = fromEnv ?? (file ? secretFromFile(file, ref, varName) : undefined);
  if (value === undefined)
    throw new LocalJobRejectedError(
      `secret ${ref.name} key ${ref.key} is not set on this worker: set ${varName} in the worker's environment` +
        (file ? ` or add it to ${file} (SWEEP_SECRETS_FILE)` : ', or name a secrets file (JSON or dotenv) in SWEEP_SECRETS_FILE'),
    );
  if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_VALUE_BYTES)
    throw new LocalJobRejectedError(`secret ${ref.name} key ${ref.key} is over ${MAX_SECRET_VALUE_BYTES} bytes: too large for an environment variable`);
  return value;
}

function secretFromFile(file: string, ref: SecretKeyRef, varName: string): string | undefined {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_SECRETS_FILE_BYTES) throw new LocalJobRejectedError(`secrets file ${file} (SWEEP_SECRETS_FILE) is ${size} bytes, over ${MAX_SECRETS_FILE_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof LocalJobRejectedError) throw e;
    throw new LocalJobRejectedError(`cannot read the secrets file ${file} (SWEEP_SECRETS_FILE): ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text.trimStart().startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // Never echo the parser's message: it quotes the file's text, secrets included.
      throw new LocalJobRejectedError(`secrets file ${file} (SWEEP_SECRETS_FILE) starts with "{" but is not valid JSON`);
    }
    const secret = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>)[ref.name] : undefined;
    const v = secret !== null && typeof secret === 'object' ? (secret as Record<string, unknown>)[ref.key] : undefined;
    if (v !== undefined && typeof v !== 'string') throw new LocalJobRejectedError(`secrets file ${file}: ${ref.name}.${ref.key} is not a string`);
    return v;
  }
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s?(.*)$/.exec(line);
    if (!m || m[1] !== varName) continue;
    const v = m[2].trim();
    const quoted = /^(['"])(.*)\1$/.exec(v);
    return quoted ? quoted[2] : v;
  }
  return undefined;
}

/** The spec's env for a local job: strings rendered with the cell's axes, Secret references resolved (never templated). */
export function localSpecEnv(env: Record<string, EnvValue>, vars: Parameters<typeof renderTemplate>[1], worker: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? renderTemplate(v, vars) : resolveSecretRef(v.secretKeyRef, worker)]));
}

/** What the local executor refuses before starting anything (each message names the field). */
export function localRefusal(req: Pick<LaunchRequest, 'resources' | 'spec'>): string | undefined {
  const nodes = nodesOf(req.resources);
  if (nodes > 1)
    return `resources.nodes is ${nodes}: the local executor runs a job as one process on this machine; multi-node runs need the kubernetes executor`;
  if (req.spec.job.envFrom?.length) return 'job.envFrom names Secrets / ConfigMaps, which only the kubernetes executor has: use job.env with secretKeyRef values locally';
  return undefined;
}

interface LaunchRecord {
  supervisorPid: number;
  pid: number | null;
  /** The job's process group (its pid), or null when the supervisor could not make one. */
  pgid?: number | null;
  /** Written by older supervisors only: times are the records' mtimes now. */
  startedAt?: string;
}
interface ExitRecord {
  /** The raw wait status: exit code, or 128 + n for a death by signal n. */
  code: number | null;
  /** The job outlived its grace period after a SIGTERM and the supervisor SIGKILLed it. */
  graceKill?: boolean;
  /** A hint only (see classify.ts). */
  signal: string | null;
  error?: string;
}
interface KillRecord {
  reason: 'timeout' | 'cancelled';
  /** When the stop began (ms since the epoch): the grace period runs from here. */
  at?: number;
}

export interface LocalExecutorOptions {
  /** Registry of launched attempts (default: SWEEP_LOCAL_DIR or .sweep/local). */
  dir?: string;
  /**
   * Jobs at once on this machine (a positive integer). A spec's `executor.slots` can lower it for
   * its own jobs, never raise it: the limit is the smaller of the two when both are set, either one
   * alone otherwise, and unlimited (the sweep window bounds it) when neither is.
   */
  slots?: number;
  /** SIGTERM -> SIGKILL grace period of a stopped job, overriding the spec's `job.gracePeriod` (tests). */
  graceMs?: number;
  /**
   * Root of the runs' checkpoint folders, `<root>/<sweep>/<runId>`, when the spec's
   * `executor.checkpointDir` names none (default: SWEEP_CHECKPOINT_ROOT or .sweep/checkpoints).
   */
  checkpointDir?: string;
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

/** Up to `max` bytes from `start` of an open file (never more, however large the file is). */
const readAt = (fd: number, start: number, max: number): Buffer => {
  const buf = Buffer.alloc(max);
  let got = 0;
  for (let n = 1; n > 0 && got < max; got += n) n = readSync(fd, buf, got, max - got, start + got);
  return buf.subarray(0, got);
};

/** The last line of a file, reading only its last 4 KiB (a job's stderr can be any size). */
const readTail = (file: string): string | undefined => {
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(0, size - 4096);
      return readAt(fd, start, size - start).toString('utf8').trim().split('\n').slice(-1)[0] || undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
};

type ResultRead = { ok: true; text: string } | { ok: false; message: string };

/**
 * The job's result file, refused past MAX_RESULT_BYTES without reading it: its size comes from
 * stat, and the read stops at the limit + 1 byte in case it grew meanwhile. Undefined: no file.
 */
export function readResultFile(file: string): ResultRead | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const tooLarge = (bytes: number | string): ResultRead => ({
      ok: false,
      message: `result file is ${bytes} bytes, over the limit of ${MAX_RESULT_BYTES} bytes (1 MiB)`,
    });
    const size = fstatSync(fd).size;
    if (size > MAX_RESULT_BYTES) return tooLarge(size);
    const buf = readAt(fd, 0, MAX_RESULT_BYTES + 1);
    if (buf.length > MAX_RESULT_BYTES) return tooLarge(`more than ${MAX_RESULT_BYTES}`);
    return { ok: true, text: buf.toString('utf8') };
  } finally {
    closeSync(fd);
  }
}

/** When a file was last written (ms), or undefined. */
const mtimeMs = (file: string): number | undefined => {
  try {
    const t = statSync(file).mtimeMs;
    return Number.isFinite(t) ? t : undefined;
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
    // 0, a fraction or NaN would make every run wait for a slot forever: refuse it here.
    if (opts.slots !== undefined && !(Number.isInteger(opts.slots) && opts.slots > 0))
      throw new Error(`local executor: slots must be a positive integer (jobs at once on this machine), got ${String(opts.slots)}`);
    if (opts.graceMs !== undefined && !(Number.isFinite(opts.graceMs) && opts.graceMs >= 0))
      throw new Error(`local executor: graceMs must be a non-negative number of milliseconds, got ${String(opts.graceMs)}`);
    this.dir = resolve(opts.dir ?? process.env.SWEEP_LOCAL_DIR ?? '.sweep/local');
    this.cwd = opts.cwd ?? process.cwd();
  }

  /** SIGTERM -> SIGKILL of this request's job: the constructor's override, else the spec's `job.gracePeriod`. */
  graceMsFor(req: Pick<LaunchRequest, 'spec'>): number {
    if (this.opts.graceMs !== undefined) return this.opts.graceMs;
    const g = (req.spec.job as { gracePeriod?: string }).gracePeriod;
    return g === undefined ? DEFAULT_GRACE_MS : durationMs(g);
  }

  /**
   * The run's checkpoint folder, shared by all its attempts and stages: `<root>/<sweep>/<runId>`,
   * root = the spec's `executor.checkpointDir`, else the constructor's `checkpointDir`, else
   * SWEEP_CHECKPOINT_ROOT, else .sweep/checkpoints (relative roots: from the worker's directory).
   */
  checkpointDirOf(req: Pick<LaunchRequest, 'sweep' | 'runId' | 'spec'>): string {
    const fromSpec = req.spec.executor.kind === 'local' ? req.spec.executor.checkpointDir : undefined;
    const root = resolve(fromSpec ?? this.opts.checkpointDir ?? process.env.SWEEP_CHECKPOINT_ROOT ?? DEFAULT_CHECKPOINT_ROOT);
    return join(root, pathPart('sweep', req.sweep), pathPart('runId', req.runId));
  }

  /** Slots for a spec's jobs: the smaller of the machine's and the spec's, either alone, or none. */
  private slotsFor(req: LaunchRequest): number | undefined {
    const spec = req.spec.executor.kind === 'local' ? req.spec.executor.slots : undefined;
    const machine = this.opts.slots;
    if (spec === undefined) return machine;
    return machine === undefined ? spec : Math.min(spec, machine);
  }

  /**
   * The attempt's folder. It sits under the sweep *instance*, so a sweep started again under the
   * same name with a fresh results store never finds (and adopts) the first sweep's attempts.
   */
  attemptDir(req: AttemptKey): string {
    const leaf = attemptLeaf(req);
    return req.instance ? join(this.dir, req.sweep, `i-${req.instance}`, req.runId, leaf) : join(this.dir, req.sweep, req.runId, leaf);
  }

  /** `<runId>-a<attempt>` for training; `<runId>-e<evaluator>-<attempt>` for the evaluate stage. */
  jobName(req: Pick<LaunchRequest, 'runId' | 'attempt'> & Partial<Pick<LaunchRequest, 'stage' | 'evaluator'>>): string {
    return req.stage === 'evaluate' ? `${req.runId}-${attemptLeaf(req)}` : `${req.runId}-a${req.attempt}`;
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
    if (existsSync(join(dir, 'launch.json'))) {
      // Ours only if it runs the same job definition (same instance is given by the folder).
      const had = readJson<{ jobHash?: string }>(join(dir, 'config.json'))?.jobHash;
      if (req.jobHash && had !== undefined && had !== req.jobHash)
        throw new JobNameConflictError(
          `attempt ${req.attempt} of ${req.runId} in ${dir} ran job definition ${had}, not ${req.jobHash}: not adopting it`,
        );
      return { jobName, adopted: true };
    }
    if (opts.adoptOnly) throw new JobGoneError(`attempt ${req.attempt} of ${req.runId} was launched but its record in ${dir} is gone`);
    const refusal = localRefusal(req);
    if (refusal) throw new LocalJobRejectedError(refusal);
    const slots = this.slotsFor(req);
    const graceMs = this.graceMsFor(req);
    const checkpointDir = this.checkpointDirOf(req);
    mkdirSync(dir, { recursive: true });
    mkdirSync(checkpointDir, { recursive: true });
    const vars = { ...req.axes, sweep: req.sweep, runId: req.runId, attempt: req.attempt };
    const contract: Record<string, string> = {
      SWEEP_RUN: JSON.stringify({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, axes: req.axes }),
      SWEEP_RUN_ID: req.runId,
      SWEEP_ATTEMPT: String(req.attempt),
      SWEEP_STAGE: req.stage ?? 'train',
      SWEEP_RESULT_FILE: join(dir, 'result.json'),
      SWEEP_GPUS: String(req.resources.gpus),
      SWEEP_CHECKPOINT_DIR: checkpointDir,
    };
    if (req.resume) contract.SWEEP_RESUME = '1';
    if (req.stage === 'evaluate' && req.trainResult !== undefined) {
      const file = join(dir, 'train-result.json');
      writeFileSync(file, req.trainResult);
      contract.SWEEP_TRAIN_RESULT_FILE = file;
      if (Buffer.byteLength(req.trainResult, 'utf8') <= MAX_TRAIN_RESULT_ENV_BYTES) contract.SWEEP_TRAIN_RESULT = req.trainResult;
    }
    // Secrets resolved here, in the worker, at launch: into the job's environment only.
    const env = jobEnv(process.env, localSpecEnv(req.spec.job.env, vars), contract);
    const command = [...req.spec.job.command, ...req.spec.job.args].map((a) => renderTemplate(a, vars));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ sweep: req.sweep, instance: req.instance, runId: req.runId, attempt: req.attempt, stage: req.stage ?? 'train', evaluator: req.evaluator, jobHash: req.jobHash, command, cwd: this.cwd }),
    );
    const slot = slots !== undefined ? await this.acquireSlot(slots, dir) : undefined;
    const supPid = await this.spawner.spawnDetached('/bin/sh', [SUPERVISOR, dir, this.opts.launchLog ?? '-', slot ?? '-', String(Math.ceil(graceMs / 1000)), ...command], {
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
      return { status: 'failed', failureClass: 'node-lost', message: 'attempt was not launched on this machine', gpuSeconds: 0 };
    }
    // Times are the records' mtimes (portable, ms resolution); an old record's text stamp is the fallback.
    const parsedStart = Date.parse(launch.startedAt ?? '');
    const started = mtimeMs(join(dir, 'launch.json')) ?? (Number.isFinite(parsedStart) ? parsedStart : Date.now());
    const deadline = started + durationMs(req.spec.timeouts.run);
    const graceMs = this.graceMsFor(req);
    const gpuSeconds = (end: number) => {
      const s = (Math.max(0, end - started) / 1000) * req.resources.gpus;
      return Number.isFinite(s) ? s : 0;
    };
    onPhase({ phase: 'running', pod: `pid ${launch.pid}`, node: 'local' });
    let missingSince: number | undefined;
    while (!signal.aborted) {
      const exit = readJson<ExitRecord>(join(dir, 'exit.json'));
      if (exit) {
        const killed = readJson<KillRecord>(join(dir, 'killed.json'));
        const end = mtimeMs(join(dir, 'exit.json')) ?? Date.now();
        const pe: ProcessExit = { code: exit.code, signal: exit.signal, killedFor: killed?.reason, graceKilled: exit.graceKill === true, graceMs };
        const failure = classifyProcessExit(pe, req.spec.retry.nonRetryableExitCodes);
        if (exit.error || exit.code === 126 || exit.code === 127) {
          const why = exit.error ?? readTail(join(dir, 'stderr.log')) ?? `exit code ${exit.code}`;
          return { status: 'failed', failureClass: 'user-error', message: `cannot start the command: ${why}`, exitCode: exit.code ?? 127, gpuSeconds: 0 };
        }
        if (failure) {
          onPhase({ phase: 'failed', pod: `pid ${launch.pid}`, node: 'local', message: failure.message });
          return { status: 'failed', ...failure, exitCode: exit.code ?? undefined, gpuSeconds: gpuSeconds(end) };
        }
        const result = readResultFile(join(dir, 'result.json'));
        if (!result || !result.ok) {
          const message = result ? result.message : 'exit 0 but no result file was written';
          onPhase({ phase: 'failed', pod: `pid ${launch.pid}`, node: 'local', message });
          return { status: 'failed', failureClass: 'bad-result', message, exitCode: 0, gpuSeconds: gpuSeconds(end) };
        }
        onPhase({ phase: 'succeeded', pod: `pid ${launch.pid}`, node: 'local' });
        return { status: 'succeeded', resultText: result.text, gpuSeconds: gpuSeconds(end) };
      }
      if (!alive(launch.supervisorPid)) {
        // Supervisor gone without a record: the machine restarted under it.
        missingSince ??= Date.now();
        if (Date.now() - missingSince > 2000 && !readJson<ExitRecord>(join(dir, 'exit.json'))) {
          return { status: 'failed', failureClass: 'node-lost', message: 'the supervising process vanished', gpuSeconds: gpuSeconds(Date.now()) };
        }
      }
      const killed = readJson<KillRecord>(join(dir, 'killed.json'));
      if (!killed && Date.now() > deadline) this.stop(dir, launch, 'timeout');
      // The supervisor SIGKILLs after the grace period; should it fail to, so does the worker.
      else if (killed?.at !== undefined && Date.now() > killed.at + graceMs + BACKSTOP_MS) this.killGroup(launch, 'SIGKILL');
      await sleep(POLL_MS, signal);
    }
    return { status: 'failed', failureClass: 'unknown', message: 'watch cancelled', gpuSeconds: gpuSeconds(Date.now()) };
  }

  /**
   * Stops the job: records why, then SIGTERM to its supervisor, which passes it to the job's
   * process group and SIGKILLs the group after the grace period. Without a supervisor, the
   * worker signals the group itself.
   */
  private stop(dir: string, launch: LaunchRecord, reason: KillRecord['reason']): KillRecord {
    const existing = readJson<KillRecord>(join(dir, 'killed.json'));
    const rec: KillRecord = existing ?? { reason, at: Date.now() };
    if (!existing) writeFileSync(join(dir, 'killed.json'), JSON.stringify(rec));
    if (alive(launch.supervisorPid)) signalPid(launch.supervisorPid, 'SIGTERM');
    else this.killGroup(launch, 'SIGTERM');
    return rec;
  }

  /** Signals the job's process group (and its main process, for a record without a group). */
  private killGroup(launch: LaunchRecord, sig: NodeJS.Signals) {
    const pid = launch.pid;
    if (!Number.isInteger(pid) || pid === null || pid <= 1) return;
    // Only a group the supervisor made for this job (pgid = its pid): never -1, 0 or our own.
    if (launch.pgid === pid) signalPid(-pid, sig);
    signalPid(pid, sig);
  }

  async cancel(req: LaunchRequest): Promise<void> {
    const dir = this.attemptDir(req);
    const launch = readJson<LaunchRecord>(join(dir, 'launch.json'));
    if (!launch?.pid || existsSync(join(dir, 'exit.json'))) return;
    const rec = this.stop(dir, launch, 'cancelled');
    const at = rec.at ?? Date.now();
    const graceMs = this.graceMsFor(req);
    // Bounded by the cancel activity's timeout; the supervisor enforces the grace period after that.
    const waitUntil = Date.now() + Math.min(CANCEL_WAIT_MS, graceMs + 1000);
    while (!existsSync(join(dir, 'exit.json')) && Date.now() < waitUntil) await sleep(50);
    if (existsSync(join(dir, 'exit.json'))) return;
    if (!alive(launch.supervisorPid) || Date.now() > at + graceMs) this.killGroup(launch, 'SIGKILL');
  }
}

type AttemptKey = Pick<LaunchRequest, 'sweep' | 'runId' | 'attempt'> & Partial<Pick<LaunchRequest, 'instance' | 'stage' | 'evaluator'>>;

/**
 * The attempt's own name part: `<attempt>` for training (as ever: adopted attempts keep their
 * folders), `e<evaluator>-<attempt>` for the evaluate stage, so an evaluation never meets the
 * training attempt of the same number, nor one of another evaluator. An evaluator that is not a
 * short safe name is replaced by its hash.
 */
function attemptLeaf(req: Pick<LaunchRequest, 'attempt'> & Partial<Pick<LaunchRequest, 'stage' | 'evaluator'>>): string {
  if (req.stage !== 'evaluate') return String(req.attempt);
  const ev = req.evaluator ?? '';
  const safe = /^[A-Za-z0-9_-]{0,64}$/.test(ev) ? ev : shortHash(ev);
  return `e${safe}-${req.attempt}`;
}

/** A sweep name or run id as a path component: never "..", "/" or anything that could leave the root. */
function pathPart(field: string, v: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(v)) throw new Error(`local executor: ${field} ${JSON.stringify(v.slice(0, 80))} is not usable as a folder name`);
  return v;
}

const signalPid = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
};
