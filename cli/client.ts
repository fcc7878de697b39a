import { Client, Connection } from '@temporalio/client';
import { connectWithRetry } from '../worker/connect';
import { connectionOptions, temporalSettings, type TemporalSettings } from '../worker/settings';

/**
 * A client for the configured server, waiting briefly for one that is still starting. The
 * caller's first call should go through `retrying` too: a dev server answers the connection
 * check before its shards are up (`14 UNAVAILABLE: shard status unknown`).
 */
export async function connectClient(settings: TemporalSettings = temporalSettings()): Promise<Client> {
  const connection = await connectWithRetry(settings, () => Connection.connect({ ...connectionOptions(settings), connectTimeout: '3s' }));
  return new Client({ connection, namespace: settings.namespace });
}

/** `fn` retried on transient errors for a few seconds (see connectWithRetry). */
export function retrying<T>(fn: () => Promise<T>, settings: TemporalSettings = temporalSettings()): Promise<T> {
  return connectWithRetry(settings, fn);
}

/** Links into the Web UI: the sweep, and its runs filtered by state. */
export function uiLinks(settings: TemporalSettings, sweepId: string, state?: string) {
  const base = `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows`;
  const query = `SweepId="${sweepId}"${state ? ` AND RunState="${state}"` : ''} AND WorkflowType="sweepRun"`;
  return {
    sweep: `${base}/${encodeURIComponent(sweepId)}`,
    runs: `${base}?query=${encodeURIComponent(query)}`,
  };
}
