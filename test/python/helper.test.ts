import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalExecutor } from '../../activities/executors/local';
import type { JobOutcome, LaunchRequest } from '../../activities/executors/types';
import { parseJobResult, SweepSpecSchema } from '../../spec';

// The Python job helper (python/): its own unittest suite, and real jobs built on it run by the
// real LocalExecutor, whose results the orchestrator's own parser must accept.

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const JOBS = fileURLToPath(new URL('./jobs', import.meta.url));
/** The helper suite's size: a test that silently stops being collected fails here. */
const UNITTEST_COUNT = 41;

describe('python/ unittest suite', () => {
  it('passes, all of it', () => {
    const p = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'python/tests'], {
      cwd: REPO,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    // unittest writes its report, "Ran N tests" included, to stderr.
    expect(p.status, p.stderr).toBe(0);
    expect(Number(/^Ran (\d+) tests? in /m.exec(p.stderr)?.[1])).toBe(UNITTEST_COUNT);
    expect(p.stderr).toMatch(/^OK$/m);
  });
});

describe('the helper validates results as the orchestrator does', () => {
  it('the same verdict as parseJobResult on every case of verdicts.py (limits, NaN, counts, names, epochs)', () => {
    const p = spawnSync('python3', [join(REPO, 'test', 'python', 'verdicts.py')], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'python', 'src'), PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    });
    expect(p.status, p.stderr).toBe(0);
    const cases = p.stdout
      .split('\n')
      .filter((l) => l)
      .map((l) => JSON.parse(l) as { name: string; ok: boolean; text: string });
    expect(cases).toHaveLength(41);
    // Both verdicts occur (a helper that accepted or refused everything would agree on half only).
    expect(cases.filter((c) => c.ok).map((c) => c.name)).toEqual([
      'minimal',
      'full',
      'loss may be negative',
      'n_params 1e7 as a float',
      '1000 metrics',
      'name of 200',
      '100 emoji name',
      'lone surrogate name',
      'epoch 0',
      'epoch 2^53-1',
      '10000 checkpoints',
      '1000 artifacts',
      'just under 1 MiB',
    ]);
    const disagree = cases.filter((c) => parseJobResult(c.text, ['V1']).ok !== c.ok).map((c) => c.name);
    expect(disagree).toEqual([]);
  });
});

const root = mkdtempSync(join(tmpdir(), 'sweep-pyhelper-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function request(
  script: string,
  cell: { runId: string; attempt: number; resume?: boolean },
  extra: Partial<LaunchRequest> = {},
  env: Record<string, string> = {},
): LaunchRequest {
  const spec = SweepSpecSchema.parse({
    name: 'pyhelper',
    grid: { width: [8] },
    job: {
      image: 'unused',
      command: ['python3', join(JOBS, script)],
      // How a lab's job finds the helper without installing it; no .pyc files in the tree.
      env: { PYTHONPATH: join(REPO, 'python', 'src'), PYTHONDONTWRITEBYTECODE: '1', ...env },
    },
    timeouts: { run: '60s' },
    metrics: ['V1'],
  });
  if (!spec.job) throw new Error('the spec has no job block');
  return {
    sweep: 'pyhelper',
    instance: 'inst-py',
    jobHash: `job-${script}`,
    runId: cell.runId,
    attempt: cell.attempt,
    resume: cell.resume,
    axes: { width: 8 },
    resources: { gpus: 0, cpu: 1, memory: '1Gi' },
    spec: { job: spec.job, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
    ...extra,
  };
}

const executor = () =>
  new LocalExecutor({ dir: join(root, 'local'), checkpointDir: join(root, 'checkpoints'), graceMs: 10_000 });

async function run(ex: LocalExecutor, req: LaunchRequest): Promise<JobOutcome> {
  await ex.launch(req);
  return ex.watch(req, () => {}, new AbortController().signal);
}

/** The parsed result of a job that must have succeeded. */
function accepted(out: JobOutcome) {
  if (out.status !== 'succeeded') throw new Error(`job failed: ${JSON.stringify(out)}`);
  const parsed = parseJobResult(out.resultText, ['V1']);
  if (!parsed.ok) throw new Error(`result refused: ${parsed.reason}`);
  return parsed.result;
}

async function waitForFile(file: string, ms: number): Promise<string> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 50))) {
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      if (text) return text;
    }
  }
  throw new Error(`${file} did not appear within ${ms} ms`);
}

