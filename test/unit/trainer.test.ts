import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES, DATASETS, datasetSamples, lookupArchitecture, lookupDataset } from '../../spec/architectures';
import { parseJobResult } from '../../spec/result';
import { CHECKPOINT_FILE, checkpointRecord, loadCheckpoint, saveCheckpoint } from '../../sim/trainer/checkpoint';
import {
  DEFAULT_KNOBS,
  GROUND_TRUTH,
  USER_ERROR_EXIT_CODE,
  groundTruthScore,
  parseTrainerArgs,
  planTraining,
  type TrainerFault,
  type TrainerKnobs,
  type TrainerRun,
} from '../../sim/trainer/model';

const ROOT = resolve(import.meta.dirname, '../..');
const CSV = resolve(ROOT, '../shared/data/benchmark_scores.csv');
const METRICS = ['V1', 'V2', 'V4', 'IT', 'Behavioral', 'acc'];

const knobs = (over: Partial<TrainerKnobs> = {}): TrainerKnobs => ({ ...DEFAULT_KNOBS, ...over });
const run = (runId: string, axes: TrainerRun['axes'] = {}, attempt = 1): TrainerRun => ({
  sweep: 'test',
  runId,
  attempt,
  axes: { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 100, epochs: 10, seed: 0, ...axes },
});

/** Minimal CSV reader: the paper's file has no quoted fields with commas in the columns we read. */
function readCsv(path: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = header.split(',');
  return lines.map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}

describe('architecture table', () => {
  // The paper's data sits beside the checkout (../shared) in CI too: a missing file is a failure, not a skip.
  if (!existsSync(CSV)) throw new Error(`the paper's data is missing: expected ${CSV}`);
  const rows = readCsv(CSV);
  // Standard supervised rows: adversarial / SSL rows count FLOPs differently (2 passes).
  const standard = rows.filter((r) =>
    ['is_pretrained', 'is_random', 'is_ssl', 'is_adv', 'is_ablation'].every((k) => r[k] === 'False'),
  );

  it('equals the paper CSV in n_params, flops and family for every arch', () => {
    const paperArchs = [
      'alexnet',
      'cornet_s',
      'resnet18',
      'resnet34',
      'resnet50',
      'resnet101',
      'resnet152',
      'efficientnet_b0',
      'efficientnet_b1',
      'efficientnet_b2',
      'convnext_tiny',
      'convnext_small',
      'convnext_base',
      'convnext_large',
      'deit_tiny',
      'deit_small',
      'deit_base',
      'deit_large',
    ];
    for (const a of paperArchs) expect(ARCHITECTURES[a], a).toBeDefined();
    for (const [key, arch] of Object.entries(ARCHITECTURES)) {
      expect(arch.name).toBe(key);
      const mine = standard.filter((r) => r.arch === key && r.n_params !== '');
      const some = mine.length ? mine : rows.filter((r) => r.arch === key && r.n_params !== '');
      expect(some.length, `${key} in CSV`).toBeGreaterThan(0);
      for (const r of mine) {
        expect(Number(r.n_params), `${key} n_params`).toBe(arch.nParams);
        expect(Number(r.flops), `${key} flops`).toBe(arch.flopsPerSample);
        expect(r.arch_family, `${key} family`).toBe(arch.family);
      }
      if (!mine.length)
        expect(some.some((r) => Number(r.n_params) === arch.nParams && Number(r.flops) === arch.flopsPerSample)).toBe(
          true,
        );
    }
  });

  it('datasets and the FLOP relations match the CSV', () => {
    for (const r of standard) {
      const d = lookupDataset(r.dataset);
      if (!d || r.n_samples === '' || r.n_samples === '0') continue;
      expect(datasetSamples(d, Number(r.samples_per_class)), `${r.model_id}`).toBe(Number(r.n_samples));
      expect(Number(r.n_samples) * Number(r.n_epochs)).toBe(Number(r.n_samples_seen));
      const a = lookupArchitecture(r.arch);
      if (a) expect(3 * a.flopsPerSample * Number(r.n_samples_seen)).toBeCloseTo(Number(r.total_flops), -6);
    }
    expect(DATASETS.imagenet).toMatchObject({ classes: 1000, fullSize: 1281167 });
    expect(DATASETS.ecoset).toMatchObject({ classes: 565, fullSize: 1444911 });
  });

  it('looks names up case-insensitively and through aliases', () => {
    expect(lookupArchitecture('ResNet-18')?.name).toBe('resnet18');
    expect(lookupArchitecture('vit_small')?.name).toBe('deit_small');
    expect(lookupArchitecture('constructor')).toBeUndefined();
    expect(lookupDataset('ImageNet')?.name).toBe('imagenet');
    expect(lookupDataset('toString')).toBeUndefined();
  });
});

