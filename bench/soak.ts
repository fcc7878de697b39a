/**
 * Soak: many short sweeps in a row on the path users run, to prove no sweep hangs (issue 8,
 * item 0: a lost wake-up parked a sweep forever once its in-flight runs all ended while it was
 * starting children). A dev server, a `sweep worker` as a separate child process, and every
 * sweep started with `temporal workflow start` from the raw spec JSON; zero-duration jobs, so
 * runs end while the sweep is still starting others, again and again.
 *
 *   npx tsx bench/soak.ts                                   # 50 sweeps x 200 runs, then one of 3,000
 *   npx tsx bench/soak.ts --sweeps 5 --runs 50 --big 0      # a quick one
 *   options: --slots 32 --max-runs 48 --deadline 600 (s, each small sweep) --big-deadline 1800 (s) --stall 180 (s) --fit
 *            --server-db file|memory (the dev server's state: a SQLite file, as `sweep dev` keeps it, or RAM)
 *            --job sh|node (the zero-duration job: one sh writing its result, or node sim/sleepJob.mjs)
 *
 * A sweep not done by its deadline, or with no run finishing for --stall seconds, is HUNG: its
 * progress query, workflow stack and open runs are printed and the soak stops. Exit 0 only when
 * every sweep completed with every run succeeded (and recorded once in the store).
 */
import './quiet';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { SqliteStore } from '../store/sqlite';
import { SweepSpecSchema } from '../spec';
import { freePort, spawnDevServer, type PersistentDevServer } from '../worker/devServer';
import { REPO_ROOT, temporalCliPath } from '../worker/settings';
import { TASK_QUEUE, progressQuery, sweepWorkflowId, type Progress, type SweepSummary } from '../contract';
import { LoggedChild, run } from './childProcess';

const { values } = parseArgs({
  options: {
    sweeps: { type: 'string', default: '50' },
    runs: { type: 'string', default: '200' },
    big: { type: 'string', default: '3000' },
    slots: { type: 'string', default: '32' },
    'max-runs': { type: 'string', default: '48' },
    deadline: { type: 'string', default: '600' },
    'big-deadline': { type: 'string', default: '1800' },
    stall: { type: 'string', default: '180' },
    fit: { type: 'boolean', default: false },
    'server-db': { type: 'string', default: 'file' },
    job: { type: 'string', default: 'sh' },
  },
});

const int = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    console.error(`--${name} must be a whole number from ${min} to ${max} (got "${v}")`);
    process.exit(2);
  }
  return n;
};
const SWEEPS = int('sweeps', values.sweeps, 0, 10_000);
const RUNS = int('runs', values.runs, 1, 10_000);
const BIG = int('big', values.big, 0, 1_000_000);
const SLOTS = int('slots', values.slots, 1, 4096);
const MAX_RUNS = int('max-runs', values['max-runs'], 1, 10_000);
const DEADLINE_S = int('deadline', values.deadline, 1, 86_400);
const BIG_DEADLINE_S = int('big-deadline', values['big-deadline'], 1, 86_400);
const STALL_S = int('stall', values.stall, 1, 86_400);
const SERVER_DB = values['server-db'];
if (values.job !== 'sh' && values.job !== 'node') {
  console.error(`--job must be sh or node (got "${values.job}")`);
  process.exit(2);
}
/**
 * The zero-duration job: by default one `sh` that writes its result (about 1 ms of CPU), since a
 * `node` process per run (sim/sleepJob.mjs, --job node) costs 70-90 ms of CPU: at 10 runs/s that is
 * most of one of the box's two cores, measuring node's start-up instead of the orchestrator.
 */
const JOB_COMMAND =
  values.job === 'node'
    ? ['node', join(REPO_ROOT, 'sim/sleepJob.mjs'), '--seconds=0']
    : ['sh', '-c', `printf '%s' '{"metrics":{"score":0.5},"n_params":1000000,"n_samples_seen":1000000,"total_flops":6000000000000}' > "$SWEEP_RESULT_FILE"`];
if (SERVER_DB !== 'file' && SERVER_DB !== 'memory') {
  console.error(`--server-db must be file or memory (got "${SERVER_DB}")`);
  process.exit(2);
}

