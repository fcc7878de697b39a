import type { V1Job, V1JobCondition, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import type { FailureClass } from '../../../spec';

/** What the executor has seen of one attempt, at time `now` (the executor's clock, ms). */
export interface AttemptObservation {
  /** The attempt's Job, undefined when it is gone. */
  job?: V1Job;
  /** The attempt's pod as last seen (its last state if it has since been deleted). */
  pod?: V1Pod;
  /** The pod was seen and then disappeared without us deleting it. */
  podGone?: boolean;
  /** The Job was seen and then disappeared without us deleting it. */
  jobGone?: boolean;
  now: number;
  /** When the executor first saw the pod waiting to be scheduled (ms). */
  unschedulableSince?: number;
  /** When the executor first saw the container failing to pull / create (ms). */
  containerErrorSince?: number;
  pendingTimeoutMs: number;
  imagePullGraceMs: number;
  nonRetryableExitCodes: readonly number[];
}

export type AttemptVerdict =
  | { state: 'pending' | 'running'; message?: string }
  | { state: 'succeeded'; message?: string }
  | { state: 'failed'; failureClass: FailureClass; message: string; exitCode?: number };

const IMAGE_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable']);
const CONFIG_WAITING = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);
/** DisruptionTarget reasons that mean the node went away rather than a scheduler decision. */
const NODE_LOSS_DISRUPTIONS = new Set(['DeletionByPodGC']);
/** Pod status reasons for pods the kubelet or node lifecycle killed without it being the workload's fault. */
const PREEMPTED_POD_REASONS = new Set(['Evicted', 'Preempting', 'Terminated', 'Shutdown', 'NodeShutdown']);

function jobCondition(job: V1Job | undefined, type: string): V1JobCondition | undefined {
  return job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

function podCondition(pod: V1Pod | undefined, type: string): V1PodCondition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === type);
}

export function isJobSuspended(job: V1Job | undefined): boolean {
  return job?.spec?.suspend === true;
}

/** Where the attempt is: still going, succeeded, or failed with a class. Pure. */
export function classifyAttempt(o: AttemptObservation): AttemptVerdict {
  const pod = o.pod;
  const phase = pod?.status?.phase;
  const failedCond = jobCondition(o.job, 'Failed') ?? jobCondition(o.job, 'FailureTarget');

  if (phase === 'Succeeded') return { state: 'succeeded' };
  // The deadline is the Job's: its pods are killed (or deleted) as a consequence.
  if (failedCond?.reason === 'DeadlineExceeded')
    return { state: 'failed', failureClass: 'timeout', message: `job exceeded activeDeadlineSeconds (${o.job?.spec?.activeDeadlineSeconds ?? '?'} s): ${failedCond.message ?? ''}`.trim() };
  if (phase === 'Failed' && pod) return classifyFailedPod(pod, o.nonRetryableExitCodes);
  if (o.podGone)
    return { state: 'failed', failureClass: 'node-lost', message: `pod ${pod?.metadata?.name ?? '?'} disappeared${pod?.spec?.nodeName ? ` from node ${pod.spec.nodeName}` : ''} before finishing (node lost or pod deleted)` };
  if (o.jobGone) return { state: 'failed', failureClass: 'node-lost', message: 'the job was deleted before its pod finished' };
  // Complete, but the pod (and with it the termination message) is gone, e.g. collected with its node.
  if (jobCondition(o.job, 'Complete'))
    return { state: 'failed', failureClass: 'node-lost', message: 'job complete but its pod is gone (collected with a lost node?): the result cannot be read' };
  // With backoffLimit 0 a failed pod stays until the Job is collected: a failed Job without one lost it.
  if (failedCond && !pod && failedCond.reason === 'BackoffLimitExceeded')
    return { state: 'failed', failureClass: 'node-lost', message: `job failed (${failedCond.reason}) and its pod is gone (node lost or pod deleted)` };
  if (failedCond) return { state: 'failed', failureClass: 'unknown', message: `job failed: ${failedCond.reason ?? ''} ${failedCond.message ?? ''}`.trim() };

  if (!pod) {
    if (isJobSuspended(o.job)) return { state: 'pending', message: 'queued (job suspended until admitted)' };
    return { state: 'pending', message: 'waiting for the pod to be created' };
  }
  if (phase === 'Running') return { state: 'running' };

  // Pending: image problems, container config problems, or no node to run on.
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
  if (waiting?.reason && IMAGE_WAITING.has(waiting.reason)) {
    const msg = `${waiting.reason}: ${waiting.message ?? ''}`.trim();
    // An invalid reference never becomes valid; a pull error might (registry hiccup): give it the grace.
    if (waiting.reason === 'InvalidImageName' || waiting.reason === 'ErrImageNeverPull') return { state: 'failed', failureClass: 'image', message: msg };
    if (o.containerErrorSince !== undefined && o.now - o.containerErrorSince >= o.imagePullGraceMs)
      return { state: 'failed', failureClass: 'image', message: `${msg} (for longer than the image pull grace of ${Math.round(o.imagePullGraceMs / 1000)} s)` };
    return { state: 'pending', message: msg };
  }
  if (waiting?.reason && CONFIG_WAITING.has(waiting.reason)) {
    const msg = `${waiting.reason}: ${waiting.message ?? ''}`.trim();
    if (o.containerErrorSince !== undefined && o.now - o.containerErrorSince >= o.imagePullGraceMs)
      return { state: 'failed', failureClass: 'unknown', message: msg };
    return { state: 'pending', message: msg };
  }
  const sched = podCondition(pod, 'PodScheduled');
  if (sched?.status === 'False' && sched.reason === 'Unschedulable') {
    const msg = `unschedulable: ${sched.message ?? ''}`.trim();
    if (o.unschedulableSince !== undefined && o.now - o.unschedulableSince >= o.pendingTimeoutMs)
      return { state: 'failed', failureClass: 'unschedulable', message: `${msg} (pending longer than timeouts.pending, ${Math.round(o.pendingTimeoutMs / 1000)} s)` };
    return { state: 'pending', message: msg };
  }
  return { state: 'pending', message: waiting?.reason };
}

