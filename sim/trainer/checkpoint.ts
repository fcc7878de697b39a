/**
 * The synthetic trainer's checkpoint: one small JSON file in SWEEP_CHECKPOINT_DIR, replaced
 * atomically (write a temp file, then rename) after every epoch, so a preemption at any instant
 * leaves either the previous epoch's checkpoint or this one, never half a file. Shared by the
 * trainer process (sim/trainer/main.ts) and kube-sim's in-process kubelet, which writes the very
 * same file into the claim's host folder. Only node:fs and node:path: the trainer starts fast.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CHECKPOINT_FILE = 'trainer-checkpoint.json';
const FORMAT = 'synthetic-trainer/1';
/** Our own file is ~300 bytes; anything larger is not ours and is not read. */
const MAX_CHECKPOINT_BYTES = 64 * 1024;

export interface TrainerCheckpoint {
  format: typeof FORMAT;
  runId: string;
  /** Epochs completed (the weights are those after this epoch). */
  epoch: number;
  /** Epochs the run trains for. */
  epochs: number;
  /** The attempt that wrote it. */
  attempt: number;
  /** Epochs completed over all attempts so far (work done, including epochs done twice). */
  epochsRun: number;
  n_samples_seen: number;
  total_flops: number;
}

export function checkpointRecord(c: Omit<TrainerCheckpoint, 'format'>): TrainerCheckpoint {
  return { format: FORMAT, ...c };
}

/** Atomically replaces the checkpoint in `dir` (made if missing). */
export function saveCheckpoint(dir: string, c: TrainerCheckpoint): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${CHECKPOINT_FILE}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(c)}\n`);
  renameSync(tmp, join(dir, CHECKPOINT_FILE));
}

/**
 * Removes the checkpoint in `dir`, if any: an attempt that trains from scratch drops what an
 * earlier run left there (a sweep run again under the same name), so that a later resume can
 * only find this run's own epochs. True if there was one.
 */
export function clearCheckpoint(dir: string): boolean {
  try {
    rmSync(join(dir, CHECKPOINT_FILE));
    return true;
  } catch {
    return false;
  }
}

export type CheckpointRead = { ok: true; checkpoint: TrainerCheckpoint } | { ok: false; reason: string };

/**
 * The checkpoint in `dir` if it is one this run can resume from: ours (format, run id), a whole
 * number of epochs within [0, epochs]. Otherwise why not (none, unreadable, another run's...):
 * the trainer then trains from scratch. Never reads more than MAX_CHECKPOINT_BYTES.
 */
export function loadCheckpoint(dir: string, runId: string, epochs: number): CheckpointRead {
  let text: string;
  let fd: number;
  try {
    fd = openSync(join(dir, CHECKPOINT_FILE), 'r');
  } catch {
    return { ok: false, reason: `no checkpoint in ${dir}` };
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_CHECKPOINT_BYTES) return { ok: false, reason: `checkpoint is ${size} bytes, not a synthetic trainer checkpoint` };
    const buf = Buffer.alloc(size);
    let got = 0;
    for (let n = 1; n > 0 && got < size; got += n) n = readSync(fd, buf, got, size - got, got);
    text = buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `checkpoint is not valid JSON: ${(e as Error).message}` };
  }
  if (!raw || typeof raw !== 'object') return { ok: false, reason: 'checkpoint is not a JSON object' };
  const c = raw as Partial<TrainerCheckpoint>;
  if (c.format !== FORMAT) return { ok: false, reason: `checkpoint format is ${JSON.stringify(c.format)}, not ${FORMAT}` };
  if (c.runId !== runId) return { ok: false, reason: `checkpoint is of run ${JSON.stringify(c.runId)}, not ${runId}` };
  if (c.epochs !== epochs) return { ok: false, reason: `checkpoint is of a ${String(c.epochs)}-epoch run, this one trains ${epochs}` };
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!whole(c.epoch) || c.epoch > epochs) return { ok: false, reason: `checkpoint epoch ${String(c.epoch)} is not within 0..${epochs}` };
  if (!whole(c.epochsRun) || !whole(c.attempt)) return { ok: false, reason: 'checkpoint lacks its epochsRun / attempt counts' };
  return { ok: true, checkpoint: c as TrainerCheckpoint };
}
