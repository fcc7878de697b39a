import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildJob,
  GPU_PRODUCT_LABEL,
  jobNameFor,
  labelValue,
  LABELS,
  RUN_ANNOTATION,
} from '../../activities/executors/kubernetes/jobBuilder';
import { isDns1123Label, isValidLabelKey, isValidLabelValue, validateJob } from '../../sim/kube-sim/validation';
import { kubeSpec, launchRequest } from './helpers';

const axisValue = fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.double({ noNaN: true }), fc.integer(), fc.boolean());
const axisName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,80}$/);

describe('job builder', () => {
  it('names are valid DNS-1123 labels of at most 63 characters, with the attempt, for arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.integer({ min: 1, max: 10_000 }), (sweep, runId, attempt) => {
        const name = jobNameFor(sweep, runId, attempt);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(isDns1123Label(name)).toBe(true);
        expect(name.endsWith(`-a${attempt}`)).toBe(true);
        expect(jobNameFor(sweep, runId, attempt)).toBe(name);
      }),
      { numRuns: 500 },
    );
  });

  // Golden Job names. They must NEVER change: a restarted worker adopts the Job of an attempt that is
  // already running by its name; a changed name launches that attempt a second time on the cluster.
  it('Job names are stable (golden values)', () => {
    expect(jobNameFor('kube-test', 'resnet18-imagenet-10-1-0-abcd1234', 3)).toBe('kube-test-resnet18-imagenet-10-1-0-abcd1234-5b831258-a3');
    expect(jobNameFor('kube-test', 'ok-run-1', 1)).toBe('kube-test-ok-run-1-0221d96c-a1');
    expect(jobNameFor('s', 'r', 1)).toBe('s-r-43140413-a1');
    expect(jobNameFor('s', 'r', 2)).toBe('s-r-43140413-a2');
  });

  it('distinct runs never share a name even when their readable prefixes are cut to the same text', () => {
    const long = 'x'.repeat(80);
    expect(jobNameFor('s', `${long}-a`, 1)).toBe('s-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-49fe4f02-a1');
    expect(jobNameFor('s', `${long}-b`, 1)).toBe('s-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-b1fe7c7c-a1');
  });

  it('labels are valid keys and values for arbitrary axes, and the whole Job passes API validation', () => {
    fc.assert(
      fc.property(fc.dictionary(axisName, axisValue, { maxKeys: 6 }), fc.string({ unit: 'binary', maxLength: 90 }), (axes, runId) => {
        const spec = kubeSpec();
        const job = buildJob(launchRequest(spec, runId || 'r', 2, axes));
        for (const labels of [job.metadata!.labels!, job.spec!.template.metadata!.labels!])
          for (const [k, v] of Object.entries(labels)) {
            expect(isValidLabelKey(k), k).toBe(true);
            expect(isValidLabelValue(v), `${k}=${v}`).toBe(true);
          }
        expect(validateJob(JSON.parse(JSON.stringify(job)))).toEqual([]);
        const run = JSON.parse(job.metadata!.annotations![RUN_ANNOTATION]) as { runId: string; axes: unknown };
        expect(run.runId).toBe(runId || 'r');
        expect(run.axes).toEqual(JSON.parse(JSON.stringify(axes)));
      }),
      { numRuns: 300 },
    );
  });

  it('label values are sanitised deterministically and keep long values distinct', () => {
    expect(labelValue('resnet18')).toBe('resnet18');
    expect(labelValue(0.5)).toBe('0.5');
    expect(labelValue('a b/c')).toBe('a_b_c');
    expect(labelValue('-x-')).toBe('x');
    const a = labelValue('y'.repeat(100) + 'a');
    const b = labelValue('y'.repeat(100) + 'b');
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(63);
  });

  it('has GPU limits, retries off, deadline, security context, volumes, env and templates', () => {
    const spec = kubeSpec(
      {
        job: {
          image: 'ghcr.io/x/trainer:1',
          command: ['python', 'train.py', '--arch={{arch}}'],
          args: ['--seed', '{{seed}}', '--run={{runId}}'],
          env: { LABEL: '{{arch}}-{{attempt}}' },
          resources: { gpus: 4, cpu: 16, memory: '64Gi', gpuType: 'NVIDIA-H100-80GB-HBM3' },
        },
        timeouts: { run: '2h', pending: '30m' },
      },
      { serviceAccount: 'trainer', priorityClass: 'sweep-low', imagePullSecrets: ['regcred'], datasetPvc: 'imagenet', shmSize: '32Gi', ttlSecondsAfterFinished: 600 },
    );
    const req = launchRequest(spec, 'resnet18-imagenet-10-1-0-abcd1234', 3);
    const job = buildJob(req);
    const pod = job.spec!.template.spec!;
    const c = pod.containers[0];
    expect(job.metadata!.name).toBe('kube-test-resnet18-imagenet-10-1-0-abcd1234-5b831258-a3'); // golden: see above
    expect(job.metadata!.namespace).toBe('default');
    expect(job.spec!.backoffLimit).toBe(0);
    expect(job.spec!.ttlSecondsAfterFinished).toBe(600);
    expect(job.spec!.activeDeadlineSeconds).toBe(7200);
    expect(job.spec!.suspend).toBeUndefined();
    expect(pod.restartPolicy).toBe('Never');
    expect(c.resources!.limits).toMatchObject({ 'nvidia.com/gpu': '4', cpu: '16', memory: '64Gi' });
    expect(c.resources!.requests).toMatchObject({ 'nvidia.com/gpu': '4', cpu: '16', memory: '64Gi' });
    expect(pod.nodeSelector).toEqual({ [GPU_PRODUCT_LABEL]: 'NVIDIA-H100-80GB-HBM3' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.serviceAccountName).toBe('trainer');
    expect(pod.priorityClassName).toBe('sweep-low');
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    expect(pod.volumes).toContainEqual({ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '32Gi' } });
    expect(pod.volumes).toContainEqual({ name: 'dataset', persistentVolumeClaim: { claimName: 'imagenet', readOnly: true } });
    expect(c.volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
    expect(c.volumeMounts).toContainEqual({ name: 'dataset', mountPath: '/data', readOnly: true });
    expect(c.command).toEqual(['python', 'train.py', '--arch=resnet18']);
    expect(c.args).toEqual(['--seed', '0', '--run=resnet18-imagenet-10-1-0-abcd1234']);
    const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value]));
    expect(env.LABEL).toBe('resnet18-3');
    expect(env.SWEEP_RUN_ID).toBe(req.runId);
    expect(env.SWEEP_ATTEMPT).toBe('3');
    expect(env.SWEEP_RESULT_FILE).toBe('/dev/termination-log');
    expect(JSON.parse(env.SWEEP_RUN!)).toEqual({ sweep: 'kube-test', runId: req.runId, attempt: 3, axes: req.axes });
    const labels = job.metadata!.labels!;
    expect(labels[LABELS.managedBy]).toBe('scaling-sweep');
    expect(labels[LABELS.sweep]).toBe('kube-test');
    expect(labels[LABELS.run]).toBe(req.runId);
    expect(labels[LABELS.attempt]).toBe('3');
    expect(labels[`${LABELS.axisPrefix}arch`]).toBe('resnet18');
    expect(labels[`${LABELS.axisPrefix}samples_per_class`]).toBe('10');
    expect(job.spec!.template.metadata!.labels![LABELS.run]).toBe(req.runId);
  });

  it('no GPU limit for CPU-only runs', () => {
    const spec = kubeSpec({ job: { image: 'x', command: ['y'], resources: { gpus: 0, cpu: 1, memory: '1Gi' } } });
    const c = buildJob(launchRequest(spec, 'r')).spec!.template.spec!.containers[0];
    expect(c.resources!.limits!['nvidia.com/gpu']).toBeUndefined();
  });

  it('Kueue: the queue label on the Job and suspend: true when the spec names a queue', () => {
    const job = buildJob(launchRequest(kubeSpec({}, { queue: 'gpu-queue' }), 'r'));
    expect(job.metadata!.labels![LABELS.kueueQueue]).toBe('gpu-queue');
    expect(job.spec!.suspend).toBe(true);
    const plain = buildJob(launchRequest(kubeSpec(), 'r'));
    expect(plain.metadata!.labels![LABELS.kueueQueue]).toBeUndefined();
  });
});

