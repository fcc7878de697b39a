/**
 * The local executor's launch log (`LocalExecutor` launchLog / SWEEP_LAUNCH_LOG): its supervisor
 * appends `{"runId","attempt","pid"}` for every process it starts. Unlike the store, whose primary
 * keys make duplicate rows impossible whatever the orchestrator does, this log shows a double launch.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface Launch {
  runId: string;
  attempt: number;
  pid: number;
}

/** Every launch in the log, in order; a malformed line fails the test that reads it. */
export function readLaunches(path: string): Launch[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const v = JSON.parse(line) as Partial<Launch>;
      if (typeof v.runId !== 'string' || v.runId === '' || !Number.isInteger(v.attempt) || !Number.isInteger(v.pid))
        throw new Error(`launch log ${path} line ${i + 1} is malformed: ${line}`);
      return v as Launch;
    });
}

/**
 * Sorted `runId#attempt` keys, one per launch. Compare with `toEqual(attemptKeys(...))`: equal lists
 * mean exactly those launches happened, each (run, attempt) once.
 */
export function launchKeys(launches: readonly Launch[]): string[] {
  return launches.map((l) => `${l.runId}#${l.attempt}`).sort();
}

/** Sorted `runId#attempt` keys for attempts 1..n of each run (`attempts` a count per run, default 1). */
export function attemptKeys(runs: Iterable<string | readonly [string, number]>): string[] {
  const keys: string[] = [];
  for (const r of runs) {
    const [runId, n] = typeof r === 'string' ? [r, 1] : r;
    for (let a = 1; a <= n; a++) keys.push(`${runId}#${a}`);
  }
  return keys.sort();
}
