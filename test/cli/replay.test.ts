import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gpuHoursFraction, parseBudgets, runReplayCommand } from '../../cli/commands/replay';
import { REPO_ROOT } from '../../fitting';
import { synthesizeRows } from '../../scaling';

const run = promisify(execFile);

/** A CSV in the paper's layout drawn from a known law, and a power-law fit spec over it. */
function fixture(): { csv: string; spec: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sweep-replay-'));
  const cols = ['model_id', 'arch', 'arch_family', 'dataset', 'region', 'score', 'n_params', 'n_samples_seen', 'total_flops', 'samples_per_class'];
  const rows = synthesizeRows({ form: 'power_law', lse: [-0.7, 0.4, 0.3], n: 50, seed: 9, noise: 0.01 });
  writeFileSync(path.join(dir, 'scores.csv'), [cols.join(','), ...rows.map((r) => cols.map((c) => String(r[c])).join(','))].join('\n'));
  writeFileSync(
    path.join(dir, 'fit.yaml'),
    ['name: synth', 'form: power_law', 'x: total_flops', 'y: { metrics: [IT] }', 'bootstrap: 40', 'seed: 1', ''].join('\n'),
  );
  return { csv: path.join(dir, 'scores.csv'), spec: path.join(dir, 'fit.yaml') };
}

