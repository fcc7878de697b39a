import { existsSync } from 'node:fs';
import { describePlan, planResubmission } from '../activities/resubmission';
import { expandGrid, type SweepSpec } from '../spec';
import { DEFAULT_SQLITE_PATH, openStore } from '../store/open';

/** A store URL fit to print: a Postgres password never reaches the terminal. */
export const redactedStore = (url: string) => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

/**
 * What submitting this spec would reuse and rerun, from the results store `SWEEP_DB` names (the
 * worker's, when both run here), without creating a store that does not exist yet.
 */
export async function previewResubmission(spec: SweepSpec): Promise<string | undefined> {
  const url = process.env.SWEEP_DB || DEFAULT_SQLITE_PATH;
  const sqlite = !/^postgres(ql)?:\/\//.test(url);
  if (sqlite && !existsSync(url.replace(/^sqlite:/, ''))) return undefined;
  let store;
  try {
    store = await openStore(url);
  } catch {
    return undefined; // the store is the worker's business; the preview is only a courtesy
  }
  try {
    const plan = await planResubmission(store, spec);
    return `${describePlan(plan, expandGrid(spec).length)} (results store ${redactedStore(url)})`;
  } finally {
    await store.close();
  }
}
