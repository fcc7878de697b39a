import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  backoffMs,
  checkSpec,
  DEFAULT_RETRY_ON,
  estimateCell,
  expandGrid,
  GridTooLargeError,
  parseJobResult,
  renderTemplate,
  runIdOf,
  shouldRetry,
  SweepSpecSchema,
  type Cell,
  type SweepSpec,
  type SweepSpecInput,
} from '../../spec';
import { loadSweepSpec, SpecError, validateSweepSpec } from '../../spec/load';

const BASE: SweepSpecInput = {
  name: 'unit',
  grid: { arch: ['resnet18', 'resnet50'], seed: [0, 1, 2] },
  job: { image: 'trainer:latest', command: ['python', 'train.py'] },
};

/** A parsed spec: BASE with top-level fields replaced. */
const spec = (over: Partial<SweepSpecInput> = {}): SweepSpec => SweepSpecSchema.parse({ ...BASE, ...over });
const ids = (cells: Cell[]) => cells.map((c) => c.runId);
const axesOf = (cells: Cell[]) => cells.map((c) => c.axes);

/** The problems a spec object is refused with (fails the test if it is accepted). */
function problemsOf(raw: unknown, opts: { maxGridSize?: number } = {}): SpecError['problems'] {
  try {
    validateSweepSpec(raw, 'test', opts);
  } catch (e) {
    if (e instanceof SpecError) return e.problems;
    throw e;
  }
  throw new Error('the spec was accepted');
}

