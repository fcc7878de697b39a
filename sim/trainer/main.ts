/**
 * The synthetic trainer executable, obeying the job contract (DESIGN: Run -> job, Job -> run):
 * reads SWEEP_RUN and SWEEP_RESULT_FILE, takes its knobs from argv, "trains" for a time
 * proportional to the run's FLOPs, then writes its result or fails as planned.
 *
 *   node --import tsx sim/trainer/main.ts --seconds-per-eflop=0.3 --p-preempt=0.2 ...
 *
 * Imports only node:fs and the pure model, so it starts fast (no zod, no logger).
 * Deliberately installs no SIGTERM handler: a preempted job must die *by* the signal.
 */
import { writeFileSync } from 'node:fs';
import { USAGE_EXIT_CODE, USER_ERROR_EXIT_CODE, parseTrainerArgs, planTraining } from './model';
import type { TrainerPlan, TrainerRun } from './model';

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

function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, seconds * 1000)));
}

async function execute(plan: TrainerPlan, resultFile: string): Promise<void> {
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(2)}s`;
  switch (plan.fault) {
    case 'none':
    case 'bad-output':
      await sleep(plan.durationSeconds);
      writeFileSync(resultFile, plan.resultText);
      log(
        `done after ${elapsed()}: wrote ${plan.resultText.length} bytes to ${resultFile}${plan.fault === 'bad-output' ? ' (malformed, injected)' : ''}`,
      );
      process.exit(0);
      break;
    case 'preempt':
      await sleep(plan.faultAtSeconds);
      log(`preempted after ${elapsed()} (injected): SIGTERM`);
      process.kill(process.pid, 'SIGTERM');
      break;
    case 'oom':
      await sleep(plan.faultAtSeconds);
      log(`out of memory after ${elapsed()} (injected): SIGKILL`);
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'user-error':
      await sleep(plan.faultAtSeconds);
      log(`user error after ${elapsed()} (injected): exit ${USER_ERROR_EXIT_CODE}`);
      process.stderr.write(
        'Traceback (most recent call last):\n  File "train.py", line 42\nKeyError: \'lr_schedule\'\n',
      );
      process.exit(USER_ERROR_EXIT_CODE);
      break;
    case 'hang':
      await sleep(plan.faultAtSeconds);
      log(`hanging after ${elapsed()} (injected): no further progress`);
      // Keep the event loop alive forever; only a kill ends this process.
      setInterval(() => undefined, 1 << 30);
      break;
  }
}

function main(): void {
  const resultFile = process.env.SWEEP_RESULT_FILE;
  if (!resultFile) usage('env SWEEP_RESULT_FILE is not set');
  const run = readRun();
  label = `${run.runId}#${run.attempt}`;
  let plan: TrainerPlan;
  try {
    plan = planTraining(run, parseTrainerArgs(process.argv.slice(2)));
  } catch (e) {
    usage((e as Error).message);
  }
  const r = plan.result;
  log(
    `start: axes ${JSON.stringify(run.axes)}, n_params ${r.n_params}, total_flops ${r.total_flops?.toExponential(3)}, ` +
      `duration ${plan.durationSeconds.toFixed(2)}s${plan.fault === 'none' ? '' : `, fault ${plan.fault} at ${plan.faultAtSeconds.toFixed(2)}s`}`,
  );
  execute(plan, resultFile).catch((e: unknown) => {
    log(`error: ${(e as Error).message}`);
    process.exit(1);
  });
}

main();
