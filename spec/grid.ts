import { canonicalJson, mulberry32, shortHash } from './hash';
import { adaptiveIssues } from './adaptive';
import { estimateCell } from './compute';
import type { AxisValue, MatchRule, Resources, SweepSpec } from './sweepSpec';
import { evaluateJob } from './stages';

/** One cell of the grid: what a run is. */
export interface Cell {
  runId: string;
  axes: Record<string, AxisValue>;
  resources: Resources;
}

/** A problem in a spec that its schema alone cannot see (templates, rule axes, grid size). */
export interface SpecIssue {
  path: string;
  message: string;
}

export class GridTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `the grid has ${size.toLocaleString('en-US')} cells, over the limit of ${limit.toLocaleString('en-US')}: narrow the grid or raise "maxGridSize" ` +
        `in the spec (or pass --max-grid-size) if you mean it`,
    );
  }
}

const stringify = JSON.stringify;
const assign = Object.assign;
const TRAILING_DASHES = /-+$/;

const TEMPLATE_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
/** Template variables every job gets besides its axes. */
export const BUILTIN_TEMPLATE_VARS = ['sweep', 'runId', 'attempt'] as const;

/**
 * Readable, DNS-friendly slug of a cell's axis values, taken in axis-name order so that the
 * same cell gives the same slug however its keys are ordered (as the hash does).
 */
function slugOf(axes: Record<string, AxisValue>): string {
  return slugOfParts(
    Object.keys(axes)
      .sort()
      .filter((k) => axes[k] !== undefined)
      .map((k) => slugPart(axes[k])),
  );
}

/** The slug from its values' parts, in axis-name order: the non-empty ones, dashed, at most 40 characters. */
function slugOfParts(parts: readonly string[]): string {
  let slug = '';
  for (const p of parts) if (p) slug = slug ? `${slug}-${p}` : p;
  return slug.slice(0, 40).replace(TRAILING_DASHES, '') || 'run';
}

/** Run id = readable slug + short content hash of the axes: the same cell always gets the same id. */
export function runIdOf(axes: Record<string, AxisValue>): string {
  return runIdFrom(slugOf(axes), canonicalJson(axes));
}

/** The run id of a cell from its slug and its axes' canonical JSON. */
function runIdFrom(slug: string, canonical: string): string {
  return `${slug}-${shortHash(canonical)}`;
}

export function matches(rule: MatchRule, axes: Record<string, AxisValue>): boolean {
  return Object.entries(rule).every(([axis, want]) =>
    Array.isArray(want) ? want.some((w) => w === axes[axis]) : want === axes[axis],
  );
}

export function resourcesFor(spec: Pick<SweepSpec, 'job'> & Partial<Pick<SweepSpec, 'evaluate'>>, axes: Record<string, AxisValue>): Resources {
  // An evaluate-only sweep's runs take the evaluate stage's resources.
  const job = spec.job ?? evaluateJob({ job: undefined, evaluate: spec.evaluate });
  // Object.assign, not spreads: it runs for every cell of a grid, in workflow code too, where the
  // bundle's spread helper costs microseconds.
  const res: Resources = assign({}, job!.resources);
  for (const o of job!.overrides) if (matches(o.when, axes)) assign(res, o.resources);
  return res;
}

/**
 * Semantic checks the schema cannot express. Returns every issue found (empty when fine).
 * May expand the grid: call it only on a spec whose size has passed `assertGridWithin`.
 */