describe('job builder: least privilege (issue 13)', () => {
  const pod = (job: ReturnType<typeof buildJob>) => job.spec!.template.spec!;

  it('no service-account token in a training pod unless the spec names a ServiceAccount', () => {
    const plain = pod(buildJob(launchRequest(kubeSpec(), 'r')));
    expect(plain.automountServiceAccountToken).toBe(false);
    expect(plain.serviceAccountName).toBeUndefined();
    // With a named account, that account's own automountServiceAccountToken decides.
    const named = pod(buildJob(launchRequest(kubeSpec({}, { serviceAccount: 'trainer' }), 'r')));
    expect(named.serviceAccountName).toBe('trainer');
    expect('automountServiceAccountToken' in named).toBe(false);
  });

  it('read-only root by default, with a writable emptyDir at /tmp; runs as UID/GID 10001', () => {
    const p = pod(buildJob(launchRequest(kubeSpec(), 'r')));
    const c = p.containers[0];
    expect(c.securityContext!.readOnlyRootFilesystem).toBe(true);
    expect(p.volumes).toEqual([
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '8Gi' } },
      { name: 'tmp', emptyDir: {} },
    ]);
    expect(c.volumeMounts).toEqual([
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(p.securityContext).toMatchObject({ runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 });
  });

  it('writablePaths add one emptyDir each; a path the dataset holds keeps the dataset; false opts out', () => {
    const spec = kubeSpec({}, { datasetPvc: 'imagenet', readOnlyRootFilesystem: { writablePaths: ['/workspace/out', '/data', '/home/u/.cache'] } });
    const job = buildJob(launchRequest(spec, 'r'));
    const c = pod(job).containers[0];
    expect(c.securityContext!.readOnlyRootFilesystem).toBe(true);
    expect(c.volumeMounts).toEqual([
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'dataset', mountPath: '/data', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'writable-1', mountPath: '/workspace/out' },
      { name: 'writable-3', mountPath: '/home/u/.cache' },
    ]);
    expect(pod(job).volumes!.map((v) => v.name)).toEqual(['dshm', 'dataset', 'tmp', 'writable-1', 'writable-3']);
    expect(validateJob(JSON.parse(JSON.stringify(job)))).toEqual([]);

    const off = pod(buildJob(launchRequest(kubeSpec({}, { readOnlyRootFilesystem: false }), 'r')));
    expect(off.containers[0].securityContext!.readOnlyRootFilesystem).toBe(false);
    expect(off.volumes!.map((v) => v.name)).toEqual(['dshm']);
  });

  it('refuses writable paths that are relative, climb, repeat or are mounted already, naming the field', () => {
    for (const bad of [['tmp/x'], ['/a/../etc'], ['/x', '/x'], ['/tmp'], ['/dev/shm'], ['/'], ['/a b']])
      expect(() => kubeSpec({}, { readOnlyRootFilesystem: { writablePaths: bad } }), JSON.stringify(bad)).toThrow(/readOnlyRootFilesystem/);
  });

  it('checkov skip annotations only for what the spec chose, each naming the spec field (golden)', () => {
    const demo = buildJob(launchRequest(kubeSpec(), 'r')).metadata!.annotations!;
    const why = 'job.image of the sweep spec names no digest (pin one there as image@sha256:...)';
    expect(Object.fromEntries(Object.entries(demo).filter(([k]) => k.startsWith('checkov.io/')))).toEqual({
      'checkov.io/skip1': `CKV_K8S_14=${why}`,
      'checkov.io/skip2': `CKV_K8S_15=${why}`,
      'checkov.io/skip3': `CKV_K8S_43=${why}`,
      'checkov.io/skip4': 'CKV_K8S_21=executor.namespace of the sweep spec is default',
    });
    const pinned = kubeSpec(
      { job: { image: `r.example/t@sha256:${'0'.repeat(64)}`, command: ['x'], resources: { gpus: 1, cpu: 1, memory: '1Gi' } } },
      { namespace: 'scaling-sweep', serviceAccount: 'trainer' },
    );
    const a = buildJob(launchRequest(pinned, 'r')).metadata!.annotations!;
    expect(Object.keys(a).filter((k) => k.startsWith('checkov.io/'))).toEqual(['checkov.io/skip1']);
    expect(a['checkov.io/skip1']).toBe('CKV_K8S_38=executor.serviceAccount of the sweep spec names trainer: its automountServiceAccountToken decides');
    // checkov splits at "=": exactly one in each value.
    for (const v of [...Object.values(demo), a['checkov.io/skip1']].filter((v) => v.startsWith('CKV_'))) expect(v.split('=')).toHaveLength(2);
  });
});
