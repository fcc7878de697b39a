import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

type Helper = ChildProcessByStdio<Writable, Readable, null>;
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const LAUNCHER = fileURLToPath(new URL('./launcher.mjs', import.meta.url));

interface Pending {
  resolve: (pid: number) => void;
  reject: (e: Error) => void;
}

/**
 * Spawns detached processes through a small helper process, so the worker's own (large)
 * process is never forked per job. Falls back to a direct spawn if the helper cannot run.
 */
export class DetachedSpawner {
  private child?: Helper;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  private helper(): Helper {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    const child = spawn(process.execPath, [LAUNCHER], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { id: number; pid?: number; error?: string };
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.pid) p.resolve(msg.pid);
      else p.reject(new Error(msg.error ?? 'spawn failed'));
      this.refIfBusy();
    });
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('launcher process exited'));
      this.pending.clear();
      if (this.child === child) this.child = undefined;
    });
    this.child = child;
    return child;
  }

  /** Keep the event loop alive only while a spawn is in flight. */
  private refIfBusy() {
    const c = this.child;
    if (!c) return;
    const busy = this.pending.size > 0;
    for (const h of [c, c.stdin, c.stdout] as { ref(): void; unref(): void }[]) {
      if (busy) h.ref();
      else h.unref();
    }
  }

  spawnDetached(file: string, args: string[], opts: { env: Record<string, string>; cwd: string }): Promise<number> {
    const id = this.nextId++;
    const child = this.helper();
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.refIfBusy();
      child.stdin.write(`${JSON.stringify({ id, file, args, env: opts.env, cwd: opts.cwd })}\n`);
    });
  }

  close() {
    this.child?.stdin.end();
    this.child = undefined;
  }
}
