/**
 * Test-only workflow interceptors that force the interleaving behind the sweep's lost wake-up:
 * a run's `startChild` resolves only after that run has already reported `runFinished`. So
 * every run the sweep starts in one pass of its loop has finished (signal handled) before the
 * loop gets past `await Promise.all(starts)`, which is what fast or all-failing jobs do by
 * chance. Deterministic: the order is forced by `condition`, not by timing.
 */
import { condition, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => {
  if (workflowInfo().workflowType !== 'sweep') return {};
  // Per execution: the factory runs once for each workflow.
  const finished = new Set<string>();
  return {
    inbound: [
      {
        async handleSignal(input, next) {
          await next(input);
          if (input.signalName === 'runFinished') finished.add((input.args[0] as { runId: string }).runId);
        },
      },
    ],
    outbound: [
      {
        async startChildWorkflowExecution(input, next) {
          const [started, completed] = await next(input);
          const runId = (input.options.workflowId ?? '').split('/').pop() ?? '';
          const late = started.then(async (runIdOfChild) => {
            await condition(() => finished.has(runId));
            return runIdOfChild;
          });
          return [late, completed];
        },
      },
    ],
  };
};
