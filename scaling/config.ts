/**
 * The fit configuration as the engine reads it. It mirrors spec/fitSpec.ts (FitSpec) field for
 * field but is declared here because scaling/ imports nothing of ours; a parsed FitSpec is
 * assignable to FitConfig, and so is a hand-written object (defaults filled by normalizeFitConfig).
 */
import type { FormName } from './forms';

export type Scalar = string | number | boolean;

export interface SelectionConfig {
  combineArchFamilies?: boolean | Record<string, string>;
  booleanFilter?: boolean | string[];
  sets?: Record<string, Scalar[]>;
  ranges?: Record<string, { min?: number; max?: number }>;
  groupBy?: string[];
  archFamiliesSamples?: boolean | { families: string[]; samplesPerClass: number[] };
}

export interface FitConfig {
  name: string;
  description?: string;
  form: FormName;
  x: string | string[];
  scalers?: Record<string, number>;
  y: { metrics: string[]; invert?: boolean; column?: string; metricColumn?: string };
  selection?: SelectionConfig;
  loss?: { kind?: 'huber'; delta?: number };
  init?: Record<string, number[]>;
  optimizer?: { method?: 'bfgs' | 'lbfgs'; gtol?: number; maxIter?: number };
  starts?: 'basins' | 'exhaustive';
  recipe?: { compute?: string };
  bootstrap?: number;
  seed?: number;
}

export interface NormalizedSelection {
  combineArchFamilies: Record<string, string> | null;
  booleanColumns: string[];
  sets: Record<string, Scalar[]>;
  ranges: Record<string, { min?: number; max?: number }>;
  groupBy: string[] | null;
  archFamiliesSamples: { families: string[]; samplesPerClass: number[] } | null;
}

export interface NormalizedFitConfig {
  name: string;
  form: FormName;
  x: string[];
  scalers: number[];
  y: { metrics: string[]; invert: boolean; column: string; metricColumn: string };
  selection: NormalizedSelection;
  delta: number;
  init: Record<string, number[]>;
  optimizer: { method: 'bfgs' | 'lbfgs'; gtol: number; maxIter?: number };
  starts: 'basins' | 'exhaustive';
  recipeCompute: string | null;
  bootstrap: number;
  seed: number;
}

export const DEFAULT_FAMILY_MAP: Record<string, string> = {
  ResNetFlex: 'ResNet',
  ViTFlex: 'ViT',
  ConvNeXtFlex: 'ConvNeXt',
};
export const DEFAULT_BOOLEAN_COLUMNS = ['is_pretrained', 'is_random', 'is_ssl', 'is_adv', 'is_ablation'];
export const DEFAULT_FAMILY_SAMPLES = { families: ['ConvNeXt', 'ConvNeXtFlex', 'ViT', 'ViTFlex'], samplesPerClass: [0, 300] };
/** The paper's group-by key (compute_* analyses add acc and n_epochs). */
export const DEFAULT_GROUP_BY = [
  'model_id',
  'arch',
  'dataset',
  'flops',
  'n_params',
  'n_samples',
  'n_samples_seen',
  'total_flops',
  'arch_family',
  'samples_per_class',
];
export const DEFAULT_SCALERS: Record<string, number> = { total_flops: 1e13, n_params: 1e5, n_samples_seen: 1e4 };
export const DEFAULT_INIT_GRID: Record<string, number[]> = {
  e: [-1, -0.5, 0, 0.5, 1],
  a: [0, 5, 10, 15, 20, 25],
  alpha: [0, 0.5, 1, 1.5, 2],
  b: [0, 5, 10, 15, 20, 25],
  beta: [0, 0.5, 1, 1.5, 2],
  lambda: [-1, 0, 1, 2],
};

export function normalizeFitConfig(cfg: FitConfig): NormalizedFitConfig {
  const x = typeof cfg.x === 'string' ? [cfg.x] : [...cfg.x];
  const want = cfg.form === 'chinchilla' ? 2 : 1;
  if (x.length !== want) throw new Error(`fit "${cfg.name}": form ${cfg.form} needs ${want} x column(s), got ${x.length}`);
  const sel = cfg.selection ?? {};
  const combine = sel.combineArchFamilies ?? false;
  const bool = sel.booleanFilter ?? true;
  const fam = sel.archFamiliesSamples ?? false;
  return {
    name: cfg.name,
    form: cfg.form,
    x,
    scalers: x.map((c) => cfg.scalers?.[c] ?? DEFAULT_SCALERS[c] ?? 1),
    y: {
      metrics: [...cfg.y.metrics],
      invert: cfg.y.invert ?? true,
      column: cfg.y.column ?? 'score',
      metricColumn: cfg.y.metricColumn ?? 'region',
    },
    selection: {
      combineArchFamilies: combine === true ? DEFAULT_FAMILY_MAP : combine === false ? null : combine,
      booleanColumns: bool === true ? DEFAULT_BOOLEAN_COLUMNS : bool === false ? [] : bool,
      sets: sel.sets ?? {},
      ranges: sel.ranges ?? {},
      groupBy: sel.groupBy ?? null,
      archFamiliesSamples: fam === true ? DEFAULT_FAMILY_SAMPLES : fam === false ? null : fam,
    },
    delta: cfg.loss?.delta ?? 1e-3,
    init: { ...DEFAULT_INIT_GRID, ...(cfg.init ?? {}) },
    optimizer: { method: cfg.optimizer?.method ?? 'bfgs', gtol: cfg.optimizer?.gtol ?? 1e-4, maxIter: cfg.optimizer?.maxIter },
    starts: cfg.starts ?? 'basins',
    recipeCompute: cfg.form === 'chinchilla' ? (cfg.recipe?.compute ?? 'total_flops') : null,
    bootstrap: cfg.bootstrap ?? 1000,
    seed: cfg.seed ?? 0,
  };
}
