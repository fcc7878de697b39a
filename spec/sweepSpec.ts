import { z } from 'zod';
import { DURATION_RE } from './duration';
import { DEFAULT_RETRY_ON, FAILURE_CLASSES } from './failure';
import { FitSpecSchema } from './fitSpec';

const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** No sweep expands to more runs than this, whatever its maxGridSize says: the grid is held in memory. */
export const GRID_SIZE_CEILING = 1_000_000;

export const FailureClassSchema = z.enum(FAILURE_CLASSES);

/** A duration as Temporal and humans write it: "500ms", "30s", "5m", "2h", "1d". */
export const DurationSchema = z
  .string()
  .regex(DURATION_RE, { message: 'expected a duration such as "30s", "5m", "2h" or "500ms"' });

export const AxisValueSchema = z.union([z.string(), z.number(), z.boolean()]);
export type AxisValue = z.infer<typeof AxisValueSchema>;

/** A partial cell: axis -> value, or a list of values any of which matches. */
export const MatchRuleSchema = z.record(
  z.string().regex(AXIS_NAME, 'axis names are letters, digits and "_"'),
  z.union([AxisValueSchema, z.array(AxisValueSchema).min(1)]),
);
export type MatchRule = z.infer<typeof MatchRuleSchema>;

/** Kubernetes-style quantities ("16Gi", "500m", 4). */
const quantity = z.union([
  z.number().positive(),
  z.string().regex(/^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'a quantity such as "8", "500m" or "16Gi"'),
]);

const gpus = z.number().int().min(0, 'gpus cannot be negative');
const gpuType = z.string().describe('GPU product, e.g. NVIDIA-A100-SXM4-80GB (node selector)');

// Optional, absent = 1: a default would enter every job hash (spec/identity.ts) and orphan running Jobs.
const nodes = z
  .number()
  .int()
  .min(1, 'nodes must be at least 1')
  .max(256, 'at most 256 nodes')
  .describe('nodes (pods) one attempt spans, gpus on each (default 1): more than one runs as an Indexed Job, Kubernetes only');

export const ResourcesSchema = z
  .object({
    nodes: nodes.optional(),
    gpus: gpus.default(1),
    cpu: quantity.default(4),
    memory: quantity.default('16Gi'),
    gpuType: gpuType.optional(),
  })
  .strict();
export type Resources = z.infer<typeof ResourcesSchema>;

/** Resources an override changes: only the fields it names (no defaults, which would reset the job's). */
export const ResourcesOverrideSchema = z
  .object({ nodes: nodes.optional(), gpus: gpus.optional(), cpu: quantity.optional(), memory: quantity.optional(), gpuType: gpuType.optional() })
  .strict();

/** A Kubernetes object name (Secret, ConfigMap): a DNS-1123 subdomain. */
const objectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'a Kubernetes object name (lowercase letters, digits, "-" and ".")');

/**
 * A reference to one key of a Secret: the spec holds the reference only, never the value. On
 * Kubernetes it becomes `valueFrom.secretKeyRef`; locally the worker resolves it at launch.
 */
export const SecretKeyRefSchema = z
  .object({
    name: objectName,
    key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, 'a Secret key (letters, digits, "-", "_" and ".")'),
  })
  .strict();
export type SecretKeyRef = z.infer<typeof SecretKeyRefSchema>;

/** An env value: a string (templated with the cell's axes) or a Secret reference. */
export const EnvValueSchema = z.union([z.string(), z.object({ secretKeyRef: SecretKeyRefSchema }).strict()]);
export type EnvValue = z.infer<typeof EnvValueSchema>;

/** Every key of a Secret or ConfigMap as env (Kubernetes `envFrom`). */
export const EnvFromSchema = z.union([z.object({ secret: objectName }).strict(), z.object({ configMap: objectName }).strict()]);
export type EnvFrom = z.infer<typeof EnvFromSchema>;

export const JobSchema = z
  .object({
    image: z
      .string()
      .min(1, 'name the container image, or leave the key out')
      .optional()
      .describe('container image of the jobs: required on Kubernetes, ignored by the local executor'),
    command: z.array(z.string().min(1)).min(1, 'command is an argv array, e.g. ["python", "train.py"]'),
    args: z.array(z.string()).default([]),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are letters, digits and "_"'), EnvValueSchema).default({}),
    envFrom: z.array(EnvFromSchema).max(32).optional().describe('Secrets / ConfigMaps whose keys become env (Kubernetes only)'),
    resources: ResourcesSchema.default({ gpus: 1, cpu: 4, memory: '16Gi' }),
    overrides: z
      .array(z.object({ when: MatchRuleSchema, resources: ResourcesOverrideSchema }).strict())
      .default([])
      .describe('resources for the cells a rule matches; later rules win'),
    gracePeriod: DurationSchema.default('30s').describe(
      'time between SIGTERM and SIGKILL on preemption or cancel (the Job\'s terminationGracePeriodSeconds)',
    ),
  })
  .strict();

