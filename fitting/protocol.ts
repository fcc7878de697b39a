/** Messages between the fit pool and its worker threads (plain, structured-clone friendly). */
import type { FitData } from '../scaling/objective';
import type { SearchOptions } from '../scaling/multistart';

export type FitTask =
  | { kind: 'starts'; data: FitData; starts: number[][]; search: SearchOptions }
  | { kind: 'resamples'; data: FitData; seed: number; from: number; to: number; starts: number[][]; search: SearchOptions };

export type FitTaskResult =
  | { kind: 'starts'; finals: Float64Array; losses: Float64Array; evaluations: number }
  | { kind: 'resamples'; fits: { x: number[]; f: number }[] };

export interface TaskMessage {
  id: number;
  task: FitTask;
}

export type ReplyMessage = { id: number; ok: true; result: FitTaskResult } | { id: number; ok: false; error: string };
