/**
 * Issue 12 item 3, worker side: `sweep worker` with SWEEP_WORKER_VERSIONING=1 joins a Worker
 * Deployment (SWEEP_DEPLOYMENT_NAME, build SWEEP_BUILD_ID) on the local dev server; once
 * `temporal worker deployment set-current-version` makes it current, a sweep runs on it and its
 * workflows carry that version. Then the rollout of k8s/README.md: a second build alongside, made
 * current, takes the next sweep while the first build is reported draining or drained.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startDevServer } from '../../worker/devServer';
import { REPO_ROOT } from '../../worker/settings';
import { sweepCli, temporalCli, temporalOk } from './helpers/cli';

const DEPLOYMENT = 'sweep-vtest';
const work = mkdtempSync(join(tmpdir(), 'sweep-versioning-'));
let env: TestWorkflowEnvironment;
let conn: { address: string; namespace: string };
let childEnv: NodeJS.ProcessEnv;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  const server = await startDevServer();
  env = server.env;
  conn = { address: server.address, namespace: 'default' };
  childEnv = { ...process.env, TEMPORAL_ADDRESS: server.address, SWEEP_DB: join(work, 'results.db'), SWEEP_LOCAL_DIR: join(work, 'local') };
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await env?.teardown();
  rmSync(work, { recursive: true, force: true });
});

function startWorker(buildId: string): { out: () => string } {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'bin/sweep.js'), 'worker'], {
    cwd: REPO_ROOT,
    env: { ...childEnv, SWEEP_LOG_LEVEL: 'info', SWEEP_WORKER_VERSIONING: '1', SWEEP_DEPLOYMENT_NAME: DEPLOYMENT, SWEEP_BUILD_ID: buildId },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
  return { out: () => text };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `temporal worker deployment describe -o json` (CLI 1.9). */
interface DeploymentJson {
  routingConfig?: { currentVersionDeploymentName?: string; currentVersionBuildID?: string };
  versionSummaries?: { deploymentName?: string; BuildID?: string; drainageStatus?: string }[];
}

const describeDeployment = async (): Promise<DeploymentJson | undefined> => {
  const r = await temporalCli(conn, ['worker', 'deployment', 'describe', '--name', DEPLOYMENT, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as DeploymentJson) : undefined;
};
const buildIds = (d: DeploymentJson | undefined) => (d?.versionSummaries ?? []).map((v) => v.BuildID);

interface VersioningInfo {
  behavior?: string;
  deploymentVersion?: { buildId?: string; deploymentName?: string };
}
const versioningOf = async (workflowId: string): Promise<VersioningInfo | undefined> =>
  (JSON.parse(await temporalOk(conn, ['workflow', 'describe', '--workflow-id', workflowId, '-o', 'json'])) as {
    workflowExecutionInfo?: { versioningInfo?: VersioningInfo };
  }).workflowExecutionInfo?.versioningInfo;

function specFile(name: string, opts: { runs?: number; seconds?: number; maxRuns?: number } = {}): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      name,
      grid: { x: Array.from({ length: opts.runs ?? 3 }, (_, i) => i + 1) },
      job: { command: ['node', resolve(REPO_ROOT, 'sim/sleepJob.mjs'), `--seconds=${opts.seconds ?? 0}`], resources: { gpus: 0 } },
      concurrency: { maxRuns: opts.maxRuns ?? 3 },
      retry: { maxAttempts: 1 },
      metrics: ['score'],
    }),
  );
  return file;
}

async function runSweep(name: string): Promise<void> {
  const r = await sweepCli(['start', specFile(name), '--watch'], childEnv, 120_000);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain('sweep completed');
}

