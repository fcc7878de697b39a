import { bundleWorkflowCode } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './settings';

// Everything the workflow code imports at run time (the contract's signal, query and search-attribute definitions too).
const SOURCES = ['workflows', 'spec', 'contract'];

function hashSources(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) h.update(p).update(readFileSync(p));
    }
  };
  for (const s of SOURCES) walk(join(REPO_ROOT, s));
  h.update(readFileSync(join(REPO_ROOT, 'node_modules/@temporalio/workflow/package.json')));
  return h.digest('hex').slice(0, 16);
}

/**
 * The workflow bundle, built once per source version and cached on disk: worker restarts
 * (crash recovery, tests) then start in well under a second instead of re-running webpack.
 */
export async function workflowBundlePath(): Promise<string> {
  const dir = join(REPO_ROOT, '.sweep/bundles');
  const file = join(dir, `workflows-${hashSources()}.js`);
  if (existsSync(file)) return file;
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(REPO_ROOT, 'workflows/index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m) => console.error(m), log() {} },
  });
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, file);
  return file;
}
