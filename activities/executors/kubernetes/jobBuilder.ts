import type { V1EnvFromSource, V1EnvVar, V1Job, V1Service, V1Toleration, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { durationMs, nodesOf, renderTemplate, shortHash, type AxisValue, type EnvFrom, type EnvValue } from '../../../spec';
import type { LaunchRequest } from '../types';

/** Label and annotation keys the executor puts on its Jobs (and, through the template, their pods). */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  sweep: 'scaling-sweep.io/sweep',
  run: 'scaling-sweep.io/run',
  attempt: 'scaling-sweep.io/attempt',
  instance: 'scaling-sweep.io/instance',
  stage: 'scaling-sweep.io/stage',
  evaluator: 'scaling-sweep.io/evaluator',
  axisPrefix: 'axis.scaling-sweep.io/',
  kueueQueue: 'kueue.x-k8s.io/queue-name',
} as const;
export const MANAGED_BY = 'scaling-sweep';
/** Annotation holding the full run JSON (labels are truncated / sanitised; this is exact). */
export const RUN_ANNOTATION = 'scaling-sweep.io/run-json';
/** Annotation holding the hash of the job definition the attempt runs (adoption requires it to match). */
export const JOB_HASH_ANNOTATION = 'scaling-sweep.io/job-hash';
export const CONTAINER_NAME = 'trainer';
export const RESULT_FILE = '/dev/termination-log';
export const GPU_RESOURCE = 'nvidia.com/gpu';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
/** The job controller's annotation (and label) holding an Indexed Job pod's index. */
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
/** Rendezvous port of a multi-node run (torchrun's default). */
export const MASTER_PORT = 29500;

type KubernetesConfig = Extract<LaunchRequest['spec']['executor'], { kind: 'kubernetes' }>;

/** The kubernetes executor settings of a request (defaults when the spec names another executor). */
export function kubeConfigOf(req: Pick<LaunchRequest, 'spec'>): KubernetesConfig {
  const e = req.spec.executor;
  if (e.kind === 'kubernetes') return e;
  return {
    kind: 'kubernetes',
    namespace: 'default',
    imagePullSecrets: [],
    tolerations: [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }],
    datasetMountPath: '/data',
    shmSize: '8Gi',
    ttlSecondsAfterFinished: 3600,
    imagePullGrace: '2m',
    readOnlyRootFilesystem: true,
  };
}

const MAX_NAME = 63;

