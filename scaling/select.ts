/**
 * Data selection from long-format rows (one row per model x metric), in PAPER_METHOD.md's order:
 * family merging, boolean filter, set filters (incl. the metric filter), range filters,
 * group-by mean, family/samples filter. Then the checks the fit needs (x > 0, y > 0).
 */
import { DEFAULT_GROUP_BY, type NormalizedFitConfig, type Scalar } from './config';

/** A long-format record: cells as parsed from CSV (strings) or as stored (numbers, booleans). */
export type LongRow = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Bad input, with the column and row at fault when there is one. */
export class FitInputError extends Error {
  constructor(
    message: string,
    readonly column?: string,
    readonly row?: string,
  ) {
    super(message);
    this.name = 'FitInputError';
  }
}

export interface SelectedPoint {
  /** Unscaled x values. */
  rawX: number[];
  /** Group-mean score. */
  score: number;
  /** Group key columns and their values (first row of the group). */
  labels: Record<string, string>;
  /** Compute column for the recipe (group mean), when present. */
  compute?: number;
  /** Where the group came from, for error messages. */
  source: string;
}

export interface Selection {
  points: SelectedPoint[];
  warnings: string[];
  /** Rows that passed the filters but had a missing value (excluded, counted per column). */
  missing: Record<string, number>;
  /**
   * With `excludeUnusable`: rows (or, rarely, group means) the fit cannot use, left out and
   * counted by reason ("1 - score <= 0", "score <= 0", "total_flops <= 0", "score not finite").
   */
  excluded: Record<string, number>;
}

export interface SelectOptions {
  /** Column names (from a CSV header); default: every key seen in the rows. */
  columns?: readonly string[];
  /** Label of row i for messages, e.g. "line 12"; default "row i+1". */
  rowLabel?: (i: number) => string;
  /**
   * Leave out (and count in `excluded`) a row the fit cannot use, as missing values are,
   * instead of throwing: x <= 0 or not finite (every x axis is logarithmic), and a score whose
   * target is <= 0 (1 - score with y.invert, score without). The sweep's live refits set it,
   * so one bad run cannot stop every fit; `sweep fit` stays strict on the paper's data.
   */
  excludeUnusable?: boolean;
  /** Return an empty selection instead of throwing (a caller that reports "too few points" itself). */
  allowEmpty?: boolean;
}

/** Why a point cannot be fitted, or undefined when it can: x on a log axis, and the target's log. */
function unusable(xs: readonly number[], score: number, cfg: NormalizedFitConfig): string | undefined {
  const yColumn = cfg.y.column;
  for (let k = 0; k < xs.length; k++) {
    if (!Number.isFinite(xs[k])) return `${cfg.x[k]} not finite`;
    if (xs[k] <= 0) return `${cfg.x[k]} <= 0`;
  }
  if (!Number.isFinite(score)) return `${yColumn} not finite`;
  if (cfg.y.invert && score >= 1) return `1 - ${yColumn} <= 0`;
  if (!cfg.y.invert && score <= 0) return `${yColumn} <= 0`;
  return undefined;
}

/** "1 - score <= 0 (2), missing total_flops (1)": every row left out, by reason. */
export function describeExclusions(sel: Pick<Selection, 'missing' | 'excluded'>): string {
  return [...Object.entries(sel.missing).map(([c, k]) => [`missing ${c}`, k] as const), ...Object.entries(sel.excluded)]
    .map(([r, k]) => `${r} (${k})`)
    .join(', ');
}

/** Rows left out of the fit: missing values plus (with excludeUnusable) unusable ones. */
export function countExclusions(sel: Pick<Selection, 'missing' | 'excluded'>): number {
  return [...Object.values(sel.missing), ...Object.values(sel.excluded)].reduce((a, b) => a + b, 0);
}

const TRUE_STRINGS = new Set(['true', 'True', 'TRUE', '1']);

function isMissing(v: LongRow[string]): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'number') return Number.isNaN(v);
  if (typeof v === 'string') {
    const t = v.trim();
    return t === '' || t.toLowerCase() === 'nan' || t.toLowerCase() === 'na' || t.toLowerCase() === 'null';
  }
  return false;
}

function cellString(v: LongRow[string]): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : String(v);
}

/** Number in a cell: NaN for a missing value; throws for a non-numeric one. */
function cellNumber(v: LongRow[string], column: string, where: () => string): number {
  if (isMissing(v)) return NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') throw new FitInputError(`column "${column}", ${where()}: expected a number, got ${v}`, column, where());
  const n = Number(String(v).trim());
  if (Number.isNaN(n)) {
    throw new FitInputError(`column "${column}", ${where()}: "${v}" is not a number`, column, where());
  }
  return n;
}

