import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { renderReport } from '../report';
import type { ReportFit, ReportFitProblem, ReportInput, ReportRun } from '../report';
import { SweepSpecSchema, type SweepSpec } from '../spec';
import { MAX_REPORT_HTML_BYTES, utf8Exceeds, type ResultsStore } from '../store/types';
import type { FitSummary } from '../contract';
import { log } from './logger';
import { fitSweepLive, type LiveFit } from './refit';
import { sweepStudySection, type StudyReplayCache } from './study';

/** Run table bounds: a 1,000-run sweep with 1,000 metrics per result stays well under 2 MB. */
export const REPORT_MAX_RUN_ROWS = 1000;
export const REPORT_MAX_METRIC_COLUMNS = 12;

/**
 * Metric columns of the run table: the spec's required metrics, then the fits' regions, then
 * the rest by name; at most `max`. Returns the columns and how many metric names there were.
 */
function chooseMetricColumns(spec: SweepSpec, names: Set<string>, max: number): string[] {
  const order = [...new Set([...spec.metrics, ...spec.fits.flatMap((f) => f.y.metrics)])].filter((m) => names.has(m));
  const rest = [...names].filter((m) => !order.includes(m)).sort();
  return [...order, ...rest].slice(0, max);
}

/**
 * The report's input, from the store: the run table (bounded: no raw payloads, at most
 * REPORT_MAX_METRIC_COLUMNS metrics) and the fits. With `finalFits` (the final refit's
 * summaries) only the fits that refit made are shown as fits; a law whose final refit could
 * not run is listed with its reason, and an older stored fit of it is never shown as final.
 */
export async function sweepReportInput(
  store: ResultsStore,
  spec: SweepSpec,
  finalFits?: FitSummary[],
  liveFits?: LiveFit[],
  opts: { studyCache?: StudyReplayCache } = {},
): Promise<ReportInput> {
  const [runs, points, stored] = await Promise.all([store.listRuns(spec.name), store.listDataPoints(spec.name), store.latestFits(spec.name)]);
  // Data points, not results: a result's artifacts never leave the store for the report.
  const finals = points.filter((p) => p.epoch === undefined);
  const names = new Set<string>();
  for (const p of finals) for (const k of Object.keys(p.metrics)) names.add(k);
  const columns = chooseMetricColumns(spec, names, REPORT_MAX_METRIC_COLUMNS);
  const metrics = new Map(
    finals.map((p) => [p.runId, Object.fromEntries(columns.filter((c) => Object.hasOwn(p.metrics, c)).map((c) => [c, p.metrics[c]]))]),
  );
  const counts: Record<string, number> = {};
  for (const r of runs) counts[r.state] = (counts[r.state] ?? 0) + 1;

  const byName = new Map(stored.map((f) => [f.name, f]));
  const fits: ReportFit[] = [];
  const fitProblems: ReportFitProblem[] = [];
  const omissions: string[] = [];
  if (finalFits) {
    const summaries = new Map(finalFits.map((f) => [f.name, f]));
    for (const fitSpec of spec.fits) {
      const s = summaries.get(fitSpec.name);
      const row = byName.get(fitSpec.name);
      const problem = (reason: string) =>
        fitProblems.push({ name: fitSpec.name, form: fitSpec.form, reason, nPoints: s?.nPoints, nExcluded: s?.nExcluded });
      if (!s) problem('the final refit did not report this fit');
      else if (s.error) problem(s.error);
      else if (!s.final) problem('no fit from the final refit (only live refits)');
      else if (!row || row.version !== s.version) problem(`the final fit (version ${s.version}) is not in the store`);
      else fits.push(row.fit as ReportFit);
    }
  } else if (liveFits) {
    for (const f of liveFits) {
      if ('fit' in f) fits.push(f.fit as ReportFit);
      else fitProblems.push({ name: f.name, form: f.form, reason: f.error, nPoints: f.nPoints, nExcluded: f.nExcluded });
    }
    if (liveFits.length) omissions.push('Fits are live point fits of the data points in the store (no bootstrap intervals): the final refit has not run.');
  } else {
    fits.push(...stored.map((f) => f.fit as ReportFit));
    if (fits.length) omissions.push('Fits are the latest stored versions; the final refit did not report which of them it made.');
  }

  const shownRuns: ReportRun[] = runs.slice(0, REPORT_MAX_RUN_ROWS).map((r) => ({
    runId: r.runId,
    state: r.state,
    axes: r.axes,
    attempts: r.attempts,
    failureClass: r.failureClass,
    gpuHours: r.gpuSeconds / 3600,
    metrics: metrics.get(r.runId),
  }));
  omissions.push('Raw result payloads (artifacts, checkpoint metrics, failure messages) are not included: they are in the results store.');
  if (runs.length > shownRuns.length) omissions.push(`The run table shows ${shownRuns.length} of ${runs.length} runs.`);
  if (names.size > columns.length) {
    omissions.push(`Metrics beyond the first ${columns.length} columns omitted from the run table (${names.size} metrics in the results).`);
  }
  // The study-efficiency section (bounded; never fails the report: a part it cannot build is a note in it).
  const study = await sweepStudySection(store, spec, points, fits, { cache: opts.studyCache });
  return {
    title: `Scaling-law report - ${spec.name}`,
    source: `sweep ${spec.name} (results store)`,
    fits,
    fitProblems,
    omissions,
    maxRunRows: REPORT_MAX_RUN_ROWS,
    maxMetricColumns: REPORT_MAX_METRIC_COLUMNS,
    study,
    sweep: {
      name: spec.name,
      counts,
      gpuHours: runs.reduce((s, r) => s + r.gpuSeconds, 0) / 3600,
      runs: shownRuns,
    },
  };
}