describe('Worker Versioning on the local dev server', () => {
  it('a versioned worker made current runs a sweep; a new build made current takes the next one', async () => {
    const w1 = startWorker('build-1');
    // The version exists once the worker polls.
    await until('build-1 in the deployment', async () => (buildIds(await describeDeployment()).includes('build-1') ? true : undefined));
    expect(w1.out()).toContain('"buildId":"build-1"');
    await temporalOk(conn, ['worker', 'deployment', 'set-current-version', '--deployment-name', DEPLOYMENT, '--build-id', 'build-1', '--yes']);
    expect((await describeDeployment())?.routingConfig).toMatchObject({ currentVersionDeploymentName: DEPLOYMENT, currentVersionBuildID: 'build-1' });

    await runSweep('vone');
    expect((await versioningOf('sweep/vone'))?.deploymentVersion).toEqual({ deploymentName: DEPLOYMENT, buildId: 'build-1' });
    const runs = JSON.parse(
      await temporalOk(conn, ['workflow', 'list', '--query', 'WorkflowType="sweepRun" AND SweepId="sweep/vone"', '-o', 'json']),
    ) as { execution: { workflowId: string } }[];
    expect(runs).toHaveLength(3);
    for (const r of runs) {
      const v = await versioningOf(r.execution.workflowId);
      expect(v?.deploymentVersion?.buildId).toBe('build-1');
      expect(v?.behavior).toBe('VERSIONING_BEHAVIOR_PINNED'); // a run never changes code mid-attempt
    }

    // The rollout: the new build alongside, made current; the next sweep runs on it.
    startWorker('build-2');
    await until('build-2 in the deployment', async () => (buildIds(await describeDeployment()).includes('build-2') ? true : undefined));
    await temporalOk(conn, ['worker', 'deployment', 'set-current-version', '--deployment-name', DEPLOYMENT, '--build-id', 'build-2', '--yes']);
    await runSweep('vtwo');
    expect((await versioningOf('sweep/vtwo'))?.deploymentVersion).toEqual({ deploymentName: DEPLOYMENT, buildId: 'build-2' });
    expect((await describeDeployment())?.routingConfig).toMatchObject({ currentVersionBuildID: 'build-2' });
    // The old build is no longer current: `describe-version` reports how far it has drained.
    const old = await temporalOk(conn, ['worker', 'deployment', 'describe-version', '--deployment-name', DEPLOYMENT, '--build-id', 'build-1']);
    expect(old).toMatch(/DrainageStatus\s+(draining|drained)/);
  }, 240_000);

  it('a sweep running when a new build is made current moves to it at continue-as-new; its runs stay pinned', async () => {
    // Roll back to build-1 (both builds' workers still run), start a sweep there, then make build-2 current mid-sweep.
    await temporalOk(conn, ['worker', 'deployment', 'set-current-version', '--deployment-name', DEPLOYMENT, '--build-id', 'build-1', '--yes']);
    const started = await sweepCli(['start', specFile('vmove', { runs: 6, seconds: 2, maxRuns: 1 })], childEnv, 60_000);
    expect(started.code, started.stdout + started.stderr).toBe(0);
    await until('the first run of vmove to finish on build-1', async () => {
      const r = await temporalCli(conn, ['workflow', 'count', '--query', 'WorkflowType="sweepRun" AND SweepId="sweep/vmove" AND ExecutionStatus="Completed"']);
      return /Total:\s*[1-9]/.test(r.stdout) ? true : undefined;
    });
    expect((await versioningOf('sweep/vmove'))?.deploymentVersion?.buildId).toBe('build-1');
    await temporalOk(conn, ['worker', 'deployment', 'set-current-version', '--deployment-name', DEPLOYMENT, '--build-id', 'build-2', '--yes']);
    const watched = await sweepCli(['watch', 'vmove'], childEnv, 120_000);
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);

    // The last execution runs on build-2; it got there by continuing as new from build-1.
    expect((await versioningOf('sweep/vmove'))?.deploymentVersion?.buildId).toBe('build-2');
    const executions = JSON.parse(
      await temporalOk(conn, ['workflow', 'list', '--query', 'WorkflowId="sweep/vmove"', '-o', 'json']),
    ) as { status: string }[];
    expect(executions.length).toBeGreaterThanOrEqual(2);
    expect(executions.filter((e) => /CONTINUED_AS_NEW/.test(String(e.status))).length).toBeGreaterThanOrEqual(1);
    // Runs started before the switch finished on build-1 (pinned), the rest on build-2.
    const runs = JSON.parse(
      await temporalOk(conn, ['workflow', 'list', '--query', 'WorkflowType="sweepRun" AND SweepId="sweep/vmove"', '-o', 'json']),
    ) as { execution: { workflowId: string } }[];
    expect(runs).toHaveLength(6);
    const builds = await Promise.all(runs.map(async (r) => (await versioningOf(r.execution.workflowId))?.deploymentVersion?.buildId));
    expect(builds).toContain('build-1');
    expect(builds).toContain('build-2');
  }, 240_000);
});
