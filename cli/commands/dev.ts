import type { Command } from 'commander';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Runtime } from '@temporalio/worker';
import { log } from '../../activities/logger';
import type { KubeSim } from '../../sim/kube-sim';
import { KubernetesExecutorSchema } from '../../spec';
import { DEFAULT_SQLITE_PATH } from '../../store/open';
import { createSweepWorker } from '../../worker';
import { errorText, probeTcp } from '../../worker/connect';
import { spawnDevServer, type PersistentDevServer } from '../../worker/devServer';
import { stateDir, temporalCliPath, temporalSettings, type WorkerVersioning } from '../../worker/settings';
import { UsageError } from '../errors';
import { executorsFor, parseSlots } from './worker';

interface DevFlags {
  port?: string;
  uiPort?: string;
  executor?: string;
  slots?: string;
  cluster?: string;
  stateDir?: string;
}

function parsePort(flag: string, v: string): number {
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${flag} must be a port from 1 to 65535 (got "${v}")`);
  return n;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '[::1]']);

/** A path as the user would type it from here. */
const shown = (p: string) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
};

/** Shell-quotes a value for the printed command lines, only when it needs it. */
const sh = (v: string) => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description(
      'the local loop: a Temporal dev server (Web UI, search attributes, state kept in .sweep/temporal.db) and a worker on it; ' +
        'Ctrl-C stops both, and running it again resumes every unfinished sweep',
    )
    .option('--port <n>', 'gRPC port of the dev server (default: the port of TEMPORAL_ADDRESS, else 7233)')
    .option('--ui-port <n>', 'Web UI port (default: the gRPC port + 1000)')
    .option('--executor <kind>', 'local, kubernetes or all (default: SWEEP_EXECUTOR or local; with --cluster sim: kubernetes)')
    .option('--slots <n>', 'local processes at once on this machine')
    .option('--cluster <kind>', '"sim": also run kube-sim (8 simulated GPUs) for the Kubernetes executor, as `sweep demo --cluster sim`')
    .option('--state-dir <dir>', 'where the server database, results store and local jobs live (default: SWEEP_STATE_DIR or .sweep)')
    .action(async (o: DevFlags) => {
      const code = await runDev(o);
      // Everything is stopped and closed; the SDK runtime's own teardown would keep the process up for seconds more.
      process.exit(code);
    });
}

async function runDev(o: DevFlags): Promise<number> {
  if (o.cluster !== undefined && o.cluster !== 'sim') throw new UsageError(`--cluster: only "sim" (kube-sim) is supported, got "${o.cluster}"`);
  const kind = o.executor ?? process.env.SWEEP_EXECUTOR ?? (o.cluster === 'sim' ? 'kubernetes' : 'local');
  if (!['local', 'kubernetes', 'all'].includes(kind)) throw new UsageError(`--executor must be local, kubernetes or all (got "${kind}")`);
  if (o.cluster === 'sim' && kind === 'local') throw new UsageError('--cluster sim runs Kubernetes Jobs: use --executor kubernetes or all');
  const slots = parseSlots(o.slots);

  // Where: --port, else TEMPORAL_ADDRESS (a server there is used as it is), else 7233 here.
  const fromEnv = temporalSettings().address;
  const envSet = !!process.env.TEMPORAL_ADDRESS?.trim();
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(fromEnv);
  let host = '127.0.0.1';
  let port = 7233;
  if (o.port !== undefined) port = parsePort('port', o.port);
  else if (envSet && m) [host, port] = [LOCAL_HOSTS.has(m[1]) ? '127.0.0.1' : m[1], Number(m[2])];
  const uiPort = o.uiPort !== undefined ? parsePort('ui-port', o.uiPort) : port + 1000;
  if (uiPort > 65535) throw new UsageError(`--ui-port: the default (gRPC port + 1000 = ${uiPort}) is not a port: give one`);
  const address = o.port === undefined && envSet && m && !LOCAL_HOSTS.has(m[1]) ? fromEnv : `${host}:${port}`;

  // Everything below (worker, store, local jobs) and every printed command uses these.
  const dir = resolve(o.stateDir ?? stateDir());
  mkdirSync(dir, { recursive: true });
  process.env.TEMPORAL_ADDRESS = address;
  process.env.SWEEP_DB ||= resolve(dir, 'results.db');
  process.env.SWEEP_LOCAL_DIR ||= resolve(dir, 'local');
  process.env.SWEEP_CHECKPOINT_ROOT ||= resolve(dir, 'checkpoints');

  // Our own signal handling: the worker stops first, then the server (which does not see the
  // terminal's Ctrl-C: it runs in its own process group).
  Runtime.install({ shutdownSignals: [] });
  let server: PersistentDevServer | undefined;
  const abort = new AbortController();
  let stopRequested: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      process.stderr.write(`${sig} again: stopping at once\n`);
      void server?.stop(0).finally(() => process.exit(130));
      return;
    }
    process.stderr.write(`${sig}: stopping the worker${server ? ' and the dev server' : ''} (again to force) ...\n`);
    abort.abort();
    stopRequested?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let sim: KubeSim | undefined;
  let uiUrl = process.env.TEMPORAL_UI_URL;
  const listening = (await probeTcp(address)) === 'open';
  if (listening) {
    console.log(`a Temporal server is already listening at ${address}: starting only the worker on it (this command will not stop that server)`);
  } else {
    if (!LOCAL_HOSTS.has(host))
      throw new UsageError(
        `nothing answers at ${address} (TEMPORAL_ADDRESS), and \`sweep dev\` starts a server only on this machine: unset TEMPORAL_ADDRESS or give --port`,
      );
    const dbFile = resolve(dir, 'temporal.db');
    console.log(`starting a Temporal dev server at ${address} (state: ${shown(dbFile)}; log: ${shown(resolve(dir, 'temporal.log'))}) ...`);
    try {
      temporalCliPath();
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    server = await spawnDevServer({ dbFile, logFile: resolve(dir, 'temporal.log'), port, uiPort, ip: host }, { abort: abort.signal });
    uiUrl ||= server.uiUrl;
  }
  // Someone else's server: its Web UI is where the settings guess it (TEMPORAL_UI_URL, else port 8233).
  uiUrl ||= temporalSettings().uiUrl;
  process.env.TEMPORAL_UI_URL = uiUrl;

  const cleanups: (() => Promise<unknown>)[] = [];
  let code = 0;
  try {
    if (listening) {
      // Someone else's server may lack them (a sweep started there would fail at once); idempotent.
      const { registerSearchAttributes } = await import('./setup');
      await registerSearchAttributes(temporalSettings().namespace).catch((e: unknown) =>
        log.warn({ err: errorText(e) }, 'could not register the search attributes: run `npx sweep setup`'),
      );
    }
    let kubeConfig;
    if (o.cluster === 'sim') {
      const [{ startKubeSim }, { KubeConfig }, { SIM }] = await Promise.all([
        import('../../sim/kube-sim'),
        import('@kubernetes/client-node'),
        import('./demo'),
      ]);
      sim = await startKubeSim({ ...SIM, namespace: KubernetesExecutorSchema.parse({ kind: 'kubernetes' }).namespace, seed: 7 });
      cleanups.push(() => sim!.stop());
      const file = resolve(dir, 'kube-sim/kubeconfig.yaml');
      mkdirSync(resolve(dir, 'kube-sim'), { recursive: true });
      writeFileSync(file, sim.kubeconfig, { mode: 0o600 });
      kubeConfig = new KubeConfig();
      kubeConfig.loadFromString(sim.kubeconfig);
      console.log(
        `kube-sim: ${SIM.gpus} simulated GPUs at ${sim.url} (time x${SIM.timeScale}; its jobs do not survive a restart: their runs are retried); ` +
          `KUBECONFIG=${shown(file)} kubectl get jobs,pods`,
      );
    }
    if (abort.signal.aborted) return 0;
    const executors = await executorsFor(kind, { slots, kubeConfig });
    const { worker, store, connection, clientConnection, versioning } = await createSweepWorker({
      executors,
      // Ctrl-C should not wait out 10 s: a watch cancelled by the shutdown leaves its job running,
      // and the next worker's retried attempt adopts it (the launch is idempotent).
      workerOptions: { shutdownGraceTime: '2s' },
    });
    cleanups.unshift(
      async () => {
        for (const e of Object.values(executors)) e?.close?.();
      },
      () => store.close(),
      () => connection.close(),
      () => clientConnection.close(),
    );
    const running = worker.run();
    stopRequested = () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    };
    if (abort.signal.aborted) stopRequested();
    // A server that dies under us (killed, out of disk) stops the worker too, and says so.
    void server?.exited.then((c) => {
      if (abort.signal.aborted) return;
      process.stderr.write(`error: the Temporal dev server exited (code ${c}); stopping the worker. Its log: ${shown(resolve(dir, 'temporal.log'))}\n`);
      code = 1;
      abort.abort();
      stopRequested?.();
    });
    const again = ['npx sweep dev', ...process.argv.slice(3).map(sh)].join(' ');
    await printBanner({ address, uiUrl, dir, kind: Object.keys(executors).join(', '), cluster: o.cluster, again, clientConnection, versioning });
    await running;
    console.log('worker stopped');
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    log.debug({ err: errorText(e) }, 'error while stopping');
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
    if (server) {
      await server.stop();
      console.log(`dev server stopped (state kept in ${shown(resolve(dir, 'temporal.db'))}: run the same \`sweep dev\` again to resume unfinished sweeps)`);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return code;
}

