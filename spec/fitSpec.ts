import { z } from 'zod';

/** Functional forms of PAPER_METHOD.md, in the log-sum-exp parametrisation. */
export const FitFormSchema = z.enum(['power_law', 'power_law_shift', 'chinchilla']);
export type FitForm = z.infer<typeof FitFormSchema>;

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** Row selection, applied in the order PAPER_METHOD.md gives. */
export const SelectionSchema = z
  .object({
    combineArchFamilies: z.boolean().default(false).describe('ResNetFlex -> ResNet, ViTFlex -> ViT, ConvNeXtFlex -> ConvNeXt'),
    booleanFilter: z
      .boolean()
      .default(true)
      .describe('drop rows where is_pretrained, is_random, is_ssl, is_adv or is_ablation is True'),
    sets: z.record(z.string(), z.array(scalar).min(1)).default({}).describe('keep rows whose column value is in the list'),
    ranges: z
      .record(z.string(), z.object({ min: z.number().optional(), max: z.number().optional() }).strict())
      .default({})
      .describe('keep rows whose numeric column lies in [min, max]'),
    groupBy: z.array(z.string()).optional().describe('columns to group by (score = group mean); default: the paper\'s key'),
    archFamiliesSamples: z
      .boolean()
      .default(false)
      .describe('for ConvNeXt/ViT families keep only samples_per_class in {0, 300}'),
  })
  .strict();
export type Selection = z.infer<typeof SelectionSchema>;

export const FitSpecSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, "_", "-", "."'),
    description: z.string().optional(),
    form: FitFormSchema,
    x: z.union([z.string(), z.array(z.string()).min(1).max(2)]).describe('one column, or two (N, D) for chinchilla'),
    scalers: z.record(z.string(), z.number().positive()).optional().describe('divide each x column by this'),
    y: z
      .object({
        metrics: z.array(z.string()).min(1).describe('regions / metrics averaged into the score'),
        invert: z.boolean().default(true).describe('fit 1 - score (misalignment)'),
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
    bootstrap: z.number().int().min(0).default(1000),
    seed: z.number().int().default(0),
  })
  .strict();
export type FitSpec = z.infer<typeof FitSpecSchema>;
export type FitSpecInput = z.input<typeof FitSpecSchema>;