const cli = temporalCliPath();
const mib = (b: number | undefined) => (b === undefined ? '?' : `${(b / 2 ** 20).toFixed(0)} MiB`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const range = (k: number) => Array.from({ length: k }, (_, i) => i + 1);
function gridOf(n: number): Record<string, number[]> {
  for (let a = Math.floor(Math.sqrt(n)); a > 1; a--) if (n % a === 0) return { x: range(n / a), y: range(a) };
  return { x: range(n) };
}

/** The raw spec, as a user would hand it to `temporal workflow start --input-file`. */
function rawSpec(name: string, n: number) {
  return {
    name,
    // A big grid as a user writes one: two axes whose product is n, not one axis of n values
    // (a 100,000-value list alone would pass the server's 512 KB payload warning).
    grid: gridOf(n),
    ...(n > 10_000 ? { maxGridSize: n } : {}),
    job: { command: JOB_COMMAND },
    metrics: ['score'],
    concurrency: { maxRuns: MAX_RUNS },
    executor: { kind: 'local', slots: SLOTS },
    // One cheap fit (point fits only) when asked, so refits interleave with the window too.
    ...(values.fit
      ? {
          fits: [{ name: 'score_flops', form: 'power_law', x: 'total_flops', y: { metrics: ['score'] }, bootstrap: 0 }],
          refit: { every: 50, bootstrap: 0 },
        }
      : {}),
  };
}

interface Outcome {
  name: string;
  runs: number;
  wallS: number;
  succeeded: number;
  failed: number;
  /** Set when the sweep did not complete (HUNG, failed workflow, worker died). */
  error?: string;
  /** Store check: results recorded and attempts launched for this sweep. */
  stored?: { results: number; attempts: number; succeededRows: number };
  /** What continue-as-new carried: executions, and the first, last and largest input. */
  can?: { executions: number; firstBytes: number; lastBytes: number; maxBytes: number };
}

/**
 * The server's warnings about sizes and limits (payload and blob size, history size and count,
 * pending children, signals): what the acceptance asks to be absent.
 */
function serverWarnings(logFile: string): string[] {
  const text = readFileSync(logFile, 'utf8');
  return text
    .split('\n')
    .filter((l) => /"level":"(warn|error)"/.test(l) || /\b(WARN|ERROR)\b/.test(l))
    // Temporal's limit messages ("Blob data size exceeds the warning limit.", "history size exceeds
    // warn limit.", "... limit exceeded"), not e.g. a task's "context deadline exceeded".
    .filter((l) => /(size|count) exceeds|exceeds the warning limit|exceeds (warn|error) limit|limit exceeded/i.test(l));
}

async function waitForPollers(client: Client, deadlineMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const counts = await Promise.all(
      ([1, 2] as const).map(async (taskQueueType) => {
        const r = await client.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: TASK_QUEUE },
          taskQueueType,
        });
        return r.pollers?.length ?? 0;
      }),
    );
    if (counts.every((c) => c > 0)) return;
    if (Date.now() - t0 > deadlineMs) throw new Error(`no worker polled ${TASK_QUEUE} within ${deadlineMs / 1000} s`);
    await sleep(250);
  }
}

/** Everything we can say about a sweep that is stuck, from the CLI a user would use. */
async function diagnose(address: string, workflowId: string): Promise<string> {
  const env = { ...process.env, TEMPORAL_ADDRESS: address };
  const q = await run(cli, ['workflow', 'query', '--workflow-id', workflowId, '--name', 'progress', '-o', 'json'], {
    env,
  });
  const stack = await run(cli, ['workflow', 'stack', '--workflow-id', workflowId], { env });
  const open = await run(
    cli,
    ['workflow', 'count', '--query', `SweepId="${workflowId}" AND ExecutionStatus="Running"`],
    { env },
  );
  const desc = await run(cli, ['workflow', 'describe', '--workflow-id', workflowId], { env });
  return [
    `--- temporal workflow query --workflow-id ${workflowId} --name progress`,
    (q.stdout + q.stderr).trim(),
    `--- temporal workflow stack --workflow-id ${workflowId}`,
    (stack.stdout + stack.stderr).trim(),
    `--- open sweepRun children (temporal workflow count --query 'SweepId="${workflowId}" AND ExecutionStatus="Running"')`,
    (open.stdout + open.stderr).trim(),
    `--- temporal workflow describe --workflow-id ${workflowId}`,
    (desc.stdout + desc.stderr).trim(),
  ].join('\n');
}

