import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runFitCommand } from '../../cli/commands/fit';
import { REPO_ROOT } from '../../fitting';
import { synthesizeRows, type FitOutput } from '../../scaling';
import { requirePaperData } from './helpers';

const run = promisify(execFile);
const specDir = path.join(REPO_ROOT, 'configs/fits/paper');

/** Run `sweep fit ...` through commander and the CLI's error handler, as cli/main.ts wires it. */
async function sweepFit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = [
    "import { Command } from 'commander';",
    "import { registerFitCommand } from './cli/commands/fit.ts';",
    "import { exitWithError } from './cli/errors.ts';",
    "const program = new Command('sweep').exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));",
    'registerFitCommand(program);',
    `program.parseAsync(['node', 'sweep', 'fit', ...${JSON.stringify(args)}]).catch(exitWithError);`,
  ].join('\n');
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('sweep fit', () => {
  it('--json prints {"fits": [...]} in the FitResult shape and --out writes fit.json', async () => {
    requirePaperData();
    const out = mkdtempSync(path.join(tmpdir(), 'sweep-fit-'));
    let stdout = '';
    await runFitCommand(
      { spec: [path.join(specDir, 'compute_neuro.yaml'), path.join(specDir, 'parameter_scaling.yaml')], bootstrap: '30', seed: '3', json: true, out },
      { stdout: (t) => (stdout += t), stderr: () => undefined, progress: false },
    );
    const printed = JSON.parse(stdout) as FitOutput;
    const written = JSON.parse(readFileSync(path.join(out, 'fit.json'), 'utf8')) as FitOutput;
    expect(written).toEqual(printed);
    expect(printed.fits.map((f) => [f.name, f.n_points])).toEqual([
      ['compute_neuro', 620],
      ['parameter_scaling', 191],
    ]);
    const f = printed.fits[0];
    expect(Object.keys(f.lse_params)).toEqual(['e', 'a', 'alpha']);
    expect(Object.keys(f.params)).toEqual(['E', 'A', 'alpha']);
    expect(f.bootstrap?.n).toBe(30);
    expect(Object.keys(f.bootstrap?.percentiles.E ?? {})).toEqual(['p2.5', 'p50', 'p97.5']);
  }, 60_000);

  it('prints a readable table with the recipe for chinchilla', async () => {
    requirePaperData();
    // The paper's spec with a small init grid (the full grid is exercised in agreement.test.ts).
    const dir = mkdtempSync(path.join(tmpdir(), 'sweep-fit-table-'));
    const yaml = readFileSync(path.join(specDir, 'compute_chinchilla.yaml'), 'utf8').replace(
      /init:\n( {2}.*\n)+/,
      'init: { e: [-0.5], a: [0, 5], alpha: [0.5], b: [0, 5], beta: [0.5] }\n',
    );
    writeFileSync(path.join(dir, 'chinchilla.yaml'), yaml);
    let stdout = '';
    await runFitCommand(
      { spec: [path.join(dir, 'chinchilla.yaml')], bootstrap: '10' },
      { stdout: (t) => (stdout += t), stderr: () => undefined, progress: false },
    );
    expect(stdout).toMatch(/compute_chinchilla: chinchilla .* \(444 points, loss 0\.01517811194, 10 bootstraps, seed 42\)/);
    expect(stdout).toMatch(/param +value +2\.5% +median +97\.5%/);
    expect(stdout).toMatch(/a_over_n +0\.2698/);
  }, 60_000);

  it("fits a sweep export's CSV (paper layout, empty acc/flops cells) with a paper spec", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sweep-fit-export-'));
    const cols = ['model_id', 'arch', 'dataset', 'n_params', 'flops', 'region', 'n_samples', 'samples_per_class', 'n_epochs', 'n_samples_seen', 'total_flops', 'score', 'arch_family', 'acc', 'is_pretrained', 'is_random', 'is_ssl', 'is_ablation', 'is_adv'];
    const rows = synthesizeRows({ form: 'power_law', lse: [-0.7, 0.4, 0.2], n: 60, seed: 5, noise: 0.01, region: 'V1' });
    const lines = rows.flatMap((r) =>
      ['V1', 'IT'].map((region) => cols.map((c) => (c === 'region' ? region : c.startsWith('is_') ? 'False' : ['acc', 'flops', 'n_samples', 'n_epochs'].includes(c) ? '' : String(r[c] ?? ''))).join(',')),
    );
    writeFileSync(path.join(dir, 'export.csv'), [cols.join(','), ...lines].join('\n'));
    const res = await runFitCommand(
      { data: path.join(dir, 'export.csv'), spec: [path.join(specDir, 'compute_neuro.yaml')], bootstrap: '20' },
      { stdout: () => undefined, stderr: () => undefined, progress: false },
    );
    expect(res.fits[0].n_points).toBe(60);
    expect(res.fits[0].warnings).toBeUndefined();
    expect(res.fits[0].params.alpha).toBeCloseTo(0.2, 1);
  }, 60_000);

  it('bad input exits with code 2 and names the column and row', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sweep-fit-bad-'));
    const header = 'model_id,arch,arch_family,dataset,region,score,n_params,n_samples_seen,total_flops,samples_per_class';
    const good = Array.from({ length: 5 }, (_, i) => `m${i},r,ResNet,imagenet,IT,0.${i + 2},1e6,1e7,${10 ** (14 + i)},0`);
    writeFileSync(path.join(dir, 'bad.csv'), [header, ...good, 'm9,r,ResNet,imagenet,IT,oops,1e6,1e7,1e15,0'].join('\n'));
    const nan = await sweepFit(['--data', path.join(dir, 'bad.csv'), '--spec', path.join(specDir, 'compute_neuro.yaml'), '--bootstrap', '0']);
    expect(nan.code).toBe(2);
    expect(nan.stderr).toMatch(/column "score", bad\.csv line 7: "oops" is not a number/);

    writeFileSync(path.join(dir, 'nocol.csv'), ['model_id,region,score', 'm1,IT,0.3'].join('\n'));
    const missing = await sweepFit(['--data', path.join(dir, 'nocol.csv'), '--spec', path.join(specDir, 'compute_neuro.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no column "total_flops"/);
  }, 60_000);
});
