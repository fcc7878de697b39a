import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSweepSpec, SpecError } from '../../spec/load';
import { BAD_SPECS, writeBadSpecs } from '../cli/badSpecs';

const dir = mkdtempSync(join(tmpdir(), 'sweep-bad-specs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const files = writeBadSpecs(dir);

function refusal(file: string, opts: { maxGridSize?: number } = {}): SpecError {
  try {
    loadSweepSpec(file, opts);
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error(`${file} was accepted`);
}

describe('loadSweepSpec refuses bad specs, naming the field and its line', () => {
  it.each(BAD_SPECS)('$name', (bad) => {
    const file = files.get(bad.name) as string;
    const err = refusal(file);
    expect(err.problems).toHaveLength(1);
    const [p] = err.problems;
    expect(p.path).toBe(bad.field);
    expect(p.line).toBe(bad.line);
    expect(p.col).toBe(bad.col);
    expect(p.message).toMatch(bad.message);
    // The printed message carries the file, the line and the field.
    expect(err.message).toContain(file);
    expect(err.message).toContain(`line ${bad.line}, col ${p.col}: ${bad.field ? `${bad.field}: ` : ''}`);
  });

  it('the grid-size refusal is lifted only by an explicit override', () => {
    const file = files.get('grid over the limit') as string;
    expect(refusal(file, { maxGridSize: 11 }).problems[0].message).toMatch(/12 cells, over the limit of 11/);
    expect(loadSweepSpec(file, { maxGridSize: 12 }).maxGridSize).toBe(12);
  });

  it('reports every problem of a spec at once', () => {
    const file = join(dir, 'many.yaml');
    writeFileSync(
      file,
      [
        'name: Bad_Name',
        'grid:',
        '  seed: []',
        'job:',
        '  image: x',
        '  command: [node]',
        '  resources: { gpus: -2 }',
        'colour: red',
        '',
      ].join('\n'),
    );
    const paths = refusal(file)
      .problems.map((p) => p.path)
      .sort();
    expect(paths).toEqual(['colour', 'grid.seed', 'job.resources.gpus', 'name']);
  });

  it('a missing file and a non-object document are spec errors too', () => {
    expect(refusal(join(dir, 'nope.yaml')).problems[0].message).toMatch(/cannot read the file/);
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- a\n- b\n');
    expect(refusal(list).problems[0]).toMatchObject({ path: '' });
  });
});
