/** Run the real `temporal` binary and our `sweep` CLI as child processes, against a harness. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { REPO_ROOT, temporalCliPath } from '../../../worker/settings';

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runProcess(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ProcResult> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** `temporal <args> --address <address> --namespace <ns>` (connection flags appended). */
export function temporalCli(
  conn: { address: string; namespace: string },
  args: string[],
  opts: { timeoutMs?: number } = {},
): Promise<ProcResult> {
  return runProcess(temporalCliPath(), [...args, '--address', conn.address, '--namespace', conn.namespace], {
    timeoutMs: opts.timeoutMs,
    // No env config file or profile of the machine may leak into the test.
    env: { ...process.env, TEMPORAL_ADDRESS: conn.address, TEMPORAL_NAMESPACE: conn.namespace },
  });
}

/** Like temporalCli, but throws with the full output unless it exits 0. */
export async function temporalOk(conn: { address: string; namespace: string }, args: string[]): Promise<string> {
  const r = await temporalCli(conn, args);
  if (r.code !== 0) throw new Error(`temporal ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `node bin/sweep.js <args>` with the given environment (TEMPORAL_ADDRESS etc.). */
export function sweepCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 60_000,
): Promise<ProcResult> {
  return runProcess(process.execPath, [resolve(REPO_ROOT, 'bin/sweep.js'), ...args], { env, timeoutMs });
}
