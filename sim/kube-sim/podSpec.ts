import type { Condition, ContainerStatus, Node, Pod, PodSpec } from './types';

/** Pure helpers over pod specs and statuses shared by the scheduler and the kubelet. */
export const GPU = 'nvidia.com/gpu';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';

/** A syntactically valid image reference (else the kubelet reports InvalidImageName). */
export const IMAGE_REF =
  /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function gpuRequest(spec: PodSpec): number {
  let n = 0;
  for (const c of spec.containers) {
    const q = c.resources?.limits?.[GPU] ?? c.resources?.requests?.[GPU];
    if (q !== undefined) n += Number(q) || 0;
  }
  return n;
}

export function setCondition(conds: Condition[] | undefined, c: Condition): Condition[] {
  const out = (conds ?? []).filter((x) => x.type !== c.type);
  out.push(c);
  return out;
}

/** Five random characters, as the job controller suffixes pod names. */
export const rand5 = (rnd: () => number) =>
  Array.from({ length: 5 }, () => 'bcdfghjklmnpqrstvwxz2456789'[Math.floor(rnd() * 27)]).join('');

export function isTerminal(p: Pod): boolean {
  return p.status.phase === 'Succeeded' || p.status.phase === 'Failed';
}

export function containerStatus(name: string, image: string, state: ContainerStatus['state']): ContainerStatus {
  return { name, image, imageID: state.waiting ? '' : `${image}@sha256:${'0'.repeat(64)}`, ready: false, restartCount: 0, started: false, state };
}

/** Every NoSchedule / NoExecute taint of the node is tolerated by the pod. */
export function toleratesAll(spec: PodSpec, node: Node): boolean {
  // Most nodes have no taint: no arrays to build (the scheduler asks this for every node and pod).
  if (!node.spec.taints || node.spec.taints.length === 0) return true;
  const tolerations = (spec.tolerations as { key?: string; operator?: string; value?: string; effect?: string }[] | undefined) ?? [];
  return node.spec.taints
    .filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
    .every((t) =>
      tolerations.some(
        (tol) =>
          (tol.effect === undefined || tol.effect === t.effect) &&
          (tol.operator === 'Exists' ? tol.key === undefined || tol.key === t.key : tol.key === t.key && (tol.value ?? '') === (t.value ?? '')),
      ),
    );
}
