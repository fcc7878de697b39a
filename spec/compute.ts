import { datasetSamples, lookupArchitecture, lookupDataset } from './architectures';
import type { AxisValue, SweepSpec } from './sweepSpec';

export interface CellEstimate {
  nParams: number;
  nSamplesSeen: number;
  /** Training FLOPs: 3 x forward FLOPs x samples seen (the paper's total_flops). */
  totalFlops: number;
  gpuHours: number;
}

/** The planner's sustained training FLOP/s of one GPU, unless a spec's `estimate` says otherwise. */
export const DEFAULT_GPU_FLOPS_PER_SECOND = 1e14;

const DEFAULT_ESTIMATE = {
  archAxis: 'arch',
  datasetAxis: 'dataset',
  samplesPerClassAxis: 'samples_per_class',
  epochsAxis: 'epochs',
  gpuFlopsPerSecond: DEFAULT_GPU_FLOPS_PER_SECOND,
};

/** Compute estimate of one cell, or undefined when its axes do not name a known architecture / dataset. */
export function estimateCell(spec: Pick<SweepSpec, 'estimate'>, axes: Record<string, AxisValue>): CellEstimate | undefined {
  const e = { ...DEFAULT_ESTIMATE, ...spec.estimate };
  const arch = lookupArchitecture(String(axes[e.archAxis] ?? ''));
  const dataset = lookupDataset(String(axes[e.datasetAxis] ?? ''));
  const spc = Number(axes[e.samplesPerClassAxis] ?? 0);
  const epochs = Number(axes[e.epochsAxis] ?? 1);
  if (!arch || !dataset || !Number.isFinite(spc) || !Number.isFinite(epochs)) return undefined;
  const nSamplesSeen = datasetSamples(dataset, spc) * epochs;
  const totalFlops = 3 * arch.flopsPerSample * nSamplesSeen;
  return { nParams: arch.nParams, nSamplesSeen, totalFlops, gpuHours: totalFlops / e.gpuFlopsPerSecond / 3600 };
}
