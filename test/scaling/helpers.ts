import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadFitSpec } from '../../spec/load';
import type { FitSpec } from '../../spec/fitSpec';
import { DEFAULT_PAPER_CSV, REPO_ROOT, readCsvFile } from '../../fitting';
import type { ParsedCsv } from '../../scaling';

export const PAPER_ANALYSES: Record<string, number> = {
  compute_chinchilla: 444,
  compute_neuro: 620,
  compute_behavior: 620,
  sample_imagenet_scaling: 221,
  parameter_scaling: 191,
  region_it_group1: 364,
  region_v1_group1: 364,
  model_resnet_neuro: 217,
};

/**
 * The paper-data suites never skip: a missing file fails them (in CI above all, where a skip would
 * pass silently). Call it in each such suite's `beforeAll`.
 */
export function requirePaperData(): void {
  if (!existsSync(DEFAULT_PAPER_CSV))
    throw new Error(
      `the paper data ${DEFAULT_PAPER_CSV} is missing: these tests need ../shared/data/benchmark_scores.csv ` +
        'beside the repository (the shared/ folder the project ships with). They fail rather than skip without it.',
    );
}

let cached: ParsedCsv | undefined;
/** The paper's CSV, read from ../shared/data (never copied into the repo). */
export function paperCsv(): ParsedCsv {
  requirePaperData();
  cached ??= readCsvFile(DEFAULT_PAPER_CSV);
  return cached;
}

export function paperSpec(name: string): FitSpec {
  return loadFitSpec(path.join(REPO_ROOT, 'configs/fits/paper', `${name}.yaml`));
}

export const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
