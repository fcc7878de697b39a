import { existsSync } from 'node:fs';
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
