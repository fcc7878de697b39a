import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime } from '@temporalio/worker';

// Keep test output readable: worker state changes and expected run failures are not news.
Runtime.install({ logger: new DefaultLogger('ERROR') });

// scripts/setup.sh installs kubectl here when the machine has none (Debian has no kubectl package).
const toolsKubectl = fileURLToPath(new URL('../.tools/kubectl/bin', import.meta.url));
if (existsSync(toolsKubectl) && !(process.env.PATH ?? '').split(delimiter).includes(toolsKubectl)) {
  process.env.PATH = `${toolsKubectl}${delimiter}${process.env.PATH ?? ''}`;
}

// Executors built without a checkpoint root write run checkpoints to a temp dir, never the repo's .sweep/.
process.env.SWEEP_CHECKPOINT_ROOT ??= mkdtempSync(join(tmpdir(), 'sweep-ckpt-'));