async function runSweep(
  ctx: { client: Client; address: string; dir: string; worker: LoggedChild; store: SqliteStore },
  name: string,
  n: number,
  deadlineS: number,
): Promise<Outcome> {
  const workflowId = sweepWorkflowId(name);
  const raw = rawSpec(name, n);
  SweepSpecSchema.parse(raw); // a mistake here is the benchmark's, not the sweep's: fail loudly before starting
  const input = join(ctx.dir, `${name}.json`);
  writeFileSync(input, JSON.stringify(raw));
  const base: Outcome = { name, runs: n, wallS: 0, succeeded: 0, failed: 0 };

  const t0 = performance.now();
  const started = await run(
    cli,
    [
      'workflow',
      'start',
      '--type',
      'sweep',
      '--task-queue',
      TASK_QUEUE,
      '--workflow-id',
      workflowId,
      '--input-file',
      input,
    ],
    {
      env: { ...process.env, TEMPORAL_ADDRESS: ctx.address },
    },
  );
  if (started.code !== 0)
    return {
      ...base,
      error: `temporal workflow start failed (${started.code}): ${(started.stdout + started.stderr).trim()}`,
    };

  const handle = ctx.client.workflow.getHandle(workflowId);
  let settled: { summary?: SweepSummary; error?: string } | undefined;
  // Follows continue-as-new to the last run's result. The long poll behind result() can fail on
  // its own (a loaded server once answered "Failed to get Workflow execution history" after 6,149 s
  // of a healthy 100,000-run sweep): that is the client's error, not the sweep's, so poll again.
  let resultRetries = 0;
  const awaitResult = (): void => {
    handle.result().then(
      (summary: SweepSummary) => (settled = { summary }),
      (err: unknown) => {
        if (err instanceof WorkflowFailedError) settled = { error: `sweep failed: ${err.cause?.message ?? err.message}` };
        else if (++resultRetries > 100) settled = { error: `result() failed ${resultRetries} times, the last: ${String(err)}` };
        else {
          console.log(`  ${name}: result() failed (${String(err)}); polling again (${resultRetries})`);
          setTimeout(awaitResult, 2_000);
        }
      },
    );
  };
  awaitResult();
  let lastFinished = -1;
  let lastChangeAt = performance.now();
  // A long sweep says how far it is once a minute, so a run cut short still has figures.
  let lastReportAt = performance.now();
  let hung: string | undefined;
  while (!settled) {
    await sleep(500);
    if (settled) break;
    const now = performance.now();
    if (!ctx.worker.alive) {
      hung = `worker died (${await ctx.worker.exited}); log tail:\n${ctx.worker.tail()}`;
      break;
    }
    // Progress every ~5 s: a run finishing is what "not stuck" means.
    if (now - lastChangeAt >= 5_000 || lastFinished < 0) {
      const p = await handle.query(progressQuery).catch(() => undefined as Progress | undefined);
      if (p) {
        const finished = p.byState.succeeded + p.byState.failed + p.byState.cancelled;
        if (finished !== lastFinished) {
          lastFinished = finished;
          lastChangeAt = now;
        }
        if (n >= 1_000 && now - lastReportAt >= 60_000) {
          lastReportAt = now;
          const s = (now - t0) / 1000;
          console.log(
            `  ${name}: ${finished}/${n} finished after ${s.toFixed(0)} s (${(finished / s).toFixed(1)} runs/s), ` +
              `worker RSS ${mib(ctx.worker.memory('VmRSS'))}, load ${loadavg()[0].toFixed(1)}`,
          );
        }
      }
    }
    if (now - lastChangeAt > STALL_S * 1000) hung = `HUNG: no run finished for ${STALL_S} s`;
    else if (now - t0 > deadlineS * 1000) hung = `HUNG: not complete after the ${deadlineS} s deadline`;
    if (hung) break;
  }
  const wallS = (performance.now() - t0) / 1000;
  if (hung) return { ...base, wallS, error: `${hung}\n${await diagnose(ctx.address, workflowId)}` };
  if (settled?.error || !settled?.summary) return { ...base, wallS, error: settled?.error ?? 'no result' };

  const s = settled.summary;
  const can = await continueAsNewInputs(ctx.client, workflowId);
  // The store is the record users read: every run's result once, one attempt each (no duplicate launch).
  const [results, attempts, succeededRows] = await Promise.all([
    ctx.store.listResults(name).then((r) => r.length),
    ctx.store.listAttempts(name).then((a) => a.length),
    ctx.store.listRuns(name, { state: 'succeeded' }).then((r) => r.length),
  ]);
  return {
    ...base,
    wallS,
    succeeded: s.byState.succeeded,
    failed: s.byState.failed + s.byState.cancelled,
    stored: { results, attempts, succeededRows },
    can,
  };
}

