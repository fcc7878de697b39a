import { resolve } from 'node:path';
import { SqliteStore } from './sqlite';
import type { ResultsStore, StoreOptions } from './types';

/** Default embedded store location (relative to the working directory). */
export const DEFAULT_SQLITE_PATH = '.sweep/results.db';

/**
 * Open the store `SWEEP_DB` names: `postgres://...` for a shared Postgres, a file path (or
 * `sqlite:path`) for SQLite. Default: `.sweep/results.db`.
 */
export async function openStore(
  url: string | undefined = process.env.SWEEP_DB,
  options: StoreOptions = {},
): Promise<ResultsStore> {
  const target = url && url.length > 0 ? url : DEFAULT_SQLITE_PATH;
  if (/^postgres(ql)?:\/\//.test(target)) {
    const { PostgresStore } = await import('./postgres');
    return PostgresStore.open(target, options);
  }
  const file = target.startsWith('sqlite:') ? target.slice('sqlite:'.length) : target;
  return SqliteStore.open(file === ':memory:' ? file : resolve(file), options);
}
