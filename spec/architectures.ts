/**
 * Architectures of the paper with their parameter counts and per-sample forward FLOPs,
 * and the datasets with their class counts. Used by the planner (compute estimates,
 * compute-ascending order) and by the synthetic trainer (sim/trainer).
 *
 * Numbers are the paper's own (Gokce & Schrimpf 2024, benchmark_scores.csv columns
 * arch, arch_family, n_params, flops, n_samples, samples_per_class), so results from
 * our sweeps and the paper's rows sit on the same axes. Relations the CSV obeys, and
 * so do we: n_samples_seen = n_samples x epochs; total_flops = 3 x flops x n_samples_seen.
 *
 * Pure data + pure functions: imported by Temporal workflow code (no Node built-ins).
 */
export interface Architecture {
  /** Name as used in grids and the paper's `arch` column, e.g. "resnet18". */
  name: string;
  /** The paper's `arch_family`, e.g. "ResNet". */
  family: string;
  nParams: number;
  /** Forward FLOPs per sample at 224 px (the paper's `flops` column, = 2 x MACs). */
  flopsPerSample: number;
}

export interface Dataset {
  name: string;
  classes: number;
  /** Training images in the full set (samples_per_class = 0). */
  fullSize: number;
}

function arch(name: string, family: string, nParams: number, flopsPerSample: number): Architecture {
  return { name, family, nParams, flopsPerSample };
}

/**
 * Keyed by the paper's `arch` name. Where the CSV has two FLOP counts for one arch
 * (ResNets: adversarial and SSL rows count 2x forward passes), the standard
 * supervised value is the one here.
 */
