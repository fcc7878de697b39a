import type { Command } from 'commander';
import Table from 'cli-table3';
import cliProgress from 'cli-progress';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { loadSweepSpec } from '../../spec/load';
import { FailureClassSchema } from '../../spec';
import {
  cancelSignal,
  extendUpdate,
  pauseSignal,
  progressQuery,
  resumeSignal,
  retryFailedUpdate,
  runsQuery,
  setConcurrencyUpdate,
  sweepWorkflowId,
  type Progress,
  type RunStatus,
} from '../../workflows/api';
import { SweepId, SweepName } from '../../workflows/searchAttributes';
import { fitLine } from '../../workflows/text';
import { temporalSettings } from '../../worker/settings';
import { connectClient, uiLinks } from '../client';
import { UsageError } from '../errors';
import { maxGridSizeOption } from './spec';

const STATES: RunStatus[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];

/** Accepts "demo" or "sweep/demo". */
export const toSweepId = (nameOrId: string) => (nameOrId.startsWith('sweep/') ? nameOrId : sweepWorkflowId(nameOrId));

function printLinks(sweepId: string, state?: string) {
  const links = uiLinks(temporalSettings(), sweepId, state);
  console.log(`Web UI: ${links.sweep}`);
  console.log(`Runs:   ${links.runs}`);
}

export function formatProgress(p: Progress): string {
  const s = p.byState;
  const eta = p.etaSeconds === undefined ? 'n/a' : `${Math.round(p.etaSeconds)} s`;
  const lines = [
    `${p.sweep}: ${s.succeeded + s.failed + s.cancelled}/${p.total} done - ${STATES.map((k) => `${k} ${s[k]}`).join(', ')}` +
      `${p.paused ? ' (paused)' : ''}${p.cancelling ? ' (cancelling)' : ''}`,
    `GPU-hours ${p.gpuHours.toFixed(3)} - ETA ${eta} - concurrency ${p.maxRuns}${p.maxGpus !== undefined ? ` runs / ${p.maxGpus} GPUs` : ' runs'}`,
  ];
  for (const f of p.fits) lines.push(`fit ${fitLine(f)}`);
  for (const f of p.recentFailures.slice(-5)) lines.push(`failed ${f.runId}: ${f.failureClass ?? 'unknown'} - ${f.message ?? ''}`);
  return lines.join('\n');
}

