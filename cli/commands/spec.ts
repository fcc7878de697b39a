import type { Command } from 'commander';
import { z } from 'zod';
import { estimateCell, expandGrid, SweepSpecSchema, FitSpecSchema, totalGpus } from '../../spec';
import { loadSweepSpec } from '../../spec/load';
import { table as makeTable } from '../color';

export const maxGridSizeOption = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--max-grid-size must be a positive integer (got "${v}")`);
  return n;
};

const fmt = (n: number | undefined, digits = 3) => (n === undefined ? '-' : n >= 1e5 || n < 1e-2 ? n.toExponential(2) : n.toPrecision(digits));

export function registerSpecCommands(program: Command): void {
  program
    .command('validate')
    .description('check a sweep spec; exit 2 with the field at fault if it is bad')
    .argument('<spec>', 'sweep spec (YAML or JSON)')
    .option('--max-grid-size <n>', 'accept a grid above the spec limit', maxGridSizeOption)
    .action((file: string, o: { maxGridSize?: number }) => {
      const spec = loadSweepSpec(file, { maxGridSize: o.maxGridSize });
      const cells = expandGrid(spec);
      console.log(`${file}: ok - sweep "${spec.name}", ${cells.length} runs, executor ${spec.executor.kind}`);
    });

  program
    .command('plan')
    .description('show the expanded grid: runs, GPUs, estimated GPU-hours and FLOPs')
    .argument('<spec>', 'sweep spec')
    .option('--max-grid-size <n>', 'accept a grid above the spec limit', maxGridSizeOption)
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { maxGridSize?: number; json?: boolean }) => {
      const spec = loadSweepSpec(file, { maxGridSize: o.maxGridSize });
      const cells = expandGrid(spec);
      const rows = cells.map((c) => ({ ...c, estimate: estimateCell(spec, c.axes) }));
      // The estimate is already GPU-hours (total FLOPs over one GPU's throughput), however many GPUs the run has.
      const gpuHours = rows.reduce((s, r) => s + (r.estimate?.gpuHours ?? 0), 0);
      const flops = rows.reduce((s, r) => s + (r.estimate?.totalFlops ?? 0), 0);
      if (o.json) {
        console.log(JSON.stringify({ sweep: spec.name, runs: rows, totals: { runs: rows.length, gpuHours, flops } }, null, 2));
        return;
      }
      const axes = Object.keys(spec.grid);
      const table = makeTable({ head: ['#', 'run id', ...axes, 'GPUs', 'est. GPU-h', 'FLOPs'] });
      rows.forEach((r, i) =>
        table.push([i + 1, r.runId, ...axes.map((a) => String(r.axes[a])), totalGpus(r.resources), fmt(r.estimate?.gpuHours), fmt(r.estimate?.totalFlops)]),
      );
      console.log(table.toString());
      console.log(
        `${rows.length} runs in ${typeof spec.order === 'string' ? spec.order : spec.order.by} order - ` +
          `${rows.reduce((s, r) => s + totalGpus(r.resources), 0)} GPU slots - est. ${fmt(gpuHours)} GPU-hours, ${fmt(flops)} FLOPs - ` +
          `concurrency ${spec.concurrency.maxRuns} runs${spec.concurrency.maxGpus !== undefined ? ` / ${spec.concurrency.maxGpus} GPUs` : ''}`,
      );
      const { previewResubmission } = await import('../resubmission');
      const preview = await previewResubmission(spec);
      if (preview) console.log(preview);
    });

  program
    .command('render')
    .description('print the validated spec as JSON (input for `temporal workflow start --input-file`)')
    .argument('<spec>', 'sweep spec')
    .option('--max-grid-size <n>', 'accept a grid above the spec limit', maxGridSizeOption)
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (file: string, o: { maxGridSize?: number; out?: string }) => {
      const spec = loadSweepSpec(file, { maxGridSize: o.maxGridSize });
      const json = JSON.stringify(spec, null, 2) + '\n';
      if (o.out) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(o.out, json);
      } else process.stdout.write(json);
    });

  program
    .command('schema')
    .description('print the JSON Schema of sweep specs (or fit specs), for editor autocompletion')
    .option('--fit', 'the fit spec schema instead')
    .action((o: { fit?: boolean }) => {
      const schema = z.toJSONSchema(o.fit ? FitSpecSchema : SweepSpecSchema, { io: 'input', unrepresentable: 'any' });
      console.log(JSON.stringify({ title: o.fit ? 'scaling-sweep FitSpec' : 'scaling-sweep SweepSpec', ...schema }, null, 2));
    });
}