describe('planTraining', () => {
  it('is deterministic and derives compute from the table', () => {
    const r = run('resnet18-100-a');
    const a = planTraining(r, knobs({ pPreempt: 0.3, pOom: 0.2 }));
    const b = planTraining(structuredClone(r), knobs({ pPreempt: 0.3, pOom: 0.2 }));
    expect(b).toEqual(a);
    const arch = ARCHITECTURES.resnet18;
    expect(a.result.n_params).toBe(arch.nParams);
    expect(a.result.n_samples_seen).toBe(100 * 1000 * 10);
    expect(a.result.total_flops).toBe(3 * arch.flopsPerSample * 1e6);
    expect(a.durationSeconds).toBeCloseTo(
      Math.max(DEFAULT_KNOBS.minSeconds, (a.result.total_flops! / 1e18) * DEFAULT_KNOBS.secondsPerEflop),
    );
    // A retry reports the same scores (noise is seeded by run, not by attempt).
    expect(planTraining({ ...r, attempt: 2 }, knobs()).result.metrics).toEqual(a.result.metrics);
  });

  it('writes a valid result under 4 KiB with checkpoints', () => {
    const p = planTraining(run('ckpt', { epochs: 100 }), knobs());
    expect(p.fault).toBe('none');
    expect(new TextEncoder().encode(p.resultText).length).toBeLessThan(4096);
    const parsed = parseJobResult(p.resultText, METRICS);
    expect(parsed.ok).toBe(true);
    const cks = p.result.checkpoints ?? [];
    // Intermediate checkpoints only: the final model is the result itself, so no point is counted twice.
    expect(cks.map((c) => c.epoch)).toEqual([25, 50]);
    expect(cks[0].n_samples_seen).toBe(100 * 1000 * 25);
    expect(cks[1].metrics).not.toEqual(p.result.metrics);
    for (const c of cks) for (const m of METRICS) expect(c.metrics[m]).toBeGreaterThan(0);
  });

  it('uses defaults for missing axes and refuses unknown ones', () => {
    const p = planTraining({ sweep: 's', runId: 'bare', attempt: 1, axes: {} }, knobs());
    expect(p.result.n_params).toBe(ARCHITECTURES.resnet18.nParams);
    expect(p.result.n_samples_seen).toBe(DATASETS.imagenet.fullSize);
    expect(() => planTraining(run('x', { arch: 'resnet9000' }), knobs())).toThrow(/resnet9000.*known: .*resnet18/);
    expect(() => planTraining(run('x', { dataset: 'mnist' }), knobs())).toThrow(/mnist/);
    expect(() => planTraining(run('x', { epochs: 'many' }), knobs())).toThrow(/epochs/);
  });

  it('clamps duration into [minSeconds, maxSeconds]', () => {
    const big = planTraining(
      run('big', { arch: 'convnext_large', samples_per_class: 0, epochs: 300 }),
      knobs({ maxSeconds: 5 }),
    );
    expect(big.durationSeconds).toBe(5);
    const small = planTraining(run('small', { samples_per_class: 1, epochs: 1 }), knobs({ minSeconds: 0.5 }));
    expect(small.durationSeconds).toBe(0.5);
  });

  it('draws faults at the configured rates, only on attempts <= faultAttempts', () => {
    const k = knobs({ pPreempt: 0.2, pOom: 0.1, pUserError: 0.05, pBadOutput: 0.05, pHang: 0.1, faultSeed: 11 });
    const n = 4000;
    const counts: Record<TrainerFault, number> = {
      none: 0,
      preempt: 0,
      oom: 0,
      'user-error': 0,
      'bad-output': 0,
      hang: 0,
    };
    for (let i = 0; i < n; i++) {
      const p = planTraining(run(`r${i}`), k);
      counts[p.fault]++;
      expect(p.faultAtSeconds).toBeGreaterThanOrEqual(0);
      expect(p.faultAtSeconds).toBeLessThanOrEqual(p.durationSeconds);
      if (p.fault === 'bad-output') expect(parseJobResult(p.resultText, METRICS).ok).toBe(false);
      expect(planTraining(run(`r${i}`, {}, 2), k).fault).toBe('none');
    }
    const expected: Record<TrainerFault, number> = {
      none: 0.5,
      preempt: 0.2,
      oom: 0.1,
      'user-error': 0.05,
      'bad-output': 0.05,
      hang: 0.1,
    };
    for (const f of Object.keys(expected) as TrainerFault[]) {
      expect(Math.abs(counts[f] / n - expected[f]), f).toBeLessThan(0.03);
    }
    // faultAttempts = 2: second attempts fail too, third ones never.
    const k2 = { ...k, faultAttempts: 2 };
    let second = 0;
    for (let i = 0; i < 500; i++) {
      if (planTraining(run(`q${i}`, {}, 2), k2).fault !== 'none') second++;
      expect(planTraining(run(`q${i}`, {}, 3), k2).fault).toBe('none');
    }
    expect(second).toBeGreaterThan(150);
    // A different fault seed gives a different pattern.
    const pattern = (seed: number): string =>
      Array.from({ length: 50 }, (_, i) => planTraining(run(`r${i}`), { ...k, faultSeed: seed }).fault).join();
    expect(pattern(1)).not.toBe(pattern(2));
  });

  it('neural scores saturate while behaviour keeps improving with compute', () => {
    const quiet = knobs({ noise: 0 });
    const score = (arch: string, spc: number, epochs: number): Record<string, number> =>
      planTraining(run(`sat-${arch}-${spc}-${epochs}`, { arch, samples_per_class: spc, epochs }), quiet).result.metrics;
    const mid = score('resnet18', 0, 100); // ~1.4e18 FLOPs
    const high = score('convnext_large', 0, 300); // ~8e19 FLOPs
    const low = score('resnet18', 10, 100); // ~1e16 FLOPs
    for (const r of ['V1', 'V2', 'V4', 'IT'] as const) {
      const ceiling = 1 - GROUND_TRUTH.laws[r].E;
      expect(high[r]).toBeLessThanOrEqual(ceiling);
      expect(ceiling - high[r], r).toBeLessThan(0.04);
      // Most of the reachable gain is already made at mid compute.
      expect(mid[r] - low[r], r).toBeGreaterThan(high[r] - mid[r]);
    }
    expect(high.IT).toBeLessThan(0.55);
    expect(high.Behavioral - mid.Behavioral).toBeGreaterThan(0.1);
    expect(high.Behavioral - mid.Behavioral).toBeGreaterThan(high.IT - mid.IT);
    expect(1 - high.Behavioral).toBeGreaterThan(0.3); // far from any floor: E = 0
    expect(GROUND_TRUTH.laws.Behavioral.E).toBe(0);
    // The noise-free helper is what the trainer reports at noise 0.
    expect(high.IT).toBeCloseTo(
      groundTruthScore('IT', ARCHITECTURES.convnext_large.nParams, 300 * DATASETS.imagenet.fullSize),
      4,
    );
  });

  it('adds seeded noise of about the configured size', () => {
    const diffs: number[] = [];
    for (let i = 0; i < 400; i++) {
      const m = planTraining(run(`noise${i}`), knobs({ noise: 0.02 })).result.metrics;
      diffs.push(m.IT - groundTruthScore('IT', ARCHITECTURES.resnet18.nParams, 1e6));
    }
    const mean = diffs.reduce((s, d) => s + d, 0) / diffs.length;
    const sd = Math.sqrt(diffs.reduce((s, d) => s + (d - mean) ** 2, 0) / diffs.length);
    expect(Math.abs(mean)).toBeLessThan(0.005);
    expect(sd).toBeGreaterThan(0.015);
    expect(sd).toBeLessThan(0.025);
  });
});