function isTrue(v: LongRow[string]): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  return typeof v === 'string' && TRUE_STRINGS.has(v.trim());
}

function matchesAny(v: LongRow[string], allowed: readonly Scalar[]): boolean {
  const s = cellString(v);
  const num = typeof v === 'number' ? v : s.trim() === '' ? NaN : Number(s);
  for (const a of allowed) {
    if (typeof a === 'number') {
      if (num === a) return true;
    } else if (typeof a === 'boolean') {
      if (isTrue(v) === a && !isMissing(v)) return true;
    } else if (s === a) return true;
  }
  return false;
}

/** Order group keys like pandas: column by column, numerically when both cells are numbers. */
function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const na = Number(a[i]);
    const nb = Number(b[i]);
    if (a[i] !== '' && b[i] !== '' && Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
    return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

export function selectPoints(rows: readonly LongRow[], cfg: NormalizedFitConfig, opts: SelectOptions = {}): Selection {
  const rowLabel = opts.rowLabel ?? ((i: number) => `row ${i + 1}`);
  const columns = new Set<string>(opts.columns ?? []);
  if (!opts.columns) for (const r of rows) for (const k of Object.keys(r)) columns.add(k);
  const sel = cfg.selection;
  const { column: yColumn, metricColumn } = cfg.y;

  // Required columns: a missing one is an error naming it (boolean columns may be absent: False).
  const required = new Set<string>([...cfg.x, yColumn, metricColumn, ...Object.keys(sel.sets), ...Object.keys(sel.ranges)]);
  if (sel.combineArchFamilies || sel.archFamiliesSamples) required.add('arch_family');
  if (sel.archFamiliesSamples) required.add('samples_per_class');
  for (const c of required) {
    if (!columns.has(c)) {
      throw new FitInputError(
        `fit "${cfg.name}": the data has no column "${c}" (columns: ${[...columns].join(', ') || 'none'})`,
        c,
      );
    }
  }
  // Group-by columns only identify a model: one absent from the data (e.g. acc or flops in a
  // sweep's rows) is constant, so it is skipped rather than an error.
  const groupBy = (sel.groupBy ?? DEFAULT_GROUP_BY).filter((c) => columns.has(c));
  const recipeColumn = cfg.recipeCompute && columns.has(cfg.recipeCompute) ? cfg.recipeCompute : null;

  const missing: Record<string, number> = {};
  const countMissing = (c: string) => (missing[c] = (missing[c] ?? 0) + 1);
  const excluded: Record<string, number> = {};
  const countExcluded = (reason: string) => (excluded[reason] = (excluded[reason] ?? 0) + 1);
  interface Group {
    key: string[];
    first: number;
    scoreSum: number;
    xSum: number[];
    computeSum: number;
    count: number;
    labels: Record<string, string>;
  }
  const groups = new Map<string, Group>();

  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const where = () => rowLabel(i);
    // 1. family merging (only affects arch_family's value).
    const family = cellString(row.arch_family);
    const mergedFamily = sel.combineArchFamilies?.[family] ?? family;
    // 2. boolean filter.
    if (sel.booleanColumns.some((c) => isTrue(row[c]))) continue;
    // 3. set filters: the metric list, then the spec's sets.
    if (!matchesAny(row[metricColumn], cfg.y.metrics)) continue;
    let keep = true;
    for (const [c, allowed] of Object.entries(sel.sets)) {
      const v = c === 'arch_family' ? mergedFamily : row[c];
      if (!matchesAny(v, allowed)) {
        keep = false;
        break;
      }
    }
    if (!keep) continue;
    // Range filters: a missing value cannot be in range (pandas compares NaN as False).
    for (const [c, { min, max }] of Object.entries(sel.ranges)) {
      const v = cellNumber(row[c], c, where);
      if (Number.isNaN(v) || (min !== undefined && v < min) || (max !== undefined && v > max)) {
        keep = false;
        break;
      }
    }
    if (!keep) continue;

    // Values the fit needs; a missing one excludes the row (counted, reported in a warning).
    const score = cellNumber(row[yColumn], yColumn, where);
    const xs = cfg.x.map((c) => cellNumber(row[c], c, where));
    const missingCol = Number.isNaN(score) ? yColumn : cfg.x.find((_, k) => Number.isNaN(xs[k]));
    if (missingCol) {
      countMissing(missingCol);
      continue;
    }
    if (opts.excludeUnusable) {
      const why = unusable(xs, score, cfg);
      if (why) {
        countExcluded(why);
        continue;
      }
    }
    // 4. group-by mean. An empty key cell is a value of its own (pandas would drop the row; the
    // paper's data has none, and a sweep's rows may lack e.g. acc, which must not lose the point).
    const key = groupBy.map((c) => (c === 'arch_family' ? mergedFamily : cellString(row[c])));
    const compute = recipeColumn ? cellNumber(row[recipeColumn], recipeColumn, where) : NaN;
    const id = key.join('\u0000');
    let g = groups.get(id);
    if (!g) {
      const labels: Record<string, string> = {};
      groupBy.forEach((c, k) => (labels[c] = key[k]));
      if (!('arch_family' in labels) && columns.has('arch_family')) labels.arch_family = mergedFamily;
      for (const c of ['model_id', 'arch', 'samples_per_class', 'dataset']) {
        if (!(c in labels) && columns.has(c)) labels[c] = cellString(row[c]);
      }
      g = { key, first: i, scoreSum: 0, xSum: xs.map(() => 0), computeSum: 0, count: 0, labels };
      groups.set(id, g);
    }
    g.scoreSum += score;
    xs.forEach((v, k) => (g.xSum[k] += v));
    g.computeSum += compute;
    g.count++;
  }

  let grouped = [...groups.values()].sort((a, b) => compareKeys(a.key, b.key));
  // 5. family/samples filter, after the group-by as in the paper's code.
  const fam = sel.archFamiliesSamples;
  if (fam) {
    grouped = grouped.filter((g) => {
      if (!fam.families.includes(g.labels.arch_family ?? '')) return true;
      return fam.samplesPerClass.includes(Number(g.labels.samples_per_class));
    });
  }

  let points: SelectedPoint[] = grouped.map((g) => ({
    rawX: g.xSum.map((s) => s / g.count),
    score: g.scoreSum / g.count,
    labels: g.labels,
    compute: recipeColumn ? g.computeSum / g.count : undefined,
    source: `${rowLabel(g.first)}${g.labels.model_id ? ` (model_id ${g.labels.model_id})` : ''}`,
  }));

  const warnings: string[] = [];
  const nMissing = Object.values(missing).reduce((a, b) => a + b, 0);
  if (nMissing) {
    const detail = Object.entries(missing)
      .map(([c, k]) => `${c}: ${k}`)
      .join(', ');
    warnings.push(`fit "${cfg.name}": excluded ${nMissing} selected row(s) with missing (NaN/empty) values (${detail})`);
  }
  if (opts.excludeUnusable) {
    // Means of usable rows are usable; an overflowing sum (1e308 + 1e308) is not: left out too.
    points = points.filter((p) => {
      const why = unusable(p.rawX, p.score, cfg);
      if (why) countExcluded(`${why} (group mean)`);
      return !why;
    });
    const nExcluded = Object.values(excluded).reduce((a, b) => a + b, 0);
    if (nExcluded) {
      warnings.push(`fit "${cfg.name}": left out ${nExcluded} selected row(s) the fit cannot use: ${describeExclusions({ missing: {}, excluded })}`);
    }
  }
  if (!points.length && opts.allowEmpty) return { points, warnings, missing, excluded };

  if (!points.length) {
    throw new FitInputError(
      `fit "${cfg.name}": the selection is empty (${rows.length} rows in; metrics ${cfg.y.metrics.join(', ')} in column "${metricColumn}"` +
        `${Object.keys(sel.sets).length ? `; sets on ${Object.keys(sel.sets).join(', ')}` : ''}` +
        `${Object.keys(sel.ranges).length ? `; ranges on ${Object.keys(sel.ranges).join(', ')}` : ''}` +
        `${nMissing ? `; ${nMissing} rows had missing values` : ''}` +
        `${Object.keys(excluded).length ? `; left out: ${describeExclusions({ missing: {}, excluded })}` : ''})`,
    );
  }
  for (const p of points) {
    cfg.x.forEach((c, k) => {
      if (!(p.rawX[k] > 0) || !Number.isFinite(p.rawX[k])) {
        throw new FitInputError(`fit "${cfg.name}": column "${c}" must be positive and finite, got ${p.rawX[k]} at ${p.source}`, c, p.source);
      }
    });
    if (!Number.isFinite(p.score)) {
      throw new FitInputError(`fit "${cfg.name}": column "${yColumn}" is not finite (${p.score}) at ${p.source}`, yColumn, p.source);
    }
    if (cfg.y.invert && p.score >= 1) {
      throw new FitInputError(
        `fit "${cfg.name}": column "${yColumn}" is ${p.score} (>= 1) at ${p.source}; with y.invert the target 1 - score must be > 0`,
        yColumn,
        p.source,
      );
    }
    if (!cfg.y.invert && p.score <= 0) {
      throw new FitInputError(
        `fit "${cfg.name}": column "${yColumn}" is ${p.score} (<= 0) at ${p.source}; the fit takes log(score)`,
        yColumn,
        p.source,
      );
    }
  }
  return { points, warnings, missing, excluded };
}
