import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildJob, buildService } from '../../activities/executors/kubernetes/jobBuilder';
import { kubeSpec, launchRequest } from '../kube/helpers';

// The rendered objects against the Kubernetes OpenAPI schemas (PyPI kubernetes-validate), strict:
// a field the API does not know (a typo, a wrong nesting) fails.
const root = fileURLToPath(new URL('../../', import.meta.url));
const target = join(root, '.tools/kubernetes-validate');
const bin = join(target, 'bin/kubernetes-validate');

beforeAll(() => {
  if (!existsSync(bin)) execFileSync('python3', ['-m', 'pip', 'install', '--quiet', '--target', target, 'kubernetes-validate'], { stdio: 'inherit' });
}, 300_000);

function validate(file: string, version: string): { ok: boolean; out: string } {
  try {
    const out = execFileSync(bin, ['--strict', '-k', version, file], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: target }, stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, out };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('rendered Job and Service pass kubernetes-validate --strict', () => {
  const base = kubeSpec({}, { queue: 'gpu-queue', checkpointPvc: 'ckpt', datasetPvc: 'data' });
  const spec = kubeSpec(
    {
      job: {
        ...base.job!,
        env: { HF_TOKEN: { secretKeyRef: { name: 'hf', key: 'token' } }, LR: '0.1' },
        envFrom: [{ secret: 'wandb' }, { configMap: 'train-config' }],
        resources: { nodes: 2, gpus: 4, cpu: 8, memory: '64Gi' },
      },
    },
    { queue: 'gpu-queue', checkpointPvc: 'ckpt', datasetPvc: 'data' },
  );
  const req = launchRequest(spec, 'validate-run');
  const job = buildJob(req);
  const svc = buildService(req, { name: job.metadata!.name!, uid: '3f8c1f0e-0000-4000-8000-000000000001' });
  const single = buildJob(launchRequest(kubeSpec(), 'validate-single'));
  const dir = mkdtempSync(join(tmpdir(), 'kv-'));
  const file = join(dir, 'objects.yaml');
  writeFileSync(file, [job, svc, single].map((o) => stringify(o)).join('---\n'));

  for (const version of ['1.30.0', '1.32.0'])
    it(`Kubernetes ${version}`, () => {
      const r = validate(file, version);
      expect(r.out).not.toMatch(/ERROR|failed/i);
      expect(r.ok, r.out).toBe(true);
      // Every object of the file was checked, not only the first.
      expect(r.out.match(/passed for resource/g)).toHaveLength(3);
    }, 60_000);

  it('the validator is not a no-op: an unknown field fails strict validation', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, stringify({ ...svc, spec: { ...svc.spec, headless: true } }));
    expect(validate(bad, '1.32.0').ok).toBe(false);
  }, 60_000);
});
