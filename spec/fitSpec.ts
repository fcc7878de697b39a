import { z } from 'zod';

// Defaults left unset here (scalers, init grid, boolean columns, family filter) are the paper's,
// applied by the engine (scaling/config.ts): one home for the method's constants.

/** Functional forms of PAPER_METHOD.md, in the log-sum-exp parametrisation. */
export const FitFormSchema = z.enum(['power_law', 'power_law_shift', 'chinchilla']);
export type FitForm = z.infer<typeof FitFormSchema>;

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const FamilySamplesSchema = z
  .object({
    families: z.array(z.string()).min(1),
    samplesPerClass: z.array(z.number()).min(1),
  })
  .strict();

/** Row selection, applied in the order PAPER_METHOD.md gives. */
export const SelectionSchema = z
  .object({
    combineArchFamilies: z
      .union([z.boolean(), z.record(z.string(), z.string())])
      .default(false)
      .describe('true: ResNetFlex -> ResNet, ViTFlex -> ViT, ConvNeXtFlex -> ConvNeXt; or an explicit map'),
    booleanFilter: z
      .union([z.boolean(), z.array(z.string())])
      .default(true)
      .describe('drop rows where is_pretrained, is_random, is_ssl, is_adv or is_ablation is True (or the listed columns)'),
    sets: z.record(z.string(), z.array(scalar).min(1)).default({}).describe('keep rows whose column value is in the list'),
    ranges: z
      .record(z.string(), z.object({ min: z.number().optional(), max: z.number().optional() }).strict())
      .default({})
      .describe('keep rows whose numeric column lies in [min, max]'),
    groupBy: z
      .array(z.string())
      .optional()
      .describe("columns to group by (score = group mean); default: the paper's key, restricted to columns present"),
    archFamiliesSamples: z
      .union([z.boolean(), FamilySamplesSchema])
      .default(false)
      .describe('true: for ConvNeXt/ViT families keep only samples_per_class in {0, 300}; or explicit lists'),
  })
  .strict();
export type Selection = z.infer<typeof SelectionSchema>;
export type SelectionInput = z.input<typeof SelectionSchema>;

export const FitSpecSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, "_", "-", "."'),
    description: z.string().optional(),
    form: FitFormSchema,
    x: z.union([z.string(), z.array(z.string()).min(1).max(2)]).describe('one column, or two (N, D) for chinchilla'),
    scalers: z
      .record(z.string(), z.number().positive())
      .optional()
      .describe('divide each x column by this (default: total_flops 1e13, n_params 1e5, n_samples_seen 1e4)'),
    y: z
      .object({
        metrics: z.array(z.string()).min(1).describe('regions / metrics averaged into the score'),
        invert: z.boolean().default(true).describe('fit 1 - score (misalignment)'),
        column: z.string().default('score').describe('the value column'),
        metricColumn: z.string().default('region').describe('the column naming the metric of each row'),
      })
      .strict(),
    selection: SelectionSchema.default({
      combineArchFamilies: false,
      booleanFilter: true,
      sets: {},
      ranges: {},
      archFamiliesSamples: false,
    }),
    loss: z
      .object({ kind: z.literal('huber').default('huber'), delta: z.number().positive().default(1e-3) })
      .strict()
      .default({ kind: 'huber', delta: 1e-3 }),
    init: z.record(z.string(), z.array(z.number()).min(1)).optional().describe('initial grid per LSE parameter'),
    optimizer: z
      .object({
        method: z.enum(['bfgs', 'lbfgs']).default('bfgs'),
        gtol: z
          .number()
          .positive()
          .default(1e-4)
          .describe('screening: stop a start when max |gradient| <= gtol (the best candidates are then polished to 1e-11)'),
        maxIter: z.number().int().positive().optional(),
      })
      .strict()
      .default({ method: 'bfgs', gtol: 1e-4 }),
    starts: z
      .enum(['basins', 'exhaustive'])
      .default('basins')
      .describe(
        'bootstrap starts: "exhaustive" runs the whole grid on every resample; "basins" runs the grid on the original fit and restarts resamples from its distinct minima',
      ),
    recipe: z
      .object({ compute: z.string().default('total_flops') })
      .strict()
      .optional()
      .describe('compute-optimal recipe (chinchilla only; on by default there)'),
    bootstrap: z.number().int().min(0).default(1000),
    seed: z.number().int().default(0),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const xs = typeof spec.x === 'string' ? [spec.x] : spec.x;
    const want = spec.form === 'chinchilla' ? 2 : 1;
    if (xs.length !== want) {
      ctx.addIssue({
        code: 'custom',
        path: ['x'],
        message: `form ${spec.form} needs ${want === 2 ? 'two x columns [N, D]' : 'one x column'}, got ${xs.length}`,
      });
    }
  });
export type FitSpec = z.infer<typeof FitSpecSchema>;
export type FitSpecInput = z.input<typeof FitSpecSchema>;
