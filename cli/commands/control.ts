import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { evaluatorHashOf, FailureClassSchema, type SweepSpec } from '../../spec';
import {
  cancelSignal,
  extendUpdate,
  pauseSignal,
  resumeSignal,
  rescoreUpdate,
  retryFailedUpdate,
  setConcurrencyUpdate,
  sweepWorkflowId,
  type Progress,
  type RunStatus,
} from '../../contract';
import { SweepId, SweepName } from '../../contract';
import { DEFAULT_SQLITE_PATH } from '../../store/open';
import { temporalSettings } from '../../worker/settings';
import { errorText } from '../../worker/connect';
import { connectClient, retrying, uiLinks } from '../client';
import { colorEnabled, table } from '../color';
import { previewResubmission } from '../resubmission';
import { UsageError } from '../errors';
import {
  EXIT_CANCELLED,
  EXIT_COMPLETED,
  EXIT_FAILED,
  failureReason,
  fitStatusLine,
  StoreReader,
  sweepNameOf,
  sweepRuns,
  sweepOutcome,
  sweepView,
  type SweepOutcome,
} from '../sweepState';
import { studyLine } from '../../workflows/text';

const STATES: RunStatus[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];
/** What `sweep runs --state` takes: a run's states, and an adaptive study's skipped cells. */
const RUN_LIST_STATES = [...STATES, 'skipped'] as const;

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
  if (p.study) lines.push(`adaptive study: ${studyLine(p.study)}${!p.study.stop && p.study.skipped ? `; ${p.study.skipped} cells skipped` : ''}`);
  for (const f of p.fits) lines.push(`fit ${fitStatusLine(f)}`);
  for (const f of p.recentFailures.slice(-5))
    lines.push(`failed ${f.runId}: ${f.failureClass ?? 'unknown'} - ${f.message ?? ''}`);
  return lines.join('\n');
}

/**
 * Live dashboard until the sweep closes: a bar per state, GPU-hours, ETA, failures, exponents.
 * Returns how it ended (exit code included) and its last progress, read from the results store
 * once it has ended, so it needs no worker then.
 */
