/**
 * Scaling-law engine (pure: no I/O, no threads, no Temporal; imports nothing of ours).
 *
 * Main entry points
 *
 *   fitDataset(rows: readonly LongRow[], config: FitConfig, opts?: FitOptions): FitResult
 *     Synchronous, in-process. `rows` are long-format records (one per model x metric) with at
 *     least model_id, arch, arch_family, dataset, region, score, n_params, n_samples_seen,
 *     total_flops, samples_per_class; cells may be strings (CSV) or numbers/booleans; the boolean
 *     filter columns (is_pretrained, ...) may be absent (= False). `config` is a FitSpec
 *     (spec/fitSpec.ts) or any object of the FitConfig shape. Options:
 *       bootstrap?: number      resamples (default: config.bootstrap)
 *       seed?: number           bootstrap seed (default: config.seed)
 *       exhaustive?: boolean    run the whole init grid on every resample (reference procedure)
 *       warmStart?: FitResult | Record<string, number>
 *                               restart from a previous fit (its lse_params and search.basins)
 *                               instead of the grid: the live refit (~ms for 1,000 points)
 *       verify?: number         refit this many resamples from the whole grid as a check of the
 *                               reduced starts (result.bootstrap.verified; a warning if any differ)
 *       keepPoints?, keepSamples?, columns?, rowLabel?
 *     Throws FitInputError (with .column / .row) on bad input; excluded NaN rows are counted in
 *     result.warnings.
 *
 *   fitDatasetParallel (fitting/parallel.ts) is the same computation on worker threads (async);
 *   use it for 1,000-resample analyses. Both give identical results for the same seed.
 *
 *       onProgress?(done, total, phase: 'starts' | 'bootstrap')
 *
 *   For the report (all pure):
 *   predict(fit, xs: number[][], level = 0.95) -> { x, y, score, lo?, hi? }[]
 *                               curve at unscaled x with the bootstrap band on the score
 *                               (needs fit.bootstrap.lse_samples, kept by default)
 *   predictY(fit, lse, rawX)    predicted y (misalignment) for any LSE parameter vector
 *   logSpace(lo, hi, n)         x grid for curves
 *   computeOptimalFrontier(fit, budgets) -> { C, N, D, y, score }[]
 *                               compute-optimal (N, D) per FLOP budget of a chinchilla fit
 *   parseCsv(text) -> { columns, rows, lines }    the paper's CSV layout, from a string
 *   synthesizeRows({ form, lse, n, seed, noise }) rows drawn from a known law (tests, demos)
 */
export * from './types';
export * from './forms';
export { HuberLseObjective, huber, type FitData, type Objective } from './objective';
export { minimize, minimizeBfgs, minimizeLbfgs, type MinimizeOptions, type MinimizeResult, type MinimizerName } from './optimize';
export { gridStarts, runStarts, polishBest, distinctBasins, type BestFit, type SearchOptions, type StartsOutcome } from './multistart';
export { mulberry32, resampleIndices, resampleCounts, percentile, percentiles } from './bootstrap';
export { computeRecipe, computeFlopsFit, linearRegression, RECIPE_KEYS, type ChinchillaLinear } from './recipe';
export { predict, predictY, logSpace, computeOptimalFrontier, type PredictionPoint, type AllocationPoint } from './predict';
export {
  selectPoints,
  countExclusions,
  describeExclusions,
  FitInputError,
  type LongRow,
  type SelectedPoint,
  type Selection,
  type SelectOptions,
} from './select';
export { parseCsv, CsvError, type ParsedCsv } from './csv';
export {
  normalizeFitConfig,
  DEFAULT_INIT_GRID,
  DEFAULT_SCALERS,
  DEFAULT_GROUP_BY,
  type FitConfig,
  type NormalizedFitConfig,
  type SelectionConfig,
} from './config';
export {
  fitDataset,
  prepareFit,
  fitPoint,
  finishPointFit,
  fitResample,
  resampleStarts,
  mergeOutcomes,
  assembleResult,
  applyVerification,
  verifyIds,
  VERIFY_REL_TOL,
  DEFAULT_MAX_BASINS,
  type Verification,
  type FitOptions,
  type PreparedFit,
  type PointFit,
} from './fit';
export { synthesizeRows, type SyntheticOptions } from './synthetic';
export {
  propose,
  describeTarget,
  studyCostPower,
  minPointsToFit,
  ProposeInputError,
  PROPOSE_LIMITS,
  MIN_ENSEMBLE,
  type ProposeTarget,
  type ProposeInput,
  type ProposeCandidate,
  type ProposeResult,
  type Proposal,
  type ObservedPoint,
} from './propose';
export {
  REPLAY_STRATEGIES,
  replayProblem,
  replayStudy,
  runStrategy,
  strategyOrder,
  fitSubset,
  bootstrapSubset,
  scoreError,
  replayTarget,
  summarize,
  medianCurve,
  fullReference,
  type ReplayStrategy,
  type ReplayObjective,
  type ReplayProblem,
  type ReplayOptions,
  type ReplayOutput,
  type StrategyRun,
  type StrategySummary,
} from './replay';
