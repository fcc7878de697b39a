import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createServer } from 'node:net';
import { SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { temporalCliPath } from './settings';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServerOptions {
  ui?: boolean;
  port?: number;
  uiPort?: number;
  /** Extra `temporal server start-dev` flags, e.g. dynamic config values. */
  extraArgs?: string[];
  /** Register our search attributes (default true). */
  searchAttributes?: boolean;
}

/**
 * A Temporal dev server from the local Temporal CLI (the SDK's own download cannot reach the
 * internet here), with our search attributes registered and, if asked, the Web UI.
 */
export async function startDevServer(opts: DevServerOptions = {}) {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.ui ? (opts.uiPort ?? (await freePort())) : undefined;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      port,
      ui: !!opts.ui,
      uiPort,
      searchAttributes: opts.searchAttributes === false ? [] : SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error', ...(opts.extraArgs ?? [])],
    },
  });
  return { env, address: `127.0.0.1:${port}`, uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined };
}
