import { Command } from 'commander';
import { exitWithError } from './errors';
import { registerSpecCommands } from './commands/spec';
import { registerControlCommands } from './commands/control';
import { registerWorkerCommand } from './commands/worker';
import { registerSetupCommand } from './commands/setup';
import { registerExportCommand } from './commands/export';
import { registerDemoCommand } from './commands/demo';
import { registerFitCommand } from './commands/fit';
import { registerReportCommand } from './commands/report';
import { registerSimClusterCommand } from './commands/simCluster';

const program = new Command('sweep')
  .description('scaling-law sweeps on Temporal: grid -> GPU jobs -> scores -> fitted laws')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

registerSpecCommands(program);
registerControlCommands(program);
registerWorkerCommand(program);
registerSetupCommand(program);
registerExportCommand(program);
registerDemoCommand(program);
registerFitCommand(program);
registerReportCommand(program);
registerSimClusterCommand(program);

program.parseAsync(process.argv).catch(exitWithError);
