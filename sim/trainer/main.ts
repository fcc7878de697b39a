/**
 * The synthetic trainer executable, obeying the job contract (DESIGN: Run -> job, Job -> run):
 * reads SWEEP_RUN and SWEEP_RESULT_FILE, takes its knobs from argv, "trains" for a time
 * proportional to the run's FLOPs, then writes its result or fails as planned.
 *
 *   node --import tsx sim/trainer/main.ts --seconds-per-eflop=0.3 --p-preempt=0.2 ...
 *
 * Checkpoints: with SWEEP_CHECKPOINT_DIR set (and a whole number of epochs), it trains epoch
 * by epoch and replaces `trainer-checkpoint.json` there atomically after each one (logging
 * "epoch k/N done"); with SWEEP_RESUME=1 too, it resumes after the checkpoint's epoch ("attempt
 * 2 resumed at epoch 12 of 20"), trains only the epochs left, and reports `resumed_from_epoch`
 * as a metric. Without SWEEP_CHECKPOINT_DIR (or with a checkpoint of another run, or none) it
 * trains from scratch, as a job without checkpoints must; an attempt that trains from scratch
 * first removes any checkpoint it finds, so a later resume never picks up an older run's.
 *
 * Imports only node:fs and the pure model, so it starts fast (no zod, no logger).
 * Deliberately installs no SIGTERM handler: a preempted job must die *by* the signal, and the
 * checkpoint of the last whole epoch is what survives it.
 */