export async function watchSweep(
  client: Client,
  sweepId: string,
  opts: { intervalMs?: number; quiet?: boolean; reader?: StoreReader } = {},
): Promise<{ status: string; outcome: SweepOutcome; progress?: Progress; reason?: string }> {
  const handle = client.workflow.getHandle(sweepId);
  const reader = opts.reader ?? new StoreReader();
  // Bars redraw in place: only on a terminal (and never with NO_COLOR, whose users want plain text).
  const tty = colorEnabled() && !opts.quiet;
  const multi = tty
    ? new cliProgress.MultiBar(
        { format: ' {state} |{bar}| {value}/{total}', hideCursor: true, clearOnComplete: false, autopadding: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const bars = new Map<RunStatus, cliProgress.SingleBar>();
  let info: cliProgress.SingleBar | undefined;
  let lastLine = '';
  try {
    for (;;) {
      const desc = await retrying(() => handle.describe());
      let p: Progress | undefined;
      try {
        p = (await sweepView(client, sweepId, reader, desc)).progress;
      } catch {
        // No worker answered and the store has nothing of it: the outcome is still known.
        p = undefined;
      }
      // A sweep still checking its spec has no grid yet: nothing to draw.
      if (p && !p.starting) {
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
        const o = sweepOutcome(desc);
        const reason =
          o.status === 'FAILED' || o.status === 'TIMED_OUT' ? await failureReason(client, sweepId) : undefined;
        return { status: desc.status.name, outcome: o, progress: p, reason };
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
    }
  } finally {
    multi?.stop();
    if (!opts.reader) await reader.close();
  }
}

/** The last lines of `start --watch` / `watch`, and the exit code that says how the sweep ended. */
function reportOutcome(r: Awaited<ReturnType<typeof watchSweep>>): void {
  if (r.progress) console.log(formatProgress(r.progress));
  console.log(`sweep ${r.outcome.word}${r.reason ? `: ${r.reason}` : ''}`);
  process.exitCode = r.outcome.exitCode;
}

/** The server's "no such workflow", whichever call met it (describe, signal, update, query). */
function isNotFound(e: unknown): boolean {
  for (let x: unknown = e, i = 0; x && i < 5; i++, x = (x as { cause?: unknown }).cause) {
    if (x instanceof WorkflowNotFoundError) return true;
    if ((x as { code?: number }).code === 5 && /workflow|execution/i.test(String((x as Error).message))) return true; // gRPC NOT_FOUND
  }
  return false;
}

/** At most this many names in "the sweeps the store knows". */
const MAX_LISTED_SWEEPS = 30;

/** "No such sweep", with the sweeps the results store does know (a typo is the usual cause). */
export async function unknownSweepError(nameOrId: string): Promise<UsageError> {
  const id = toSweepId(nameOrId);
  const name = sweepNameOf(id);
  const s = temporalSettings();
  const db = process.env.SWEEP_DB || DEFAULT_SQLITE_PATH;
  const where = `no sweep "${name}" (workflow ${id}) on Temporal at ${s.address} (namespace ${s.namespace})`;
  const reader = new StoreReader();
  let known: string[];
  try {
    known = (await (await reader.open()).listSweeps()).map((r) => r.name).sort();
  } catch (e) {
    return new UsageError(`${where}; the results store (SWEEP_DB=${db}) could not be read to list the sweeps it knows: ${errorText(e)}`);
  } finally {
    await reader.close();
  }
  if (known.includes(name))
    return new UsageError(
      `${where}, though the results store (SWEEP_DB=${db}) has it: is TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE the server its worker used?`,
    );
  if (!known.length) return new UsageError(`${where}; the results store (SWEEP_DB=${db}) knows no sweeps yet: start one with \`sweep start <spec>\``);
  const listed = known.slice(0, MAX_LISTED_SWEEPS).join(', ');
  const more = known.length > MAX_LISTED_SWEEPS ? ` and ${known.length - MAX_LISTED_SWEEPS} more` : '';
  return new UsageError(`${where}. Sweeps the results store (SWEEP_DB=${db}) knows: ${listed}${more}`);
}

/** `fn` with a client; with `sweep`, a workflow that does not exist becomes "no such sweep" and the known ones. */
async function withClient<T>(fn: (c: Client) => Promise<T>, sweep?: string): Promise<T> {
  const client = await connectClient();
  try {
    return await fn(client);
  } catch (e) {
    if (sweep !== undefined && isNotFound(e)) throw await unknownSweepError(sweep);
    throw e;
  } finally {
    await client.connection.close();
  }
}

const withSweepClient = <T>(sweep: string, fn: (c: Client) => Promise<T>) => withClient(fn, sweep);

/** Workflow ids of a sweep's runs still running (one visibility query, paged). */
async function orphanRuns(client: Client, sweepId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({
    query: `WorkflowType="sweepRun" AND SweepId="${sweepId}" AND ExecutionStatus="Running"`,
  }))
    ids.push(w.workflowId);
  return ids;
}

/** Starts a validated sweep as workflow sweep/<name> (and watches it): `sweep start` after its checks. */
export async function startSweep(spec: SweepSpec, file: string, o: { watch?: boolean }): Promise<void> {
  const settings = temporalSettings();
  // What the store already holds: runs reused, runs rerun and why (a changed job definition).
  const plan = await previewResubmission(spec);
  await withClient(async (client) => {
    const id = sweepWorkflowId(spec.name);
    try {
      // The first call waits briefly for a server that is still starting (shard status unknown).
      await retrying(() =>
        client.workflow.start('sweep', {
          taskQueue: settings.taskQueue,
          workflowId: id,
          args: [spec],
          memo: { specSource: file },
          typedSearchAttributes: [
            { key: SweepName, value: spec.name },
            { key: SweepId, value: id },
          ],
          staticSummary: `sweep ${spec.name}: ${spec.description}`.slice(0, 200),
        }),
      );
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError)
        throw new UsageError(
          `sweep "${spec.name}" is already running (${id}): watch it with \`sweep watch ${spec.name}\``,
        );
      // The server's reason is in the cause ("no mapping defined for search attribute SweepName").
      if (/search attribute/i.test(errorText(e)))
        throw new Error(`${errorText(e)}\nRegister the search attributes first: \`npx sweep setup\``);
      throw e;
    }
    console.log(`started ${id} on task queue ${settings.taskQueue}`);
    if (plan) console.log(plan);
    printLinks(id);
    if (o.watch) reportOutcome(await watchSweep(client, id));
  });
}

export function registerControlCommands(program: Command): void {
  program
    .command('status')
    .description('progress of a sweep: counts by state, GPU-hours, ETA, fits (ended sweeps: from the results store)')
    .argument('<sweep>', 'sweep name or workflow id')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { json?: boolean }) => {
      await withSweepClient(name, async (client) => {
        const reader = new StoreReader();
        try {
          const desc = await retrying(() => client.workflow.getHandle(toSweepId(name)).describe());
          const v = await sweepView(client, toSweepId(name), reader, desc);
          const p = v.progress;
          if (o.json) {
            console.log(
              JSON.stringify(
                {
                  workflowId: desc.workflowId,
                  status: desc.status.name,
                  outcome: v.outcome.word,
                  source: v.source,
                  ...p,
                },
                null,
                2,
              ),
            );
            return;
          }
          console.log(
            `${desc.workflowId} (${v.outcome.word}${v.source === 'store' ? ', from the results store' : ''})`,
          );
          const t = table({ head: STATES });
          t.push(STATES.map((s) => p.byState[s]));
          console.log(t.toString());
          console.log(formatProgress(p).split('\n').slice(1).join('\n'));
          if (desc.status.name === 'TERMINATED') {
            // Terminating a sweep runs none of its code: its runs go on and record their results.
            const orphans = await orphanRuns(client, desc.workflowId);
            console.log(
              `terminated: the sweep stopped, but its runs go on and record their results (${orphans.length} still running).` +
                (orphans.length
                  ? ` Stop them and their jobs with \`sweep cancel ${sweepNameOf(desc.workflowId)} --orphans\`.`
                  : ''),
            );
          }
          printLinks(desc.workflowId);
        } finally {
          await reader.close();
        }
      });
    });

  program
    .command('watch')
    .description(
      `live progress of a sweep until it ends; exit ${EXIT_COMPLETED} completed, ${EXIT_FAILED} failed or timed out, ${EXIT_CANCELLED} cancelled or terminated`,
    )
    .argument('<sweep>', 'sweep name or workflow id')
    .action(async (name: string) => {
      await withSweepClient(name, async (client) => {
        printLinks(toSweepId(name));
        reportOutcome(await watchSweep(client, toSweepId(name)));
      });
    });

  program
    .command('runs')
    .description('runs of a sweep with their state, attempts and failure class (ended sweeps: from the results store)')
    .argument('<sweep>', 'sweep name or workflow id')
    .option('--state <state>', `only runs in this state (${RUN_LIST_STATES.join(', ')}; skipped: cells an adaptive study that stopped never ran)`)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { state?: string; json?: boolean }) => {
      if (o.state && !(RUN_LIST_STATES as readonly string[]).includes(o.state))
        throw new UsageError(`--state must be one of ${RUN_LIST_STATES.join(', ')} (got "${o.state}")`);
      await withSweepClient(name, async (client) => {
        const id = toSweepId(name);
        const reader = new StoreReader();
        try {
          const { page } = await sweepRuns(client, id, reader, o.state as (typeof RUN_LIST_STATES)[number] | undefined);
          if (o.json) {
            console.log(JSON.stringify(page, null, 2));
            return;
          }
          const t = table({
            head: ['run id', 'state', 'attempts', 'failure class', 'message'],
            wordWrap: true,
            colWidths: [null, null, null, null, 60],
          });
          for (const r of page.runs)
            t.push([r.runId, r.state, r.attempts, r.failureClass ?? '', (r.message ?? '').slice(0, 120)]);
          console.log(t.toString());
          console.log(`${page.total} runs`);
          printLinks(id, o.state === 'skipped' ? undefined : o.state); // a skipped cell has no workflow to list
        } finally {
          await reader.close();
        }
      });
    });

  const signalCommand = (cmd: string, description: string, run: (client: Client, id: string) => Promise<string>) =>
    program
      .command(cmd)
      .description(description)
      .argument('<sweep>', 'sweep name or workflow id')
      .action(async (name: string) => {
        await withSweepClient(name, async (client) => {
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
  program
    .command('cancel')
    .description(
      'cancel the sweep: its runs stop and delete their jobs (--orphans: the runs of a sweep that has ended, e.g. terminated)',
    )
    .argument('<sweep>', 'sweep name or workflow id')
    .option('--orphans', 'cancel the runs still going of a sweep that is no longer running')
    .action(async (name: string, o: { orphans?: boolean }) => {
      await withSweepClient(name, async (client) => {
        const id = toSweepId(name);
        const desc = await retrying(() => client.workflow.getHandle(id).describe());
        if (desc.status.name === 'RUNNING') {
          await client.workflow.getHandle(id).signal(cancelSignal);
          console.log(`cancelling ${id}`);
        } else {
          const orphans = await orphanRuns(client, id);
          if (!o.orphans) {
            console.log(
              `${id} is not running (${sweepOutcome(desc).word})` +
                (orphans.length
                  ? `; ${orphans.length} of its runs still are: stop them with \`sweep cancel ${sweepNameOf(id)} --orphans\``
                  : ''),
            );
          } else {
            // Each run's own cancellation stops its job and records it cancelled.
            await Promise.all(orphans.map((w) => client.workflow.getHandle(w).cancel()));
            console.log(`cancelled ${orphans.length} run(s) of ${id}: each stops its job`);
          }
        }
        printLinks(id);
      });
    });

  program
    .command('retry-failed')
    .description('rerun the failed runs of a sweep (all, or of one failure class)')
    .argument('<sweep>', 'sweep name or workflow id')
    .option(
      '--class <failureClass>',
      `only runs that failed with this class (${FailureClassSchema.options.join(', ')})`,
    )
    .action(async (name: string, o: { class?: string }) => {
      if (o.class && !FailureClassSchema.safeParse(o.class).success)
        throw new UsageError(`--class must be one of ${FailureClassSchema.options.join(', ')} (got "${o.class}")`);
      const failureClass = o.class ? FailureClassSchema.parse(o.class) : undefined;
      await withClient(async (client) => {
        const id = toSweepId(name);
        const desc = await retrying(() => client.workflow.getHandle(id).describe()).catch(() => undefined);
        if (desc?.status.name === 'RUNNING') {
          const r = await client.workflow.getHandle(id).executeUpdate(retryFailedUpdate, { args: [{ failureClass }] });
          console.log(`rerunning ${r.rerun.length} failed run(s)${r.rerun.length ? `: ${r.rerun.join(', ')}` : ''}`);
        } else {
          // The sweep has ended: start it again from the spec its store recorded. Its succeeded runs
          // are skipped; the failed ones (of this class) run again at their next attempt.
          const reader = new StoreReader();
          try {
            const store = await reader.open();
            const row = await store.getSweep(sweepNameOf(id));
            if (!row)
              throw new UsageError(
                `the results store has no sweep "${sweepNameOf(id)}": point SWEEP_DB at the worker's store`,
              );
            const failed = (await store.listRuns(row.name, { state: 'failed' })).filter(
              (r) => !failureClass || r.failureClass === failureClass,
            );
            await retrying(() =>
              client.workflow.start('sweep', {
                taskQueue: temporalSettings().taskQueue,
                workflowId: id,
                args: [row.spec as SweepSpec, { retryFailed: { failureClass } }],
                typedSearchAttributes: [
                  { key: SweepName, value: row.name },
                  { key: SweepId, value: id },
                ],
                staticSummary: `sweep ${row.name}: retry-failed${failureClass ? ` --class ${failureClass}` : ''}`,
              }),
            );
            console.log(
              `${id} had ended (${desc ? sweepOutcome(desc).word : 'not found'}): started it again to rerun ${failed.length} failed run(s)` +
                `${failureClass ? ` of class ${failureClass}` : ''}; succeeded runs are kept`,
            );
          } finally {
            await reader.close();
          }
        }
        printLinks(id, 'running');
      });
    });

  program
    .command('rescore')
    .description('run only the evaluate stage again on the succeeded runs (their checkpoints), with the sweep\'s or a new evaluate block')
    .argument('<sweep>', 'sweep name or workflow id')
    .option('--spec <file>', 'take the evaluate block from this sweep spec')
    .option('--runs <ids>', 'only these run ids (comma-separated)')
    .option('--state <state>', 'runs in this state (only succeeded runs have what evaluate needs)', 'succeeded')
    .action(async (name: string, o: { spec?: string; runs?: string; state: string }) => {
      if (o.state !== 'succeeded') throw new UsageError(`--state: only succeeded runs can be re-scored (got "${o.state}")`);
      const { loadSweepSpec, validateSweepSpec } = await import('../../spec/load');
      const evaluate = o.spec ? loadSweepSpec(o.spec).evaluate : undefined;
      if (o.spec && !evaluate) throw new UsageError(`${o.spec} has no evaluate block`);
      const runs = o.runs ? o.runs.split(',').map((r) => r.trim()).filter(Boolean) : undefined;
      await withClient(async (client) => {
        const id = toSweepId(name);
        const desc = await retrying(() => client.workflow.getHandle(id).describe()).catch(() => undefined);
        if (desc?.status.name === 'RUNNING') {
          try {
            const r = await client.workflow.getHandle(id).executeUpdate(rescoreUpdate, { args: [{ ...(evaluate ? { evaluate } : {}), ...(runs ? { runs } : {}) }] });
            console.log(`re-scoring ${r.rescoring.length} run(s) with evaluator ${r.evaluator}`);
          } catch (e) {
            throw new UsageError(`rejected: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
          }
        } else {
          // Ended: start it again in rescore mode from the spec its store recorded.
          const reader = new StoreReader();
          try {
            const row = await (await reader.open()).getSweep(sweepNameOf(id));
            if (!row) throw new UsageError(`the results store has no sweep "${sweepNameOf(id)}": point SWEEP_DB at the worker's store`);
            const spec = validateSweepSpec({ ...(row.spec as object), ...(evaluate ? { evaluate } : {}) }, `${row.name} (stored spec)`);
            if (!spec.evaluate) throw new UsageError(`sweep ${row.name} has no evaluate stage: give one with --spec`);
            await retrying(() =>
              client.workflow.start('sweep', {
                taskQueue: temporalSettings().taskQueue,
                workflowId: id,
                args: [spec, { rescore: { ...(runs ? { runs } : {}) } }],
                typedSearchAttributes: [
                  { key: SweepName, value: row.name },
                  { key: SweepId, value: id },
                ],
                staticSummary: `sweep ${row.name}: rescore`,
              }),
            );
            console.log(`${id} had ended: started it again to re-score its succeeded runs with evaluator ${evaluatorHashOf(spec.evaluate)}`);
          } finally {
            await reader.close();
          }
        }
        printLinks(id);
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
      await withSweepClient(name, async (client) => {
        const id = toSweepId(name);
        try {
          const r = await client.workflow
            .getHandle(id)
            .executeUpdate(setConcurrencyUpdate, { args: [{ maxRuns: n, maxGpus: g }] });
          console.log(`concurrency of ${id}: ${r.maxRuns} runs${r.maxGpus !== undefined ? `, ${r.maxGpus} GPUs` : ''}`);
        } catch (e) {
          if (isNotFound(e)) throw e; // withSweepClient names the sweeps there are
          throw new UsageError(
            `rejected: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`,
          );
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
      await withSweepClient(name, async (client) => {
        try {
          const r = await client.workflow.getHandle(toSweepId(name)).executeUpdate(extendUpdate, { args: [{ axes }] });
          console.log(`added ${r.added.length} run(s)`);
        } catch (e) {
          if (isNotFound(e)) throw e; // withSweepClient names the sweeps there are
          throw new UsageError(
            `rejected: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`,
          );
        }
      });
    });
}