describe('parseTrainerArgs', () => {
  it('parses every knob over the defaults', () => {
    const k = parseTrainerArgs([
      '--seconds-per-eflop=0.3',
      '--min-seconds=0.2',
      '--max-seconds',
      '4',
      '--p-preempt=0.25',
      '--p-oom=0.04',
      '--p-user-error=0.04',
      '--p-bad-output=0.04',
      '--p-hang=0.01',
      '--fault-seed=7',
      '--fault-attempts=2',
      '--noise=0',
    ]);
    expect(k).toEqual({
      secondsPerEflop: 0.3,
      minSeconds: 0.2,
      maxSeconds: 4,
      pPreempt: 0.25,
      pOom: 0.04,
      pUserError: 0.04,
      pBadOutput: 0.04,
      pHang: 0.01,
      faultSeed: 7,
      faultAttempts: 2,
      noise: 0,
    });
    expect(parseTrainerArgs([])).toEqual(DEFAULT_KNOBS);
  });

  it('refuses bad flags and values', () => {
    expect(() => parseTrainerArgs(['--p-preemt=0.1'])).toThrow(/unknown flag --p-preemt.*--p-preempt/);
    expect(() => parseTrainerArgs(['--noise=abc'])).toThrow(/noise/);
    expect(() => parseTrainerArgs(['--p-oom=1.5'])).toThrow(/pOom/);
    expect(() => parseTrainerArgs(['--p-oom=0.6', '--p-preempt=0.6'])).toThrow(/sum/);
    expect(() => parseTrainerArgs(['--max-seconds'])).toThrow(/needs a value/);
    expect(() => parseTrainerArgs(['resnet18'])).toThrow(/unexpected argument/);
  });
});

