/** Read a CSV in the paper's layout from a file (the parsing itself is pure, in scaling/csv.ts). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv, type ParsedCsv } from '../scaling/csv';

export function readCsvFile(file: string): ParsedCsv {
  return parseCsv(readFileSync(file, 'utf8'));
}

/** The repository root (this file lives in <root>/fitting/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Default location of the paper's data: ../shared/data/ beside the checkout (never copied into the repo). */
export const DEFAULT_PAPER_CSV = path.resolve(REPO_ROOT, '../shared/data/benchmark_scores.csv');