export const ARCHITECTURES: Record<string, Architecture> = {
  // --- trained from scratch on ImageNet / EcoSet in the paper ---
  // AlexNet
  alexnet: arch('alexnet', 'AlexNet', 61100840, 1428395392),
  // CORnet-S
  cornet_s: arch('cornet_s', 'CORnet-S', 53416616, 32937052160),
  // ResNet
  resnet18: arch('resnet18', 'ResNet', 11689512, 3653033984),
  resnet34: arch('resnet34', 'ResNet', 21797672, 7364954112),
  resnet50: arch('resnet50', 'ResNet', 25557032, 8289709056),
  resnet101: arch('resnet101', 'ResNet', 44549160, 15765330944),
  resnet152: arch('resnet152', 'ResNet', 60192808, 23252995072),
  // EfficientNet
  efficientnet_b0: arch('efficientnet_b0', 'EfficientNet', 5288548, 843744960),
  efficientnet_b1: arch('efficientnet_b1', 'EfficientNet', 7794184, 1490679840),
  efficientnet_b2: arch('efficientnet_b2', 'EfficientNet', 9109994, 2349420160),
  // ConvNeXt
  convnext_tiny: arch('convnext_tiny', 'ConvNeXt', 28589128, 8940874752),
  convnext_small: arch('convnext_small', 'ConvNeXt', 50223688, 17410784256),
  convnext_base: arch('convnext_base', 'ConvNeXt', 88591464, 30767271936),
  convnext_large: arch('convnext_large', 'ConvNeXt', 197767336, 68809586688),
  // ViT
  deit_tiny: arch('deit_tiny', 'ViT', 5721832, 2159158656),
  deit_small: arch('deit_small', 'ViT', 22059496, 8501349120),
  deit_base: arch('deit_base', 'ViT', 86585320, 33734825472),
  deit_large: arch('deit_large', 'ViT', 304374760, 119393191936),
  // ResNetFlex
  'resnetflexfilters-d-1-0-0-0': arch('resnetflexfilters-d-1-0-0-0', 'ResNetFlex', 148520, 711021568),
  'resnetflexfilters-f-1-16-20-19': arch('resnetflexfilters-f-1-16-20-19', 'ResNetFlex', 241712, 85728256),
  'resnetflexfilters-f-1-16-20-18': arch('resnetflexfilters-f-1-16-20-18', 'ResNetFlex', 309842, 105673224),
  'resnetflexfilters-f-1-16-20-17': arch('resnetflexfilters-f-1-16-20-17', 'ResNetFlex', 393880, 130295282),
  'resnetflexfilters-d-1-1-0-0': arch('resnetflexfilters-d-1-1-0-0', 'ResNetFlex', 442664, 1073620992),
  'resnetflexfilters-f-1-16-20-16': arch('resnetflexfilters-f-1-16-20-16', 'ResNetFlex', 516944, 171261998),
  'resnetflexfilters-f-1-16-20-15': arch('resnetflexfilters-f-1-16-20-15', 'ResNetFlex', 670887, 222310504),
  'resnetflexfilters-f-1-16-20-14': arch('resnetflexfilters-f-1-16-20-14', 'ResNetFlex', 878681, 287030816),
  'resnetflexfilters-d-1-0-1-0': arch('resnetflexfilters-d-1-0-1-0', 'ResNetFlex', 1095720, 1899171840),
  'resnetflexfilters-f-1-16-20-13': arch('resnetflexfilters-f-1-16-20-13', 'ResNetFlex', 1152012, 377522602),
  'resnetflexfilters-d-1-1-1-0': arch('resnetflexfilters-d-1-1-1-0', 'ResNetFlex', 1489704, 1434943488),
  'resnetflexfilters-f-1-16-20-12': arch('resnetflexfilters-f-1-16-20-12', 'ResNetFlex', 1513371, 491771962),
  'resnetflexfilters-f-1-16-20-11': arch('resnetflexfilters-f-1-16-20-11', 'ResNetFlex', 1995685, 635827202),
  'resnetflexfilters-f-1-16-20-10': arch('resnetflexfilters-f-1-16-20-10', 'ResNetFlex', 2629857, 833556418),
  'resnetflexfilters-d-1-0-0-1': arch('resnetflexfilters-d-1-0-0-1', 'ResNetFlex', 3286568, 4937539584),
  'resnetflexfilters-f-1-16-20-9': arch('resnetflexfilters-f-1-16-20-9', 'ResNetFlex', 3494270, 1104403086),
  'resnetflexfilters-f-1-16-20-8': arch('resnetflexfilters-f-1-16-20-8', 'ResNetFlex', 4628921, 1449611864),
  'resnetflexfilters-d-1-1-1-1': arch('resnetflexfilters-d-1-1-1-1', 'ResNetFlex', 5418792, 1795819520),
  'resnetflexfilters-f-1-16-20-7': arch('resnetflexfilters-f-1-16-20-7', 'ResNetFlex', 6146646, 1940113664),
  'resnetflexfilters-d-1-0-0-2': arch('resnetflexfilters-d-1-0-0-2', 'ResNetFlex', 8007208, 12344320000),
  'resnetflexfilters-f-1-16-20-6': arch('resnetflexfilters-f-1-16-20-6', 'ResNetFlex', 8161422, 2552764552),
  'resnetflexfilters-d-1-1-1-2': arch('resnetflexfilters-d-1-1-1-2', 'ResNetFlex', 10139432, 2258743296),
  'resnetflexfilters-f-1-16-20-5': arch('resnetflexfilters-f-1-16-20-5', 'ResNetFlex', 10841281, 3369135554),
  'resnetflexfilters-d-1-1-2-2': arch('resnetflexfilters-d-1-1-2-2', 'ResNetFlex', 11320104, 2722168832),
  'resnetflexfilters-d-1-2-2-2': arch('resnetflexfilters-d-1-2-2-2', 'ResNetFlex', 11615528, 3186597888),
  'resnetflexfilters-d-2-2-2-2': arch('resnetflexfilters-d-2-2-2-2', 'ResNetFlex', 11689512, 3653033984),
  'resnetflexfilters-f-1-16-20-4': arch('resnetflexfilters-f-1-16-20-4', 'ResNetFlex', 14448083, 4481091166),
  'resnetflexfilters-f-1-16-20-3': arch('resnetflexfilters-f-1-16-20-3', 'ResNetFlex', 19221863, 5950743200),
  'resnetflexfilters-f-1-16-20-2': arch('resnetflexfilters-f-1-16-20-2', 'ResNetFlex', 25632462, 7916580320),
  'resnetflexfilters-f-1-16-20-1': arch('resnetflexfilters-f-1-16-20-1', 'ResNetFlex', 34173387, 10532573600),
  'resnetflexfilters-f-1-16-20-0': arch('resnetflexfilters-f-1-16-20-0', 'ResNetFlex', 45693032, 14088257536),
  'resnetflexfilters_wr-4-1-2-4-2': arch('resnetflexfilters_wr-4-1-2-4-2', 'ResNetFlex', 72083816, 22037872864),
  'resnetflexfilters_wr-4-1-2-4-1': arch('resnetflexfilters_wr-4-1-2-4-1', 'ResNetFlex', 114203792, 34807402336),
  'resnetflexfilters_wr-4-1-2-4-0': arch('resnetflexfilters_wr-4-1-2-4-0', 'ResNetFlex', 180645096, 55305273344),
  // ConvNeXtFlex
  'convnextflex-l-3': arch('convnextflex-l-3', 'ConvNeXtFlex', 578688, 192263552),
  'convnextflex-l-2': arch('convnextflex-l-2', 'ConvNeXtFlex', 1439112, 465682048),
  'convnextflex-l-1': arch('convnextflex-l-1', 'ConvNeXtFlex', 3832320, 1137298112),
  'convnextflex-l-0': arch('convnextflex-l-0', 'ConvNeXtFlex', 10486352, 3233310144),
  // ViTFlex
  'deitflex-l-3': arch('deitflex-l-3', 'ViTFlex', 435880, 147630432),
  'deitflex-l-2': arch('deitflex-l-2', 'ViTFlex', 1044640, 372661692),
  'deitflex-l-1': arch('deitflex-l-1', 'ViTFlex', 3039760, 1129098612),
  'deitflex-l-0': arch('deitflex-l-0', 'ViTFlex', 7976440, 3029689992),
  // --- pretrained reference models scored in the paper (is_pretrained) ---
  // EfficientNet
  efficientnet_b3: arch('efficientnet_b3', 'EfficientNet', 12233232, 4207616896),
  efficientnet_b4: arch('efficientnet_b4', 'EfficientNet', 19341616, 9359155904),
  // ConvNeXt
  convnext_atto: arch('convnext_atto', 'ConvNeXt', 3695520, 1104107520),
  convnext_atto_ols: arch('convnext_atto_ols', 'ConvNeXt', 3702912, 1162512384),
  convnext_femto: arch('convnext_femto', 'ConvNeXt', 5217784, 1570590720),
  convnext_femto_ols: arch('convnext_femto_ols', 'ConvNeXt', 5226520, 1637425152),
  convnext_pico: arch('convnext_pico', 'ConvNeXt', 9045672, 2749218816),
  convnext_pico_ols: arch('convnext_pico_ols', 'ConvNeXt', 9061928, 2867232768),
  convnext_nano: arch('convnext_nano', 'ConvNeXt', 15593560, 4911196160),
  convnext_nano_ols: arch('convnext_nano_ols', 'ConvNeXt', 15649560, 5302568960),
  convnext_large_mlp: arch('convnext_large_mlp', 'ConvNeXt', 200128168, 202214661120),
  convnext_xlarge: arch('convnext_xlarge', 'ConvNeXt', 350196968, 358398283776),
  convnext_xxlarge: arch('convnext_xxlarge', 'ConvNeXt', 879723949, 396249182208),
  // ViT
  vit_small_patch14_dinov2: arch('vit_small_patch14_dinov2', 'ViT', 22056192, 58929977856),
  vit_base_patch16_rpn_224: arch('vit_base_patch16_rpn_224', 'ViT', 86538472, 33563266560),
  vit_base_patch16_224_miil: arch('vit_base_patch16_224_miil', 'ViT', 86540008, 33734825472),
  vit_base_patch16_224: arch('vit_base_patch16_224', 'ViT', 86567656, 33734825472),
  vit_base_patch16_clip_224: arch('vit_base_patch16_clip_224', 'ViT', 86568424, 33736338432),
  vit_base_patch14_dinov2: arch('vit_base_patch14_dinov2', 'ViT', 86579712, 234220434432),
  vit_base_patch16_siglip_224: arch('vit_base_patch16_siglip_224', 'ViT', 92884224, 34037454336),
  vit_large_patch14_clip_224: arch('vit_large_patch14_clip_224', 'ViT', 304204776, 155664715776),
  vit_large_patch14_dinov2: arch('vit_large_patch14_dinov2', 'ViT', 304367616, 829788286976),
  vit_huge_patch14_clip_224: arch('vit_huge_patch14_clip_224', 'ViT', 632077824, 323985925120),
  vit_giant_patch14_clip_224: arch('vit_giant_patch14_clip_224', 'ViT', 1012646656, 519480253952),
  vit_gigantic_patch14_clip_224: arch('vit_gigantic_patch14_clip_224', 'ViT', 1844908544, 946813264384),
  // ConViT
  convit_tiny: arch('convit_tiny', 'ConViT', 5710512, 2514138240),
  convit_small: arch('convit_small', 'ConViT', 27777322, 11514316320),
  convit_base: arch('convit_base', 'ConViT', 86540040, 35048575488),
  // DaVit
  davit_tiny: arch('davit_tiny', 'DaVit', 28360168, 8940423168),
  davit_small: arch('davit_small', 'DaVit', 49745896, 17372399616),
  davit_base: arch('davit_base', 'DaVit', 87954408, 30716092416),
  // EfficientViT-B
  efficientvit_b0: arch('efficientvit_b0', 'EfficientViT-B', 3410008, 220085504),
  efficientvit_b1: arch('efficientvit_b1', 'EfficientViT-B', 9102024, 1784750208),
  efficientvit_b2: arch('efficientvit_b2', 'EfficientViT-B', 24330712, 5375228160),
  efficientvit_b3: arch('efficientvit_b3', 'EfficientViT-B', 48646056, 13320579072),
  // FastViT
  fastvit_t8: arch('fastvit_t8', 'FastViT', 4026232, 1453633536),
  fastvit_t12: arch('fastvit_t12', 'FastViT', 7553704, 2899787776),
  fastvit_s12: arch('fastvit_s12', 'FastViT', 9473576, 3705094144),
  fastvit_sa12: arch('fastvit_sa12', 'FastViT', 11580968, 3973464064),
  // LeViT
  levit_conv_128s: arch('levit_conv_128s', 'LeViT', 7771744, 570919168),
  levit_conv_128: arch('levit_conv_128', 'LeViT', 9206112, 742409472),
  levit_conv_192: arch('levit_conv_192', 'LeViT', 10941736, 1213031552),
  levit_conv_256: arch('levit_conv_256', 'LeViT', 18886896, 2120926720),
  levit_conv_384: arch('levit_conv_384', 'LeViT', 39118464, 4503056128),
  // MaxxViT
  maxxvit_rmlp_nano_rw_256: arch('maxxvit_rmlp_nano_rw_256', 'MaxxViT', 16779628, 8346509312),
  maxxvitv2_nano_rw_256: arch('maxxvitv2_nano_rw_256', 'MaxxViT', 23696611, 12239007744),
  maxxvit_rmlp_small_rw_256: arch('maxxvit_rmlp_small_rw_256', 'MaxxViT', 66010516, 28429848576),
  // MobileViT
  mobilevitv2_050: arch('mobilevitv2_050', 'MobileViT', 1370593, 999428096),
  mobilevitv2_075: arch('mobilevitv2_075', 'MobileViT', 2866009, 2161317888),
  // timm
  convnextv2_atto: arch('convnextv2_atto', 'timm', 3708400, 1104107520),
  convnextv2_femto: arch('convnextv2_femto', 'timm', 5233240, 1570590720),
  convnextv2_pico: arch('convnextv2_pico', 'timm', 9066280, 2749218816),
  convnextv2_nano: arch('convnextv2_nano', 'timm', 15623800, 14430408960),
  convnextv2_tiny: arch('convnextv2_tiny', 'timm', 28635496, 26272230912),
  convnextv2_base: arch('convnextv2_base', 'timm', 88717800, 90414114816),
};