/**
 * The input each execution after the first started with (what continue-as-new carried): read
 * from the first event of each execution's history, one event a request.
 */
async function continueAsNewInputs(client: Client, workflowId: string): Promise<{ executions: number; firstBytes: number; lastBytes: number; maxBytes: number }> {
  const sizes: { at: number; bytes: number }[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId="${workflowId}"` })) {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId: wf.runId },
      maximumPageSize: 1,
    });
    const started = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started?.continuedExecutionRunId) continue;
    sizes.push({ at: wf.startTime.getTime(), bytes: (started.input?.payloads ?? []).reduce((n, p) => n + (p.data?.length ?? 0), 0) });
  }
  sizes.sort((a, b) => a.at - b.at);
  return {
    executions: sizes.length + 1,
    firstBytes: sizes[0]?.bytes ?? 0,
    lastBytes: sizes[sizes.length - 1]?.bytes ?? 0,
    maxBytes: Math.max(0, ...sizes.map((x) => x.bytes)),
  };
}

function line(i: number, total: number, o: Outcome, rss: number | undefined): string {
  const st =
    (o.stored ? `store ${o.stored.results} results / ${o.stored.attempts} attempts` : '') +
    (o.can && o.can.executions > 1
      ? `, ${o.can.executions} executions, continue-as-new input first ${o.can.firstBytes} B / last ${o.can.lastBytes} B / max ${o.can.maxBytes} B`
      : '');
  const bad =
    o.error || o.succeeded !== o.runs || (o.stored && (o.stored.results !== o.runs || o.stored.attempts !== o.runs));
  return `[${String(i).padStart(String(total).length)}/${total}] ${o.name}: ${o.runs} runs, wall ${o.wallS.toFixed(1)} s, ${(o.runs / o.wallS).toFixed(1)} runs/s, succeeded ${o.succeeded}, failed ${o.failed}, ${st}, worker RSS ${mib(rss)}, load ${loadavg()[0].toFixed(1)}${bad ? '  <-- FAILED' : ''}`;
}

const ok = (o: Outcome) =>
  !o.error && o.succeeded === o.runs && o.failed === 0 && o.stored?.results === o.runs && o.stored.attempts === o.runs;

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-soak-'));
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  console.log(
    `soak: ${SWEEPS} sweeps x ${RUNS} zero-duration runs in a row${BIG ? `, then one of ${BIG}` : ''}; maxRuns ${MAX_RUNS}, ${SLOTS} slots` +
      `${values.fit ? ', one point fit' : ', no fits'}; deadline ${DEADLINE_S} s (big ${BIG_DEADLINE_S} s), stall ${STALL_S} s; server state in ${SERVER_DB === 'file' ? 'a SQLite file' : 'memory'}; job ${values.job}; work dir ${dir}`,
  );
  let server: PersistentDevServer | undefined;
  let connection: Connection | undefined;
  let worker: LoggedChild | undefined;
  let store: SqliteStore | undefined;
  let keepDir = false;
  const cleanup = async () => {
    await worker?.stop();
    await store?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };
  // Ctrl-C or a kill still takes the worker and the server down with us.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      console.error(`\n${sig}: stopping the worker and the dev server`);
      void cleanup().finally(() => process.exit(130));
    });

  try {
    // The dev server as `sweep dev` runs it (its state in a SQLite file), as its own process whose
    // log we keep: the server warns there when a payload or a history passes its limits. With
    // --server-db memory its state lives in RAM: a 100,000-run soak grew it to 22 GB at 64,000 runs
    // on a 24 GiB box, which then ran out of memory and failed the server's store calls.
    const serverLog = join(dir, 'temporal.log');
    server = await spawnDevServer({ logFile: serverLog, port: await freePort(), ...(SERVER_DB === 'file' ? { dbFile: join(dir, 'temporal.db') } : {}) });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const dbPath = join(dir, 'results.db');
    worker = new LoggedChild(
      process.execPath,
      [join(REPO_ROOT, 'bin/sweep.js'), 'worker', '--executor', 'local', '--slots', String(SLOTS)],
      join(dir, 'worker.log'),
      {
        // Its own folder as working directory, so reports land in the temp dir, not the checkout.
        cwd: dir,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: server.address,
          SWEEP_DB: dbPath,
          SWEEP_LOCAL_DIR: join(dir, 'local'),
          SWEEP_LOG_LEVEL: 'warn',
        },
      },
    );
    const tw = performance.now();
    await Promise.race([
      waitForPollers(client, 180_000),
      worker.exited.then((why) => Promise.reject(new Error(`worker ${why} before polling:\n${worker?.tail()}`))),
    ]);
    console.log(`worker pid ${worker.proc.pid} polling after ${((performance.now() - tw) / 1000).toFixed(1)} s`);
    // Read-only use alongside the worker (SQLite WAL): the store check after each sweep.
    store = new SqliteStore(dbPath);
    const ctx = { client, address: server.address, dir, worker, store };

    const outcomes: Outcome[] = [];
    const plan = [
      ...Array.from({ length: SWEEPS }, (_, i) => ({
        name: `soak-${String(i + 1).padStart(3, '0')}`,
        n: RUNS,
        deadlineS: DEADLINE_S,
      })),
      ...(BIG ? [{ name: `soak-big-${BIG}`, n: BIG, deadlineS: BIG_DEADLINE_S }] : []),
    ];
    const tAll = performance.now();
    for (const [i, p] of plan.entries()) {
      const o = await runSweep(ctx, p.name, p.n, p.deadlineS);
      outcomes.push(o);
      console.log(line(i + 1, plan.length, o, worker.memory('VmRSS')));
      if (o.error) {
        console.log(o.error);
        break; // a hung or failed sweep: stop here with its diagnosis
      }
    }
    const allWall = (performance.now() - tAll) / 1000;
    const peak = worker.memory('VmHWM');

    const small = outcomes.filter((o) => !o.name.startsWith('soak-big-'));
    const big = outcomes.find((o) => o.name.startsWith('soak-big-'));
    const totalRuns = plan.reduce((a, p) => a + p.n, 0);
    const succeeded = outcomes.reduce((a, o) => a + o.succeeded, 0);
    const failed = outcomes.reduce((a, o) => a + o.failed, 0);
    const sumWall = outcomes.reduce((a, o) => a + o.wallS, 0);
    const smallWalls = small
      .filter((o) => !o.error)
      .map((o) => o.wallS)
      .sort((a, b) => a - b);
    const pct = (q: number) => smallWalls[Math.min(smallWalls.length - 1, Math.floor(q * smallWalls.length))] ?? NaN;
    const completed = outcomes.filter(ok).length;
    const warnings = serverWarnings(serverLog);
    const pass = completed === plan.length && succeeded === totalRuns && failed === 0 && warnings.length === 0;
    console.log(
      [
        '',
        `sweeps completed: ${completed}/${plan.length} (${small.filter(ok).length}/${SWEEPS} of ${RUNS} runs${BIG ? `, ${big && ok(big) ? 1 : 0}/1 of ${BIG}` : ''})`,
        `runs succeeded: ${succeeded}/${totalRuns}, failures: ${failed}`,
        `runs/s overall: ${(succeeded / sumWall).toFixed(1)} (${succeeded} runs in ${sumWall.toFixed(1)} s of sweep wall time; ${allWall.toFixed(1)} s end to end)`,
        smallWalls.length
          ? `${RUNS}-run sweeps: wall median ${pct(0.5).toFixed(1)} s, p90 ${pct(0.9).toFixed(1)} s, max ${smallWalls[smallWalls.length - 1].toFixed(1)} s; ` +
            `runs/s ${(small.reduce((a, o) => a + o.succeeded, 0) / small.reduce((a, o) => a + o.wallS, 0)).toFixed(1)}`
          : '',
        big
          ? `${BIG}-run sweep: wall ${big.wallS.toFixed(1)} s, ${(big.succeeded / big.wallS).toFixed(1)} runs/s, ${big.succeeded}/${BIG} succeeded`
          : '',
        `worker peak RSS (VmHWM of pid ${worker.proc.pid}): ${mib(peak)}`,
        `server log: ${warnings.length} size or limit warnings${warnings.length ? `, the first:\n  ${warnings.slice(0, 3).join('\n  ')}` : ''}`,
        `result: ${pass ? 'PASS: every sweep completed, every run succeeded' : 'FAIL'}`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
    if (!pass) {
      keepDir = true;
      console.log(`worker log kept: ${worker.logFile}`);
    }
    return pass ? 0 : 1;
  } catch (err) {
    keepDir = true;
    console.error(`soak aborted: ${err instanceof Error ? err.message : String(err)}`);
    if (worker) console.error(`worker log kept: ${worker.logFile}`);
    return 1;
  } finally {
    await cleanup();
  }
}

process.exit(await main());