const tmp = mkdtempSync(join(tmpdir(), 'sweep-spec-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const writeSpec = (name: string, text: string) => {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
};

describe('SweepSpecSchema defaults', () => {
  it('fills every default of a minimal spec', () => {
    expect(spec()).toEqual({
      name: 'unit',
      description: '',
      grid: { arch: ['resnet18', 'resnet50'], seed: [0, 1, 2] },
      exclude: [],
      include: [],
      maxGridSize: 10_000,
      job: {
        image: 'trainer:latest',
        command: ['python', 'train.py'],
        args: [],
        env: {},
        resources: { gpus: 1, cpu: 4, memory: '16Gi' },
        overrides: [],
        gracePeriod: '30s',
      },
      executor: { kind: 'local' },
      concurrency: { maxRuns: 8 },
      order: 'grid',
      retry: {
        maxAttempts: 3,
        backoff: { initial: '5s', max: '5m', coefficient: 2 },
        retryOn: ['preempted', 'node-lost', 'infrastructure', 'unknown'],
        nonRetryableExitCodes: [],
      },
      timeouts: { run: '24h', pending: '30m' },
      metrics: [],
      fits: [],
      refit: { every: 10, bootstrap: 200 },
      reconcile: { interval: '2m' },
    });
    expect(DEFAULT_RETRY_ON).toEqual(['preempted', 'node-lost', 'infrastructure', 'unknown']);
  });

  it('fills defaults inside partly given objects', () => {
    const s = spec({
      job: { image: 'x', command: ['x'], resources: { gpus: 2 } },
      retry: { maxAttempts: 5, backoff: { initial: '1s' } },
      executor: { kind: 'kubernetes' },
      order: { by: 'random' },
    });
    expect(s.job!.resources).toEqual({ gpus: 2, cpu: 4, memory: '16Gi' });
    expect(s.retry.backoff).toEqual({ initial: '1s', max: '5m', coefficient: 2 });
    expect(s.order).toEqual({ by: 'random', seed: 0 });
    expect(s.executor).toMatchObject({ kind: 'kubernetes', namespace: 'default', datasetMountPath: '/data' });
  });

  it('parsing twice does not share mutable defaults', () => {
    const a = spec();
    a.job!.args.push('--mutated');
    a.retry.retryOn.push('oom');
    const b = spec();
    expect(b.job!.args).toEqual([]);
    expect(b.retry.retryOn).toEqual(DEFAULT_RETRY_ON);
  });
});

describe('unknown keys are errors at any depth, naming the key', () => {
  const cases: [string, SweepSpecInput | Record<string, unknown>, string][] = [
    ['top level', { ...BASE, gird: { a: [1] } }, 'gird'],
    ['job', { ...BASE, job: { ...BASE.job, cmd: ['x'] } }, 'job.cmd'],
    ['job.resources', { ...BASE, job: { ...BASE.job, resources: { gpus: 1, gpuz: 2 } } }, 'job.resources.gpuz'],
    [
      'job.overrides[].resources',
      { ...BASE, job: { ...BASE.job, overrides: [{ when: { arch: 'resnet50' }, resources: { gpu: 2 } }] } },
      'job.overrides.0.resources.gpu',
    ],
    ['executor (local)', { ...BASE, executor: { kind: 'local', namespace: 'ml' } }, 'executor.namespace'],
    ['concurrency', { ...BASE, concurrency: { maxRuns: 2, maxJobs: 3 } }, 'concurrency.maxJobs'],
    ['retry.backoff', { ...BASE, retry: { backoff: { initial: '1s', jitter: 0.1 } } }, 'retry.backoff.jitter'],
    ['timeouts', { ...BASE, timeouts: { run: '1h', queue: '1m' } }, 'timeouts.queue'],
    ['order', { ...BASE, order: { by: 'random', seed: 1, salt: 2 } }, 'order.salt'],
    ['refit', { ...BASE, refit: { every: 2, often: true } }, 'refit.often'],
    [
      'fits[].selection',
      {
        ...BASE,
        fits: [{ name: 'f', form: 'power_law', x: 'total_flops', y: { metrics: ['IT'] }, selection: { bogus: 1 } }],
      },
      'fits.0.selection.bogus',
    ],
  ];
  it.each(cases)('%s', (_where, raw, path) => {
    const key = path.split('.').at(-1) as string;
    const problems = problemsOf(raw);
    const p = problems.find((x) => x.path === path);
    expect(p, JSON.stringify(problems)).toBeDefined();
    expect(p?.message).toContain(`unknown key "${key}"`);
  });

  it('axis names in rules (exclude, overrides, include) must be grid axes', () => {
    const problems = problemsOf({
      ...BASE,
      exclude: [{ archh: 'resnet18' }],
      job: { ...BASE.job, overrides: [{ when: { sed: 1 }, resources: { gpus: 2 } }] },
    });
    expect(problems.map((p) => p.path).sort()).toEqual(['exclude.0.archh', 'job.overrides.0.when.sed']);
    for (const p of problems) expect(p.message).toMatch(/is not a grid axis \(arch, seed\)/);
  });

  it('a YAML file reports the unknown key with its line and column', () => {
    const file = writeSpec(
      'unknown.yaml',
      [
        'name: unit',
        'grid:',
        '  arch: [resnet18]',
        'job:',
        '  image: x',
        '  command: [python]',
        '  resources:',
        '    gpus: 1',
        '    gpuz: 2',
        '',
      ].join('\n'),
    );
    expect(() => loadSweepSpec(file)).toThrow(SpecError);
    try {
      loadSweepSpec(file);
    } catch (e) {
      expect((e as SpecError).problems).toEqual([
        { path: 'job.resources.gpuz', message: 'unknown key "gpuz": remove it or check its spelling', line: 9, col: 5 },
      ]);
      expect((e as SpecError).message).toContain('line 9, col 5: job.resources.gpuz');
    }
  });
});

describe('grid expansion', () => {
  it('is the cartesian product in spec order, last axis fastest, and stable', () => {
    const cells = expandGrid(spec());
    expect(axesOf(cells)).toEqual([
      { arch: 'resnet18', seed: 0 },
      { arch: 'resnet18', seed: 1 },
      { arch: 'resnet18', seed: 2 },
      { arch: 'resnet50', seed: 0 },
      { arch: 'resnet50', seed: 1 },
      { arch: 'resnet50', seed: 2 },
    ]);
    expect(expandGrid(spec())).toEqual(cells);
    expect(cells.every((c) => c.resources.gpus === 1)).toBe(true);
  });

  // Golden run ids. They must NEVER change: re-submitting a spec skips the runs whose ids it already
  // recorded, and workflow ids (sweep/<name>/<runId>) and Kubernetes Job names are built from them, so
  // a changed id silently reruns every finished run and orphans its Jobs. A change here is a bug.
  it('run id = readable slug + 8 hex digits of the axes (golden values)', () => {
    expect(ids(expandGrid(spec()))).toEqual([
      'resnet18-0-31b84888',
      'resnet18-1-9179bbec',
      'resnet18-2-3f60fef9',
      'resnet50-0-ae3bc766',
      'resnet50-1-db48c6a3',
      'resnet50-2-b7abc663',
    ]);
    expect(runIdOf({ arch: 'resnet18', dataset: 'imagenet', samples_per_class: 100, seed: 0 })).toBe('resnet18-imagenet-100-0-5ccdde25');
    // DNS-friendly and bounded, whatever the values look like.
    const odd = runIdOf({ model: 'ViT_B/16 (CLIP)', lr: 0.0003, note: 'x'.repeat(100), flag: true });
    expect(odd).toBe('true-0-0003-vit-b-16-clip-xxxxxxxxxxxxxx-be79bfaf');
    expect(odd.length).toBeLessThanOrEqual(40 + 9);
    expect(runIdOf({ a: '' })).toBe('run-31591016');
  });

  it('the same cell gets the same id regardless of key order; different cells differ', () => {
    expect(runIdOf({ seed: 0, samples_per_class: 100, dataset: 'imagenet', arch: 'resnet18' })).toBe('resnet18-imagenet-100-0-5ccdde25');
    // The id is a function of the values, not of the string form: 1 and "1" are different cells.
    expect(runIdOf({ seed: 1 })).toBe('1-e95abcd1');
    expect(runIdOf({ seed: '1' })).toBe('1-e9e6129c');
    expect(runIdOf({ arch: 'resnet18', seed: 1 })).toBe('resnet18-1-9179bbec');
    // Reordering the axes of a spec changes the run order, never the run ids.
    const reordered = spec({ grid: { seed: [0, 1, 2], arch: ['resnet18', 'resnet50'] } });
    expect(ids(expandGrid(reordered)).sort()).toEqual(ids(expandGrid(spec())).sort());
    // Extending an axis keeps every existing id.
    const extended = spec({ grid: { arch: ['resnet18', 'resnet50'], seed: [0, 1, 2, 3] } });
    expect(ids(expandGrid(extended))).toEqual(expect.arrayContaining(ids(expandGrid(spec()))));
  });

  it('applies exclude rules (single values and lists)', () => {
    const s = spec({
      grid: { arch: ['a', 'b', 'c'], seed: [0, 1], spc: [10, 100] },
      exclude: [
        { arch: 'a', spc: 100 },
        { arch: ['b', 'c'], seed: 1 },
      ],
    });
    expect(axesOf(expandGrid(s))).toEqual([
      { arch: 'a', seed: 0, spc: 10 },
      { arch: 'a', seed: 1, spc: 10 },
      { arch: 'b', seed: 0, spc: 10 },
      { arch: 'b', seed: 0, spc: 100 },
      { arch: 'c', seed: 0, spc: 10 },
      { arch: 'c', seed: 0, spc: 100 },
    ]);
  });

  it('appends include cells after the grid, without duplicating a cell the grid has', () => {
    const s = spec({
      exclude: [{ arch: 'resnet50' }],
      include: [
        { seed: 7, arch: 'vit_b_16' },
        { arch: 'resnet18', seed: 0 },
        { arch: 'resnet50', seed: 1 },
      ],
    });
    const cells = expandGrid(s);
    expect(axesOf(cells)).toEqual([
      { arch: 'resnet18', seed: 0 },
      { arch: 'resnet18', seed: 1 },
      { arch: 'resnet18', seed: 2 },
      { arch: 'vit_b_16', seed: 7 },
      { arch: 'resnet50', seed: 1 },
    ]);
    // Included cells carry their axes in grid order, and the same id as the grid would give them.
    expect(Object.keys(cells[3].axes)).toEqual(['arch', 'seed']);
    expect(cells[4].runId).toBe('resnet50-1-db48c6a3');
    expect(cells[3].runId).toBe('vit-b-16-7-5f8245bc');
  });

  it('an include must name every axis, and only axes', () => {
    const problems = problemsOf({ ...BASE, include: [{ arch: 'vit_b_16' }, { arch: 'vit_b_16', seed: 0, lr: 1 }] });
    expect(problems).toEqual([
      { path: 'include.0', message: 'an included cell must name every axis; "seed" is missing' },
      { path: 'include.1.lr', message: '"lr" is not a grid axis (arch, seed)' },
    ]);
  });

  it('overrides pick resources per cell; later rules win', () => {
    const s = spec({
      grid: { arch: ['resnet18', 'resnet50', 'vit_l_16'], seed: [0] },
      job: {
        image: 'x',
        command: ['x'],
        resources: { gpus: 1, cpu: 4, memory: '16Gi' },
        overrides: [
          { when: { arch: ['resnet50', 'vit_l_16'] }, resources: { gpus: 2, memory: '32Gi' } },
          { when: { arch: 'vit_l_16' }, resources: { gpus: 8 } },
        ],
      },
    });
    expect(expandGrid(s).map((c) => [c.axes.arch, c.resources])).toEqual([
      ['resnet18', { gpus: 1, cpu: 4, memory: '16Gi' }],
      ['resnet50', { gpus: 2, cpu: 4, memory: '32Gi' }],
      ['vit_l_16', { gpus: 8, cpu: 4, memory: '32Gi' }],
    ]);
    // An override changes only what it names: the job's own cpu / memory are kept, not reset to defaults.
    const big = spec({
      job: {
        image: 'x',
        command: ['x'],
        resources: { gpus: 1, cpu: 16, memory: '64Gi', gpuType: 'A100' },
        overrides: [{ when: { arch: 'resnet50' }, resources: { gpus: 4 } }],
      },
    });
    expect(expandGrid(big).find((c) => c.axes.arch === 'resnet50')?.resources).toEqual({
      gpus: 4,
      cpu: 16,
      memory: '64Gi',
      gpuType: 'A100',
    });
    expect(big.job!.overrides[0].resources).toEqual({ gpus: 4 });
  });

  it('refuses a run that needs more GPUs than concurrency.maxGpus', () => {
    const problems = problemsOf({
      ...BASE,
      concurrency: { maxRuns: 2, maxGpus: 2 },
      job: { ...BASE.job, overrides: [{ when: { arch: 'resnet50' }, resources: { gpus: 4 } }] },
    });
    expect(problems).toEqual([expect.objectContaining({ path: 'concurrency.maxGpus' })]);
    expect(problems[0].message).toMatch(/needs 4 GPUs but maxGpus is 2/);
  });
});

describe('order', () => {
  const computeGrid = {
    arch: ['resnet50', 'resnet18', 'efficientnet_b0', 'convnext_tiny'],
    dataset: ['imagenet'],
    samples_per_class: [300, 10, 100],
    seed: [0, 1],
  };

  it('grid keeps the expansion order', () => {
    expect(ids(expandGrid(spec({ order: 'grid' })))).toEqual(ids(expandGrid(spec())));
    expect(ids(expandGrid(spec({ order: { by: 'grid' } })))).toEqual(ids(expandGrid(spec())));
  });

  it('compute-ascending sorts by estimated FLOPs, ties in grid order', () => {
    const grid = spec({ grid: computeGrid });
    const s = spec({ grid: computeGrid, order: 'compute-ascending' });
    const cells = expandGrid(s);
    const flops = cells.map((c) => estimateCell(s, c.axes)?.totalFlops);
    expect(flops.every((f) => typeof f === 'number' && f > 0)).toBe(true);
    const sorted = [...(flops as number[])].sort((a, b) => a - b);
    expect(flops).toEqual(sorted);
    expect(new Set(flops).size).toBeGreaterThan(4);
    // A permutation of the grid.
    expect([...ids(cells)].sort()).toEqual(ids(expandGrid(grid)).sort());
    // Equal compute (the seeds) keeps grid order: seed 0 right before seed 1.
    for (let i = 0; i < cells.length; i += 2) {
      expect(cells[i].axes.seed).toBe(0);
      expect(cells[i + 1].axes).toEqual({ ...cells[i].axes, seed: 1 });
    }
    // Smallest first: the fewest samples on the cheapest architecture.
    expect(cells[0].axes).toMatchObject({ samples_per_class: 10 });
    expect(cells.at(-1)?.axes).toMatchObject({ samples_per_class: 300 });
  });

  it('compute-ascending without a known architecture falls back to the product of numeric axes', () => {
    const s = spec({ grid: { width: [4, 1, 2], depth: [3, 1] }, order: 'compute-ascending' });
    const product = expandGrid(s).map((c) => Number(c.axes.width) * Number(c.axes.depth));
    expect(product).toEqual([...product].sort((a, b) => a - b));
  });

  it('coarse-to-fine puts axis ends before midpoints before quarter points', () => {
    const s = spec({ grid: { x: [1, 2, 3, 4, 5] }, order: 'coarse-to-fine' });
    expect(expandGrid(s).map((c) => c.axes.x)).toEqual([1, 5, 3, 2, 4]);

    const two = spec({ grid: { a: [0, 1, 2], b: ['lo', 'mid', 'hi'] }, order: 'coarse-to-fine' });
    const cells = expandGrid(two);
    expect(cells).toHaveLength(9);
    // First the four corners (every axis at an end), in grid order; the centre points after.
    expect(axesOf(cells.slice(0, 4))).toEqual([
      { a: 0, b: 'lo' },
      { a: 0, b: 'hi' },
      { a: 2, b: 'lo' },
      { a: 2, b: 'hi' },
    ]);
    const endsA = new Set([0, 2]);
    const endsB = new Set(['lo', 'hi']);
    for (const c of cells.slice(4)) expect(endsA.has(c.axes.a as number) && endsB.has(c.axes.b as string)).toBe(false);
    expect([...ids(cells)].sort()).toEqual(ids(expandGrid(spec({ grid: two.grid }))).sort());
  });

  it('random with a seed is a reproducible permutation', () => {
    const g = { arch: ['a', 'b', 'c', 'd'], spc: [1, 2, 3], seed: [0, 1] };
    const grid = ids(expandGrid(spec({ grid: g })));
    const r1 = ids(expandGrid(spec({ grid: g, order: { by: 'random', seed: 42 } })));
    const r1again = ids(expandGrid(spec({ grid: g, order: { by: 'random', seed: 42 } })));
    const r2 = ids(expandGrid(spec({ grid: g, order: { by: 'random', seed: 43 } })));
    expect(r1again).toEqual(r1);
    expect([...r1].sort()).toEqual([...grid].sort());
    expect([...r2].sort()).toEqual([...grid].sort());
    expect(r1).not.toEqual(grid);
    expect(r2).not.toEqual(r1);
    // "random" alone is seed 0.
    expect(ids(expandGrid(spec({ grid: g, order: 'random' })))).toEqual(
      ids(expandGrid(spec({ grid: g, order: { by: 'random', seed: 0 } }))),
    );
  });
});

describe('templates', () => {
  it('renderTemplate fills axes and builtins, with or without spaces', () => {
    const vars = { arch: 'resnet18', samples_per_class: 100, sweep: 'demo', runId: 'r-1', attempt: 2 };
    expect(renderTemplate('--arch={{arch}} --spc={{ samples_per_class }}', vars)).toBe('--arch=resnet18 --spc=100');
    expect(renderTemplate('{{sweep}}/{{runId}}/a{{attempt}}', vars)).toBe('demo/r-1/a2');
    expect(renderTemplate('no templates', vars)).toBe('no templates');
    expect(() => renderTemplate('--lr={{lr}}', vars)).toThrow('unknown template variable "{{lr}}"');
  });

  it('checkSpec refuses unknown template variables in command, args and env, naming the field', () => {
    const s = spec({
      job: {
        image: 'x',
        command: ['python', '{{script}}'],
        args: ['--arch={{arch}}', '--run={{runId}}', '--lr={{lr}}'],
        env: { OUT: '/out/{{sweep}}/{{attempt}}', WANDB: '{{wandb_project}}' },
      },
    });
    const issues = checkSpec(s);
    expect(issues.map((i) => i.path)).toEqual(['job.args.2', 'job.command.1', 'job.env.WANDB']);
    expect(issues[0].message).toBe(
      'unknown template variable "{{lr}}": use a grid axis (arch, seed) or one of sweep, runId, attempt',
    );
    expect(checkSpec(spec({ job: { image: 'x', command: ['x'], args: ['{{arch}}-{{seed}}'] } }))).toEqual([]);
  });
});

describe('grid size limit', () => {
  const big = { a: [1, 2, 3, 4, 5], b: [1, 2, 3, 4, 5], c: [1, 2, 3, 4] }; // 100 cells

  it('refuses a grid over maxGridSize with a clear message', () => {
    const s = spec({ grid: big, maxGridSize: 99 });
    expect(() => expandGrid(s)).toThrow(GridTooLargeError);
    expect(() => expandGrid(s)).toThrow(
      'the grid has 100 cells, over the limit of 99: narrow the grid or raise "maxGridSize" in the spec (or pass --max-grid-size) if you mean it',
    );
    expect(expandGrid(spec({ grid: big, maxGridSize: 100 }))).toHaveLength(100);
  });

  it('counts included cells', () => {
    const s = spec({ grid: big, maxGridSize: 100, include: [{ a: 9, b: 9, c: 9 }] });
    expect(() => expandGrid(s)).toThrow(/101 cells, over the limit of 100/);
  });

  it('the default limit is 10,000 and an explicit override raises it', () => {
    const huge = { a: Array.from({ length: 101 }, (_, i) => i), b: Array.from({ length: 100 }, (_, i) => i) };
    expect(() => expandGrid(spec({ grid: huge }))).toThrow(/10,100 cells, over the limit of 10,000/);
    expect(expandGrid(spec({ grid: huge }), { maxGridSize: 10_100 })).toHaveLength(10_100);
    expect(expandGrid(spec({ grid: huge, maxGridSize: 20_000 }))).toHaveLength(10_100);
  });

  it('loadSweepSpec refuses it at "grid" and accepts it with {maxGridSize}', () => {
    const file = writeSpec(
      'big.yaml',
      [
        'name: big',
        'maxGridSize: 10',
        'grid:',
        '  a: [1, 2, 3, 4]',
        '  b: [1, 2, 3]',
        'job:',
        '  image: x',
        '  command: [x]',
        '',
      ].join('\n'),
    );
    let err: unknown;
    try {
      loadSweepSpec(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).problems).toEqual([
      expect.objectContaining({
        path: 'grid',
        line: 3,
        message: expect.stringContaining('12 cells, over the limit of 10'),
      }),
    ]);
    const s = loadSweepSpec(file, { maxGridSize: 12 });
    // The raised limit travels with the spec, so the workflow expanding it does not refuse it.
    expect(s.maxGridSize).toBe(12);
    expect(expandGrid(s)).toHaveLength(12);
  });
});

describe('retry helpers', () => {
  const retry = spec({
    retry: { maxAttempts: 3, backoff: { initial: '1s', max: '5s' }, nonRetryableExitCodes: [3] },
  }).retry;

  it('shouldRetry: retryable class and attempts left', () => {
    expect(shouldRetry('preempted', 1, retry)).toBe(true);
    expect(shouldRetry('preempted', 2, retry)).toBe(true);
    expect(shouldRetry('preempted', 3, retry)).toBe(false);
    for (const c of ['node-lost', 'infrastructure', 'unknown'] as const) expect(shouldRetry(c, 1, retry)).toBe(true);
    for (const c of ['oom', 'timeout', 'image', 'unschedulable', 'user-error', 'bad-result'] as const)
      expect(shouldRetry(c, 1, retry)).toBe(false);
    const custom = spec({ retry: { retryOn: ['oom'], maxAttempts: 2 } }).retry;
    expect(shouldRetry('oom', 1, custom)).toBe(true);
    expect(shouldRetry('preempted', 1, custom)).toBe(false);
  });

  it('backoffMs: initial x coefficient^(attempt-1), capped at max', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, retry))).toEqual([1000, 2000, 4000, 5000, 5000]);
    const slow = spec({ retry: { backoff: { initial: '500ms', max: '1h', coefficient: 3 } } }).retry;
    expect([1, 2, 3].map((a) => backoffMs(a, slow))).toEqual([500, 1500, 4500]);
    expect(backoffMs(0, slow)).toBe(500);
  });
});

describe('parseJobResult', () => {
  it('accepts a full result and rejects malformed JSON, NaN, and a missing required metric', () => {
    const ok = parseJobResult(
      JSON.stringify({
        metrics: { V1: 0.2, IT: 0.4 },
        n_params: 1e7,
        checkpoints: [{ epoch: 1, metrics: { V1: 0.1 } }],
      }),
      ['V1', 'IT'],
    );
    expect(ok).toMatchObject({ ok: true, result: { metrics: { V1: 0.2, IT: 0.4 } } });
    expect(parseJobResult('{"metrics":', [])).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not valid JSON'),
    });
    expect(parseJobResult('{"metrics": {"V1": NaN}}', [])).toMatchObject({ ok: false });
    expect(parseJobResult(JSON.stringify({ metrics: { V1: null } }), [])).toMatchObject({
      ok: false,
      reason: expect.stringContaining('metrics.V1'),
    });
    expect(parseJobResult(JSON.stringify({ metrics: { V1: 0.2 } }), ['V1', 'IT'])).toEqual({
      ok: false,
      reason: 'result is missing required metric(s): IT',
    });
  });
});
