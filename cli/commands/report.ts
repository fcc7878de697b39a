/**
 * `sweep report`:
 *  - `--fit <fit.json> [--out report.html]`: render the report from `sweep fit --json` output;
 *  - `<sweep> [--out f]`: render it from the results store (`SWEEP_DB`) from any machine, as
 *    the worker would now (its final fits once it has finished, else a live refit);
 *  - `<sweep> --final [--out f]`: the worker's final report as it kept it in the store;
 *  - `<sweep> --serve [--port P] [--host H]`: serve it over HTTP, re-rendered as results arrive.
 * Without --out, a sweep's report goes to stdout.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { reportInputFromStore, ReportSourceError } from '../../activities/report';
import { StudyReplayCache } from '../../activities/study';
import { parseFitOutput, renderReport, writeReport, type PageOptions, type ReportFit, type ReportInput } from '../../report/index';
import { serveReport } from '../../report/serve';
import { openStore } from '../../store/open';
import type { ResultsStore } from '../../store/types';
import { temporalSettings } from '../../worker/settings';
import { runWorkflowId } from '../../contract';
import { UsageError } from '../errors';

interface ReportOptions {
  fit?: string;
  out?: string;
  title?: string;
  final?: boolean;
  serve?: boolean;
  port?: string;
  host?: string;
  ui?: string;
  namespace?: string;
}

/** `<ui>/namespaces/<ns>/workflows/<sweep/<name>/<runId>>`: a run's workflow in the Temporal Web UI. */
export function runLinker(uiUrl: string, namespace: string, sweep: string): NonNullable<PageOptions['runLink']> {
  const base = `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows`;
  return (runId) => `${base}/${encodeURIComponent(runWorkflowId(sweep, runId))}`;
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return 8300;
  if (!/^\d+$/.test(value.trim()) || Number(value) > 65535) throw new UsageError(`--port must be a whole number 0..65535, got "${value}"`);
  return Number(value);
}

function checkUiUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--ui must be a URL (http://host:8233), got "${url}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--ui must be an http(s) URL, got "${url}"`);
  return url;
}

async function fromFitFile(opts: ReportOptions & { fit: string }): Promise<void> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(opts.fit, 'utf8'));
  } catch (err) {
    throw new UsageError(`sweep report: cannot read ${opts.fit}: ${(err as Error).message}`);
  }
  let fits: ReportFit[];
  try {
    fits = parseFitOutput(json).fits;
  } catch (err) {
    throw new UsageError(`sweep report: ${opts.fit}: ${(err as Error).message}`);
  }
  const path = await writeReport({ fits, title: opts.title, source: opts.fit }, opts.out ?? 'report.html');
  process.stdout.write(`${path}\n`);
}

async function emit(html: string, out: string | undefined): Promise<void> {
  if (out === undefined) {
    process.stdout.write(html);
    return;
  }
  const path = resolve(out);
  await writeFile(path, html, 'utf8');
  process.stderr.write(`wrote ${path}\n`);
}

/** Store errors that are the user's (unknown sweep, unreadable spec) exit 2 with the reason. */
async function inputOf(store: ResultsStore, sweep: string, title: string | undefined, studyCache?: StudyReplayCache): Promise<ReportInput> {
  try {
    const input = await reportInputFromStore(store, sweep, { studyCache });
    return title ? { ...input, title } : input;
  } catch (e) {
    if (e instanceof ReportSourceError) throw new UsageError(`sweep report: ${e.message} (SWEEP_DB=${process.env.SWEEP_DB ?? '.sweep/results.db'})`);
    throw e;
  }
}

async function fromStore(sweep: string, opts: ReportOptions): Promise<void> {
  const port = opts.serve ? parsePort(opts.port) : undefined;
  if (opts.ui !== undefined) checkUiUrl(opts.ui);
  // Links into the Web UI: always when serving (the default UI of TEMPORAL_ADDRESS); in a file only when asked.
  const wantLinks = opts.serve || opts.ui !== undefined || !!process.env.TEMPORAL_UI_URL?.trim();
  const settings = wantLinks ? temporalSettings() : undefined;
  const page: PageOptions = settings
    ? { runLink: runLinker(opts.ui ?? settings.uiUrl, opts.namespace ?? settings.namespace, sweep) }
    : {};

  const store = await openStore(process.env.SWEEP_DB);
  if (!opts.serve) {
    try {
      if (opts.final) {
        const report = await store.getReport(sweep);
        if (!report) {
          throw new UsageError(
            `sweep report: the results store has no final report of sweep ${sweep} (it has not finished yet; \`sweep report ${sweep}\` renders the current one)`,
          );
        }
        await emit(report.html, opts.out);
      } else {
        await emit(await renderReport(await inputOf(store, sweep, opts.title), page), opts.out);
      }
    } finally {
      await store.close();
    }
    return;
  }

  let server;
  // A live page re-renders at every new result: its study replays are reused until the points grow by a quarter.
  const studyCache = new StudyReplayCache(1.25);
  try {
    server = await serveReport({
      render: async () => renderReport(await inputOf(store, sweep, opts.title, studyCache), page),
      stamp: () => store.changeStamp(sweep),
      host: opts.host ?? '127.0.0.1',
      port,
      onError: (e) => process.stderr.write(`warning: the report could not be refreshed: ${e.message}\n`),
    });
  } catch (e) {
    await store.close();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`--port ${port} is in use: pick another (--port 0 picks a free one)`);
    throw e;
  }
  process.stdout.write(`serving the report of sweep ${sweep} at ${server.url} (refreshed as results arrive; Ctrl-C stops)\n`);
  const stop = () => {
    void server.close().then(() => store.close()).finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .argument('[sweep]', "the sweep's name: report it from the results store (SWEEP_DB)")
    .description('render a self-contained HTML report (SVG figures, parameter tables) from a sweep in the results store or from fit results')
    .option('--fit <file>', 'fit results: the {"fits": [...]} JSON that `sweep fit --json` prints (instead of a sweep)')
    .option('--out <file>', 'where to write the HTML (default: report.html with --fit, stdout with a sweep)')
    .option('--title <title>', 'page title')
    .option('--final', "the sweep's final report, as the worker kept it in the store")
    .option('--serve', 'serve the report over HTTP, refreshed as results arrive')
    .option('--port <port>', 'port to serve on (default 8300; 0: any free port)')
    .option('--host <host>', 'address to serve on (default 127.0.0.1)')
    .option('--ui <url>', 'Temporal Web UI base URL for the run links (default: TEMPORAL_UI_URL, else from TEMPORAL_ADDRESS)')
    .option('--namespace <ns>', 'Temporal namespace for the run links (default: TEMPORAL_NAMESPACE, else default)')
    .action(async (sweep: string | undefined, opts: ReportOptions) => {
      if (sweep !== undefined && opts.fit !== undefined) throw new UsageError('sweep report: give a sweep or --fit <file>, not both');
      if (opts.fit !== undefined) {
        if (opts.final || opts.serve) throw new UsageError('sweep report: --final and --serve need a sweep, not --fit');
        await fromFitFile({ ...opts, fit: opts.fit });
        return;
      }
      if (sweep === undefined) throw new UsageError('sweep report: give a sweep name (from the results store) or --fit <fit.json>');
      if (opts.final && opts.serve) throw new UsageError('sweep report: --final and --serve do not go together');
      if (opts.final && opts.title) throw new UsageError('sweep report: --final returns the stored page as it is (no --title)');
      if (!opts.serve && (opts.port !== undefined || opts.host !== undefined)) throw new UsageError('sweep report: --port and --host need --serve');
      await fromStore(sweep, opts);
    });
}
