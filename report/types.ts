import type { FitResult } from '../scaling/types';

/**
 * A precomputed confidence band for a one-variable fit, when the engine has one
 * (pointwise percentiles of the bootstrap curves are better than anything the
 * report can reconstruct from parameter percentiles alone).
 */
export interface FitBand {
  /** x in the data's ORIGINAL units (e.g. total FLOPs, not FLOPs / 1e13), ascending. */
  x: number[];
  /** Pointwise 2.5th / 97.5th percentiles of the fitted target y (1 - score when inverted). */
  lo: number[];
  hi: number[];
}

/**
 * A fit as the report reads it: the engine's FitResult plus optional extras that
 * make the 95% band exact. Band source, best first: `band`, then `bootstrapParams`,
 * then the engine's `bootstrap.lse_samples` (curve evaluated for every bootstrap
 * parameter set, pointwise 2.5/97.5 percentiles), then an approximate envelope over
 * the parameter percentile combinations (marked as such in the caption).
 */
export interface ReportFit extends FitResult {
  band?: FitBand;
  /** One entry per bootstrap resample, LINEAR parameter names (E, A, alpha, lambda, B, beta). */
  bootstrapParams?: Array<Record<string, number>>;
}

/** One row of the sweep's run table. */
export interface ReportRun {
  runId: string;
  /** Free-form (the store's RunState: pending, running, succeeded, failed, cancelled). */
  state: string;
  /** The run's grid cell, e.g. {arch: 'resnet18', dataset: 'imagenet', samples_per_class: 100}. */
  axes?: Record<string, string | number | boolean>;
  attempts?: number;
  failureClass?: string;
  gpuHours?: number;
  /** Scores the run reported (V1, IT, Behavioral, acc, ...). */
  metrics?: Record<string, number>;
}

/**
 * A law of the sweep that has no final fit in the report: its last refit could not run (too
 * few usable points, no usable data, the optimiser failed), with the reason.
 */
export interface ReportFitProblem {
  name: string;
  form?: string;
  reason: string;
  /** Usable points the fit had. */
  nPoints?: number;
  /** Points (rows: data point x metric) left out as unusable. */
  nExcluded?: number;
}

/** What the sweep's final activity knows about the sweep. All fields but `name` optional. */
export interface SweepSummary {
  name: string;
  /** Run counts by state, e.g. {succeeded: 40, failed: 2}. */
  counts?: Record<string, number>;
  gpuHours?: number;
  startedAt?: string;
  finishedAt?: string;
  /** Shown as a table (capped at `maxRunRows` in ReportInput, default 1000). */
  runs?: ReportRun[];
}

/**
 * Input of `renderReport` / `writeReport`.
 *
 * - From `sweep report --fit fit.json`: `{fits: parsed.fits}`.
 * - From the sweep's final activity: `{fits, sweep: {name, counts, gpuHours, runs}, title}`.
 *
 * Everything is plain JSON; nothing is fetched; the output is one self-contained HTML file.
 */
export interface ReportInput {
  fits: ReportFit[];
  sweep?: SweepSummary;
  /** Page title; default "Scaling-law report" (+ " - <sweep name>"). */
  title?: string;
  /** Where the fits came from (a file path, a store version), printed in the header. */
  source?: string;
  /** Timestamp printed in the header; default now. Pass a fixed one for reproducible files. */
  generatedAt?: string;
  /** Run table rows (default 1000; a note says how many of how many are shown). */
  maxRunRows?: number;
  /** Metric columns of the run table (default 12; a note says the rest are omitted). */
  maxMetricColumns?: number;
  /** Points plotted per figure (default 2000, evenly sampled beyond; the caption says so). */
  maxPlottedPoints?: number;
  /** Laws without a final fit, and why: shown so a fit that could not run is never silent. */
  fitProblems?: ReportFitProblem[];
  /** What the caller left out of the report (raw payloads, extra metrics ...), printed as notes. */
  omissions?: string[];
  /**
   * The "Study efficiency" section of a sweep's report (activities/study.ts builds it from the
   * store): replays over the sweep's own results, the live path of an adaptive study, and notes
   * saying why a part is missing. Absent: no section.
   */
  study?: StudySection;
}

/** What the report's "Study efficiency" section shows. */
export interface StudySection {
  /** Replayed studies, each drawn as a study-efficiency figure (one line per strategy). */
  replays: StudyReplay[];
  /** An adaptive study's own path: its target's interval at each refit against the budget spent. */
  path?: StudyPath;
  /** Why a part of the section is missing or what it left out (too few points, an adaptive pool, a failure). */
  notes: string[];
}

/** One refit of an adaptive study's target fit (a stored fit version with a bootstrap). */
export interface StudyPathPoint {
  version: number;
  /** Runs the fit was made from. */
  runs: number;
  /** Their estimated GPU-hours (the unit the budget counts), and that as a fraction of the budget. */
  spentGpuHours: number;
  budget_fraction: number;
  /** The target's estimate and its 95% bootstrap interval (undefined ends when the fit has none). */
  value?: number;
  ci?: [number, number];
  /** ci[1] - ci[0], the quantity stopWhen.ciWidth bounds. */
  ci_width?: number;
}

export interface StudyPath {
  fit: string;
  /** What the target is, for titles: "recipe a", "alpha", "prediction at 1e+21". */
  target: string;
  budgetGpuHours: number;
  stopCiWidth?: number;
  /** Oldest first. */
  points: StudyPathPoint[];
  /** True when the store held more refits than are drawn: the points are an evenly spaced subset (first and newest kept). */
  sampled: boolean;
}

/** A figure ready for the page. */
export interface RenderedFigure {
  id: string;
  title: string;
  caption: string;
  svg: string;
}

/**
 * A replayed study (`sweep replay --json`, scaling/replay.ts ReplayOutput): per strategy and
 * budget, the median target-region error over seeds and its error-vs-compute curve. Only the
 * fields the report reads; the rest of the JSON is ignored.
 */
export interface StudyCurvePoint {
  /** Fraction of the candidates' compute spent. */
  compute_fraction: number;
  /** RMSE of the predicted score on the held-out target region (median over seeds). */
  holdout_error: number;
}

export interface StudyStrategy {
  strategy: string;
  budget: number;
  compute_fraction: number;
  holdout_error: number;
  holdout_r2?: number;
  targets?: { name: string; value: number; ci: [number, number]; full: number; full_ci: [number, number]; in_full_ci: boolean }[];
  curve: StudyCurvePoint[];
}

export interface StudyReplay {
  fit: string;
  /** Where the candidates came from, said in the figure's caption (e.g. "this sweep's own 240 results"). */
  context?: string;
  holdout_top: number;
  candidates?: number;
  holdout?: number;
  all_candidates: { holdout_error: number; holdout_r2?: number };
  strategies: StudyStrategy[];
}
