import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildJob } from '../../activities/executors/kubernetes/jobBuilder';
import { expandGrid } from '../../spec/grid';
import { loadSweepSpec } from '../../spec/load';
import { kubeSpec, launchRequest } from '../kube/helpers';

// A cluster admin's check before letting the controller in: checkov (PyPI, installed by
// `bash scripts/setup.sh test` into .tools/checkov) on what kustomize renders and on the Jobs the
// executor creates. A finding passes only if the manifest skips it with a written reason.
const root = fileURLToPath(new URL('../../', import.meta.url));
const checkovDir = join(root, '.tools/checkov');
const checkovBin = join(checkovDir, 'bin/checkov');

interface CheckRecord {
  check_id: string;
  file_abs_path: string;
  resource: string;
  check_result: { result: string; suppress_comment?: string };
}
interface Output {
  summary: { passed: number; failed: number; skipped: number; parsing_errors: number };
  results: { passed_checks: CheckRecord[]; failed_checks: CheckRecord[]; skipped_checks: CheckRecord[] };
}
interface Report {
  passed: CheckRecord[];
  failed: CheckRecord[];
  skipped: CheckRecord[];
}

const TARGETS = ['base', 'kueue', 'demo-jobs', 'sa-jobs'] as const;
type Target = (typeof TARGETS)[number];