/** Live dashboard until the sweep closes: a bar per state, GPU-hours, ETA, failures, exponents. */
export async function watchSweep(client: Client, sweepId: string, opts: { intervalMs?: number; quiet?: boolean } = {}) {
  const handle = client.workflow.getHandle(sweepId);
  const tty = process.stdout.isTTY && !opts.quiet;
  const multi = tty
    ? new cliProgress.MultiBar(
        { format: ' {state} |{bar}| {value}/{total}', hideCursor: true, clearOnComplete: false, autopadding: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const bars = new Map<RunStatus, cliProgress.SingleBar>();
  let info: cliProgress.SingleBar | undefined;
  let lastLine = '';
  for (;;) {
    const desc = await handle.describe();
    let p: Progress | undefined;
    try {
      p = await handle.query(progressQuery);
    } catch {
      /* no worker yet, or closed without one */
    }
    if (p) {
      if (multi) {
        for (const s of STATES) {
          const bar = bars.get(s) ?? multi.create(p.total, 0, { state: s.padEnd(9) });
          bars.set(s, bar);
          bar.setTotal(p.total);
          bar.update(p.byState[s], { state: s.padEnd(9) });
        }
        const text = formatProgress(p).split('\n').slice(1).join(' | ');
        info ??= multi.create(1, 0, {}, { format: ' {text}' });
        info.update(0, { text });
      } else if (!opts.quiet) {
        const line = formatProgress(p).split('\n')[0];
        if (line !== lastLine) console.log(line);
        lastLine = line;
      }
    }
    if (desc.status.name !== 'RUNNING') {
      multi?.stop();
      return { status: desc.status.name, progress: p };
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}

async function withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connectClient();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

export function registerControlCommands(program: Command): void {
  program
    .command('start')
    .description('validate a sweep spec and start it as workflow sweep/<name>')
    .argument('<spec>', 'sweep spec (YAML or JSON)')
    .option('--max-grid-size <n>', 'accept a grid above the spec limit', maxGridSizeOption)
    .option('--watch', 'watch it until it ends')
    .action(async (file: string, o: { maxGridSize?: number; watch?: boolean }) => {
      const spec = loadSweepSpec(file, { maxGridSize: o.maxGridSize });
      const settings = temporalSettings();
      await withClient(async (client) => {
        const id = sweepWorkflowId(spec.name);
        try {
          await client.workflow.start('sweep', {
            taskQueue: settings.taskQueue,
            workflowId: id,
            args: [spec],
            memo: { specSource: file },
            typedSearchAttributes: [
              { key: SweepName, value: spec.name },
              { key: SweepId, value: id },
            ],
            staticSummary: `sweep ${spec.name}: ${spec.description}`.slice(0, 200),
          });
        } catch (e) {
          if (e instanceof WorkflowExecutionAlreadyStartedError)
            throw new UsageError(`sweep "${spec.name}" is already running (${id}): watch it with \`sweep watch ${spec.name}\``);
          if (/search attribute/i.test((e as Error).message))
            throw new Error(`${(e as Error).message}\nRegister the search attributes first: \`npx sweep setup\``);
          throw e;
        }
        console.log(`started ${id} on task queue ${settings.taskQueue}`);
        printLinks(id);
        if (o.watch) await watchSweep(client, id);
      });
    });

  program
    .command('status')
    .description('progress of a sweep: counts by state, GPU-hours, ETA, fits')
    .argument('<sweep>', 'sweep name or workflow id')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { json?: boolean }) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(toSweepId(name));
        const [desc, p] = await Promise.all([handle.describe(), handle.query(progressQuery)]);
        if (o.json) {
          console.log(JSON.stringify({ workflowId: desc.workflowId, status: desc.status.name, ...p }, null, 2));
          return;
        }
        console.log(`${desc.workflowId} (${desc.status.name})`);
        const table = new Table({ head: STATES });
        table.push(STATES.map((s) => p.byState[s]));
        console.log(table.toString());
        console.log(formatProgress(p).split('\n').slice(1).join('\n'));
        printLinks(desc.workflowId);
      });
    });

  program
    .command('watch')
    .description('live progress of a sweep until it ends')
    .argument('<sweep>', 'sweep name or workflow id')
    .action(async (name: string) => {
      await withClient(async (client) => {
        printLinks(toSweepId(name));
        const r = await watchSweep(client, toSweepId(name));
        if (r.progress) console.log(formatProgress(r.progress));
        console.log(`sweep ${r.status.toLowerCase()}`);
      });
    });

  program
    .command('runs')
    .description('runs of a sweep with their state, attempts and failure class')
    .argument('<sweep>', 'sweep name or workflow id')
    .option('--state <state>', `only runs in this state (${STATES.join(', ')})`)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { state?: string; json?: boolean }) => {
      if (o.state && !STATES.includes(o.state as RunStatus))
        throw new UsageError(`--state must be one of ${STATES.join(', ')} (got "${o.state}")`);
      await withClient(async (client) => {
        const id = toSweepId(name);
        const page = await client.workflow.getHandle(id).query(runsQuery, { state: o.state as RunStatus | undefined, limit: 100_000 });
        if (o.json) {
          console.log(JSON.stringify(page, null, 2));
          return;
        }
        const table = new Table({ head: ['run id', 'state', 'attempts', 'failure class', 'message'], wordWrap: true, colWidths: [null, null, null, null, 60] as never });
        for (const r of page.runs) table.push([r.runId, r.state, r.attempts, r.failureClass ?? '', (r.message ?? '').slice(0, 120)]);
        console.log(table.toString());
        console.log(`${page.total} runs`);
        printLinks(id, o.state);
      });
    });

  const signalCommand = (cmd: string, description: string, run: (client: Client, id: string) => Promise<string>) =>
    program
      .command(cmd)
      .description(description)
      .argument('<sweep>', 'sweep name or workflow id')
      .action(async (name: string) => {
        await withClient(async (client) => {
          const id = toSweepId(name);
          console.log(await run(client, id));
          printLinks(id);
        });
      });

  signalCommand('pause', 'stop launching new runs (running ones go on)', async (c, id) => {
    await c.workflow.getHandle(id).signal(pauseSignal);
    return `paused ${id}`;
  });
  signalCommand('resume', 'launch runs again', async (c, id) => {
    await c.workflow.getHandle(id).signal(resumeSignal);
    return `resumed ${id}`;
  });
  signalCommand('cancel', 'cancel the sweep: its runs stop and delete their jobs', async (c, id) => {
    await c.workflow.getHandle(id).signal(cancelSignal);
    return `cancelling ${id}`;
  });

  program
    .command('retry-failed')
    .description('rerun the failed runs of a sweep (all, or of one failure class)')
    .argument('<sweep>', 'sweep name or workflow id')
    .option('--class <failureClass>', `only runs that failed with this class (${FailureClassSchema.options.join(', ')})`)
    .action(async (name: string, o: { class?: string }) => {
      if (o.class && !FailureClassSchema.safeParse(o.class).success)
        throw new UsageError(`--class must be one of ${FailureClassSchema.options.join(', ')} (got "${o.class}")`);
      await withClient(async (client) => {
        const id = toSweepId(name);
        const r = await client.workflow
          .getHandle(id)
          .executeUpdate(retryFailedUpdate, { args: [{ failureClass: o.class ? FailureClassSchema.parse(o.class) : undefined }] });
        console.log(`rerunning ${r.rerun.length} failed run(s)${r.rerun.length ? `: ${r.rerun.join(', ')}` : ''}`);
        printLinks(id, 'running');
      });
    });

  program
    .command('concurrency')
    .description('change how many runs (and GPUs) may be in flight')
    .argument('<sweep>', 'sweep name or workflow id')
    .argument('<maxRuns>', 'runs at once')
    .option('--gpus <n>', 'GPUs at once')
    .action(async (name: string, maxRuns: string, o: { gpus?: string }) => {
      const n = Number(maxRuns);
      const g = o.gpus === undefined ? undefined : Number(o.gpus);
      await withClient(async (client) => {
        const id = toSweepId(name);
        try {
          const r = await client.workflow.getHandle(id).executeUpdate(setConcurrencyUpdate, { args: [{ maxRuns: n, maxGpus: g }] });
          console.log(`concurrency of ${id}: ${r.maxRuns} runs${r.maxGpus !== undefined ? `, ${r.maxGpus} GPUs` : ''}`);
        } catch (e) {
          throw new UsageError(`rejected: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
        }
      });
    });

  program
    .command('extend')
    .description('add values to axes of a running sweep (only new cells run)')
    .argument('<sweep>', 'sweep name or workflow id')
    .argument('<assignments...>', 'axis=v1,v2 ... (numbers are parsed as numbers)')
    .action(async (name: string, assignments: string[]) => {
      const axes: Record<string, (string | number)[]> = {};
      for (const a of assignments) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(a);
        if (!m) throw new UsageError(`"${a}": write axis=value1,value2`);
        axes[m[1]] = m[2].split(',').map((v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v.trim()));
      }
      await withClient(async (client) => {
        try {
          const r = await client.workflow.getHandle(toSweepId(name)).executeUpdate(extendUpdate, { args: [{ axes }] });
          console.log(`added ${r.added.length} run(s)`);
        } catch (e) {
          throw new UsageError(`rejected: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
        }
      });
    });
}
