/**
 * Issue 14 acceptance: `sweep dev` keeps its sweeps across a restart. It starts as a child
 * process (free ports, a temp state folder); a sweep is started with the `sweep start` line it
 * prints; SIGINT stops it mid-sweep (worker, then server: the port is free afterwards); started
 * again it says it resumes the sweep, which completes with every run recorded and launched once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { expandGrid, SweepSpecSchema, type SweepSpecInput } from '../../spec';
import { SqliteStore } from '../../store/sqlite';
import { probeTcp } from '../../worker/connect';
import { freePort } from '../../worker/devServer';
import { REPO_ROOT } from '../../worker/settings';
import { sweepCli } from '../integration/helpers/cli';
import { attemptKeys, launchKeys, readLaunches } from '../integration/helpers/launchLog';

const work = mkdtempSync(join(tmpdir(), 'sweep-dev-'));
const state = join(work, 'state');
const launchLog = join(work, 'launches.jsonl');
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const SPEC: SweepSpecInput = {
  name: 'devloop',
  description: 'sweep dev survives a restart',
  grid: { x: [1, 2, 3, 4, 5, 6] },
  job: { command: ['node', resolve(REPO_ROOT, 'sim/sleepJob.mjs'), '--seconds=4'], resources: { gpus: 0 } },
  executor: { kind: 'local' },
  concurrency: { maxRuns: 2 },
  retry: { maxAttempts: 2, backoff: { initial: '1s', max: '1s' } },
  metrics: ['score'],
};
const RUN_IDS = expandGrid(SweepSpecSchema.parse(SPEC)).map((c) => c.runId);

interface Dev {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function startDev(args: string[]): Dev {
  const env: NodeJS.ProcessEnv = { ...process.env, SWEEP_LAUNCH_LOG: launchLog };
  // Whatever the machine has set must not pick another server, store or folder.
  for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_UI_URL', 'SWEEP_DB', 'SWEEP_STATE_DIR', 'SWEEP_LOCAL_DIR', 'SWEEP_CHECKPOINT_ROOT']) delete env[k];
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'bin/sweep.js'), 'dev', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => text, exit };
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms: number, context = () => ''): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function storeRuns() {
  const store = await SqliteStore.open(join(state, 'results.db'));
  try {
    return { runs: await store.listRuns('devloop'), results: await store.listResults('devloop') };
  } finally {
    await store.close();
  }
}

describe('sweep dev', () => {
  it('resumes an unfinished sweep after SIGINT, and it completes with every run recorded once', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const args = ['--port', String(port), '--ui-port', String(uiPort), '--state-dir', state];
    const first = startDev(args);
    await until('the first `sweep dev` to be ready', () => /^ready: /m.test(first.out()) || undefined, 120_000, first.out);
    expect(first.out()).toContain(`starting a Temporal dev server at 127.0.0.1:${port}`);
    expect(first.out()).toContain(`Web UI:   http://127.0.0.1:${uiPort}/namespaces/default/workflows`);
    expect(first.out()).toContain('no unfinished sweeps');
    expect(first.out()).toMatch(new RegExp(`temporal workflow start --address 127\\.0\\.0\\.1:${port} --type sweep --task-queue scaling-sweeps --workflow-id sweep/demo --input-file demo\\.json`));

    // The printed `sweep start` line, with our spec in place of the example.
    const line = /^ {2}(.*)npx sweep start configs\/demo\.yaml --watch$/m.exec(first.out());
    expect(line, first.out()).not.toBeNull();
    const printedEnv = Object.fromEntries(line![1].trim().split(/\s+/).filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
    expect(printedEnv).toEqual({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      SWEEP_DB: join(state, 'results.db'),
      TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
    });
    const specFile = join(work, 'devloop.yaml');
    writeFileSync(specFile, stringify(SPEC));
    const started = await sweepCli(['start', specFile], { ...process.env, ...printedEnv });
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain('started sweep/devloop');

    // Mid-sweep: a run done and a job running.
    const inFlight = await until(
      'a first run to succeed while another one runs',
      async () => {
        const done = (await storeRuns()).results.length;
        const running = readLaunches(launchLog).length - done;
        return done >= 1 && running >= 1 ? running : undefined;
      },
      60_000,
      first.out,
    );
    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);
    expect(first.out()).toContain('worker stopped');
    expect(first.out()).toContain('dev server stopped');
    expect(await probeTcp(`127.0.0.1:${port}`)).toBe('refused'); // the server went with it
    const atStop = await storeRuns();
    expect(atStop.results.length).toBeGreaterThanOrEqual(1);
    expect(atStop.results.length).toBeLessThan(RUN_IDS.length);
    expect(inFlight).toBeGreaterThanOrEqual(1); // a job was running when the worker stopped

    const second = startDev(args);
    await until('the second `sweep dev` to be ready', () => /^ready: /m.test(second.out()) || undefined, 120_000, second.out);
    expect(second.out()).toContain('resuming 1 unfinished sweep(s): sweep/devloop');
    const watched = await sweepCli(['watch', 'devloop'], { ...process.env, ...printedEnv }, 120_000);
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);
    expect(watched.stdout).toContain('sweep completed');

    const end = await storeRuns();
    expect(end.runs.map((r) => [r.runId, r.state, r.attempts]).sort()).toEqual(RUN_IDS.map((id) => [id, 'succeeded', 1]).sort());
    expect(end.results.map((r) => r.runId).sort()).toEqual([...RUN_IDS].sort());
    // Each run's job was started once: the ones running at the stop were re-attached, not relaunched.
    expect(launchKeys(readLaunches(launchLog))).toEqual(attemptKeys(RUN_IDS));

    // A name that does not exist says so and lists the sweeps the store knows (status: describe; pause: a signal).
    for (const cmd of ['status', 'pause']) {
      const r = await sweepCli([cmd, 'devlop'], { ...process.env, ...printedEnv });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(
        `error: no sweep "devlop" (workflow sweep/devlop) on Temporal at 127.0.0.1:${port} (namespace default). ` +
          `Sweeps the results store (SWEEP_DB=${join(state, 'results.db')}) knows: devloop\n`,
      );
    }

    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    expect(await probeTcp(`127.0.0.1:${port}`)).toBe('refused');
  }, 300_000);
});
