/**
 * Issue 8 item 6: mTLS really happens, configured only by the README's TEMPORAL_TLS_* variables.
 * A real dev server behind a TLS frontend that requires a client certificate of the test CA (see
 * helpers/tls.ts: start-dev has no TLS flags); the server certificate names only `temporal.test`,
 * so TEMPORAL_TLS_SERVER_NAME must reach the SDK too. Before the fix the settings passed
 * `{clientCertPath, clientKeyPath}`, which the SDK ignores: every connection here was refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connectClient } from '../../cli/client';
import { startDevServer } from '../../worker/devServer';
import { connectWithRetry } from '../../worker/connect';
import { connectionOptions, REPO_ROOT, temporalSettings } from '../../worker/settings';
import { sweepCli } from './helpers/cli';
import { waitFor } from './helpers/harness';
import { makeTestCerts, startMtlsProxy, type MtlsProxy, type TestCerts } from './helpers/tls';

let dir: string;
let certs: TestCerts;
let server: Awaited<ReturnType<typeof startDevServer>>;
let proxy: MtlsProxy;
let worker: ChildProcess | undefined;

/** The test runner's environment without any TEMPORAL_* setting of its own. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('TEMPORAL_') && k !== 'TEMPORAL_CLI') delete env[k];
  return env;
}

/** Only the README's variables: address, CA, client pair, server name. */
const tlsEnv = (over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...cleanEnv(),
  TEMPORAL_ADDRESS: proxy.address,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
  TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
  TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
  TEMPORAL_TLS_SERVER_NAME: certs.serverName,
  SWEEP_DB: join(dir, 'results.db'),
  SWEEP_LOCAL_DIR: join(dir, 'local'),
  ...over,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sweep-mtls-'));
  certs = makeTestCerts(dir);
  server = await startDevServer();
  proxy = await startMtlsProxy(server.address, certs);
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (worker.exitCode === null) worker.kill('SIGKILL');
  }
  await proxy?.stop();
  await server?.env.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mTLS from TEMPORAL_TLS_* only', () => {
  it('the sweep client connects with its client certificate and describes the namespace', async () => {
    const before = proxy.authorizedClients.length;
    const client = await connectClient(temporalSettings(tlsEnv()));
    try {
      const ns = await client.workflowService.describeNamespace({ namespace: 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
    } finally {
      await client.connection.close();
    }
    expect(proxy.authorizedClients.slice(before)).toContain('sweep-client');
  });

  it('the same server refuses a client without a certificate, or with one the CA did not sign', async () => {
    const refusedBefore = proxy.refused;
    const noCert = tlsEnv({ TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' });
    await expect(connectClient(temporalSettings(noCert))).rejects.toThrow(/cannot reach Temporal at 127\.0\.0\.1:\d+/);
    // The worker's connection (Rust core): a certificate the CA did not sign is refused (the alert, or a
    // closed stream, depending on TLS 1.3 timing) without waiting out the retries, and said so.
    const stranger = temporalSettings(tlsEnv({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.strangerCert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.strangerKey }));
    const t0 = Date.now();
    await expect(connectWithRetry(stranger, () => NativeConnection.connect(connectionOptions(stranger)))).rejects.toThrow(
      /cannot reach Temporal at 127\.0\.0\.1:\d+ \(namespace default\): .*TLS.*TLS is on \(TEMPORAL_TLS_\* or TEMPORAL_API_KEY set\)/s,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(proxy.refused).toBeGreaterThanOrEqual(refusedBefore + 2);
  }, 60_000);

  it('a missing certificate file is an error naming its variable, from the CLI, exit 1', async () => {
    const r = await sweepCli(['status', 'nothing'], tlsEnv({ TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'no-such.key') }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`TEMPORAL_TLS_CLIENT_KEY_PATH=${join(dir, 'no-such.key')}: cannot read it (ENOENT)`);
  });

  it('`sweep worker` and `sweep start --watch` run a sweep over mTLS', async () => {
    const before = proxy.authorizedClients.length;
    worker = spawn(process.execPath, [resolve(REPO_ROOT, 'bin/sweep.js'), 'worker', '--executor', 'local', '--slots', '2'], {
      env: tlsEnv(),
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let workerErr = '';
    worker.stderr!.setEncoding('utf8').on('data', (d: string) => (workerErr += d));
    worker.stdout!.resume();
    const specFile = join(dir, 'mtls.yaml');
    writeFileSync(
      specFile,
      stringify({
        name: 'mtls',
        grid: { x: [1, 2, 4] },
        job: { image: 'unused:local', command: ['node', 'sim/sleepJob.mjs', '--seconds=0'], resources: { gpus: 1 } },
        executor: { kind: 'local' },
        metrics: ['score'],
      }),
    );
    // The worker's pollers (rustls, in the Rust core) must be through the TLS frontend first.
    await waitFor(
      'the worker connected over mTLS',
      () => {
        if (worker!.exitCode !== null) throw new Error(`worker exited ${worker!.exitCode}: ${workerErr}`);
        return proxy.authorizedClients.length >= before + 2;
      },
      { timeoutMs: 60_000 },
    );
    const r = await sweepCli(['start', specFile, '--watch'], tlsEnv(), 120_000);
    expect(r.code, `${r.stdout}\n${r.stderr}\n${workerErr}`).toBe(0);
    expect(r.stdout).toContain('sweep completed');
    const status = await sweepCli(['status', 'mtls', '--json'], tlsEnv());
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { status: string; byState: Record<string, number> };
    expect(s.status).toBe('COMPLETED');
    expect(s.byState).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0, cancelled: 0 });
    expect(worker.exitCode).toBeNull();
    expect(proxy.authorizedClients.filter((cn) => cn === 'sweep-client').length).toBeGreaterThanOrEqual(4);
  }, 180_000);
});
