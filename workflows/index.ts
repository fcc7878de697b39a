// The workflows the worker registers (bundled; deterministic code only).
export { sweep } from './sweep';
export { sweepRun } from './sweepRun';
