import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A spec that must be refused, and how: the field named, the YAML line, words of the message. */
export interface BadSpec {
  name: string;
  yaml: string;
  /** The dotted path the error names ("" for a YAML syntax error). */
  field: string;
  /** The line the error points at. */
  line: number;
  /** The column it points at (1-based: where the offending key or value starts). */
  col: number;
  message: RegExp;
}

const lines = (...l: string[]) => `${l.join('\n')}\n`;

/** Every kind of bad spec the acceptance list names (issue 2), one each. */
export const BAD_SPECS: BadSpec[] = [
  {
    name: 'wrong type',
    yaml: lines(
      'name: bad',
      'grid:',
      '  arch: [resnet18]',
      'job:',
      '  image: x',
      '  command: [node]',
      'concurrency:',
      '  maxRuns: many',
    ),
    field: 'concurrency.maxRuns',
    line: 8,
    col: 3,
    message: /expected number, received string/,
  },
  {
    name: 'unknown key',
    yaml: lines(
      'name: bad',
      'grid:',
      '  arch: [resnet18]',
      'job:',
      '  image: x',
      '  command: [node]',
      '  resources:',
      '    gpus: 1',
      '    gpuz: 2',
    ),
    field: 'job.resources.gpuz',
    line: 9,
    col: 5,
    message: /unknown key "gpuz"/,
  },
  {
    name: 'negative GPUs',
    yaml: lines(
      'name: bad',
      'grid:',
      '  arch: [resnet18]',
      'job:',
      '  image: x',
      '  command: [node]',
      '  resources:',
      '    gpus: -1',
    ),
    field: 'job.resources.gpus',
    line: 8,
    col: 5,
    message: /gpus cannot be negative/,
  },
  {
    name: 'empty axis',
    yaml: lines('name: bad', 'grid:', '  arch: [resnet18]', '  seed: []', 'job:', '  image: x', '  command: [node]'),
    field: 'grid.seed',
    line: 4,
    col: 3,
    message: /an axis needs at least one value/,
  },
  {
    name: 'unknown template variable',
    yaml: lines(
      'name: bad',
      'grid:',
      '  arch: [resnet18]',
      'job:',
      '  image: x',
      '  command: [node]',
      '  args: ["--arch={{arch}}", "--lr={{lr}}"]',
    ),
    field: 'job.args.1',
    line: 7,
    col: 29,
    message: /unknown template variable "\{\{lr\}\}"/,
  },
  {
    name: 'YAML syntax error',
    yaml: lines('name: bad', 'grid:', '  arch: [resnet18', 'job:', '  image: x', '  command: [node]'),
    field: '',
    // The parser notices the unclosed flow sequence where the next key starts.
    line: 4,
    col: 1,
    message: /YAML syntax: .*\]/,
  },
  {
    name: 'grid over the limit',
    yaml: lines(
      'name: bad',
      'maxGridSize: 10',
      'grid:',
      '  a: [1, 2, 3, 4]',
      '  b: [1, 2, 3]',
      'job:',
      '  image: x',
      '  command: [node]',
    ),
    field: 'grid',
    line: 3,
    col: 1,
    message: /the grid has 12 cells, over the limit of 10: .*maxGridSize/,
  },
];

/** Writes each bad spec to `dir`; returns its file. */
export function writeBadSpecs(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  BAD_SPECS.forEach((b, i) => {
    const file = join(dir, `bad-${i}.yaml`);
    writeFileSync(file, b.yaml);
    files.set(b.name, file);
  });
  return files;
}
