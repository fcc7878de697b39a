/**
 * The job -> run boundary (issue 8 items 4, 5): impossible counts and oversized payloads are
 * refused with the field and the limit named; scores themselves are not range-checked.
 */
import { describe, expect, it } from 'vitest';
import { MAX_RESULT_BYTES, parseJobResult, utf8ByteLength } from '../../spec/result';

const reason = (v: unknown): string | undefined => {
  const r = parseJobResult(typeof v === 'string' ? v : JSON.stringify(v), []);
  return r.ok ? undefined : r.reason;
};
const base = { metrics: { V1: 0.2 } };

describe('parseJobResult: impossible values', () => {
  it('refuses a negative, zero or fractional parameter count', () => {
    expect(reason({ ...base, n_params: -5 })).toBe('result field "n_params": must be a whole number >= 1 (a count of parameters), got -5');
    expect(reason({ ...base, n_params: 0 })).toBe('result field "n_params": must be a whole number >= 1 (a count of parameters), got 0');
    expect(reason({ ...base, n_params: 2.5 })).toBe('result field "n_params": must be a whole number >= 1 (a count of parameters), got 2.5');
  });

  it('refuses zero or negative compute, in the result and in a checkpoint', () => {
    expect(reason({ ...base, total_flops: 0 })).toBe(
      'result field "total_flops": must be > 0 (zero or negative training compute is impossible), got 0',
    );
    expect(reason({ ...base, n_samples_seen: -1 })).toBe(
      'result field "n_samples_seen": must be > 0 (zero or negative training compute is impossible), got -1',
    );
    expect(reason({ ...base, checkpoints: [{ epoch: 1, metrics: {} }, { epoch: 2, total_flops: 0, metrics: {} }] })).toBe(
      'result field "checkpoints.1.total_flops": must be > 0 (zero or negative training compute is impossible), got 0',
    );
    expect(reason({ ...base, checkpoints: [{ epoch: 1, n_samples_seen: -3, metrics: {} }] })).toBe(
      'result field "checkpoints.0.n_samples_seen": must be > 0 (zero or negative training compute is impossible), got -3',
    );
  });

  it('refuses non-finite counts (JSON cannot say Infinity; 1e999 parses to it)', () => {
    expect(reason('{"metrics": {}, "total_flops": 1e999}')).toBe('result field "total_flops": Invalid input: expected number, received Infinity');
    expect(reason('{"metrics": {}, "n_params": -1e999}')).toBe('result field "n_params": Invalid input: expected number, received -Infinity');
  });

  it('accepts a score out of [0, 1] (metrics may be losses) and valid counts', () => {
    const r = parseJobResult(JSON.stringify({ metrics: { V1: 7.5, loss: -2 }, n_params: 11689512, n_samples_seen: 1, total_flops: 1e16 }), ['V1']);
    expect(r).toEqual({ ok: true, result: { metrics: { V1: 7.5, loss: -2 }, n_params: 11689512, n_samples_seen: 1, total_flops: 1e16 } });
  });
});

describe('parseJobResult: bounded payloads', () => {
  it('refuses a result over MAX_RESULT_BYTES (UTF-8 bytes) with the size and the limit', () => {
    expect(MAX_RESULT_BYTES).toBe(1048576);
    // 600,000 two-byte characters: 600,000 UTF-16 units (under the limit) but 1,200,000 bytes.
    const text = `{"metrics":{},"artifacts":{"a":"${'é'.repeat(600_000)}"}}`;
    expect(text.length).toBeLessThan(MAX_RESULT_BYTES);
    expect(reason(text)).toBe('result is 1200035 bytes, over the limit of 1048576 bytes (1 MiB)');
    expect(reason(`{"metrics":{},"x":"${'a'.repeat(20 * 1024 * 1024)}"}`)).toBe(
      'result is 20971541 bytes, over the limit of 1048576 bytes (1 MiB)',
    );
  });

  it('accepts a result of exactly MAX_RESULT_BYTES', () => {
    const head = '{"metrics":{},"artifacts":{"a":"';
    const tail = '"}}';
    const text = head + 'a'.repeat(MAX_RESULT_BYTES - head.length - tail.length) + tail;
    expect(parseJobResult(text, []).ok).toBe(true);
    expect(parseJobResult(text.replace('a"}}', 'aa"}}'), []).ok).toBe(false);
  });

  it('counts UTF-8 bytes: 1, 2, 3 and 4-byte characters', () => {
    expect(utf8ByteLength('a')).toBe(1);
    expect(utf8ByteLength('é')).toBe(2);
    expect(utf8ByteLength('€')).toBe(3);
    expect(utf8ByteLength('😀')).toBe(4);
    expect(utf8ByteLength('\ud800')).toBe(3); // a lone surrogate is written as U+FFFD
  });

  it('bounds the count of metrics, their names, checkpoints and artifacts', () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`m${i}`, 0.5]));
    expect(parseJobResult(JSON.stringify({ metrics: many(1000) }), []).ok).toBe(true);
    expect(reason({ metrics: many(1001) })).toBe('result field "metrics": has 1001 metrics (limit 1000)');
    expect(reason({ metrics: {}, checkpoints: [{ epoch: 1, metrics: many(1001) }] })).toBe(
      'result field "checkpoints.0.metrics": has 1001 metrics (limit 1000)',
    );
    expect(reason({ metrics: { ['x'.repeat(201)]: 1 } })).toBe(
      `result field "metrics": metric name "${'x'.repeat(40)}..." is 201 characters (limit 200)`,
    );
    expect(parseJobResult(JSON.stringify({ metrics: { ['x'.repeat(200)]: 1 } }), []).ok).toBe(true);
    const checkpoints = Array.from({ length: 10_001 }, (_, i) => ({ epoch: i, metrics: {} }));
    expect(reason({ metrics: {}, checkpoints })).toBe('result field "checkpoints": has 10001 checkpoints (limit 10000)');
    expect(parseJobResult(JSON.stringify({ metrics: {}, checkpoints: checkpoints.slice(1) }), []).ok).toBe(true);
    const artifacts = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`a${i}`, 's3://b/x']));
    expect(reason({ metrics: {}, artifacts })).toBe('result field "artifacts": has 1001 artifacts (limit 1000)');
  });
});
