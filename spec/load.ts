import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { assertGridWithin, checkSpec, GridTooLargeError } from './grid';
import { GRID_SIZE_CEILING, SweepSpecSchema, type SweepSpec } from './sweepSpec';
import { FitSpecSchema, type FitSpec } from './fitSpec';

export interface SpecProblem {
  /** Dotted path of the field, e.g. "job.resources.gpus" ("" for the document). */
  path: string;
  message: string;
  line?: number;
  col?: number;
}

/** A spec that cannot be used; `problems` names every field at fault. */
export class SpecError extends Error {
  constructor(
    readonly source: string,
    readonly problems: SpecProblem[],
  ) {
    super(
      `${source}: invalid spec\n` +
        problems
          .map((p) => `  ${p.line ? `line ${p.line}, col ${p.col}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`)
          .join('\n'),
    );
    this.name = 'SpecError';
  }
}

interface ParsedYaml {
  value: unknown;
  locate: (path: (string | number)[]) => { line: number; col: number } | undefined;
}

/** Parse YAML text; syntax errors carry line and column. */
export function parseYaml(text: string, source: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new SpecError(
      source,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: '', message: `YAML syntax: ${e.message.split('\n')[0]}`, line: pos.line, col: pos.col };
      }),
    );
  }
  const locate = (path: (string | number)[]) => {
    // Walk down as far as the path exists, so a missing key points at its parent.
    let node: unknown = doc.contents;
    let found: YamlNode | undefined = doc.contents ?? undefined;
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
        if (!pair) break;
        found = (pair.key as YamlNode) ?? found;
        node = pair.value;
        if (node && (isMap(node) || isSeq(node))) found = found ?? (node as YamlNode);
      } else if (isSeq(node) && typeof key === 'number') {
        node = node.items[key];
        if (node) found = node as YamlNode;
      } else break;
    }
    const range = found?.range;
    if (!range) return undefined;
    return lineCounter.linePos(range[0]);
  };
  return { value: doc.toJS(), locate };
}

function zodProblems(error: z.ZodError, locate?: ParsedYaml['locate']): SpecProblem[] {
  return error.issues.flatMap((issue) => {
    // Report each unknown key at its own path, with the fix.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => {
        const path = [...issue.path, k] as (string | number)[];
        return {
          path: path.join('.'),
          message: `unknown key "${k}": remove it or check its spelling`,
          ...locate?.(path),
        };
      });
    }
    const path = issue.path as (string | number)[];
    return [{ path: path.join('.'), message: issue.message, ...locate?.(path) }];
  });
}

export interface LoadOptions {
  /** Raise the spec's grid-size limit on purpose (CLI --max-grid-size). */
  maxGridSize?: number;
}

/** Validate a spec object (from YAML or JSON): schema, semantics, grid size. */
export function validateSweepSpec(raw: unknown, source = 'spec', opts: LoadOptions = {}, locate?: ParsedYaml['locate']): SweepSpec {
  const parsed = SweepSpecSchema.safeParse(raw);
  if (!parsed.success) throw new SpecError(source, zodProblems(parsed.error, locate));
  const spec = parsed.data;
  if (opts.maxGridSize !== undefined && !(Number.isInteger(opts.maxGridSize) && opts.maxGridSize > 0 && opts.maxGridSize <= GRID_SIZE_CEILING))
    throw new SpecError(source, [{ path: 'maxGridSize', message: `--max-grid-size must be an integer from 1 to ${GRID_SIZE_CEILING.toLocaleString('en-US')} (got ${opts.maxGridSize})` }]);
  // The size first, arithmetically: a spec of 10^10 cells is refused before anything is expanded.
  try {
    assertGridWithin(spec, opts.maxGridSize ?? spec.maxGridSize);
  } catch (e) {
    if (e instanceof GridTooLargeError) throw new SpecError(source, [{ path: 'grid', message: e.message, ...locate?.(['grid']) }]);
    throw e;
  }
  const issues = checkSpec(spec);
  if (issues.length) {
    throw new SpecError(
      source,
      issues.map((i) => ({ ...i, ...locate?.(i.path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p))) })),
    );
  }
  if (opts.maxGridSize !== undefined) spec.maxGridSize = Math.max(spec.maxGridSize, opts.maxGridSize);
  return spec;
}

/** Read and validate a sweep spec from a YAML (or JSON) file. */
export function loadSweepSpec(file: string, opts: LoadOptions = {}): SweepSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SpecError(file, [{ path: '', message: `cannot read the file: ${(e as Error).message}` }]);
  }
  const { value, locate } = parseYaml(text, file);
  return validateSweepSpec(value, file, opts, locate);
}

/** Read and validate a fit spec from a YAML file. */
export function loadFitSpec(file: string): FitSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SpecError(file, [{ path: '', message: `cannot read the file: ${(e as Error).message}` }]);
  }
  const { value, locate } = parseYaml(text, file);
  const parsed = FitSpecSchema.safeParse(value);
  if (!parsed.success) throw new SpecError(file, zodProblems(parsed.error, locate));
  return parsed.data;
}