const countsOf = (epoch: number) => ({ epoch, n_samples_seen: epoch * 1000, total_flops: 6 * 800 * epoch * 1000 });

describe('a job using the helper, run by the LocalExecutor', () => {
  it('trains, then its evaluate stage scores every checkpoint: both results pass parseJobResult', async () => {
    const ex = executor();
    const train = accepted(await run(ex, request('train.py', { runId: 'w8-fresh', attempt: 1 })));
    expect(train).toEqual({
      metrics: { V1: 0.5, start_epoch: 0, resumed: 0 },
      n_params: 800,
      n_samples_seen: 5000,
      total_flops: 24_000_000,
      checkpoints: [1, 2, 3, 4, 5].map((e) => ({ ...countsOf(e), metrics: {} })),
      artifacts: { checkpoint: join(root, 'checkpoints', 'pyhelper', 'w8-fresh', 'ep5.pkl') },
    });

    const trainText = JSON.stringify(train);
    const evalReq = request(
      'evaluate.py',
      { runId: 'w8-fresh', attempt: 1 },
      { stage: 'evaluate', evaluator: 'ev1', trainResult: trainText },
    );
    const scored = accepted(await run(ex, evalReq));
    expect(scored).toEqual({
      metrics: { V1: 0.5, n_checkpoint_files: 5 },
      n_params: 800,
      n_samples_seen: 5000,
      total_flops: 24_000_000,
      checkpoints: [1, 2, 3, 4, 5].map((e) => ({ ...countsOf(e), metrics: { V1: e / 10 } })),
    });
  });

  it('preempted (SIGTERM) after epoch 3: the hook saves, the attempt is classed preempted, the retry resumes at epoch 3', async () => {
    const ex = executor();
    const ready = join(root, 'ready-w8-preempt');
    const env = { PAUSE_AT_EPOCH: '3', READY_FILE: ready };
    const first = request('train.py', { runId: 'w8-preempt', attempt: 1 }, {}, env);
    await ex.launch(first);
    const watching = ex.watch(first, () => {}, new AbortController().signal);
    const ckDir = await waitForFile(ready, 20_000);
    // A preempted node: SIGTERM to the attempt's supervisor, which passes it to the job's group.
    const { supervisorPid } = JSON.parse(readFileSync(join(ex.attemptDir(first), 'launch.json'), 'utf8')) as {
      supervisorPid: number;
    };
    const t0 = Date.now();
    process.kill(supervisorPid, 'SIGTERM');
    const out = await watching;
    expect(out).toMatchObject({ status: 'failed', failureClass: 'preempted', exitCode: 143 });
    expect(Date.now() - t0).toBeLessThan(5_000); // it exited by itself, long before the 10 s grace period
    expect(readdirSync(ckDir).sort()).toEqual(['ep1.pkl', 'ep2.pkl', 'ep3.pkl', 'preempted.pkl']);

    const second = request('train.py', { runId: 'w8-preempt', attempt: 2, resume: true }, {}, env);
    const result = accepted(await run(ex, second));
    expect(result.metrics).toEqual({ V1: 0.5, start_epoch: 3, resumed: 1 });
    expect(result.checkpoints?.map((c) => c.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(readdirSync(ckDir).sort()).toEqual(['ep1.pkl', 'ep2.pkl', 'ep3.pkl', 'ep4.pkl', 'ep5.pkl', 'preempted.pkl']);
  });
});
