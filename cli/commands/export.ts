import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { DEFAULT_SQLITE_PATH, openStore } from '../../store/open';
import { dataPointsToPaperRows, paperRowsToCsv } from '../../store/export';
import { UsageError } from '../errors';

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description("export a sweep's results as CSV in the paper's benchmark_scores.csv layout (one row per run and metric)")
    .argument('<sweep>', 'sweep name')
    .option('--csv', 'CSV output (the default and only format)')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (name: string, o: { out?: string }) => {
      const store = await openStore();
      try {
        const sweepName = name.replace(/^sweep\//, '');
        if (!(await store.getSweep(sweepName))) throw new UsageError(`no sweep "${sweepName}" in the results store (SWEEP_DB=${process.env.SWEEP_DB ?? DEFAULT_SQLITE_PATH})`);
        const csv = paperRowsToCsv(dataPointsToPaperRows(await store.listDataPoints(sweepName)));
        if (o.out) writeFileSync(o.out, csv);
        else process.stdout.write(csv);
      } finally {
        await store.close();
      }
    });
}