/**
 * The evaluate stage: runs after training succeeds (or alone, on existing checkpoints or
 * pretrained models named by the grid's axes), with its own resources and retry policy.
 * Its result carries the metrics; each checkpoint it scores is a data point.
 */
const EvaluateBaseSchema = z
  .object({
    image: z.string().min(1).optional().describe('defaults to the training image'),
    command: z.array(z.string().min(1)).min(1, 'command is an argv array, e.g. ["python", "score.py"]'),
    args: z.array(z.string()).default([]),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are letters, digits and "_"'), EnvValueSchema).default({}),
    resources: ResourcesSchema.extend({ gpus: gpus.default(0) }).default({ gpus: 0, cpu: 4, memory: '16Gi' }),
    gracePeriod: DurationSchema.default('30s'),
  })
  .strict();


export const LocalExecutorSchema = z
  .object({
    kind: z.literal('local'),
    slots: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('jobs at once on the machine; runs beyond it wait for a slot, so set maxRuns a little higher to overlap orchestration with jobs'),
    gpus: z.number().int().nonnegative().optional().describe('GPUs this machine offers (default: unlimited)'),
    checkpointDir: z
      .string()
      .min(1)
      .optional()
      .describe('root of the runs\' checkpoint folders, <root>/<sweep>/<runId> (default: .sweep/checkpoints beside the results store)'),
  })
  .strict();

export const KubernetesExecutorSchema = z
  .object({
    kind: z.literal('kubernetes'),
    namespace: z.string().default('default'),
    queue: z.string().optional().describe('Kueue LocalQueue: sets kueue.x-k8s.io/queue-name and suspend: true'),
    serviceAccount: z.string().optional(),
    priorityClass: z.string().optional(),
    imagePullSecrets: z.array(z.string()).default([]),
    tolerations: z
      .array(
        z
          .object({
            key: z.string().optional(),
            operator: z.enum(['Exists', 'Equal']).optional(),
            value: z.string().optional(),
            effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
          })
          .strict(),
      )
      .default([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]),
    datasetPvc: z.string().optional().describe('PersistentVolumeClaim mounted read-only at datasetMountPath'),
    checkpointPvc: z
      .string()
      .optional()
      .describe('ReadWriteMany PersistentVolumeClaim mounted at /checkpoints with subPath <sweep>/<runId> (read-only for evaluate)'),
    checkpointUri: z.string().optional().describe('object-storage prefix: jobs get SWEEP_CHECKPOINT_URI=<uri>/<sweep>/<runId>'),
    datasetMountPath: z.string().default('/data'),
    shmSize: z.string().default('8Gi'),
    // Long on purpose: a Job must outlive any worker outage, or a retried watch cannot find its result.
    ttlSecondsAfterFinished: z.number().int().nonnegative().default(7 * 24 * 3600),
    imagePullGrace: DurationSchema.default('2m'),
    // One field, two forms: `false` opts out; `{writablePaths: [...]}` keeps the root read-only
    // and adds a writable emptyDir at each path (besides /tmp, which is always writable).
    readOnlyRootFilesystem: z
      .union([
        z.boolean(),
        z
          .object({
            writablePaths: z
              .array(
                z
                  .string()
                  .max(256)
                  .regex(/^(\/[A-Za-z0-9._-]+)+$/, 'an absolute path such as /workspace/out')
                  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'no "." or ".." segments')
                  .refine((p) => !['/tmp', '/dev', '/dev/shm', '/dev/termination-log'].includes(p), 'this path is mounted already'),
              )
              .max(16)
              .refine((ps) => new Set(ps).size === ps.length, 'paths must be distinct'),
          })
          .strict(),
      ])
      .default(true)
      .describe('read-only root filesystem for the job containers (writable emptyDir at /tmp); false opts out'),
  })
  .strict();

export const ExecutorSchema = z.discriminatedUnion('kind', [LocalExecutorSchema, KubernetesExecutorSchema]);
export type ExecutorConfig = z.infer<typeof ExecutorSchema>;

export const OrderSchema = z.union([
  z.enum(['grid', 'compute-ascending', 'coarse-to-fine', 'random']),
  z
    .object({ by: z.enum(['grid', 'compute-ascending', 'coarse-to-fine', 'random']), seed: z.number().int().default(0) })
    .strict(),
]);
export type Order = z.infer<typeof OrderSchema>;

export const RetrySchema = z
  .object({
    maxAttempts: z.number().int().min(1).default(3),
    backoff: z
      .object({
        initial: DurationSchema.default('5s'),
        max: DurationSchema.default('5m'),
        coefficient: z.number().min(1).default(2),
      })
      .strict()
      .default({ initial: '5s', max: '5m', coefficient: 2 }),
    retryOn: z.array(FailureClassSchema).default(DEFAULT_RETRY_ON),
    nonRetryableExitCodes: z.array(z.number().int().min(1).max(255)).default([]),
  })
  .strict();