export function checkSpec(spec: SweepSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const axes = new Set(Object.keys(spec.grid));
  const known = new Set<string>([...axes, ...BUILTIN_TEMPLATE_VARS]);
  const checkTemplate = (path: string, s: string) => {
    for (const m of s.matchAll(TEMPLATE_RE)) {
      if (!known.has(m[1]))
        issues.push({
          path,
          message: `unknown template variable "{{${m[1]}}}": use a grid axis (${[...axes].join(', ')}) or one of ${BUILTIN_TEMPLATE_VARS.join(', ')}`,
        });
    }
  };
  for (const [stage, t] of [['job', spec.job], ['evaluate', spec.evaluate]] as const) {
    if (!t) continue;
    t.args.forEach((a, i) => checkTemplate(`${stage}.args.${i}`, a));
    t.command.forEach((a, i) => checkTemplate(`${stage}.command.${i}`, a));
    for (const [k, v] of Object.entries(t.env)) if (typeof v === 'string') checkTemplate(`${stage}.env.${k}`, v);
  }
  const checkRuleAxes = (path: string, rule: Record<string, unknown>) => {
    for (const a of Object.keys(rule))
      if (!axes.has(a)) issues.push({ path: `${path}.${a}`, message: `"${a}" is not a grid axis (${[...axes].join(', ')})` });
  };
  spec.exclude.forEach((r, i) => checkRuleAxes(`exclude.${i}`, r));
  spec.job?.overrides.forEach((o, i) => checkRuleAxes(`job.overrides.${i}.when`, o.when));
  spec.include.forEach((cell, i) => {
    checkRuleAxes(`include.${i}`, cell);
    for (const a of axes)
      if (!(a in cell)) issues.push({ path: `include.${i}`, message: `an included cell must name every axis; "${a}" is missing` });
  });
  if (spec.executor.kind === 'kubernetes' && spec.job && !spec.job.image)
    issues.push({ path: 'job.image', message: 'a Kubernetes sweep needs the container image its jobs run (job.image)' });
  if (spec.executor.kind === 'kubernetes' && spec.evaluate && !(spec.evaluate.image ?? spec.job?.image))
    issues.push({ path: 'evaluate.image', message: 'a Kubernetes sweep needs the container image its evaluate jobs run (evaluate.image or job.image)' });
  if (spec.strategy) issues.push(...adaptiveIssues(spec, expandGridUnchecked(spec)));
  if (spec.concurrency.maxGpus !== undefined) {
    // A fold, not Math.max(...cells): a million arguments overflow the stack.
    const maxCellGpus = expandGridUnchecked(spec).reduce((m, c) => Math.max(m, totalGpus(c.resources)), 0);
    if (maxCellGpus > spec.concurrency.maxGpus)
      issues.push({
        path: 'concurrency.maxGpus',
        message: `a run needs ${maxCellGpus} GPUs but maxGpus is ${spec.concurrency.maxGpus}: it could never start`,
      });
  }
  return issues;
}

/** Cells of the full product of the axes, before excludes and includes (distinct values per axis). */
export function gridSize(spec: Pick<SweepSpec, 'grid'>): number {
  return Object.values(spec.grid).reduce((n, values) => n * new Set(values).size, 1);
}

/** Bound on the states of the exclude count below (a spec beyond it is judged by its upper bound). */
const MAX_COUNT_STATES = 100_000;

/**
 * Cells of the product that no exclude rule matches, counted without expanding anything: a
 * dynamic programme over the axes whose state is the set of rules still matching. Each rule is
 * a product set, so an axis splits its values into classes by the rules that accept them.
 * Returns undefined when the rules are too many to count exactly within MAX_COUNT_STATES.
 */
function countUnexcluded(spec: Pick<SweepSpec, 'grid' | 'exclude'>): number | undefined {
  const rules = spec.exclude;
  if (!rules.length) return gridSize(spec);
  const accepts = (rule: MatchRule, axis: string, v: AxisValue) => {
    if (!(axis in rule)) return true;
    const want = rule[axis];
    return Array.isArray(want) ? want.some((w) => w === v) : want === v;
  };
  // State: which rules still match the cell so far (a string of 0/1), -> number of partial cells.
  let states = new Map<string, number>([['1'.repeat(rules.length), 1]]);
  for (const [axis, rawValues] of Object.entries(spec.grid)) {
    const classes = new Map<string, number>();
    for (const v of new Set(rawValues)) {
      const key = rules.map((r) => (accepts(r, axis, v) ? '1' : '0')).join('');
      classes.set(key, (classes.get(key) ?? 0) + 1);
    }
    const next = new Map<string, number>();
    for (const [alive, n] of states)
      for (const [acc, m] of classes) {
        let key = '';
        for (let i = 0; i < alive.length; i++) key += alive[i] === '1' && acc[i] === '1' ? '1' : '0';
        next.set(key, (next.get(key) ?? 0) + n * m);
        if (next.size > MAX_COUNT_STATES) return undefined;
      }
    states = next;
  }
  let total = 0;
  for (const [alive, n] of states) if (!alive.includes('1')) total += n;
  return total;
}

