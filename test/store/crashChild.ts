/**
 * TEST ONLY: the process the crash-injection tests SIGKILL in the middle of a store transaction.
 *
 * Opens the store SWEEP_CRASH_STORE names (as a worker would, through openStore), then calls
 * `launchAttempt` or `finishAttempt` (SWEEP_CRASH_CALL) with the rows in SWEEP_CRASH_ROWS (JSON).
 * When the store's test hook reports the write named by SWEEP_CRASH_AFTER, the process kills
 * itself with SIGKILL: no handler, no rollback, no close, as `kill -9` of a worker. With
 * SWEEP_CRASH_AFTER=never it finishes and exits 0 (the control run).
 */
import { openStore } from '../../store/open';
import type { AttemptEnd, AttemptStart, AttemptWrite } from '../../store/types';

const url = process.env.SWEEP_CRASH_STORE;
const call = process.env.SWEEP_CRASH_CALL;
const after = process.env.SWEEP_CRASH_AFTER as AttemptWrite | 'never' | undefined;
const rows = process.env.SWEEP_CRASH_ROWS;
if (!url || !rows || (call !== 'launch' && call !== 'finish') || !after) {
  process.stderr.write('crashChild: set SWEEP_CRASH_STORE, SWEEP_CRASH_CALL, SWEEP_CRASH_AFTER and SWEEP_CRASH_ROWS\n');
  process.exit(2);
}

const store = await openStore(url, {
  testHooks: {
    betweenWrites: (written) => {
      if (written === after) process.kill(process.pid, 'SIGKILL');
    },
  },
});
if (call === 'launch') await store.launchAttempt(JSON.parse(rows) as AttemptStart);
else await store.finishAttempt(JSON.parse(rows) as AttemptEnd);
await store.close();
process.exit(0);
