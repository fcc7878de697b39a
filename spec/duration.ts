const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as Temporal and humans write it: "500ms", "30s", "5m", "2h", "1d". */
export const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
export type Duration = string;

export function durationMs(d: Duration): number {
  const m = DURATION_RE.exec(d);
  if (!m) throw new Error(`invalid duration "${d}": write e.g. "30s", "5m", "2h"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}