/** Lowercase DNS-1123 label fragment: [a-z0-9-], no leading / trailing "-". */
function dnsFragment(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * Deterministic Job name for (sweep, run, attempt): a readable prefix, a hash of the full
 * (sweep, runId) so truncation never makes two runs collide, and the attempt. Always a valid
 * DNS-1123 label of at most 63 characters (the pods' job-name label carries it too).
 */
export function jobNameFor(sweep: string, runId: string, attempt: number, instance = '', reserve = 0): string {
  // The sweep instance is in the hash: a new sweep of the same name never meets the old one's Jobs.
  const key = instance ? `${sweep}\u0000${runId}\u0000${instance}` : `${sweep}\u0000${runId}`;
  const suffix = `-${shortHash(key)}-a${Math.max(0, Math.trunc(attempt))}`;
  const prefix = dnsFragment(`${sweep}-${runId}`).slice(0, MAX_NAME - reserve - suffix.length).replace(/-+$/, '');
  return `${prefix || 'run'}${suffix}`;
}

/**
 * The Job name of an attempt of either stage. Training: `jobNameFor`, exactly (Jobs already
 * running keep their names). Evaluate: `<prefix>-<hash>-e<evaluator>-<attempt>`, the hash over
 * the evaluator too, so an evaluation never collides with the training attempt of the same
 * number, nor with another evaluator's. The evaluator part is its first 8 characters when it is
 * lowercase alphanumeric (a hash), else a hash of it.
 */
export function jobNameOf(
  req: Pick<LaunchRequest, 'sweep' | 'runId' | 'attempt'> & Partial<Pick<LaunchRequest, 'instance' | 'stage' | 'evaluator' | 'resources'>>,
): string {
  // A multi-node Job's pods are named (and addressed) <job>-<index>: that must stay a 63-character label.
  const nodes = req.resources ? nodesOf(req.resources) : 1;
  const reserve = nodes > 1 ? String(nodes - 1).length + 1 : 0;
  if (req.stage !== 'evaluate') return jobNameFor(req.sweep, req.runId, req.attempt, req.instance, reserve);
  const ev = req.evaluator ?? '';
  const evPart = /^[a-z0-9]+$/.test(ev) ? ev.slice(0, 8) : shortHash(ev);
  const key = `${req.sweep}\u0000${req.runId}\u0000${req.instance ?? ''}\u0000evaluate\u0000${ev}`;
  const suffix = `-${shortHash(key)}-e${evPart}-${Math.max(0, Math.trunc(req.attempt))}`;
  const prefix = dnsFragment(`${req.sweep}-${req.runId}`).slice(0, MAX_NAME - reserve - suffix.length).replace(/-+$/, '');
  return `${prefix || 'run'}${suffix}`;
}

/**
 * The headless Service of a multi-node attempt (its pods' subdomain). A Service name is a
 * DNS-1035 label (a letter first): a Job name starting with a digit gets an "n" in front, which
 * the room jobNameOf keeps for the index always leaves.
 */
export function serviceNameOf(jobName: string): string {
  return /^[a-z]/.test(jobName) ? jobName : `n${jobName}`;
}

/** The address of a multi-node attempt's pod `index`: `<job>-<index>.<service>` (same namespace). */
export function podAddressOf(jobName: string, index: number): string {
  return `${jobName}-${index}.${serviceNameOf(jobName)}`;
}

/** Where the checkpoint claim is mounted in the job's container. */
export const CHECKPOINT_MOUNT = '/checkpoints';

/** The run's folder in the checkpoint claim (and in checkpointUri): `<sweep>/<runId>`, refused if either could leave it. */
export function checkpointSubPath(req: Pick<LaunchRequest, 'sweep' | 'runId'>): string {
  for (const [field, v] of [['sweep', req.sweep], ['runId', req.runId]] as const)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(v)) throw new Error(`kubernetes executor: ${field} ${JSON.stringify(v.slice(0, 80))} is not usable as a checkpoint subPath`);
  return `${req.sweep}/${req.runId}`;
}

/**
 * A valid label value: [A-Za-z0-9._-], at most 63 characters, alphanumeric at both ends ("" allowed).
 * Long values are cut and get a hash suffix so distinct values stay distinct.
 */
export function labelValue(v: AxisValue | string): string {
  const raw = String(v);
  const clean = raw.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (clean.length <= MAX_NAME) return clean;
  const h = shortHash(raw);
  const head = clean.slice(0, MAX_NAME - h.length - 1).replace(/[^A-Za-z0-9]+$/, '');
  return head ? `${head}-${h}` : h;
}

/** Label key for an axis: the name part must be [A-Za-z0-9._-], alphanumeric at both ends, <= 63. */
export function axisLabelKey(axis: string): string | undefined {
  const name = axis
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, MAX_NAME)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return name ? `${LABELS.axisPrefix}${name}` : undefined;
}

/** Labels that identify an attempt; a Job with other values under its name is not ours to adopt. */
export function attemptLabels(
  req: Pick<LaunchRequest, 'sweep' | 'runId' | 'attempt'> & Partial<Pick<LaunchRequest, 'instance' | 'stage' | 'evaluator'>>,
): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.sweep]: labelValue(req.sweep),
    [LABELS.run]: labelValue(req.runId),
    [LABELS.attempt]: String(req.attempt),
    ...(req.instance ? { [LABELS.instance]: labelValue(req.instance) } : {}),
    // Training Jobs carry no stage label (as before): a Job labelled evaluate is never adopted as training.
    ...(req.stage === 'evaluate' ? { [LABELS.stage]: 'evaluate', [LABELS.evaluator]: labelValue(req.evaluator ?? '') } : {}),
  };
}

