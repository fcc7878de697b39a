/**
 * Child processes for benchmarks that measure the path users run (`sweep worker`, the Temporal
 * CLI): run a command with a deadline, start a long-lived child with its output in a log file,
 * read its peak RSS, and stop it for sure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';

export interface CmdResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion; never throws, never runs past `timeoutMs` (then killed). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CmdResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        env: opts.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 2 ** 20,
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : null
          : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr) + (err && code === null ? `\n${err.message}` : ''),
        });
      },
    );
  });
}

/** A long-lived child whose stdout and stderr go to `logFile`. */
export class LoggedChild {
  readonly proc: ChildProcess;
  /** Resolves with a description when the child exits (for whatever reason). */
  readonly exited: Promise<string>;
  private exitedFlag = false;

  constructor(
    cmd: string,
    args: string[],
    readonly logFile: string,
    opts: { env: NodeJS.ProcessEnv; cwd: string },
  ) {
    const fd = openSync(logFile, 'a');
    this.proc = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exitedFlag = true;
        resolve(signal ? `killed by ${signal}` : `exit code ${code}`);
      });
      this.proc.once('error', (err) => {
        this.exitedFlag = true;
        resolve(`failed to start: ${err.message}`);
      });
    });
  }

  get alive(): boolean {
    return !this.exitedFlag;
  }

  /** A field of /proc/<pid>/status in bytes (VmRSS now, VmHWM peak), or undefined once gone. */
  memory(field: 'VmRSS' | 'VmHWM'): number | undefined {
    if (!this.proc.pid || !this.alive) return undefined;
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${this.proc.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** The last lines of the log, for a failure report. */
  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM (graceful shutdown), then SIGKILL after `graceMs`; resolves once it is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(killer);
  }
}