import { writeFileSync } from 'node:fs';
import { checkpointRecord, clearCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { USAGE_EXIT_CODE, USER_ERROR_EXIT_CODE, parseTrainerArgs, planTraining, wholeEpochs } from './model';
import type { TrainerPlan, TrainerResume, TrainerRun } from './model';

const started = Date.now();
let label = 'trainer';

function log(msg: string): void {
  process.stderr.write(`[trainer ${label}] ${msg}\n`);
}

function usage(msg: string): never {
  log(`error: ${msg}`);
  process.exit(USAGE_EXIT_CODE);
}

function readRun(): TrainerRun {
  const text = process.env.SWEEP_RUN;
  if (!text) usage('env SWEEP_RUN is not set (JSON {sweep, runId, attempt, axes})');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    usage(`env SWEEP_RUN is not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object') usage('env SWEEP_RUN must be a JSON object');
  const r = raw as Record<string, unknown>;
  // SWEEP_RUN_ID / SWEEP_ATTEMPT fill in for fields a hand-written SWEEP_RUN leaves out.
  const runId = typeof r.runId === 'string' ? r.runId : process.env.SWEEP_RUN_ID;
  const attempt = typeof r.attempt === 'number' ? r.attempt : Number(process.env.SWEEP_ATTEMPT ?? 1);
  if (!runId) usage('SWEEP_RUN has no runId');
  if (!Number.isInteger(attempt) || attempt < 1) usage(`attempt must be an integer >= 1, got ${String(r.attempt)}`);
  const axes = r.axes && typeof r.axes === 'object' ? (r.axes as TrainerRun['axes']) : {};
  return { sweep: typeof r.sweep === 'string' ? r.sweep : '', runId, attempt, axes };
}

/** Sleeps until `seconds` after `t0` (ms): epoch ends are absolute, so they do not drift. */
function sleepUntil(t0: number, seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + seconds * 1000 - Date.now())));
}

const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(2)}s`;

/** The planned fault strikes: the process ends (or hangs) here. */
function strike(plan: TrainerPlan): void {
  switch (plan.fault) {
    case 'preempt':
      log(`preempted after ${elapsed()} (injected): SIGTERM`);
      process.kill(process.pid, 'SIGTERM');
      break;
    case 'oom':
      log(`out of memory after ${elapsed()} (injected): SIGKILL`);
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'user-error':
      log(`user error after ${elapsed()} (injected): exit ${USER_ERROR_EXIT_CODE}`);
      process.stderr.write(
        'Traceback (most recent call last):\n  File "train.py", line 42\nKeyError: \'lr_schedule\'\n',
      );
      process.exit(USER_ERROR_EXIT_CODE);
      break;
    case 'hang':
      log(`hanging after ${elapsed()} (injected): no further progress`);
      // Keep the event loop alive forever; only a kill ends this process.
      setInterval(() => undefined, 1 << 30);
      break;
    case 'none':
    case 'bad-output':
      break;
  }
}

interface Checkpointing {
  dir: string;
  /** Epochs completed over the earlier attempts (from the checkpoint resumed). */
  epochsRunBefore: number;
}

async function execute(run: TrainerRun, plan: TrainerPlan, resultFile: string, ckpt: Checkpointing | undefined): Promise<void> {
  const t0 = Date.now();
  const strikes = plan.fault !== 'none' && plan.fault !== 'bad-output';
  if (ckpt && plan.epochs > 0) {
    for (let e = plan.startEpoch + 1; e <= plan.epochs; e++) {
      const endAt = (e - plan.startEpoch) * plan.secondsPerEpoch;
      if (strikes && plan.faultAtSeconds < endAt) {
        await sleepUntil(t0, plan.faultAtSeconds);
        return strike(plan);
      }
      await sleepUntil(t0, endAt);
      const epochsRun = ckpt.epochsRunBefore + (e - plan.startEpoch);
      saveCheckpoint(
        ckpt.dir,
        checkpointRecord({
          runId: run.runId,
          epoch: e,
          epochs: plan.epochs,
          attempt: run.attempt,
          epochsRun,
          n_samples_seen: plan.samplesPerEpoch * e,
          total_flops: plan.flopsPerEpoch * e,
        }),
      );
      log(`epoch ${e}/${plan.epochs} done, checkpoint saved`);
    }
    if (strikes) return strike(plan);
  } else {
    await sleepUntil(t0, strikes ? plan.faultAtSeconds : plan.durationSeconds);
    if (strikes) return strike(plan);
  }
  writeFileSync(resultFile, plan.resultText);
  log(
    `done after ${elapsed()}: wrote ${plan.resultText.length} bytes to ${resultFile}${plan.fault === 'bad-output' ? ' (malformed, injected)' : ''}`,
  );
  process.exit(0);
}

/** Where this attempt starts: from the checkpoint when asked to resume and one fits, else epoch 0. */
function resumePoint(run: TrainerRun, epochs: number, dir: string | undefined): { resume?: TrainerResume; epochsRunBefore: number } {
  if (process.env.SWEEP_RESUME !== '1') return { epochsRunBefore: 0 };
  if (!dir) {
    log('SWEEP_RESUME=1 but no SWEEP_CHECKPOINT_DIR: training from scratch');
    return { epochsRunBefore: 0 };
  }
  const whole = wholeEpochs(epochs);
  if (whole === 0) {
    log(`cannot resume: epochs ${epochs} is not a whole number (no per-epoch checkpoints): training from scratch`);
    return { epochsRunBefore: 0 };
  }
  const read = loadCheckpoint(dir, run.runId, whole);
  if (!read.ok) {
    log(`cannot resume (${read.reason}): training from scratch`);
    return { epochsRunBefore: 0 };
  }
  log(`attempt ${run.attempt} resumed at epoch ${read.checkpoint.epoch} of ${whole}`);
  return { resume: { fromEpoch: read.checkpoint.epoch }, epochsRunBefore: read.checkpoint.epochsRun };
}

/** The run's epochs axis as the model reads it (its errors are the model's to report). */
function epochsAxis(run: TrainerRun): number {
  const v = run.axes.epochs;
  const n = v === undefined ? 1 : Number(v);
  return Number.isFinite(n) ? n : 0;
}

function main(): void {
  const resultFile = process.env.SWEEP_RESULT_FILE;
  if (!resultFile) usage('env SWEEP_RESULT_FILE is not set');
  const run = readRun();
  label = `${run.runId}#${run.attempt}`;
  const dir = process.env.SWEEP_CHECKPOINT_DIR || undefined;
  const { resume, epochsRunBefore } = resumePoint(run, epochsAxis(run), dir);
  let plan: TrainerPlan;
  try {
    plan = planTraining(run, parseTrainerArgs(process.argv.slice(2)), resume);
  } catch (e) {
    usage((e as Error).message);
  }
  if (dir && plan.epochs > 0 && plan.startEpoch === 0 && clearCheckpoint(dir)) log('training from scratch: removed the checkpoint found in SWEEP_CHECKPOINT_DIR');
  const r = plan.result;
  log(
    `start: axes ${JSON.stringify(run.axes)}, n_params ${r.n_params}, total_flops ${r.total_flops?.toExponential(3)}, ` +
      `duration ${plan.durationSeconds.toFixed(2)}s${plan.fault === 'none' ? '' : `, fault ${plan.fault} at ${plan.faultAtSeconds.toFixed(2)}s`}`,
  );
  execute(run, plan, resultFile, dir ? { dir, epochsRunBefore } : undefined).catch((e: unknown) => {
    log(`error: ${(e as Error).message}`);
    process.exit(1);
  });
}

main();