/** Failure class of a pod in phase Failed. Pure. */
export function classifyFailedPod(pod: V1Pod, nonRetryableExitCodes: readonly number[]): Extract<AttemptVerdict, { state: 'failed' }> {
  const st = pod.status;
  const term = st?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated;
  const exitCode = term?.exitCode;
  const tail = (s: string | undefined) => (s ? `: ${s.trim().split('\n').slice(-3).join(' | ').slice(0, 500)}` : '');
  const disruption = podCondition(pod, 'DisruptionTarget');
  const node = pod.spec?.nodeName ? ` on node ${pod.spec.nodeName}` : '';

  if (st?.reason === 'NodeLost' || (disruption?.status === 'True' && NODE_LOSS_DISRUPTIONS.has(disruption.reason ?? '')))
    return { state: 'failed', failureClass: 'node-lost', message: `node lost${node}: ${st?.message ?? disruption?.message ?? ''}`.trim(), exitCode };
  if (disruption?.status === 'True')
    return { state: 'failed', failureClass: 'preempted', message: `disrupted (${disruption.reason ?? 'DisruptionTarget'})${node}: ${disruption.message ?? ''}`.trim(), exitCode };
  if (st?.reason && PREEMPTED_POD_REASONS.has(st.reason))
    return { state: 'failed', failureClass: 'preempted', message: `${st.reason}${node}: ${st.message ?? ''}`.trim(), exitCode };
  if (term?.reason === 'OOMKilled') return { state: 'failed', failureClass: 'oom', message: `OOMKilled (exit ${exitCode ?? 137})${node}`, exitCode };
  if (st?.reason === 'DeadlineExceeded' || term?.reason === 'DeadlineExceeded')
    return { state: 'failed', failureClass: 'timeout', message: `deadline exceeded${tail(st?.message)}`, exitCode };
  if (exitCode !== undefined && nonRetryableExitCodes.includes(exitCode))
    return { state: 'failed', failureClass: 'user-error', message: `exit code ${exitCode} (in retry.nonRetryableExitCodes)${tail(term?.message)}`, exitCode };
  const reason = term?.reason ?? st?.reason ?? 'Failed';
  return { state: 'failed', failureClass: 'unknown', message: `${reason}, exit code ${exitCode ?? '?'}${tail(term?.message ?? st?.message)}`, exitCode };
}
