/**
 * A fixed pool of worker threads running fit tasks (start chunks, resample ranges).
 * The pure engine (scaling/) knows nothing of threads; this is the runtime around it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FitTask, FitTaskResult, ReplyMessage, TaskMessage } from './protocol';

interface Pending {
  task: FitTask;
  resolve: (r: FitTaskResult) => void;
  reject: (e: Error) => void;
}

export class FitPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: (Pending & { id: number })[] = [];
  private readonly running = new Map<number, Pending & { worker: Worker }>();
  private nextId = 1;
  private closed = false;

  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(new URL('./worker.mjs', import.meta.url));
      worker.on('message', (msg: ReplyMessage) => this.onReply(worker, msg));
      worker.on('error', (err) => this.onWorkerError(worker, err));
      worker.unref();
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  /** Resolves when every worker has loaded the engine (start-up takes a few hundred ms). */
  async ready(): Promise<void> {
    const tiny: FitTask = {
      kind: 'starts',
      data: { form: 'power_law', x1: new Float64Array([1, 10]), y: new Float64Array([0.5, 0.4]), delta: 1e-3 },
      starts: [[0, 0, 0]],
      search: { maxIter: 1 },
    };
    await Promise.all(this.workers.map(() => this.run(tiny)));
  }

  run(task: FitTask): Promise<FitTaskResult> {
    if (this.closed) return Promise.reject(new Error('the fit pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('the fit pool was closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length && this.queue.length) {
      const worker = this.idle.pop() as Worker;
      const job = this.queue.shift() as Pending & { id: number };
      this.running.set(job.id, { ...job, worker });
      // Keep the process alive only while work is in flight.
      worker.ref();
      const msg: TaskMessage = { id: job.id, task: job.task };
      worker.postMessage(msg);
    }
  }

  private onReply(worker: Worker, msg: ReplyMessage): void {
    const job = this.running.get(msg.id);
    this.running.delete(msg.id);
    worker.unref();
    this.idle.push(worker);
    if (job) {
      if (msg.ok) job.resolve(msg.result);
      else job.reject(new Error(`fit worker failed: ${msg.error}`));
    }
    this.dispatch();
  }

  private onWorkerError(worker: Worker, err: Error): void {
    for (const [id, job] of this.running) {
      if (job.worker === worker) {
        this.running.delete(id);
        job.reject(err);
      }
    }
  }
}
