import type { Command } from 'commander';
import { loadSweepSpec } from '../../spec/load';
import { maxGridSizeOption } from './spec';

/**
 * `sweep start`: the spec is checked before the Temporal client is even loaded, so a bad spec
 * (a 10^10-cell grid, a typo) is refused in a fraction of a second, exit 2, starting nothing.
 */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('validate a sweep spec and start it as workflow sweep/<name>')
    .argument('<spec>', 'sweep spec (YAML or JSON)')
    .option('--max-grid-size <n>', 'accept a grid above the spec limit', maxGridSizeOption)
    .option('--watch', 'watch it until it ends')
    .action(async (file: string, o: { maxGridSize?: number; watch?: boolean }) => {
      const spec = loadSweepSpec(file, { maxGridSize: o.maxGridSize });
      const { startSweep } = await import('./control');
      await startSweep(spec, file, o);
    });
}
