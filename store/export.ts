import { lookupArchitecture, lookupDataset, datasetSamples } from '../spec/architectures';
import type { DataPoint } from './types';

/** Columns of the paper's benchmark_scores.csv, in its order. */
export const PAPER_COLUMNS = [
  'model_id', 'benchmark_id', 'arch', 'dataset', 'n_params', 'macs', 'flops', 'benchmark_name', 'region',
  'n_samples', 'samples_per_class', 'n_epochs', 'n_samples_seen', 'total_flops', 'score', 'seed', 'arch_family',
  'acc', 'checkpoint_url', 'is_pretrained', 'is_random', 'is_ssl', 'ssl_method', 'is_ablation', 'is_open_clip',
  'is_adv', 'adv_method',
] as const;

export type PaperRow = Record<(typeof PAPER_COLUMNS)[number], string | number | boolean | undefined>;

/** Brain-Score benchmark names of the paper, by region. */
const BENCHMARK_NAMES: Record<string, string> = {
  V1: 'movshon.FreemanZiemba2013public.V1-pls',
  V2: 'movshon.FreemanZiemba2013public.V2-pls',
  V4: 'dicarlo.MajajHong2015public.V4-pls',
  IT: 'dicarlo.MajajHong2015public.IT-pls',
  Behavioral: 'dicarlo.Rajalingham2018public-i2n',
};

/** The paper's benchmark_id of each region (fixed, whatever order a result lists its metrics in). */
const BENCHMARK_IDS: Record<string, number> = { V1: 0, V2: 1, V4: 2, IT: 3, Behavioral: 4 };

/** Metrics that are not alignment scores (kept as columns, not as rows). */
const NON_SCORE_METRICS = new Set(['acc']);

export interface PaperRowsOptions {
  /**
   * Only these metrics become rows (the fits' regions): a sweep whose results carry 1,000
   * metrics would otherwise make 1,000 rows per data point for fits that read four. Benchmark
   * ids stay those of the full export.
   */
  metrics?: ReadonlySet<string>;
}

/**
 * One row per (data point, metric), in the paper's layout, so `sweep fit` reads a sweep's
 * results exactly as it reads the paper's CSV. A checkpoint is a model of its own.
 */
export function dataPointsToPaperRows(points: DataPoint[], opts: PaperRowsOptions = {}): PaperRow[] {
  const rows: PaperRow[] = [];
  // Metrics the paper does not have get ids after its five, in name order, the same in every row.
  const names = new Set<string>();
  for (const p of points) for (const k of Object.keys(p.metrics)) names.add(k);
  const extra = [...names].filter((k) => !NON_SCORE_METRICS.has(k) && !Object.hasOwn(BENCHMARK_IDS, k)).sort();
  const extraIds = new Map(extra.map((k, i) => [k, Object.keys(BENCHMARK_IDS).length + i]));
  const benchmarkId = (region: string) => (Object.hasOwn(BENCHMARK_IDS, region) ? BENCHMARK_IDS[region] : extraIds.get(region));
  const wanted = opts.metrics;
  for (const p of points) {
    const archName = String(p.axes.arch ?? '');
    const arch = lookupArchitecture(archName);
    const datasetName = String(p.axes.dataset ?? '');
    const dataset = lookupDataset(datasetName);
    const spc = Number(p.axes.samples_per_class ?? 0);
    const epochs = p.epoch ?? Number(p.axes.epochs ?? NaN);
    const nSamples = dataset ? datasetSamples(dataset, spc) : undefined;
    const modelId = p.epoch === undefined ? p.runId : `${p.runId}-ep${p.epoch}`;
    const scores = Object.entries(p.metrics).filter(([k]) => !NON_SCORE_METRICS.has(k) && (!wanted || wanted.has(k)));
    for (const [region, score] of scores) {
      rows.push({
        model_id: modelId,
        benchmark_id: benchmarkId(region),
        arch: archName,
        dataset: datasetName,
        n_params: p.n_params,
        macs: arch ? arch.flopsPerSample / 2 : undefined,
        flops: arch?.flopsPerSample,
        benchmark_name: BENCHMARK_NAMES[region] ?? region,
        region,
        n_samples: nSamples,
        samples_per_class: spc,
        n_epochs: Number.isFinite(epochs) ? epochs : undefined,
        n_samples_seen: p.n_samples_seen,
        total_flops: p.total_flops,
        score,
        seed: p.axes.seed ?? 0,
        arch_family: arch?.family ?? archName,
        acc: p.metrics.acc,
        checkpoint_url: undefined,
        is_pretrained: false,
        is_random: false,
        is_ssl: false,
        ssl_method: undefined,
        is_ablation: false,
        is_open_clip: false,
        is_adv: false,
        adv_method: undefined,
      });
    }
  }
  return rows;
}

const cell = (v: string | number | boolean | undefined): string => {
  if (v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function paperRowsToCsv(rows: PaperRow[]): string {
  return [PAPER_COLUMNS.join(','), ...rows.map((r) => PAPER_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
