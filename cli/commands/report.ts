/**
 * `sweep report --fit <fit.json> [--out report.html] [--title T]`: render the HTML
 * report from the JSON that `sweep fit --json` prints.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseFitOutput, writeReport, type ReportFit } from '../../report/index';

interface ReportOptions {
  fit: string;
  out: string;
  title?: string;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('render a self-contained HTML report (SVG figures, parameter tables) from fit results')
    .requiredOption('--fit <file>', 'fit results: the {"fits": [...]} JSON that `sweep fit --json` prints')
    .option('--out <file>', 'where to write the HTML', 'report.html')
    .option('--title <title>', 'page title')
    .action(async function (this: Command, opts: ReportOptions) {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(opts.fit, 'utf8'));
      } catch (err) {
        this.error(`sweep report: cannot read ${opts.fit}: ${(err as Error).message}`, { exitCode: 2 });
      }
      let fits: ReportFit[];
      try {
        fits = parseFitOutput(json).fits;
      } catch (err) {
        this.error(`sweep report: ${opts.fit}: ${(err as Error).message}`, { exitCode: 2 });
      }
      const path = await writeReport({ fits, title: opts.title, source: opts.fit }, opts.out);
      process.stdout.write(`${path}\n`);
    });
}