/**
 * Renders the sweep's report to `<dir>/<sweep>/report.html` and keeps it in the store too (with
 * the summaries it was rendered from), so `sweep report <sweep> --final` reads it from any
 * machine. Pass the final refit's summaries (`refitSweep(..., 'final')`) as `finalFits`: then
 * only fits that refit made are reported. A page over MAX_REPORT_HTML_BYTES is written but not
 * stored (logged): it cannot happen with the report's own bounds, and retrying would not help.
 */
export async function writeSweepReport(store: ResultsStore, spec: SweepSpec, dir: string, finalFits?: FitSummary[]): Promise<string> {
  const out = resolve(join(dir, spec.name, 'report.html'));
  const html = await renderReport(await sweepReportInput(store, spec, finalFits));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, html, 'utf8');
  if (utf8Exceeds(html, MAX_REPORT_HTML_BYTES)) {
    log.warn({ sweep: spec.name, chars: html.length, max: MAX_REPORT_HTML_BYTES }, 'report too large to keep in the store');
  } else {
    await store.saveReport({ sweep: spec.name, html, ...(finalFits ? { fits: finalFits } : {}) });
  }
  return out;
}

/** The sweep cannot be reported from this store (not there, or its stored spec is unreadable). */
export class ReportSourceError extends Error {}

// The stored summaries are re-read on another machine, maybe by another release: checked, never trusted.
const StoredSummaries = z.array(
  z.looseObject({
    name: z.string(),
    form: z.string(),
    nPoints: z.number(),
    stage: z.enum(['point', 'bootstrap']),
    params: z.record(z.string(), z.number()),
    version: z.number().int().min(0),
    nExcluded: z.number().optional(),
    error: z.string().optional(),
    final: z.boolean().optional(),
  }),
);

/** The sweep's spec as its store recorded it (`sweep start` registers it). */
export async function storedSweepSpec(store: ResultsStore, sweep: string): Promise<SweepSpec> {
  const row = await store.getSweep(sweep);
  if (!row) throw new ReportSourceError(`sweep ${sweep} is not in the results store`);
  const parsed = SweepSpecSchema.safeParse(row.spec);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ReportSourceError(`the stored spec of sweep ${sweep} is not readable: ${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid'}`);
  }
  return parsed.data;
}

/**
 * The report's input from the store alone, as the worker would render it now: with the final
 * fits of the stored final report while they are still the newest fits (then it is the worker's
 * report, run table included); otherwise (no final report yet, or the sweep has refitted since,
 * re-submitted or extended) every law refitted live from the store's data points.
 */
export async function reportInputFromStore(store: ResultsStore, sweep: string, opts: { studyCache?: StudyReplayCache } = {}): Promise<ReportInput> {
  const spec = await storedSweepSpec(store, sweep);
  const [report, latest] = await Promise.all([store.getReport(sweep), store.latestFits(sweep)]);
  const parsed = report?.fits === undefined ? undefined : StoredSummaries.safeParse(report.fits);
  if (parsed?.success) {
    const finals = parsed.data as FitSummary[];
    const versions = new Map(latest.map((f) => [f.name, f.version]));
    const current = finals.every((f) => f.error !== undefined || versions.get(f.name) === f.version);
    if (current) return sweepReportInput(store, spec, finals, undefined, opts);
  }
  return sweepReportInput(store, spec, undefined, await fitSweepLive(store, spec), opts);
}
