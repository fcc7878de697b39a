// Runtime around the pure engine: worker pool, parallel fits, CSV file reading.
export { FitPool } from './pool';
export { fitDatasetParallel, type ParallelFitOptions } from './parallel';
export { readCsvFile, DEFAULT_PAPER_CSV, REPO_ROOT } from './readCsv';