/**
 * Label selector for an attempt's pods: the job controller's `job-name` label (exact, set on
 * every pod of the Job) plus our managed-by label.
 */
export function podSelector(jobName: string): string {
  return `job-name=${jobName},${LABELS.managedBy}=${MANAGED_BY}`;
}

function quantity(q: string | number): string {
  return String(q);
}

/** The run as the job sees it (env SWEEP_RUN, and the annotation). */
export function runJson(req: Pick<LaunchRequest, 'sweep' | 'runId' | 'attempt' | 'axes'>): string {
  return JSON.stringify({ sweep: req.sweep, runId: req.runId, attempt: req.attempt, axes: req.axes });
}

/** UID/GID of the job containers: the worker image's user (Dockerfile), above any node user. */
export const JOB_UID = 10001;

/**
 * checkov skip annotations for the checks the sweep spec decides, not the executor: the image
 * (a tag, not a digest), the namespace, and the token of a ServiceAccount the spec names. Each
 * says which spec field to change, so a cluster admin's scan shows who chose what. checkov
 * splits a value at "=": the reasons contain none.
 */
export function scannerSkips(kube: KubernetesConfig, image: string | undefined): Record<string, string> {
  const skips: string[] = [];
  if (!image || !image.includes('@sha256:')) {
    const why = 'job.image of the sweep spec names no digest (pin one there as image@sha256:...)';
    skips.push(`CKV_K8S_14=${why}`, `CKV_K8S_15=${why}`, `CKV_K8S_43=${why}`);
  }
  if (kube.namespace === 'default') skips.push('CKV_K8S_21=executor.namespace of the sweep spec is default');
  if (kube.serviceAccount)
    skips.push(`CKV_K8S_38=executor.serviceAccount of the sweep spec names ${kube.serviceAccount}: its automountServiceAccountToken decides`);
  return Object.fromEntries(skips.map((s, i) => [`checkov.io/skip${i + 1}`, s]));
}

/**
 * A spec env entry as a container env var: a string is rendered with the cell's axes; a Secret
 * reference stays a reference (the value never passes through us) and is never templated.
 */
export function envVarOf(name: string, value: EnvValue, render: (s: string) => string): V1EnvVar {
  if (typeof value === 'string') return { name, value: render(value) };
  return { name, valueFrom: { secretKeyRef: { name: value.secretKeyRef.name, key: value.secretKeyRef.key } } };
}

/** `job.envFrom` as the container's envFrom. */
export function envFromOf(envFrom: readonly EnvFrom[] | undefined): V1EnvFromSource[] {
  return (envFrom ?? []).map((e) => ('secret' in e ? { secretRef: { name: e.secret } } : { configMapRef: { name: e.configMap } }));
}

/**
 * The env torchrun and friends expect on each pod of a multi-node attempt. WORLD_SIZE is the
 * number of nodes, as NNODES (the Kubeflow PyTorchJob convention: torchrun sets the per-process
 * one itself); NODE_RANK is the pod's completion index, read from its annotation.
 */
export function rankEnv(jobName: string, nodes: number, gpusPerNode: number): V1EnvVar[] {
  return [
    { name: 'MASTER_ADDR', value: podAddressOf(jobName, 0) },
    { name: 'MASTER_PORT', value: String(MASTER_PORT) },
    { name: 'NNODES', value: String(nodes) },
    { name: 'WORLD_SIZE', value: String(nodes) },
    { name: 'NPROC_PER_NODE', value: String(Math.max(1, gpusPerNode)) },
    { name: 'NODE_RANK', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } } },
  ];
}

