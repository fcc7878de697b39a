import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateCell, expandGrid, SweepSpecSchema } from '../../spec';
import { loadSweepSpec } from '../../spec/load';
import { BAD_SPECS, writeBadSpecs } from './badSpecs';

const ROOT = resolve(import.meta.dirname, '../..');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A TCP port nothing listens on: a sweep that tried to connect there would fail with exit 1. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const addr = srv.address();
  await new Promise<void>((res) => srv.close(() => res()));
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

let temporalAddress = '';

/** `node bin/sweep.js ...` from the repo root (async, so a case's two commands run side by side). */
function sweep(...args: string[]): Promise<CliRun> {
  return new Promise((res, rej) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    };
    delete env.TEMPORAL_API_KEY;
    const child = spawn(process.execPath, ['bin/sweep.js', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/**
 * Each spawn costs a second or two of CPU (the CLI loads every command), so all of them start
 * up front, a few at a time, and each test awaits its own.
 */
const LIMIT = 3;
let active = 0;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  while (active >= LIMIT) await new Promise<void>((r) => waiting.push(r));
  active++;
  try {
    return await fn();
  } finally {
    active--;
    waiting.shift()?.();
  }
}
const runs = new Map<string, Promise<CliRun>>();
const queue = (...args: string[]) => {
  const p = limited(() => sweep(...args));
  p.catch(() => undefined); // awaited (and reported) by its test
  runs.set(args.join(' '), p);
};
const result = (...args: string[]): Promise<CliRun> => {
  const p = runs.get(args.join(' '));
  if (!p) throw new Error(`not queued: sweep ${args.join(' ')}`);
  return p;
};

const dir = mkdtempSync(join(tmpdir(), 'sweep-cli-'));
const files = writeBadSpecs(dir);
beforeAll(async () => {
  temporalAddress = `127.0.0.1:${await deadPort()}`;
  // The control mostly waits on the connect timeout: start it first.
  queue('start', 'configs/demo.yaml');
  for (const file of files.values()) {
    queue('validate', file);
    queue('start', file);
  }
  queue('schema');
  queue('render', 'configs/demo.yaml');
  queue('plan', 'configs/demo.yaml');
});
afterAll(async () => {
  await Promise.allSettled(runs.values());
  rmSync(dir, { recursive: true, force: true });
});

const CONNECTING = /cannot reach Temporal|connect/i;

describe('bad specs are refused by `sweep validate` and `sweep start` (exit 2, no workflow started)', () => {
  it.each(BAD_SPECS)('$name', async (bad) => {
    const file = files.get(bad.name) as string;
    const [validate, start] = await Promise.all([result('validate', file), result('start', file)]);
    for (const [cmd, r] of [
      ['validate', validate],
      ['start', start],
    ] as const) {
      const what = `sweep ${cmd}: ${JSON.stringify(r)}`;
      expect(r.code, what).toBe(2);
      expect(r.stdout, what).toBe('');
      expect(r.stderr, what).toContain(`error: ${file}: invalid spec`);
      expect(r.stderr, what).toContain(`line ${bad.line}, col ${bad.col}: `);
      if (bad.field) expect(r.stderr, what).toContain(`: ${bad.field}: `);
      expect(r.stderr, what).toMatch(bad.message);
      // Validation happens before connecting: Temporal (a dead port here) is never contacted.
      expect(r.stderr, what).not.toMatch(CONNECTING);
    }
  });

  it('control: a valid spec does try to connect, and fails with exit 1 on the dead port', async () => {
    const r = await result('start', 'configs/demo.yaml');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:\d+/);
  });
});

describe('spec commands', () => {
  it('`sweep schema` prints a JSON Schema with the top-level properties', async () => {
    const r = await result('schema');
    expect(r.code, r.stderr).toBe(0);
    const schema = JSON.parse(r.stdout) as {
      type: string;
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: unknown;
    };
    expect(schema.type).toBe('object');
    expect(Object.keys(schema.properties).sort()).toEqual(
      [
        'name',
        'description',
        'grid',
        'exclude',
        'include',
        'maxGridSize',
        'job',
        'evaluate',
        'executor',
        'concurrency',
        'order',
        'strategy',
        'retry',
        'timeouts',
        'metrics',
        'estimate',
        'fits',
        'refit',
        'reconcile',
      ].sort(),
    );
    // `job` or `evaluate` (or both): the schema itself requires neither.
    expect([...schema.required].sort()).toEqual(['grid', 'name']);
    // Unknown keys are errors, so editors flag them too.
    expect(schema.additionalProperties).toBe(false);
  });

  it('`sweep render` prints JSON that SweepSpecSchema accepts as is', async () => {
    const r = await result('render', 'configs/demo.yaml');
    expect(r.code, r.stderr).toBe(0);
    const json: unknown = JSON.parse(r.stdout);
    const parsed = SweepSpecSchema.safeParse(json);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    // Rendering is a fixed point: defaults are filled, nothing else changes.
    expect(parsed.data).toEqual(json);
    expect(json).toMatchObject({ name: 'demo', order: 'compute-ascending', executor: { kind: 'local' } });
  });

  it('`sweep plan` prints the 24 runs with GPUs and estimates', async () => {
    const r = await result('plan', 'configs/demo.yaml');
    expect(r.code, r.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex
    const out = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    const cells = (line: string) =>
      line
        .split('│')
        .slice(1, -1)
        .map((c) => c.trim());
    const [head] = out
      .split('\n')
      .filter((l) => l.includes('run id'))
      .map(cells);
    expect(head).toEqual([
      '#',
      'run id',
      'arch',
      'dataset',
      'samples_per_class',
      'epochs',
      'seed',
      'GPUs',
      'est. GPU-h',
      'FLOPs',
    ]);
    const rows = out
      .split('\n')
      .map(cells)
      .filter((c) => /^\d+$/.test(c[0] ?? ''));
    expect(rows.map((c) => Number(c[0]))).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));

    // The same runs, in the same (compute-ascending) order, as the spec code gives.
    const spec = loadSweepSpec(resolve(ROOT, 'configs/demo.yaml'));
    const cellsOfSpec = expandGrid(spec);
    expect(rows.map((c) => c[1])).toEqual(cellsOfSpec.map((c) => c.runId));
    rows.forEach((c, i) => {
      const want = cellsOfSpec[i];
      // GPUs: the resnet50 override asks for 2, the rest 1.
      expect(Number(c[7])).toBe(want.axes.arch === 'resnet50' ? 2 : 1);
      const est = estimateCell(spec, want.axes);
      expect(est).toBeDefined();
      // GPU-hours are the run's FLOPs over one GPU's throughput (1e14 FLOP/s unless the spec says), as printed: the same on 1 GPU or 2.
      expect(Number(c[8]) / (Number(c[9]) / (spec.estimate?.gpuFlopsPerSecond ?? 1e14) / 3600)).toBeCloseTo(1, 1);
      expect(Number(c[9]) / (est?.totalFlops ?? 1)).toBeCloseTo(1, 1);
    });
    const flops = rows.map((c) => Number(c[9]));
    expect(flops).toEqual([...flops].sort((a, b) => a - b));
    expect(out).toMatch(
      /24 runs in compute-ascending order - 30 GPU slots - est\. [\d.e+]+ GPU-hours, [\d.e+]+ FLOPs - concurrency 6 runs \/ 8 GPUs/,
    );
  });
});
