/**
 * A workflow interceptor for tests (bundled with the workflows by `heldRunSignals.test.ts`): a run
 * of a sweep named `held-signal-*` holds the runFinished signal of a failure until the test sends
 * it `testRelease`; a run of a sweep named `held-close-*` sends it, then stays open until released.
 * So the test opens, at will, the window between a failure reaching the store and reaching the
 * sweep, or between a run's signal and its close. Every other workflow is left alone.
 */
import { condition, defineSignal, setHandler, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const testReleaseSignal = defineSignal('testRelease');

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      async signalWorkflow(input, next) {
        const info = workflowInfo();
        const ev = input.args[0] as { state?: string } | undefined;
        const held = info.workflowType === 'sweepRun' && input.signalName === 'runFinished' && ev?.state === 'failed';
        const signal = held && info.workflowId.startsWith('sweep/held-signal');
        const close = held && info.workflowId.startsWith('sweep/held-close');
        if (!signal && !close) return next(input);
        let released = false;
        setHandler(testReleaseSignal, () => {
          released = true;
        });
        if (signal) await condition(() => released);
        await next(input);
        if (close) await condition(() => released);
      },
    },
  ],
});