/**
 * How many runs a spec expands to, known arithmetically before anything is expanded or
 * allocated: the product of the axes less what the excludes remove, plus the included cells
 * that are new. `exact` is false when the excludes were too intricate to count, and `cells`
 * is then an upper bound (the product plus the includes).
 */
export function gridCount(spec: Pick<SweepSpec, 'grid' | 'exclude' | 'include'>): { cells: number; exact: boolean } {
  const counted = countUnexcluded(spec);
  if (counted === undefined) return { cells: gridSize(spec) + spec.include.length, exact: false };
  const names = Object.keys(spec.grid);
  const axisSets = new Map(names.map((n) => [n, new Set(spec.grid[n])]));
  const seen = new Set<string>();
  let extra = 0;
  for (const cell of spec.include) {
    const axes: Record<string, AxisValue> = {};
    for (const n of names) axes[n] = cell[n];
    const id = canonicalJson(axes);
    if (seen.has(id)) continue;
    seen.add(id);
    const inGrid = names.every((n) => axisSets.get(n)!.has(axes[n])) && !spec.exclude.some((r) => matches(r, axes));
    if (!inGrid) extra++;
  }
  return { cells: counted + extra, exact: true };
}

/** Throws GridTooLargeError, in milliseconds and bounded memory, when a spec's grid is over its limit. */
export function assertGridWithin(spec: Pick<SweepSpec, 'grid' | 'exclude' | 'include'>, limit: number): number {
  const { cells } = gridCount(spec);
  if (cells > limit) throw new GridTooLargeError(cells, limit);
  return cells;
}