describe('trainer executable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainer-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  interface Exit {
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
    resultFile: string;
  }

  function exec(name: string, args: string[], axes: TrainerRun['axes'] = {}, killAfterMs?: number): Promise<Exit> {
    const resultFile = join(dir, `${name}.json`);
    const env = {
      ...process.env,
      SWEEP_RUN: JSON.stringify(run(name, axes)),
      SWEEP_RUN_ID: name,
      SWEEP_ATTEMPT: '1',
      SWEEP_RESULT_FILE: resultFile,
    };
    return new Promise((resolvePromise, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'sim/trainer/main.ts', '--seconds-per-eflop=0.3', '--min-seconds=0.2', ...args],
        {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      // Only for the hang case: the test stops its own child, `killAfterMs` after it says it hangs
      // (counted from then, not from the spawn: a loaded machine can take seconds to start tsx).
      let timer: NodeJS.Timeout | undefined;
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (killAfterMs !== undefined && timer === undefined && /hanging/.test(stderr)) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolvePromise({ code, signal, stderr, resultFile });
      });
    });
  }

  it('writes a valid result file and exits 0', async () => {
    const e = await exec('ok', []);
    expect(e.code, e.stderr).toBe(0);
    const parsed = parseJobResult(readFileSync(e.resultFile, 'utf8'), METRICS);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.result.n_params).toBe(ARCHITECTURES.resnet18.nParams);
    expect(e.stderr.trim().split('\n')).toHaveLength(2); // one line at start, one at end
  });

  it('dies by SIGTERM on preemption, SIGKILL on OOM, exit 3 on user error', async () => {
    const [pre, oom, user, bad] = await Promise.all([
      exec('pre', ['--p-preempt=1']),
      exec('oom', ['--p-oom=1']),
      exec('user', ['--p-user-error=1']),
      exec('bad', ['--p-bad-output=1']),
    ]);
    expect(pre.signal, pre.stderr).toBe('SIGTERM');
    expect(oom.signal, oom.stderr).toBe('SIGKILL');
    expect(user.code, user.stderr).toBe(USER_ERROR_EXIT_CODE);
    expect(user.stderr).toMatch(/user error/);
    for (const e of [pre, oom, user]) expect(existsSync(e.resultFile)).toBe(false);
    expect(bad.code, bad.stderr).toBe(0);
    expect(parseJobResult(readFileSync(bad.resultFile, 'utf8'), METRICS).ok).toBe(false);
  });

  it('hangs until killed', async () => {
    const e = await exec('hang', ['--p-hang=1', '--min-seconds=0.1', '--max-seconds=0.2'], {}, 1000);
    expect(e.signal, e.stderr).toBe('SIGKILL'); // killed by the test, not exited on its own
    expect(e.stderr).toMatch(/hanging/);
    expect(existsSync(e.resultFile)).toBe(false);
  });

  it('exits 2 naming the arch when the arch is unknown', async () => {
    const e = await exec('unknown', [], { arch: 'resnet9000' });
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/unknown arch "resnet9000"/);
  });
}, 20_000);

