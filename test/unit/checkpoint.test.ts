// The local executor's side of the training lifecycle: the checkpoint contract (SWEEP_STAGE,
// SWEEP_CHECKPOINT_DIR, SWEEP_RESUME, SWEEP_TRAIN_RESULT), evaluate attempts named apart from
// training ones, job.gracePeriod between SIGTERM and SIGKILL, and the acceptance case: a 10-epoch
// synthetic-trainer run preempted after epoch 6 resumes on its retry.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../activities/executors/local';
import type { JobOutcome, LaunchRequest } from '../../activities/executors/types';
import { CHECKPOINT_FILE } from '../../sim/trainer/checkpoint';
import { parseJobResult, SweepSpecSchema, type SweepSpecInput } from '../../spec';

const ROOT = resolve(import.meta.dirname, '../..');
const root = mkdtempSync(join(tmpdir(), 'sweep-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const sandbox = () => {
  const dir = join(root, `t${n++}`);
  mkdirSync(dir, { recursive: true });
  return { dir: join(dir, 'registry'), checkpointDir: join(dir, 'checkpoints'), launchLog: join(dir, 'launches.log'), cwd: ROOT };
};

function request(
  command: string[],
  over: { job?: Partial<NonNullable<SweepSpecInput['job']>>; executor?: Record<string, unknown>; axes?: Record<string, string | number> } = {},
  extra: Partial<LaunchRequest> = {},
): LaunchRequest {
  const axes = over.axes ?? { arch: 'resnet18', seed: 0 };
  const spec = SweepSpecSchema.parse({
    name: 'ckpt',
    grid: Object.fromEntries(Object.entries(axes).map(([k, v]) => [k, [v]])),
    job: { image: 'unused', command, ...over.job },
    executor: { kind: 'local', ...over.executor },
    timeouts: { run: '60s' },
    retry: { nonRetryableExitCodes: [3] },
  });
  if (!spec.job) throw new Error('test spec has no job');
  return {
    sweep: 'ckpt',
    instance: 'inst-ckpt',
    jobHash: 'job-ckpt',
    runId: 'run-0-abcdef12',
    attempt: 1,
    axes,
    resources: { gpus: 1, cpu: 1, memory: '1Gi' },
    spec: { job: spec.job, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
    ...extra,
  };
}

const node = (script: string) => [process.execPath, '-e', script];
/** A job that reports its whole environment as its result. */
const dumpEnv = node(`require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify({metrics: {}, env: process.env}))`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function launchAndWatch(ex: LocalExecutor, req: LaunchRequest): Promise<JobOutcome> {
  await ex.launch(req);
  return ex.watch(req, () => undefined, new AbortController().signal);
}

async function envOf(ex: LocalExecutor, req: LaunchRequest): Promise<Record<string, string>> {
  const out = await launchAndWatch(ex, req);
  if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
  return (JSON.parse(out.resultText) as { env: Record<string, string> }).env;
}

/** Polls `probe` every 20 ms for at most `ms`; returns its first truthy value or throws. */
async function eventually<T>(probe: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

const supervisorOf = (ex: LocalExecutor, req: LaunchRequest) =>
  (JSON.parse(readFileSync(join(ex.attemptDir(req), 'launch.json'), 'utf8')) as { supervisorPid: number }).supervisorPid;

describe('the checkpoint contract in a local job’s environment', () => {
  const saved = process.env.SWEEP_CHECKPOINT_ROOT;
  afterEach(() => {
    if (saved === undefined) delete process.env.SWEEP_CHECKPOINT_ROOT;
    else process.env.SWEEP_CHECKPOINT_ROOT = saved;
  });

  it('training: SWEEP_STAGE=train and SWEEP_CHECKPOINT_DIR = <root>/<sweep>/<runId>, made; no SWEEP_RESUME', async () => {
    const box = sandbox();
    const env = await envOf(new LocalExecutor(box), request(dumpEnv));
    expect(env.SWEEP_STAGE).toBe('train');
    expect(env.SWEEP_CHECKPOINT_DIR).toBe(join(box.checkpointDir, 'ckpt', 'run-0-abcdef12'));
    expect(statSync(env.SWEEP_CHECKPOINT_DIR).isDirectory()).toBe(true);
    expect(env.SWEEP_RESUME).toBeUndefined();
    expect(env.SWEEP_TRAIN_RESULT).toBeUndefined();
    expect(env.SWEEP_CHECKPOINT_URI).toBeUndefined();
  });

  it('resume: SWEEP_RESUME=1, and the same folder as the attempt before', async () => {
    const box = sandbox();
    const ex = new LocalExecutor(box);
    const first = await envOf(ex, request(dumpEnv));
    const second = await envOf(ex, request(dumpEnv, {}, { attempt: 2, resume: true }));
    expect(second.SWEEP_RESUME).toBe('1');
    expect(second.SWEEP_ATTEMPT).toBe('2');
    expect(second.SWEEP_CHECKPOINT_DIR).toBe(first.SWEEP_CHECKPOINT_DIR);
  });

  it('the root: the spec’s executor.checkpointDir, else the constructor’s, else SWEEP_CHECKPOINT_ROOT', async () => {
    const box = sandbox();
    const fromSpec = join(root, `spec-root-${n}`);
    process.env.SWEEP_CHECKPOINT_ROOT = join(root, `env-root-${n}`);
    const withSpec = await envOf(new LocalExecutor(box), request(dumpEnv, { executor: { checkpointDir: fromSpec } }));
    expect(withSpec.SWEEP_CHECKPOINT_DIR).toBe(join(fromSpec, 'ckpt', 'run-0-abcdef12'));
    const withOption = await envOf(new LocalExecutor(box), request(dumpEnv, {}, { runId: 'run-1-abcdef12' }));
    expect(withOption.SWEEP_CHECKPOINT_DIR).toBe(join(box.checkpointDir, 'ckpt', 'run-1-abcdef12'));
    const { checkpointDir: _unused, ...noOption } = box;
    const withEnv = await envOf(new LocalExecutor(noOption), request(dumpEnv, {}, { runId: 'run-2-abcdef12' }));
    expect(withEnv.SWEEP_CHECKPOINT_DIR).toBe(join(root, `env-root-${n}`, 'ckpt', 'run-2-abcdef12'));
    // The default, like the registry's: relative to the worker's directory.
    delete process.env.SWEEP_CHECKPOINT_ROOT;
    expect(new LocalExecutor(noOption).checkpointDirOf(request(dumpEnv))).toBe(resolve('.sweep/checkpoints/ckpt/run-0-abcdef12'));
  });

  it('a run id that could leave the root is refused before anything starts', async () => {
    const box = sandbox();
    await expect(new LocalExecutor(box).launch(request(dumpEnv, {}, { runId: '../../etc' }))).rejects.toThrow(/runId "..\/..\/etc" is not usable as a folder name/);
    expect(existsSync(box.launchLog)).toBe(false);
  });

  it('evaluate: its own attempt folder and name beside training attempt 1, SWEEP_STAGE=evaluate, the training result', async () => {
    const box = sandbox();
    const ex = new LocalExecutor(box);
    const train = request(dumpEnv);
    const trainResult = JSON.stringify({ metrics: { acc: 0.5 }, n_params: 10, checkpoints: [{ epoch: 1, metrics: {} }] });
    const evaluate = request(dumpEnv, {}, { stage: 'evaluate', evaluator: '3f9a1c2e', trainResult });
    // Train names and folders as ever (other tests and adopted attempts rely on them).
    expect(ex.jobName(train)).toBe('run-0-abcdef12-a1');
    expect(ex.attemptDir(train)).toBe(join(box.dir, 'ckpt', 'i-inst-ckpt', 'run-0-abcdef12', '1'));
    expect(ex.jobName(evaluate)).toBe('run-0-abcdef12-e3f9a1c2e-1');
    expect(ex.attemptDir(evaluate)).toBe(join(box.dir, 'ckpt', 'i-inst-ckpt', 'run-0-abcdef12', 'e3f9a1c2e-1'));
    const trainEnv = await envOf(ex, train);
    const evalEnv = await envOf(ex, evaluate); // not adopted as the finished training attempt 1
    expect(evalEnv.SWEEP_STAGE).toBe('evaluate');
    expect(evalEnv.SWEEP_ATTEMPT).toBe('1');
    expect(evalEnv.SWEEP_CHECKPOINT_DIR).toBe(trainEnv.SWEEP_CHECKPOINT_DIR);
    expect(evalEnv.SWEEP_TRAIN_RESULT).toBe(trainResult);
    expect(readFileSync(evalEnv.SWEEP_TRAIN_RESULT_FILE, 'utf8')).toBe(trainResult);
    const launches = readFileSync(box.launchLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stage: string; attempt: number });
    expect(launches.map((l) => [l.stage, l.attempt])).toEqual([['train', 1], ['evaluate', 1]]);
    // Another evaluator's attempt 1 is yet another folder; an evaluator unfit for a path is hashed.
    expect(ex.attemptDir({ ...evaluate, evaluator: 'other' })).not.toBe(ex.attemptDir(evaluate));
    expect(ex.jobName({ ...evaluate, evaluator: '../x y' })).toMatch(/^run-0-abcdef12-e[0-9a-f]{8}-1$/);
  });

  it('a training result too large for the environment reaches the job as SWEEP_TRAIN_RESULT_FILE only', async () => {
    const box = sandbox();
    const big = JSON.stringify({ metrics: {}, pad: 'x'.repeat(200 * 1024) });
    const env = await envOf(new LocalExecutor(box), request(dumpEnv, {}, { stage: 'evaluate', evaluator: 'ev1', trainResult: big }));
    expect(env.SWEEP_TRAIN_RESULT).toBeUndefined();
    expect(readFileSync(env.SWEEP_TRAIN_RESULT_FILE, 'utf8')).toBe(big);
  });
});

describe('job.gracePeriod: SIGTERM, then SIGKILL', () => {
  // Ignores SIGTERM, and says when it got one.
  const stubborn = (termFile: string) => ['sh', '-c', `trap 'echo term >> "${termFile}"' TERM; while :; do sleep 0.05; done`];

  it('a job that ignores the preemption’s SIGTERM is killed after the spec’s grace period and classified preempted', async () => {
    const box = sandbox();
    const ex = new LocalExecutor({ dir: box.dir, checkpointDir: box.checkpointDir }); // no graceMs override: the spec's
    const termFile = join(box.checkpointDir, '..', 'term');
    const req = request(stubborn(termFile), { job: { gracePeriod: '2s' } });
    await ex.launch(req);
    const watching = ex.watch(req, () => undefined, new AbortController().signal);
    await sleep(300);
    const t0 = Date.now();
    process.kill(supervisorOf(ex, req), 'SIGTERM'); // as the machine's preemption does
    const out = await watching;
    const took = Date.now() - t0;
    expect(out).toMatchObject({ status: 'failed', failureClass: 'preempted', exitCode: 137 });
    if (out.status === 'failed') expect(out.message).toMatch(/ignored SIGTERM for the grace period of 2 s/);
    expect(readFileSync(termFile, 'utf8')).toContain('term'); // it was asked first
    expect(took).toBeGreaterThanOrEqual(2000); // the spec's 2 s, not the old 10 s default
    expect(took).toBeLessThan(6000);
  });

  it('a job that dies by the SIGTERM goes at once (preempted, 143), well within the grace period', async () => {
    const box = sandbox();
    const ex = new LocalExecutor({ dir: box.dir, checkpointDir: box.checkpointDir });
    const req = request(['sh', '-c', 'while :; do sleep 0.05; done'], { job: { gracePeriod: '30s' } });
    await ex.launch(req);
    const watching = ex.watch(req, () => undefined, new AbortController().signal);
    await sleep(300);
    const t0 = Date.now();
    process.kill(supervisorOf(ex, req), 'SIGTERM');
    expect(await watching).toMatchObject({ status: 'failed', failureClass: 'preempted', exitCode: 143 });
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('acceptance: a 10-epoch run preempted after epoch 6 resumes on its retry', () => {
  it('resumes at epoch >= 6, runs <= 11 epochs over both attempts, and both attempts count GPU-seconds', async () => {
    const box = sandbox();
    const ex = new LocalExecutor(box);
    // 10 epochs of 0.4 s (the run's 4 s, its compute being tiny, is --min-seconds).
    const trainer = ['node', '--import', 'tsx', 'sim/trainer/main.ts', '--min-seconds=4', '--max-seconds=4', '--noise=0'];
    const axes = { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 10, epochs: 10, seed: 0 };
    const first = request(trainer, { axes });
    await ex.launch(first);
    const watching = ex.watch(first, () => undefined, new AbortController().signal);
    const ckptFile = join(ex.checkpointDirOf(first), CHECKPOINT_FILE);
    const epochOf = () => (existsSync(ckptFile) ? (JSON.parse(readFileSync(ckptFile, 'utf8')) as { epoch: number }).epoch : 0);
    await eventually(() => epochOf() >= 6, 20_000, 'epoch 6 checkpointed');
    process.kill(supervisorOf(ex, first), 'SIGTERM'); // preempted
    const out1 = await watching;
    expect(out1).toMatchObject({ status: 'failed', failureClass: 'preempted' });
    const saved = epochOf();
    expect(saved).toBeGreaterThanOrEqual(6);
    expect(saved).toBeLessThan(10);

    const second = request(trainer, { axes }, { attempt: 2, resume: true });
    const out2 = await launchAndWatch(ex, second);
    if (out2.status !== 'succeeded') throw new Error(JSON.stringify(out2));
    const parsed = parseJobResult(out2.resultText, ['V1', 'IT']);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.result.metrics.resumed_from_epoch).toBe(saved);

    const log1 = readFileSync(join(ex.attemptDir(first), 'stderr.log'), 'utf8');
    const log2 = readFileSync(join(ex.attemptDir(second), 'stderr.log'), 'utf8');
    expect(log2).toContain(`attempt 2 resumed at epoch ${saved} of 10`);
    const done = (log: string) => [...log.matchAll(/epoch (\d+)\/10 done/g)].map((m) => Number(m[1]));
    // Attempt 1 logged every epoch it checkpointed, in order; the trainer logs an epoch just after
    // saving its checkpoint, so a SIGTERM landing between the two (seen under load) leaves the
    // last saved epoch unlogged, never a logged one unsaved.
    const logged1 = done(log1);
    expect([saved - 1, saved]).toContain(logged1.length);
    expect(logged1).toEqual(Array.from({ length: logged1.length }, (_, i) => i + 1));
    expect(done(log2)).toEqual(Array.from({ length: 10 - saved }, (_, i) => saved + 1 + i));
    // Epochs executed: the completed ones, plus the one attempt 1 was in when preempted.
    expect(done(log1).length + 1 + done(log2).length).toBeLessThanOrEqual(11);
    expect((JSON.parse(readFileSync(ckptFile, 'utf8')) as { epochsRun: number }).epochsRun).toBe(10);

    // GPU-seconds (1 GPU): attempt 1 trained >= 6 epochs of 0.4 s, attempt 2 the rest.
    expect(out1.gpuSeconds).toBeGreaterThanOrEqual(6 * 0.4);
    expect(out2.gpuSeconds).toBeGreaterThanOrEqual((10 - saved) * 0.4);
    expect(out1.gpuSeconds + out2.gpuSeconds).toBeGreaterThanOrEqual(4);
  }, 60_000);
});