/**
 * Friendly spellings -> table key. The CSV's `vit_small` / `vit_base` rows carry no
 * n_params / flops; they are the DeiT models' ViT-S/16 and ViT-B/16 architectures.
 */
export const ARCHITECTURE_ALIASES: Record<string, string> = {
  'resnet-18': 'resnet18',
  'resnet-34': 'resnet34',
  'resnet-50': 'resnet50',
  'resnet-101': 'resnet101',
  'resnet-152': 'resnet152',
  'cornet-s': 'cornet_s',
  cornets: 'cornet_s',
  'efficientnet-b0': 'efficientnet_b0',
  'efficientnet-b1': 'efficientnet_b1',
  'efficientnet-b2': 'efficientnet_b2',
  'efficientnet-b3': 'efficientnet_b3',
  'efficientnet-b4': 'efficientnet_b4',
  'convnext-tiny': 'convnext_tiny',
  'convnext-small': 'convnext_small',
  'convnext-base': 'convnext_base',
  'convnext-large': 'convnext_large',
  vit_tiny: 'deit_tiny',
  vit_small: 'deit_small',
  vit_base: 'deit_base',
  vit_large: 'deit_large',
  'vit-tiny': 'deit_tiny',
  'vit-small': 'deit_small',
  'vit-base': 'deit_base',
  'vit-large': 'deit_large',
  'vit-s/16': 'deit_small',
  'vit-b/16': 'deit_base',
  'vit-l/16': 'deit_large',
};

