import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandGrid, gridCount, GridTooLargeError, SweepSpecSchema, type SweepSpecInput } from '../../spec';
import { validateSweepSpec } from '../../spec/load';

const base = { name: 'g', job: { command: ['true'] } } as const;
const spec = (s: Partial<SweepSpecInput>) => SweepSpecSchema.parse({ ...base, maxGridSize: 1_000_000, ...s });

describe('gridCount: the grid size, known before anything is expanded', () => {
  it('counts the product less the excludes, with overlapping rules counted once', () => {
    // 3 x 2 = 6 cells; {a: 1} removes 2, {b: x} removes 3, their overlap (1, x) is one cell: 6 - 4 = 2.
    expect(gridCount(spec({ grid: { a: [1, 2, 3], b: ['x', 'y'] }, exclude: [{ a: 1 }, { b: 'x' }] }))).toEqual({ cells: 2, exact: true });
    // A rule with a list of values: {a: [1, 2], b: x} removes (1, x) and (2, x).
    expect(gridCount(spec({ grid: { a: [1, 2, 3], b: ['x', 'y'] }, exclude: [{ a: [1, 2], b: 'x' }] })).cells).toBe(4);
    // Repeated axis values are one cell, as the expansion dedups them.
    expect(gridCount(spec({ grid: { a: [1, 1, 2] } })).cells).toBe(2);
  });

  it('adds only the included cells that are new', () => {
    const s = spec({
      grid: { a: [1, 2], b: ['x', 'y'] },
      exclude: [{ a: 1, b: 'x' }],
      // (2, y) is in the grid already; (1, x) was excluded, so it is new; (3, z) is new; (3, z) again is not.
      include: [{ a: 2, b: 'y' }, { a: 1, b: 'x' }, { a: 3, b: 'z' }, { a: 3, b: 'z' }],
    });
    expect(gridCount(s)).toEqual({ cells: 5, exact: true });
    expect(expandGrid(s)).toHaveLength(5);
  });

  it('knows 10^10 cells in milliseconds', () => {
    const grid = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`ax${i}`, Array.from({ length: 10 }, (_, j) => j)]));
    const t0 = performance.now();
    const n = gridCount(spec({ grid, exclude: [{ ax0: 0 }, { ax1: [1, 2], ax2: 3 }] }));
    expect(performance.now() - t0).toBeLessThan(200);
    // 10^10 - 10^9 (ax0 = 0) - 2 * 10^8 (ax1 in {1,2}, ax2 = 3) + 2 * 10^7 (both) = 8,820,000,000.
    expect(n).toEqual({ cells: 8_820_000_000, exact: true });
  });

  it('refuses a 10^10 grid with its size and the limit, before expanding', () => {
    const grid = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`ax${i}`, Array.from({ length: 10 }, (_, j) => j)]));
    const raw = { ...base, grid, concurrency: { maxRuns: 4, maxGpus: 8 } };
    const t0 = performance.now();
    expect(() => validateSweepSpec(raw)).toThrow(/grid: the grid has 10,000,000,000 cells, over the limit of 10,000/);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(() => expandGrid(SweepSpecSchema.parse(raw))).toThrow(GridTooLargeError);
  });

  it('agrees with the expansion on random small specs', () => {
    const value = fc.integer({ min: 0, max: 4 });
    fc.assert(
      fc.property(
        fc.array(fc.uniqueArray(value, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.array(fc.option(fc.uniqueArray(value, { minLength: 1, maxLength: 3 }), { nil: undefined }), { minLength: 3, maxLength: 3 }), { maxLength: 4 }),
        fc.array(fc.array(value, { minLength: 3, maxLength: 3 }), { maxLength: 3 }),
        (axes, rules, includes) => {
          const names = axes.map((_, i) => `a${i}`);
          const grid = Object.fromEntries(axes.map((v, i) => [names[i], v]));
          const exclude = rules
            .map((r) => Object.fromEntries(names.flatMap((n, i) => (r[i] ? [[n, r[i]!]] : []))))
            .filter((r) => Object.keys(r).length > 0);
          const include = includes.map((c) => Object.fromEntries(names.map((n, i) => [n, c[i]])));
          const s = spec({ grid, exclude, include });
          expect(gridCount(s).cells).toBe(expandGrid(s).length);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('job.image', () => {
  it('is not needed by a local sweep', () => {
    expect(validateSweepSpec({ name: 'loc', grid: { x: [1] }, job: { command: ['true'] } }).job!.image).toBeUndefined();
  });
  it('is required by a Kubernetes sweep, with the field named', () => {
    expect(() => validateSweepSpec({ name: 'kub', grid: { x: [1] }, job: { command: ['true'] }, executor: { kind: 'kubernetes' } })).toThrow(
      /job\.image: a Kubernetes sweep needs the container image/,
    );
  });
});
