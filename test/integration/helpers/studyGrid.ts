/** The adaptive studies' grid: the synthetic trainer's architectures on ImageNet, their costs from the planner's estimates. */
export const STUDY_GRID = {
  arch: ['alexnet', 'resnet18', 'resnet50', 'efficientnet_b0', 'convnext_tiny'],
  dataset: ['imagenet'],
  samples_per_class: [10, 30, 100, 300],
  epochs: [10],
};