/** The evaluate block with its optional retry policy (default: the sweep's). */
export const EvaluateSchema = EvaluateBaseSchema.extend({ retry: RetrySchema.optional() }).strict();
export type EvaluateTemplate = z.infer<typeof EvaluateSchema>;

/**
 * An adaptive study: instead of the whole grid, the sweep runs batches chosen to make one fit's
 * target as certain as possible per GPU-hour, until the budget is spent or the target's 95%
 * interval is narrow enough. The cells it never ran are reported as skipped.
 */
export const StrategySchema = z
  .object({
    kind: z.literal('adaptive'),
    target: z.string().min(1).describe('the name of the fit (in fits) whose law to make certain'),
    objective: z.enum(['recipe', 'exponent', 'prediction']).default('exponent'),
    parameter: z.string().default('alpha').describe('the exponent, for objective exponent'),
    at: z.array(z.number().positive()).min(1).max(2).optional().describe('x to predict at, for objective prediction'),
    budget: z.object({ gpuHours: z.number().positive() }).strict(),
    stopWhen: z.object({ ciWidth: z.number().positive() }).strict().optional(),
    batch: z.number().int().min(1).max(1000).optional().describe('runs per batch (default concurrency.maxRuns)'),
  })
  .strict();
export type Strategy = z.infer<typeof StrategySchema>;

/** How the planner estimates compute per cell (plan, compute-ascending order). */
export const EstimateSchema = z
  .object({
    archAxis: z.string().default('arch'),
    datasetAxis: z.string().default('dataset'),
    samplesPerClassAxis: z.string().default('samples_per_class'),
    epochsAxis: z.string().default('epochs'),
    gpuFlopsPerSecond: z.number().positive().default(1e14).describe('sustained training FLOP/s of one GPU'),
  })
  .strict();

export const SweepSpecSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, 'lowercase letters, digits and "-", at most 40 characters'),
    description: z.string().default(''),
    grid: z
      .record(
        z.string().regex(AXIS_NAME, 'axis names are letters, digits and "_"'),
        z.array(AxisValueSchema).min(1, 'an axis needs at least one value'),
      )
      .refine((g) => Object.keys(g).length > 0, { message: 'the grid needs at least one axis' }),
    exclude: z.array(MatchRuleSchema).default([]),
    include: z.array(z.record(z.string(), AxisValueSchema)).default([]).describe('extra cells, each naming every axis'),
    maxGridSize: z.number().int().positive().max(GRID_SIZE_CEILING, `at most ${GRID_SIZE_CEILING.toLocaleString('en-US')}`).default(10_000).describe('refuse larger grids unless raised on purpose'),
    job: JobSchema.optional().describe('the training stage (leave it out to only evaluate, e.g. pretrained models)'),
    evaluate: EvaluateSchema.optional().describe('the evaluate stage: scores what training saved, or what the grid names'),
    executor: ExecutorSchema.default({ kind: 'local' }),
    concurrency: z
      .object({
        maxRuns: z.number().int().min(1, 'maxRuns must be at least 1').default(8),
        maxGpus: z.number().int().min(0, 'maxGpus cannot be negative').optional(),
      })
      .strict()
      .default({ maxRuns: 8 }),
    order: OrderSchema.default('grid'),
    strategy: StrategySchema.optional(),
    retry: RetrySchema.default({
      maxAttempts: 3,
      backoff: { initial: '5s', max: '5m', coefficient: 2 },
      retryOn: DEFAULT_RETRY_ON,
      nonRetryableExitCodes: [],
    }),
    timeouts: z
      .object({ run: DurationSchema.default('24h'), pending: DurationSchema.default('30m') })
      .strict()
      .default({ run: '24h', pending: '30m' }),
    reconcile: z
      .object({
        interval: DurationSchema.default('2m').describe(
          'how often the sweep asks Temporal how its in-flight runs closed (a run terminated in the Web UI sends no signal)',
        ),
      })
      .strict()
      .default({ interval: '2m' }),
    metrics: z.array(z.string()).default([]).describe('keys every result must contain'),
    estimate: EstimateSchema.optional(),
    fits: z.array(FitSpecSchema).default([]),
    refit: z
      .object({
        every: z.number().int().min(1).default(10).describe('refit after this many new results'),
        interval: DurationSchema.optional().describe('and at least this often while runs finish'),
        bootstrap: z.number().int().min(0).default(200).describe('bootstrap resamples of live refits'),
      })
      .strict()
      .default({ every: 10, bootstrap: 200 }),
  })
  .strict()
  .refine((s) => s.job !== undefined || s.evaluate !== undefined, {
    message: 'give a training stage (job), an evaluate stage (evaluate), or both',
    path: ['job'],
  });

export type SweepSpec = z.infer<typeof SweepSpecSchema>;
export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
export type JobTemplate = z.infer<typeof JobSchema>;
