// Worker entry: workers do not inherit the parent's tsx loader (bin/sweep.js registers it in
// process, not via execArgv), so register it here before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