function kustomize(dir: string): string {
  return execFileSync('kubectl', ['kustomize', dir], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const toYaml = (objs: unknown[]) => objs.map((o) => stringify(JSON.parse(JSON.stringify(o)))).join('---\n');

/** The Jobs of every run of configs/demo-cluster.yaml (24 runs, two resource shapes). */
function demoJobs(): unknown[] {
  const spec = loadSweepSpec(join(root, 'configs/demo-cluster.yaml'));
  return expandGrid(spec).map((c) => buildJob(launchRequest(spec, c.runId, 1, c.axes)));
}

/** A production-like spec: a ServiceAccount, a pinned image, the workers' namespace, a dataset, writable paths. */
function serviceAccountJobs(): unknown[] {
  const spec = kubeSpec(
    {
      job: {
        image: `registry.example.com/lab/trainer@sha256:${'ab'.repeat(32)}`,
        command: ['python', 'train.py'],
        resources: { gpus: 8, cpu: 32, memory: '256Gi', gpuType: 'NVIDIA-H100-80GB-HBM3' },
      },
    },
    {
      namespace: 'scaling-sweep',
      serviceAccount: 'trainer',
      queue: 'gpu-queue',
      imagePullSecrets: ['regcred'],
      datasetPvc: 'imagenet',
      readOnlyRootFilesystem: { writablePaths: ['/workspace/out', '/home/trainer/.cache'] },
    },
  );
  return [buildJob(launchRequest(spec, 'r-1', 1)), buildJob(launchRequest(spec, 'r-2', 2))];
}

let dir: string;
const reports = new Map<Target, Report>();

beforeAll(async () => {
  if (!existsSync(checkovBin))
    throw new Error(
      `checkov is not installed at ${checkovBin}: run  bash scripts/setup.sh test  (PyPI checkov into .tools/checkov)`,
    );
  dir = mkdtempSync(join(tmpdir(), 'checkov-'));
  // The Jobs are scanned with the optional NetworkPolicy for them (k8s/components/job-network-policy),
  // as a cluster that enables it runs them.
  const jobPolicy = readFileSync(join(root, 'k8s/components/job-network-policy/networkpolicy.yaml'), 'utf8');
  const files: Record<Target, string> = {
    base: kustomize('k8s/'),
    kueue: kustomize('k8s/overlays/kueue'),
    'demo-jobs': `${toYaml(demoJobs())}---\n${jobPolicy}`,
    'sa-jobs': `${toYaml(serviceAccountJobs())}---\n${jobPolicy}`,
  };
  for (const t of TARGETS) writeFileSync(join(dir, `${t}.yaml`), files[t]);
  // One run for all four files (checkov's start-up is most of its time); results are per file.
  // (Asynchronous: a synchronous child would block vitest's worker for the whole scan.)
  // The only cross-resource check, CKV2_K8S_6, cannot leak between them: the worker policy selects
  // app.kubernetes.io/name=sweep-worker, which no Job carries, and the Jobs' policy selects
  // app.kubernetes.io/managed-by=scaling-sweep, which no worker carries.
  // --skip-download: offline, no platform look-ups. --soft-fail: exit 0, the JSON says what failed.
  const { stdout } = await promisify(execFile)(
    'python3',
    [
      checkovBin,
      '--framework',
      'kubernetes',
      ...TARGETS.flatMap((t) => ['-f', join(dir, `${t}.yaml`)]),
      '-o',
      'json',
      '--soft-fail',
      '--skip-download',
      '--compact',
    ],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: checkovDir }, maxBuffer: 256 << 20, timeout: 240_000 },
  );
  const out = JSON.parse(stdout) as Output;
  expect(out.summary.parsing_errors).toBe(0);
  for (const t of TARGETS) {
    const path = join(dir, `${t}.yaml`);
    const of = (rs: CheckRecord[]) => rs.filter((r) => r.file_abs_path === path);
    reports.set(t, {
      passed: of(out.results.passed_checks),
      failed: of(out.results.failed_checks),
      skipped: of(out.results.skipped_checks),
    });
  }
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const report = (t: Target) => reports.get(t)!;
const describeCheck = (c: CheckRecord) => `${c.check_id} ${c.resource}`;
/** check id -> resources, for pinned expectations. */
function byCheck(records: CheckRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) out[r.check_id] = (out[r.check_id] ?? 0) + 1;
  return out;
}

describe('checkov (kubernetes framework)', () => {
  it.each(TARGETS)('%s: no failed check', (t) => {
    const r = report(t);
    expect(r.failed.map(describeCheck)).toEqual([]);
    // A scan that checked nothing would pass too.
    expect(r.passed.length).toBeGreaterThan(80);
  });

  it.each(TARGETS)('%s: every skip carries a written reason', (t) => {
    for (const s of report(t).skipped) {
      const why = s.check_result.suppress_comment ?? '';
      expect(why, describeCheck(s)).not.toBe('No comment provided');
      expect(why.length, `${describeCheck(s)}: ${why}`).toBeGreaterThan(30);
    }
  });

  it('skips exactly the accepted findings (golden): worker token, image digest, DB URL in the env', () => {
    for (const t of ['base', 'kueue'] as const) {
      const skipped = report(t).skipped;
      expect(byCheck(skipped), t).toEqual({ CKV_K8S_35: 1, CKV_K8S_38: 1, CKV_K8S_43: 1 });
      for (const s of skipped) expect(s.resource).toBe('Deployment.scaling-sweep.sweep-worker');
    }
  });

  it('the worker has probes and a NetworkPolicy, a fixed tag and pull policy Always', () => {
    const passed = report('base').passed;
    const ids = new Set(passed.map((p) => p.check_id));
    for (const id of ['CKV_K8S_8', 'CKV_K8S_9', 'CKV2_K8S_6', 'CKV_K8S_14', 'CKV_K8S_15', 'CKV_K8S_22', 'CKV_K8S_40'])
      expect(ids, id).toContain(id);
  });

  it('demo-cluster Jobs: no token, read-only root, high UID pass; only the spec’s image and namespace are skipped', () => {
    const r = report('demo-jobs');
    const jobs = 24;
    const passed = byCheck(r.passed);
    for (const id of ['CKV_K8S_38', 'CKV_K8S_22', 'CKV_K8S_40', 'CKV_K8S_20', 'CKV_K8S_28'])
      expect(passed[id], id).toBe(jobs);
    expect(passed.CKV2_K8S_6).toBe(jobs);
    // The demo's spec chooses a :latest image and the default namespace; the Jobs say so.
    expect(byCheck(r.skipped)).toEqual({ CKV_K8S_14: jobs, CKV_K8S_15: jobs, CKV_K8S_21: jobs, CKV_K8S_43: jobs });
  });

  it('Jobs with a ServiceAccount: only the token is the account’s decision; image, namespace, root pass', () => {
    const r = report('sa-jobs');
    expect(byCheck(r.skipped)).toEqual({ CKV_K8S_38: 2 });
    const passed = byCheck(r.passed);
    for (const id of ['CKV_K8S_14', 'CKV_K8S_15', 'CKV_K8S_21', 'CKV_K8S_22', 'CKV_K8S_40', 'CKV_K8S_43', 'CKV2_K8S_6'])
      expect(passed[id], id).toBe(2);
  });
});