async function sweep(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(REPO_ROOT, 'bin/sweep.js'), ...args], { cwd: REPO_ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('sweep replay', () => {
  it('--json prints the issue\'s shape: per strategy the compute, targets against the full fit, and the curve', async () => {
    const { csv, spec } = fixture();
    let stdout = '';
    const out = await runReplayCommand(
      { data: csv, spec, strategy: 'adaptive,random', budget: '10%,0.3', seeds: '2', batch: '4', bootstrap: '30', json: true, workers: '1' },
      { stdout: (t) => (stdout += t), stderr: () => undefined },
    );
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed).toEqual(JSON.parse(JSON.stringify(out)));
    expect(printed).toMatchObject({ fit: 'synth', holdout_top: 0.1, candidates: 45, holdout: 5, objective: 'prediction' });
    expect(Object.keys(printed.all_candidates as object)).toEqual(['holdout_error', 'holdout_r2']);
    expect(out.strategies.map((s) => `${s.strategy}@${s.budget}`)).toEqual(['adaptive@0.1', 'random@0.1', 'adaptive@0.3', 'random@0.3']);
    for (const s of out.strategies) {
      expect(s.compute_fraction).toBeLessThanOrEqual(s.budget + 1e-12);
      expect(s.targets.map((t) => Object.keys(t).sort())).toEqual([['ci', 'full', 'full_ci', 'in_full_ci', 'name', 'seeds_in_full_ci', 'value']]);
      expect(s.targets[0].name).toBe('alpha');
      expect(s.curve.length).toBeGreaterThan(0);
      expect(s.curve.every((c) => c.compute_fraction <= s.budget && Number.isFinite(c.holdout_error))).toBe(true);
    }
    // The fit on every candidate of a true law extrapolates to the held-out region well.
    expect(out.all_candidates.holdout_error).toBeLessThan(0.02);
  }, 120_000);

  it('prints a table without --json', async () => {
    const { csv, spec } = fixture();
    let stdout = '';
    await runReplayCommand(
      { data: csv, spec, strategy: 'compute-ascending', budget: '0.2', seeds: '1', bootstrap: '20', workers: '1' },
      { stdout: (t) => (stdout += t), stderr: () => undefined },
    );
    expect(stdout).toMatch(/^synth: 45 candidates, the most expensive 5 \(10%\) held out; adaptive objective: prediction/);
    expect(stdout).toMatch(/strategy +budget +compute +holdout err +R\^2 +alpha +alpha 95% CI +full alpha \[CI\] +in CI/);
    expect(stdout).toMatch(/\ncompute-ascending +20\.0% +/);
  }, 60_000);

  it('--report writes an HTML page with the study-efficiency figure: one line per strategy (through bin/sweep.js)', async () => {
    const { csv, spec } = fixture();
    const out = path.join(path.dirname(csv), 'sub', 'study.html');
    const r = await sweep(['replay', '--data', csv, '--spec', spec, '--strategy', 'random,compute-ascending', '--budget', '0.3', '--seeds', '1', '--bootstrap', '20', '--workers', '1', '--report', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`report: ${out}`);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('synth: study efficiency');
    const strokes = [...html.matchAll(/<g class="mark-line role-mark[^>]*>\s*<path [^>]*stroke="([^"]+)"/g)].map((m) => m[1]);
    expect(strokes).toEqual(['#4c78a8', '#9467bd']);
    const bad = await sweep(['replay', '--data', csv, '--spec', spec, '--report', path.join(path.dirname(csv), 'x.txt')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--report must name an \.html file/);
    expect(existsSync(path.join(path.dirname(csv), 'x.txt'))).toBe(false);
  }, 120_000);

  it('parses budgets as fractions, percentages or GPU-hours', () => {
    expect(parseBudgets('0.1,5%, 20%')).toEqual([0.1, 0.05, 0.2]);
    expect(() => parseBudgets('ten')).toThrow(/--budget: "ten" is not a fraction/);
    expect(parseBudgets('40h, 2.5gpuh,1 GPU-hours')).toEqual([{ gpuHours: 40 }, { gpuHours: 2.5 }, { gpuHours: 1 }]);
    expect(() => parseBudgets('0h')).toThrow(/--budget: "0h" is not a positive number of GPU-hours/);
    expect(() => parseBudgets('-3h')).toThrow(/not a positive number of GPU-hours/);
    // One GPU-hour at 1e14 FLOP/s is 3.6e17 FLOPs: a tenth of 3.6e18.
    expect(gpuHoursFraction({ gpuHours: 1 }, 3.6e18, 1e14)).toBeCloseTo(0.1, 12);
    expect(gpuHoursFraction({ gpuHours: 5 }, 3.6e18, 2e14)).toBeCloseTo(1, 12);
    expect(() => gpuHoursFraction({ gpuHours: 11 }, 3.6e18, 1e14)).toThrow(/11 GPU-hours is more than all the candidates' compute \(10 GPU-hours at 100000000000000 FLOP\/s per GPU\)/);
  });

  it('a budget in GPU-hours runs as the fraction of the candidates\' compute it is', async () => {
    const { csv, spec } = fixture();
    const quiet = { stdout: () => undefined, stderr: () => undefined };
    const base = { data: csv, spec, strategy: 'compute-ascending', seeds: '1', bootstrap: '20', workers: '1' };
    const byFraction = await runReplayCommand({ ...base, budget: '0.3' }, quiet);
    const fraction = byFraction.strategies[0];
    // Too many GPU-hours is refused, saying what all the candidates' compute is in GPU-hours; 0.3 of that, as hours, is the 0.3 run.
    const bad = runReplayCommand({ ...base, budget: '1e12h', gpuFlops: '1e15' }, quiet);
    await expect(bad).rejects.toThrow(/--budget: 1000000000000 GPU-hours is more than all the candidates' compute \([\d.e+]+ GPU-hours at 1000000000000000 FLOP\/s per GPU\)/);
    const total = Number(String(await bad.catch((e: Error) => e.message)).match(/compute \(([\d.e+]+) GPU-hours/)![1]);
    const byHours = await runReplayCommand({ ...base, budget: `${0.3 * total}h`, gpuFlops: '1e15' }, quiet);
    expect(byHours.strategies[0].budget).toBeCloseTo(0.3, 2);
    expect(byHours.strategies[0].compute_fraction).toBeCloseTo(fraction.compute_fraction, 2);
    const flag = await runReplayCommand({ ...base, budget: '1h', gpuFlops: 'fast' }, quiet).catch((e: Error) => e.message);
    expect(flag).toMatch(/--gpu-flops must be a positive number of FLOP\/s, got "fast"/);
  }, 60_000);

  it('bad flags exit 2 naming the flag (through cli/main.ts)', async () => {
    const { csv, spec } = fixture();
    const bogus = await sweep(['replay', '--data', csv, '--spec', spec, '--strategy', 'adaptive,bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--strategy: "bogus" is not one of adaptive, random, grid, compute-ascending, coarse-to-fine/);
    const budget = await sweep(['replay', '--data', csv, '--spec', spec, '--budget', '0']);
    expect(budget.code).toBe(2);
    expect(budget.stderr).toMatch(/--budget must be a fraction in \(0, 1\] of the candidates' compute, got 0/);
  }, 60_000);
});
