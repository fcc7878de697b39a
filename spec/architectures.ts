/**
 * Architectures of the paper with their parameter counts and per-sample forward FLOPs,
 * and the datasets with their class counts. Used by the planner (compute estimates,
 * compute-ascending order) and by the synthetic trainer.
 * (Filled in completely by the trainer work; see sim/trainer.)
 */
export interface Architecture {
  /** Name as used in grids and the paper's `arch` column, e.g. "resnet18". */
  name: string;
  /** The paper's `arch_family`, e.g. "ResNet". */
  family: string;
  nParams: number;
  /** Forward FLOPs per sample at 224 px (the paper's `flops` column). */
  flopsPerSample: number;
}

export interface Dataset {
  name: string;
  classes: number;
  /** Training images in the full set (samples_per_class = 0). */
  fullSize: number;
}

export const ARCHITECTURES: Record<string, Architecture> = {
  alexnet: { name: 'alexnet', family: 'AlexNet', nParams: 61100840, flopsPerSample: 1428395392 },
};

export const DATASETS: Record<string, Dataset> = {
  imagenet: { name: 'imagenet', classes: 1000, fullSize: 1281167 },
  ecoset: { name: 'ecoset', classes: 565, fullSize: 1444911 },
};

export function lookupArchitecture(name: string): Architecture | undefined {
  return ARCHITECTURES[name.toLowerCase()];
}

export function lookupDataset(name: string): Dataset | undefined {
  return DATASETS[name.toLowerCase()];
}

/** Samples in the training set: per-class count x classes, or the full set for 0. */
export function datasetSamples(dataset: Dataset, samplesPerClass: number): number {
  return samplesPerClass > 0 ? Math.min(samplesPerClass * dataset.classes, dataset.fullSize) : dataset.fullSize;
}
