// Pure, deterministic parts of the spec, safe to import from workflow code (no node:fs here).
export * from './sweepSpec';
export * from './fitSpec';
export * from './failure';
export * from './duration';
export * from './result';
export * from './grid';
export * from './compute';
export * from './architectures';
export { canonicalJson, shortHash, mulberry32 } from './hash';
export * from './retry';
export * from './identity';
export * from './stages';