/**
 * Datasets of the CSV with a per-class subset rule that holds exactly there:
 * n_samples = samples_per_class x classes, and the full set for samples_per_class = 0.
 * Keys are lower case (lookups are case-insensitive); `name` keeps the CSV spelling.
 */
export const DATASETS: Record<string, Dataset> = {
  imagenet: { name: 'imagenet', classes: 1000, fullSize: 1281167 },
  ecoset: { name: 'ecoset', classes: 565, fullSize: 1444911 },
  imagenet21kp: { name: 'imagenet21kP', classes: 10450, fullSize: 11060223 },
  'imagenet21kp-class-1000': { name: 'imagenet21kP-class-1000', classes: 1000, fullSize: 1060048 },
  inaturalist: { name: 'inaturalist', classes: 10000, fullSize: 2686843 },
  places365: { name: 'places365', classes: 365, fullSize: 1803460 },
  webvisionp: { name: 'webvisionP', classes: 4186, fullSize: 13576420 },
  // WebVision 2.0 (16M images, 5,000 classes); the paper uses only its full set.
  webvision: { name: 'webvision', classes: 5000, fullSize: 16076665 },
  infimnist: { name: 'infimnist', classes: 10, fullSize: 1200000 },
};

/** Case-insensitive index over keys and aliases, built once (tables are static). */
const ARCH_INDEX: Map<string, Architecture> = (() => {
  const index = new Map<string, Architecture>();
  for (const [key, a] of Object.entries(ARCHITECTURES)) index.set(key.toLowerCase(), a);
  for (const [alias, key] of Object.entries(ARCHITECTURE_ALIASES)) {
    const a = ARCHITECTURES[key];
    if (a && !index.has(alias)) index.set(alias, a);
  }
  return index;
})();

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function lookupArchitecture(name: string): Architecture | undefined {
  const key = name.trim().toLowerCase();
  // Fall back to the live table so entries added at run time are found too.
  return ARCH_INDEX.get(key) ?? (hasOwn(ARCHITECTURES, key) ? ARCHITECTURES[key] : undefined);
}

export function lookupDataset(name: string): Dataset | undefined {
  const key = name.trim().toLowerCase();
  return hasOwn(DATASETS, key) ? DATASETS[key] : undefined;
}

/** Samples in the training set: per-class count x classes, or the full set for 0. */
export function datasetSamples(dataset: Dataset, samplesPerClass: number): number {
  return samplesPerClass > 0 ? Math.min(samplesPerClass * dataset.classes, dataset.fullSize) : dataset.fullSize;
}