describe('checkpoints and resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainer-ckpt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ten = (runId: string, attempt = 1) => run(runId, { samples_per_class: 10, epochs: 10 }, attempt);

  it('a resumed plan trains only the epochs left, reports the same model and resumed_from_epoch', () => {
    const k = knobs({ minSeconds: 5, maxSeconds: 5 });
    const fresh = planTraining(ten('res-a'), k);
    const resumed = planTraining(ten('res-a', 2), k, { fromEpoch: 6 });
    expect(fresh).toMatchObject({ epochs: 10, startEpoch: 0, secondsPerEpoch: 0.5, durationSeconds: 5 });
    expect(resumed).toMatchObject({ epochs: 10, startEpoch: 6, secondsPerEpoch: 0.5, durationSeconds: 2 });
    expect(resumed.result.metrics).toEqual({ ...fresh.result.metrics, resumed_from_epoch: 6 });
    expect(fresh.result.metrics.resumed_from_epoch).toBeUndefined();
    expect(resumed.result.total_flops).toBe(fresh.result.total_flops);
    expect(parseJobResult(resumed.resultText, METRICS).ok).toBe(true);
    // Fractional epochs have no per-epoch checkpoints: nothing to resume from.
    const half = planTraining(run('res-b', { epochs: 0.5 }), k, { fromEpoch: 3 });
    expect(half).toMatchObject({ epochs: 0, startEpoch: 0, durationSeconds: 5 });
  });

  function exec(name: string, attempt: number, env: Record<string, string>): Promise<{ code: number | null; stderr: string; result?: string }> {
    const resultFile = join(dir, `${name}-${attempt}.json`);
    const r = ten(name, attempt);
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'sim/trainer/main.ts', '--min-seconds=0.5', '--max-seconds=0.5'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, SWEEP_RUN: JSON.stringify(r), SWEEP_RESULT_FILE: resultFile, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolvePromise({ code, stderr, result: existsSync(resultFile) ? readFileSync(resultFile, 'utf8') : undefined }));
    });
  }
  const epochsDone = (stderr: string) => [...stderr.matchAll(/epoch (\d+)\/10 done/g)].map((m) => Number(m[1]));

  it('checkpoints after every epoch, atomically, into SWEEP_CHECKPOINT_DIR', async () => {
    const ck = join(dir, 'every');
    const e = await exec('every', 1, { SWEEP_CHECKPOINT_DIR: ck });
    expect(e.code, e.stderr).toBe(0);
    expect(epochsDone(e.stderr)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(JSON.parse(readFileSync(join(ck, CHECKPOINT_FILE), 'utf8'))).toMatchObject({ runId: 'every', epoch: 10, epochs: 10, attempt: 1, epochsRun: 10 });
    expect(readdirSync(ck)).toEqual([CHECKPOINT_FILE]); // no temp file left behind
  });

  it('with SWEEP_RESUME=1 resumes after the checkpoint’s epoch and says so', async () => {
    const ck = join(dir, 'resume');
    const partial = checkpointRecord({ runId: 'resume', epoch: 7, epochs: 10, attempt: 1, epochsRun: 7, n_samples_seen: 70_000, total_flops: 1 });
    saveCheckpoint(ck, partial);
    const e = await exec('resume', 2, { SWEEP_CHECKPOINT_DIR: ck, SWEEP_RESUME: '1' });
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toContain('attempt 2 resumed at epoch 7 of 10');
    expect(epochsDone(e.stderr)).toEqual([8, 9, 10]);
    const parsed = parseJobResult(e.result ?? '', METRICS);
    expect(parsed.ok && parsed.result.metrics.resumed_from_epoch).toBe(7);
    expect(JSON.parse(readFileSync(join(ck, CHECKPOINT_FILE), 'utf8'))).toMatchObject({ epoch: 10, attempt: 2, epochsRun: 10 });
  });

  it('trains from scratch without SWEEP_CHECKPOINT_DIR, without SWEEP_RESUME, or with another run’s checkpoint', async () => {
    const [ckA, ckB] = [join(dir, 'stale'), join(dir, 'other')];
    // A checkpoint of this run from an earlier sweep, and one of another run.
    saveCheckpoint(ckA, checkpointRecord({ runId: 'noresume', epoch: 7, epochs: 10, attempt: 1, epochsRun: 7, n_samples_seen: 1, total_flops: 1 }));
    saveCheckpoint(ckB, checkpointRecord({ runId: 'someone-else', epoch: 7, epochs: 10, attempt: 1, epochsRun: 7, n_samples_seen: 1, total_flops: 1 }));
    const [noDir, noResume, other] = await Promise.all([
      exec('nodir', 2, { SWEEP_RESUME: '1' }),
      exec('noresume', 1, { SWEEP_CHECKPOINT_DIR: ckA }),
      exec('other', 2, { SWEEP_CHECKPOINT_DIR: ckB, SWEEP_RESUME: '1' }),
    ]);
    expect(noResume.stderr).toContain('training from scratch: removed the checkpoint found in SWEEP_CHECKPOINT_DIR');
    expect(JSON.parse(readFileSync(join(ckA, CHECKPOINT_FILE), 'utf8'))).toMatchObject({ epoch: 10, attempt: 1, epochsRun: 10 });
    expect(noDir.stderr).toContain('SWEEP_RESUME=1 but no SWEEP_CHECKPOINT_DIR: training from scratch');
    expect(epochsDone(noDir.stderr)).toEqual([]); // no checkpoints to save either
    expect(epochsDone(noResume.stderr)).toHaveLength(10);
    expect(other.stderr).toContain('cannot resume (checkpoint is of run "someone-else", not other): training from scratch');
    expect(epochsDone(other.stderr)).toHaveLength(10);
    for (const e of [noDir, noResume, other]) {
      expect(e.code, e.stderr).toBe(0);
      const parsed = parseJobResult(e.result ?? '', METRICS);
      expect(parsed.ok && parsed.result.metrics.resumed_from_epoch).toBeUndefined();
    }
  });

  it('refuses checkpoints that are not ours or make no sense', () => {
    const ck = join(dir, 'bad');
    mkdirSync(ck, { recursive: true });
    const put = (text: string) => writeFileSync(join(ck, CHECKPOINT_FILE), text);
    const reason = () => {
      const r = loadCheckpoint(ck, 'bad', 10);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason()).toMatch(/^no checkpoint in /);
    put('{"epoch": 3');
    expect(reason()).toMatch(/^checkpoint is not valid JSON/);
    put(JSON.stringify({ format: 'synthetic-trainer/1', runId: 'bad', epoch: 11, epochs: 10, attempt: 1, epochsRun: 11 }));
    expect(reason()).toBe('checkpoint epoch 11 is not within 0..10');
    put(JSON.stringify({ format: 'synthetic-trainer/1', runId: 'bad', epoch: 4, epochs: 20, attempt: 1, epochsRun: 4 }));
    expect(reason()).toBe('checkpoint is of a 20-epoch run, this one trains 10');
    put(`{"pad": "${'x'.repeat(70_000)}"}`);
    expect(reason()).toMatch(/^checkpoint is \d+ bytes, not a synthetic trainer checkpoint$/);
    put(JSON.stringify({ format: 'synthetic-trainer/1', runId: 'bad', epoch: 4, epochs: 10, attempt: 1, epochsRun: 4 }));
    expect(reason()).toBe('ok');
  });
}, 30_000);