/**
 * The headless Service of a multi-node attempt: DNS for `<job>-<i>.<service>`, published before
 * the pods are ready (rank 0 must resolve while the others start). Owned by the Job (`uid`), so
 * deleting the Job collects it.
 */
export function buildService(req: LaunchRequest, job: { name: string; uid: string }): V1Service {
  const kube = kubeConfigOf(req);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceNameOf(job.name),
      namespace: kube.namespace,
      labels: { ...attemptLabels(req) },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.name, uid: job.uid }],
    },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { 'job-name': job.name },
      ports: [{ name: 'rendezvous', port: MASTER_PORT, targetPort: MASTER_PORT, protocol: 'TCP' }],
    },
  };
}

/** Build the batch/v1 Job for one attempt of one run. Pure. */
export function buildJob(req: LaunchRequest): V1Job {
  const kube = kubeConfigOf(req);
  const { job: tpl, timeouts } = req.spec;
  const res = req.resources;
  const nodes = nodesOf(res);
  const jobName = jobNameOf(req);
  const vars: Record<string, AxisValue> = { ...req.axes, sweep: req.sweep, runId: req.runId, attempt: req.attempt };
  const render = (s: string) => renderTemplate(s, vars);

  const labels: Record<string, string> = { ...attemptLabels(req) };
  for (const [axis, v] of Object.entries(req.axes)) {
    const key = axisLabelKey(axis);
    if (key) labels[key] = labelValue(v);
  }
  const jobLabels = { ...labels, ...(kube.queue ? { [LABELS.kueueQueue]: kube.queue } : {}) };

  const limits: Record<string, string> = { cpu: quantity(res.cpu), memory: quantity(res.memory) };
  if (res.gpus > 0) limits[GPU_RESOURCE] = String(res.gpus);

  const volumes: V1Volume[] = [{ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: kube.shmSize } }];
  const mounts: V1VolumeMount[] = [{ name: 'dshm', mountPath: '/dev/shm' }];
  if (kube.datasetPvc) {
    volumes.push({ name: 'dataset', persistentVolumeClaim: { claimName: kube.datasetPvc, readOnly: true } });
    mounts.push({ name: 'dataset', mountPath: kube.datasetMountPath, readOnly: true });
  }
  // The run's checkpoints persist across its attempts (and re-scoring): the evaluate stage only reads them.
  const evaluate = req.stage === 'evaluate';
  if (kube.checkpointPvc) {
    volumes.push({ name: 'checkpoints', persistentVolumeClaim: { claimName: kube.checkpointPvc, ...(evaluate ? { readOnly: true } : {}) } });
    mounts.push({ name: 'checkpoints', mountPath: CHECKPOINT_MOUNT, subPath: checkpointSubPath(req), ...(evaluate ? { readOnly: true } : {}) });
  }
  const readOnlyRoot = kube.readOnlyRootFilesystem !== false;
  if (readOnlyRoot) {
    // A read-only root leaves the container /tmp and the paths the spec names to write to.
    const writable = ['/tmp', ...(typeof kube.readOnlyRootFilesystem === 'object' ? kube.readOnlyRootFilesystem.writablePaths : [])];
    writable.forEach((path, i) => {
      // A path mounted already (the dataset) keeps that mount: two mounts at one path are invalid.
      if (mounts.some((m) => m.mountPath === path)) return;
      const name = i === 0 ? 'tmp' : `writable-${i}`;
      volumes.push({ name, emptyDir: {} });
      mounts.push({ name, mountPath: path });
    });
  }
  const tolerations: V1Toleration[] = kube.tolerations.map((t) => ({ ...t }));

  const env = [
    ...Object.entries(tpl.env).map(([name, value]) => envVarOf(name, value, render)),
    ...(nodes > 1 ? rankEnv(jobName, nodes, res.gpus) : []),
    { name: 'SWEEP_RUN', value: runJson(req) },
    { name: 'SWEEP_RUN_ID', value: req.runId },
    { name: 'SWEEP_ATTEMPT', value: String(req.attempt) },
    { name: 'SWEEP_RESULT_FILE', value: RESULT_FILE },
    { name: 'SWEEP_STAGE', value: req.stage ?? 'train' },
    ...(kube.checkpointPvc ? [{ name: 'SWEEP_CHECKPOINT_DIR', value: CHECKPOINT_MOUNT }] : []),
    ...(kube.checkpointUri ? [{ name: 'SWEEP_CHECKPOINT_URI', value: `${kube.checkpointUri.replace(/\/+$/, '')}/${checkpointSubPath(req)}` }] : []),
    ...(req.resume ? [{ name: 'SWEEP_RESUME', value: '1' }] : []),
    ...(evaluate && req.trainResult !== undefined ? [{ name: 'SWEEP_TRAIN_RESULT', value: req.trainResult }] : []),
  ];

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName,
      namespace: kube.namespace,
      labels: jobLabels,
      annotations: { [RUN_ANNOTATION]: runJson(req), ...(req.jobHash ? { [JOB_HASH_ANNOTATION]: req.jobHash } : {}), ...scannerSkips(kube, tpl.image) },
    },
    spec: {
      // Retries are the workflow's, by failure class: the Job itself never retries.
      backoffLimit: 0,
      ttlSecondsAfterFinished: kube.ttlSecondsAfterFinished,
      activeDeadlineSeconds: Math.max(1, Math.ceil(durationMs(timeouts.run) / 1000)),
      // Kueue admits a suspended Job by unsuspending it when its queue has quota.
      ...(kube.queue ? { suspend: true } : {}),
      // Several nodes: one pod per index, all at once; backoffLimit 0 makes one failed pod fail them all.
      ...(nodes > 1 ? { completionMode: 'Indexed', completions: nodes, parallelism: nodes } : {}),
      template: {
        metadata: { labels, annotations: { [RUN_ANNOTATION]: runJson(req) } },
        spec: {
          restartPolicy: 'Never',
          ...(nodes > 1 ? { subdomain: serviceNameOf(jobName) } : {}),
          // SIGTERM -> SIGKILL on preemption or deletion: the job's time to save a checkpoint.
          terminationGracePeriodSeconds: Math.ceil(durationMs((tpl as { gracePeriod?: string }).gracePeriod ?? '30s') / 1000),
          // No API token in a training pod unless the spec names a ServiceAccount: then that
          // account's own automountServiceAccountToken decides (the cluster admin's choice).
          ...(kube.serviceAccount ? { serviceAccountName: kube.serviceAccount } : { automountServiceAccountToken: false }),
          ...(kube.priorityClass ? { priorityClassName: kube.priorityClass } : {}),
          ...(kube.imagePullSecrets.length ? { imagePullSecrets: kube.imagePullSecrets.map((name) => ({ name })) } : {}),
          ...(res.gpuType ? { nodeSelector: { [GPU_PRODUCT_LABEL]: res.gpuType } } : {}),
          tolerations,
          securityContext: {
            runAsNonRoot: true,
            // runAsNonRoot needs a numeric user when the image does not declare one. Above 10000
            // so it cannot be a user of the node (CKV_K8S_40); the worker image's user too.
            runAsUser: JOB_UID,
            runAsGroup: JOB_UID,
            fsGroup: JOB_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          volumes,
          containers: [
            {
              name: CONTAINER_NAME,
              image: tpl.image,
              command: tpl.command.map(render),
              args: tpl.args.map(render),
              env,
              ...(tpl.envFrom?.length ? { envFrom: envFromOf(tpl.envFrom) } : {}),
              resources: { requests: { ...limits }, limits },
              volumeMounts: mounts,
              terminationMessagePath: RESULT_FILE,
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                runAsNonRoot: true,
                readOnlyRootFilesystem: readOnlyRoot,
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  };
}
