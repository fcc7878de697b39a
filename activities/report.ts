import { join, resolve } from 'node:path';
import { writeReport } from '../report';
import type { ReportFit } from '../report';
import type { SweepSpec } from '../spec';
import type { ResultsStore } from '../store/types';

/** Renders the sweep's report (latest fits + run table) to `<dir>/<sweep>/report.html`. */
export async function writeSweepReport(store: ResultsStore, spec: SweepSpec, dir: string): Promise<string> {
  const [runs, results, fits] = await Promise.all([
    store.listRuns(spec.name),
    store.listResults(spec.name),
    store.latestFits(spec.name),
  ]);
  const metrics = new Map(results.map((r) => [r.runId, r.result.metrics]));
  const counts: Record<string, number> = {};
  for (const r of runs) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const out = resolve(join(dir, spec.name, 'report.html'));
  return writeReport(
    {
      title: `Scaling-law report - ${spec.name}`,
      source: `sweep ${spec.name} (results store)`,
      fits: fits.map((f) => f.fit as ReportFit),
      sweep: {
        name: spec.name,
        counts,
        gpuHours: runs.reduce((s, r) => s + r.gpuSeconds, 0) / 3600,
        runs: runs.map((r) => ({
          runId: r.runId,
          state: r.state,
          axes: r.axes,
          attempts: r.attempts,
          failureClass: r.failureClass,
          gpuHours: r.gpuSeconds / 3600,
          metrics: metrics.get(r.runId),
        })),
      },
    },
    out,
  );
}
