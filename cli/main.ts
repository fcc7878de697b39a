import { Command } from 'commander';
import { exitWithError } from './errors';

type Register = (program: Command) => void;

// Each command group loads only when used: `sweep validate` should not pay for Temporal,
// Vega or the Kubernetes client. `sweep --help` loads them all.
const spec = () => import('./commands/spec').then((m) => m.registerSpecCommands);
const control = () => import('./commands/control').then((m) => m.registerControlCommands);
const GROUPS: Record<string, () => Promise<Register>> = {
  validate: spec,
  plan: spec,
  render: spec,
  schema: spec,
  start: () => import('./commands/start').then((m) => m.registerStartCommand),
  status: control,
  watch: control,
  runs: control,
  pause: control,
  resume: control,
  cancel: control,
  'retry-failed': control,
  rescore: control,
  concurrency: control,
  extend: control,
  dev: () => import('./commands/dev').then((m) => m.registerDevCommand),
  worker: () => import('./commands/worker').then((m) => m.registerWorkerCommand),
  setup: () => import('./commands/setup').then((m) => m.registerSetupCommand),
  export: () => import('./commands/export').then((m) => m.registerExportCommand),
  demo: () => import('./commands/demo').then((m) => m.registerDemoCommand),
  fit: () => import('./commands/fit').then((m) => m.registerFitCommand),
  replay: () => import('./commands/replay').then((m) => m.registerReplayCommand),
  report: () => import('./commands/report').then((m) => m.registerReportCommand),
  'sim-cluster': () => import('./commands/simCluster').then((m) => m.registerSimClusterCommand),
};

async function main() {
  const program = new Command('sweep')
    .description('scaling-law sweeps on Temporal: grid -> GPU jobs -> scores -> fitted laws')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  const wanted = process.argv[2];
  const loaders = wanted && GROUPS[wanted] ? [GROUPS[wanted]] : [...new Set(Object.values(GROUPS))];
  for (const register of await Promise.all(loaders.map((load) => load()))) register(program);
  await program.parseAsync(process.argv);
}

main().catch(exitWithError);
