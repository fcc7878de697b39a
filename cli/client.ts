import { Client, Connection } from '@temporalio/client';
import { temporalSettings, type TemporalSettings } from '../worker/settings';

export async function connectClient(settings: TemporalSettings = temporalSettings()): Promise<Client> {
  try {
    const connection = await Connection.connect({
      address: settings.address,
      apiKey: settings.apiKey,
      tls: settings.tls as never,
      connectTimeout: '5s',
    });
    return new Client({ connection, namespace: settings.namespace });
  } catch (e) {
    throw new Error(
      `cannot reach Temporal at ${settings.address} (${(e as Error).message}). ` +
        'Set TEMPORAL_ADDRESS, or start a dev server (`npm run demo` starts one).',
    );
  }
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
