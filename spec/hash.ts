// Workflow code runs in a vm context, where each lookup of a global (Math, JSON, Object, Array)
// goes through the context's interceptor, a C++ call: a sweep expands and hashes every cell of its
// grid at each execution and replay, so these hot paths take their globals from module scope once.
const imul = Math.imul;
const stringify = JSON.stringify;
const isArray = Array.isArray;
const keysOf = Object.keys;

/**
 * cyrb53: a fast, well-distributed 53-bit string hash. Pure JS because workflow code
 * (which expands grids) may not import node:crypto.
 */
export function hash53(str: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = imul(h1 ^ ch, 2654435761);
    h2 = imul(h2 ^ ch, 1597334677);
  }
  h1 = imul(h1 ^ (h1 >>> 16), 2246822507) ^ imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = imul(h2 ^ (h2 >>> 16), 2246822507) ^ imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Short hex digest (8 chars) of a string. */
export function shortHash(str: string): string {
  return hash53(str).toString(16).padStart(14, '0').slice(-8);
}

/** Canonical JSON: object keys sorted, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${keysOf(obj)
      .sort()
      .filter((k) => obj[k] !== undefined)
      .map((k) => `${stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return stringify(value);
}

/** mulberry32: small seeded PRNG for reproducible shuffles. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
