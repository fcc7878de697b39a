import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// Checks what `kubectl kustomize` renders, not the source files: patches, name prefixes and
// the namespace transformer all act before anything reaches a cluster.
const root = fileURLToPath(new URL('../../', import.meta.url));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // Shapes differ per kind; each check narrows what it reads.
  [key: string]: unknown;
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type: string };
  };
}
interface PodSpec {
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  containers: Container[];
}

function render(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new Error(
        'kubectl is not installed or not on PATH: these manifest tests need it (`kubectl kustomize`). `bash scripts/setup.sh test` (run by `npm test`) installs it into .tools/kubectl when missing.',
      );
    }
    throw new Error(`kubectl kustomize ${dir} failed:\n${err.stderr ?? err.message}`);
  }
  const docs = parseAllDocuments(out);
  const objects: K8sObject[] = [];
  for (const d of docs) {
    if (d.errors.length)
      throw new Error(`rendered ${dir} is not valid YAML: ${d.errors.map((x) => x.message).join('; ')}`);
    const o = d.toJS() as K8sObject | null;
    if (o) objects.push(o);
  }
  return objects;
}

const base = render('k8s/');
const ofKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: K8sObject[], kind: string): K8sObject => {
  const found = ofKind(objs, kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
};

describe('k8s/ base (kubectl kustomize)', () => {
  it('renders the namespace, service account, RBAC and worker Deployment', () => {
    const kinds = new Set(base.map((o) => o.kind));
    for (const k of ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'Deployment']) expect(kinds).toContain(k);
    const ns = one(base, 'Namespace').metadata.name;
    for (const o of base.filter((x) => x.kind !== 'Namespace'))
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns);
  });

  it('grants nothing cluster-wide', () => {
    const clusterScoped = base.filter((o) => ['ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    expect(clusterScoped).toEqual([]);
  });

  it('grants exactly jobs create/get/list/watch/delete, pods get/list/watch, pods/log get, services create/get/delete', () => {
    const role = one(base, 'Role');
    const rules = (role.rules as PolicyRule[]) ?? [];
    // Flatten to "group/resource:verb" so the check is independent of how rules are grouped.
    const grants = new Set<string>();
    for (const r of rules) {
      expect(r.resourceNames, 'no resourceNames restrictions expected').toBeUndefined();
      expect(r.nonResourceURLs).toBeUndefined();
      for (const g of r.apiGroups ?? [])
        for (const res of r.resources ?? []) for (const v of r.verbs) grants.add(`${g}/${res}:${v}`);
    }
    const expected = [
      ...['create', 'get', 'list', 'watch', 'delete'].map((v) => `batch/jobs:${v}`),
      ...['get', 'list', 'watch'].map((v) => `/pods:${v}`),
      '/pods/log:get',
      ...['create', 'get', 'delete'].map((v) => `/services:${v}`),
    ];
    expect([...grants].sort()).toEqual(expected.sort());
  });

  it('binds the Role to the workers’ ServiceAccount in their namespace', () => {
    const sa = one(base, 'ServiceAccount');
    const rb = one(base, 'RoleBinding');
    const role = one(base, 'Role');
    expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    const pod = podSpec(one(base, 'Deployment'));
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
  });

  it('runs the worker non-root, read-only, without privileges, seccomp RuntimeDefault', () => {
    const pod = podSpec(one(base, 'Deployment'));
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostPID ?? false).toBe(false);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
    for (const c of pod.containers) {
      const sc = c.securityContext;
      expect(sc?.runAsNonRoot, c.name).toBe(true);
      expect(sc?.allowPrivilegeEscalation, c.name).toBe(false);
      expect(sc?.readOnlyRootFilesystem, c.name).toBe(true);
      expect(sc?.privileged ?? false, c.name).toBe(false);
      expect(sc?.capabilities?.drop, c.name).toEqual(['ALL']);
      expect(sc?.capabilities?.add ?? [], c.name).toEqual([]);
      expect(sc?.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
    }
  });

  it('configures the worker: command, env, DB URL from the Secret, resources, graceful shutdown', () => {
    const pod = podSpec(one(base, 'Deployment'));
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(120);
    expect(pod.containers).toHaveLength(1);
    const [c] = pod.containers;
    expect([...(c.command ?? []), ...(c.args ?? [])]).toEqual(['node', 'bin/sweep.js', 'worker']);
    const env = new Map((c.env ?? []).map((e) => [e.name, e]));
    for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE']) expect(env.get(name)?.value, name).toBeTruthy();
    expect(env.get('TEMPORAL_TASK_QUEUE')?.value).toBe('scaling-sweeps');
    expect(env.get('SWEEP_EXECUTOR')?.value).toBe('kubernetes');
    // The URL carries a password: it must come from the Secret, never a literal.
    expect(env.get('SWEEP_DB')).toEqual({
      name: 'SWEEP_DB',
      valueFrom: { secretKeyRef: { name: 'scaling-sweep-db', key: 'url' } },
    });
    // Read-only root: every place the worker writes (tsx cache, workflow bundle, reports) is a volume.
    const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining(['/tmp', '/app/.sweep', '/app/out']));
    for (const kind of ['requests', 'limits'] as const) {
      expect(c.resources?.[kind]?.cpu, `${kind}.cpu`).toBeTruthy();
      expect(c.resources?.[kind]?.memory, `${kind}.memory`).toBeTruthy();
    }
  });
});

describe('k8s/overlays/kueue', () => {
  const kueue = render('k8s/overlays/kueue');

  it('adds ResourceFlavor, ClusterQueue and a LocalQueue in the workers’ namespace', () => {
    const flavor = one(kueue, 'ResourceFlavor');
    const cq = one(kueue, 'ClusterQueue');
    const lq = one(kueue, 'LocalQueue');
    for (const o of [flavor, cq, lq]) expect(o.apiVersion).toMatch(/^kueue\.x-k8s\.io\//);
    // Cluster-scoped kinds must not be stamped with a namespace (kustomize does so for unknown kinds).
    expect(flavor.metadata.namespace).toBeUndefined();
    expect(cq.metadata.namespace).toBeUndefined();
    expect(lq.metadata.namespace).toBe(one(base, 'Namespace').metadata.name);
    expect((lq.spec as { clusterQueue: string }).clusterQueue).toBe(cq.metadata.name);
    const groups = (
      cq.spec as {
        resourceGroups: { flavors: { name: string; resources: { name: string; nominalQuota: string | number }[] }[] }[];
      }
    ).resourceGroups;
    const gpu = groups
      .flatMap((g) => g.flavors)
      .filter((f) => f.name === flavor.metadata.name)
      .flatMap((f) => f.resources)
      .find((r) => r.name === 'nvidia.com/gpu');
    expect(Number(gpu?.nominalQuota)).toBeGreaterThan(0);
  });

  it('keeps the base intact and still grants nothing cluster-wide to the workers', () => {
    for (const k of ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'Deployment'])
      expect(ofKind(kueue, k)).toHaveLength(1);
    expect(kueue.filter((o) => ['ClusterRole', 'ClusterRoleBinding'].includes(o.kind))).toEqual([]);
  });
});

function podSpec(deploy: K8sObject): PodSpec {
  return (deploy.spec as { template: { spec: PodSpec } }).template.spec;
}