async function printBanner(b: {
  address: string;
  uiUrl?: string;
  dir: string;
  kind: string;
  cluster?: string;
  /** The command line that resumes: same port and state folder. */
  again: string;
  versioning?: WorkerVersioning;
  clientConnection: import('@temporalio/client').Connection;
}) {
  const s = temporalSettings();
  const { Client } = await import('@temporalio/client');
  const client = new Client({ connection: b.clientConnection, namespace: s.namespace });
  const unfinished: string[] = [];
  try {
    for await (const w of client.workflow.list({ query: 'WorkflowType="sweep" AND ExecutionStatus="Running"' })) {
      unfinished.push(w.workflowId);
      if (unfinished.length >= 50) break;
    }
  } catch (e) {
    log.debug({ err: errorText(e) }, 'could not list the unfinished sweeps');
  }
  // The lines a user copies into another terminal: the same server, store and task queue.
  const env: string[] = [];
  if (b.address !== 'localhost:7233' && b.address !== '127.0.0.1:7233') env.push(`TEMPORAL_ADDRESS=${b.address}`);
  const db = process.env.SWEEP_DB ?? '';
  if (resolve(db) !== resolve(DEFAULT_SQLITE_PATH)) env.push(`SWEEP_DB=${sh(shown(db))}`);
  if (s.taskQueue !== 'scaling-sweeps') env.push(`TEMPORAL_TASK_QUEUE=${sh(s.taskQueue)}`);
  // Links printed by those commands point at this Web UI, not the default port's.
  if (b.uiUrl && b.uiUrl !== temporalSettings({ TEMPORAL_ADDRESS: b.address }).uiUrl) env.push(`TEMPORAL_UI_URL=${sh(b.uiUrl)}`);
  const prefix = env.length ? `${env.join(' ')} ` : '';
  const example = b.cluster === 'sim' ? 'configs/demo-cluster.yaml' : 'configs/demo.yaml';
  const spec = existsSync(example) ? example : 'spec.yaml';
  const name = existsSync(example) ? (b.cluster === 'sim' ? 'demo-cluster' : 'demo') : '<name>';
  let cli = 'temporal';
  try {
    cli = shown(temporalCliPath());
  } catch {
    /* not installed: the bare name */
  }
  const lines = [
    '',
    `Temporal: ${b.address} (namespace ${s.namespace})`,
    ...(b.uiUrl ? [`Web UI:   ${b.uiUrl}/namespaces/${encodeURIComponent(s.namespace)}/workflows`] : []),
    `Worker:   task queue ${s.taskQueue}, executors ${b.kind}; results in ${shown(db)}`,
    // A versioned worker gets no task until its version is current (k8s/README.md, Worker Versioning).
    ...(b.versioning
      ? [
          `Worker Versioning on (SWEEP_WORKER_VERSIONING): deployment ${b.versioning.deploymentName}, build ${b.versioning.buildId}; it gets work once current:`,
          `  ${cli} worker deployment set-current-version --address ${b.address} --deployment-name ${sh(b.versioning.deploymentName)} --build-id ${sh(b.versioning.buildId)} --yes`,
        ]
      : []),
    unfinished.length
      ? `resuming ${unfinished.length}${unfinished.length >= 50 ? '+' : ''} unfinished sweep(s): ${unfinished.join(', ')}`
      : 'no unfinished sweeps',
    '',
    'Start a sweep from another terminal in this folder (your own spec, or the demo one):',
    `  ${prefix}npx sweep start ${spec} --watch`,
    'or with the Temporal CLI:',
    `  npx sweep render ${spec} > ${name}.json`,
    `  ${cli} workflow start --address ${b.address} --type sweep --task-queue ${s.taskQueue} --workflow-id sweep/${name} --input-file ${name}.json`,
    `Then: ${prefix}npx sweep status ${name} / watch ${name} / runs ${name}.`,
    `Ctrl-C stops the worker and the server; \`${b.again}\` again resumes every unfinished sweep.`,
    '',
    `ready: worker running at ${b.address}`,
  ];
  console.log(lines.join('\n'));
}
