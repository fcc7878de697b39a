/** Execute one pool task; used by the worker thread and by the in-process fallback alike. */
import { HuberLseObjective } from '../scaling/objective';
import { runStarts } from '../scaling/multistart';
import { fitResample } from '../scaling/fit';
import type { FitTask, FitTaskResult } from './protocol';

export function runTask(task: FitTask): FitTaskResult {
  if (task.kind === 'starts') {
    const obj = new HuberLseObjective(task.data);
    const out = runStarts(obj, task.starts, task.search);
    return { kind: 'starts', finals: out.finals, losses: out.losses, evaluations: out.evaluations };
  }
  const fits: { x: number[]; f: number }[] = [];
  for (let b = task.from; b < task.to; b++) fits.push(fitResample(task.data, task.seed, b, task.starts, task.search));
  return { kind: 'resamples', fits };
}