/** A value's part of a run id's slug (see slugOf). */
function slugPart(v: AxisValue): string {
  return String(v)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * Cartesian product in spec order (last axis varies fastest), excludes applied, includes appended.
 * A sweep expands its grid at every execution and every replay (100,000 cells in a workflow task),
 * so each product cell's id is put together from per-value parts made once, with no global looked
 * up per cell (workflow code runs in a vm context, where each is a C++ call): the same id as
 * `runIdOf` gives, which the tests check cell by cell.
 */
function expandGridUnchecked(spec: SweepSpec): Cell[] {
  const names = Object.keys(spec.grid);
  const n = names.length;
  const values = names.map((k) => spec.grid[k]);
  // Axes in the order the id takes them (sorted names: canonicalJson and slugOf sort keys so).
  const idOrder = names.map((_, i) => i).sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  // canonicalJson's "key":value fragment and the slug's part of each axis value, made once.
  const jsonParts = values.map((vs, i) => vs.map((v) => `${stringify(names[i])}:${canonicalJson(v)}`));
  const slugParts = values.map((vs) => vs.map(slugPart));
  const cells: Cell[] = [];
  const seen = new Set<string>();
  const add = (runId: string, axes: Record<string, AxisValue>) => {
    if (seen.has(runId)) return;
    seen.add(runId);
    cells.push({ runId, axes, resources: resourcesFor(spec, axes) });
  };
  if (values.every((vs) => vs.length > 0)) {
    const idx = new Array<number>(n).fill(0);
    for (;;) {
      const axes: Record<string, AxisValue> = {};
      for (let i = 0; i < n; i++) axes[names[i]] = values[i][idx[i]];
      if (!spec.exclude.length || !spec.exclude.some((r) => matches(r, axes))) {
        let key = '{';
        const parts: string[] = [];
        for (let s = 0; s < n; s++) {
          const i = idOrder[s];
          key += s ? `,${jsonParts[i][idx[i]]}` : jsonParts[i][idx[i]];
          parts.push(slugParts[i][idx[i]]);
        }
        add(runIdFrom(slugOfParts(parts), `${key}}`), axes);
      }
      // Next cell: the last axis fastest.
      let i = n - 1;
      while (i >= 0 && ++idx[i] === values[i].length) idx[i--] = 0;
      if (i < 0) break;
    }
  }
  for (const cell of spec.include) {
    const axes: Record<string, AxisValue> = {};
    for (const name of names) axes[name] = cell[name];
    add(runIdOf(axes), axes);
  }
  return cells;
}

/**
 * Expand a spec into its runs, in the spec's `order`. Deterministic: the same spec gives the
 * same runs in the same order (safe inside workflow code).
 */
export function expandGrid(spec: SweepSpec, opts: { maxGridSize?: number } = {}): Cell[] {
  assertGridWithin(spec, opts.maxGridSize ?? spec.maxGridSize);
  return orderCells(spec, expandGridUnchecked(spec));
}

function orderCells(spec: SweepSpec, cells: Cell[]): Cell[] {
  const order = typeof spec.order === 'string' ? { by: spec.order, seed: 0 } : spec.order;
  switch (order.by) {
    case 'grid':
      return cells;
    case 'random': {
      const rand = mulberry32(order.seed);
      const out = [...cells];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    }
    case 'compute-ascending': {
      const cost = (c: Cell) => estimateCell(spec, c.axes)?.totalFlops ?? numericProduct(c.axes);
      return cells
        .map((c, i) => ({ c, i, k: cost(c) }))
        .sort((a, b) => a.k - b.k || a.i - b.i)
        .map((x) => x.c);
    }
    case 'coarse-to-fine': {
      // Level of an index in its axis: ends first, then midpoints, then quarter points...
      const level = (idx: number, n: number): number => {
        if (n <= 2 || idx === 0 || idx === n - 1) return 0;
        for (let l = 1; l < 32; l++) {
          const step = (n - 1) / 2 ** l;
          if (Math.abs(idx / step - Math.round(idx / step)) < 1e-9 || step < 1) return l;
        }
        return 32;
      };
      const names = Object.keys(spec.grid);
      const cellLevel = (c: Cell) =>
        Math.max(
          0,
          ...names.map((n) => {
            const idx = spec.grid[n].findIndex((v) => v === c.axes[n]);
            return idx < 0 ? 0 : level(idx, spec.grid[n].length);
          }),
        );
      return cells
        .map((c, i) => ({ c, i, k: cellLevel(c) }))
        .sort((a, b) => a.k - b.k || a.i - b.i)
        .map((x) => x.c);
    }
  }
}

function numericProduct(axes: Record<string, AxisValue>): number {
  return Object.values(axes).reduce<number>((p, v) => (typeof v === 'number' && v > 0 ? p * v : p), 1);
}

/** Fill `{{axis}}` templates of a string from the cell and the builtins. */
export function renderTemplate(s: string, vars: Record<string, AxisValue>): string {
  return s.replace(TEMPLATE_RE, (_, name: string) => {
    if (!(name in vars)) throw new Error(`unknown template variable "{{${name}}}"`);
    return String(vars[name]);
  });
}

/** Nodes one attempt of a run spans (absent = 1). */
export function nodesOf(resources: Pick<Resources, 'nodes'>): number {
  return resources.nodes ?? 1;
}

/** GPUs one attempt of a run holds: nodes x GPUs per node (what maxGpus, Kueue and plan count). Pure. */
export function totalGpus(resources: Pick<Resources, 'nodes' | 'gpus'>): number {
  return nodesOf(resources) * resources.gpus;
}
