/**
 * Label and field selectors as the API server parses them: equality (`a=b`, `a==b`, `a!=b`),
 * set-based (`a in (x,y)`, `a notin (x)`), existence (`a`, `!a`), comma-joined (AND).
 */
export type Requirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

export class SelectorError extends Error {}

/** Split on commas that are not inside a parenthesised value set. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const SET_RE = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s+\(([^)]*)\)$`);
const EQ_RE = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(.*)$`);
const EXISTS_RE = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

export function parseSelector(selector: string | undefined): Requirement[] {
  if (!selector) return [];
  return splitTopLevel(selector).map((term): Requirement => {
    let m = SET_RE.exec(term);
    if (m) {
      const values = m[4].split(',').map((v) => v.trim()).filter((v) => v.length > 0);
      return { key: m[1], op: m[3] as 'in' | 'notin', values };
    }
    m = EQ_RE.exec(term);
    if (m) return { key: m[1], op: m[3] === '!=' ? 'neq' : 'eq', value: m[4].trim() };
    m = EXISTS_RE.exec(term);
    if (m) return { key: m[2], op: m[1] ? 'notexists' : 'exists' };
    throw new SelectorError(`unable to parse requirement: "${term}"`);
  });
}

export function matchesSelector(reqs: readonly Requirement[], get: (key: string) => string | undefined): boolean {
  return reqs.every((r) => {
    const v = get(r.key);
    switch (r.op) {
      case 'eq':
        return v === r.value;
      case 'neq':
        return v !== r.value;
      case 'in':
        return v !== undefined && r.values.includes(v);
      case 'notin':
        return v === undefined || !r.values.includes(v);
      case 'exists':
        return v !== undefined;
      case 'notexists':
        return v === undefined;
    }
  });
}

/** Field selectors support only equality on a few well-known paths, as the real server does. */
export function fieldValue(obj: { metadata: { name: string; namespace?: string }; spec?: unknown; status?: unknown }, path: string): string | undefined {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return path === 'spec.nodeName' ? '' : undefined;
  return String(cur);
}
