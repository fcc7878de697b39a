import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandGrid, SweepSpecSchema, type AxisValue, type SweepSpecInput } from '../../spec';
import { matches, runIdOf } from '../../spec/grid';

// The expansion builds each product cell's id from per-value parts (it runs at every execution
// and replay of a sweep): the ids must be exactly what `runIdOf` makes of the cell's axes, or a
// running sweep would start its cells again under new ids.

const base = { name: 'g', job: { command: ['true'], resources: { gpus: 2, cpu: 3 } } } as const;
const spec = (s: Partial<SweepSpecInput>) => SweepSpecSchema.parse({ ...base, maxGridSize: 1_000_000, ...s });

/** The product written the plain way: recursion in axis order, excludes, dedup by id, includes last. */
function reference(grid: Record<string, AxisValue[]>, exclude: Record<string, AxisValue | AxisValue[]>[], include: Record<string, AxisValue>[]) {
  const names = Object.keys(grid);
  const out: { runId: string; axes: Record<string, AxisValue> }[] = [];
  const seen = new Set<string>();
  const add = (axes: Record<string, AxisValue>) => {
    const runId = runIdOf(axes);
    if (!seen.has(runId)) {
      seen.add(runId);
      out.push({ runId, axes });
    }
  };
  const walk = (i: number, acc: Record<string, AxisValue>) => {
    if (i === names.length) {
      if (!exclude.some((r) => matches(r, acc))) add({ ...acc });
      return;
    }
    for (const v of grid[names[i]]) walk(i + 1, { ...acc, [names[i]]: v });
  };
  walk(0, {});
  for (const c of include) add(Object.fromEntries(names.map((n) => [n, c[n]])));
  return out;
}

const NAMES = ['b', 'a', 'Zeta', 'lr', '_x', 'A1', 'samples_per_class', 'z9'];
const STRINGS = ['resnet18', 'ResNet-50', 'ViT/B 16', '', '--', 'a--b', 'x'.repeat(45), 'Ünïcode', 'é', 'imagenet_1k', '"quoted"', '0.5'];
const value = fc.oneof(
  fc.constantFrom(...STRINGS),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.constantFrom(0.001, 1e21, -0, 2.5, 3e-7),
  fc.boolean(),
);

describe('grid expansion', () => {
  it('gives every cell the id runIdOf gives its axes, in the plain product order, on random specs', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 }),
        fc.array(fc.array(value, { minLength: 1, maxLength: 4 }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(3), fc.nat(3)), { maxLength: 2 }),
        fc.array(fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)), { maxLength: 2 }),
        (names, valueLists, excludeAt, includeAt) => {
          const grid = Object.fromEntries(names.map((n, i) => [n, valueLists[i]]));
          // An exclude names one axis at one of its values; an include picks a value per axis.
          const exclude = excludeAt.map(([a, v]) => {
            const n = names[a % names.length];
            return { [n]: grid[n][v % grid[n].length] };
          });
          const include = includeAt.map((at) => Object.fromEntries(names.map((n, i) => [n, grid[n][at[i] % grid[n].length]])));
          const cells = expandGrid(spec({ grid, exclude, include }));
          for (const c of cells) expect(c.runId).toBe(runIdOf(c.axes));
          expect(cells.map((c) => ({ runId: c.runId, axes: c.axes }))).toEqual(reference(grid, exclude, include));
        },
      ),
      { seed: 7, numRuns: 400 },
    );
  });

  it('gives each cell its own resources object (a run may not change another run\u2019s)', () => {
    const cells = expandGrid(spec({ grid: { a: [1, 2, 3] } }));
    expect(cells[0].resources).toEqual(expect.objectContaining({ gpus: 2, cpu: 3 }));
    expect(cells[0].resources).not.toBe(cells[1].resources);
    const over = expandGrid(spec({ grid: { a: [1, 2] }, job: { command: ['true'], resources: { gpus: 1 }, overrides: [{ when: { a: 2 }, resources: { gpus: 4 } }] } }));
    expect(over.map((c) => c.resources.gpus)).toEqual([1, 4]);
  });

  it('keeps the ids the expansion gave before it was rewritten (a running sweep replays with them)', () => {
    // Both ids as the expansion at commit dc60f67 (per-cell runIdOf) printed them.
    expect(expandGrid(spec({ grid: { lr: [0.1], arch: ['ResNet-18'] } })).map((c) => c.runId)).toEqual(['resnet-18-0-1-a18750de']);
    const axis = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    const big = expandGrid(spec({ grid: { x: axis(400), y: axis(250) } }));
    expect(big).toHaveLength(100_000);
    expect(big[12_345]).toEqual(expect.objectContaining({ runId: '50-96-a055d8b9', axes: { x: 50, y: 96 } }));
  });
});
