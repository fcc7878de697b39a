import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { classifyAttempt, type AttemptObservation } from '../../activities/executors/kubernetes/classifyPodFailure';

const base: Omit<AttemptObservation, 'pod' | 'job'> = {
  now: 100_000,
  pendingTimeoutMs: 30_000,
  imagePullGraceMs: 10_000,
  nonRetryableExitCodes: [3],
};

const job = (conditions: { type: string; reason?: string }[] = [], suspend = false): V1Job => ({
  metadata: { name: 'j', uid: 'u' },
  spec: { template: {}, suspend, activeDeadlineSeconds: 60 },
  status: { conditions: conditions.map((c) => ({ ...c, status: 'True' })) },
});

function pod(phase: string, extra: { waiting?: string; terminated?: { exitCode: number; reason?: string; message?: string }; conditions?: { type: string; status: string; reason?: string; message?: string }[]; reason?: string; node?: string } = {}): V1Pod {
  return {
    metadata: { name: 'j-abcde' },
    spec: { containers: [{ name: 'trainer' }], nodeName: extra.node },
    status: {
      phase,
      reason: extra.reason,
      conditions: extra.conditions,
      containerStatuses: [
        {
          name: 'trainer',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: extra.waiting ? { waiting: { reason: extra.waiting, message: 'm' } } : extra.terminated ? { terminated: { ...extra.terminated } } : phase === 'Running' ? { running: {} } : {},
        },
      ],
    },
  };
}

const classify = (o: Partial<AttemptObservation>) => classifyAttempt({ ...base, job: job(), ...o });

describe('classifyAttempt', () => {
  it('succeeded and running', () => {
    expect(classify({ pod: pod('Succeeded', { terminated: { exitCode: 0, reason: 'Completed' } }) }).state).toBe('succeeded');
    expect(classify({ pod: pod('Running') }).state).toBe('running');
    expect(classify({ pod: undefined }).state).toBe('pending');
    expect(classify({ pod: undefined, job: job([], true) })).toMatchObject({ state: 'pending', message: expect.stringContaining('queued') });
  });

  it('OOMKilled -> oom', () => {
    expect(classify({ pod: pod('Failed', { terminated: { exitCode: 137, reason: 'OOMKilled' } }) })).toMatchObject({ state: 'failed', failureClass: 'oom', exitCode: 137 });
  });

  it('DisruptionTarget -> preempted, for preemption, eviction, taint manager and kubelet shutdown', () => {
    for (const reason of ['PreemptionByScheduler', 'EvictionByEvictionAPI', 'DeletionByTaintManager', 'TerminationByKubelet'])
      expect(classify({ pod: pod('Failed', { terminated: { exitCode: 143, reason: 'Error' }, conditions: [{ type: 'DisruptionTarget', status: 'True', reason }] }) })).toMatchObject({
        failureClass: 'preempted',
      });
    expect(classify({ pod: pod('Failed', { reason: 'Evicted' }) })).toMatchObject({ failureClass: 'preempted' });
    // Preemption wins over the exit code even when it is listed as non-retryable.
    expect(classify({ pod: pod('Failed', { terminated: { exitCode: 3 }, conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }] }) }).state).toBe('failed');
  });

  it('pod or node gone -> node-lost', () => {
    expect(classify({ pod: pod('Running', { node: 'n1' }), podGone: true })).toMatchObject({ failureClass: 'node-lost', message: expect.stringContaining('n1') });
    expect(classify({ pod: pod('Failed', { reason: 'NodeLost' }) })).toMatchObject({ failureClass: 'node-lost' });
    expect(classify({ pod: pod('Failed', { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC' }] }) })).toMatchObject({ failureClass: 'node-lost' });
    expect(classify({ pod: undefined, job: undefined, jobGone: true })).toMatchObject({ failureClass: 'node-lost' });
  });

  it('DeadlineExceeded -> timeout, even when the pod was deleted for it', () => {
    const j = job([{ type: 'Failed', reason: 'DeadlineExceeded' }]);
    expect(classify({ job: j, pod: pod('Running'), podGone: true })).toMatchObject({ failureClass: 'timeout' });
    expect(classify({ job: j, pod: undefined })).toMatchObject({ failureClass: 'timeout' });
    expect(classify({ job: job([{ type: 'FailureTarget', reason: 'DeadlineExceeded' }]), pod: pod('Running') })).toMatchObject({ failureClass: 'timeout' });
  });

  it('exit codes -> user-error when non-retryable, else unknown', () => {
    expect(classify({ pod: pod('Failed', { terminated: { exitCode: 3, reason: 'Error', message: 'bad flag' } }) })).toMatchObject({ failureClass: 'user-error', exitCode: 3, message: expect.stringContaining('bad flag') });
    expect(classify({ pod: pod('Failed', { terminated: { exitCode: 1, reason: 'Error' } }) })).toMatchObject({ failureClass: 'unknown', exitCode: 1 });
  });

  it('image pull errors -> image after the grace period; invalid names at once', () => {
    for (const w of ['ErrImagePull', 'ImagePullBackOff']) {
      expect(classify({ pod: pod('Pending', { waiting: w }), containerErrorSince: 95_000 }).state).toBe('pending');
      expect(classify({ pod: pod('Pending', { waiting: w }), containerErrorSince: 80_000 })).toMatchObject({ failureClass: 'image' });
    }
    expect(classify({ pod: pod('Pending', { waiting: 'InvalidImageName' }), containerErrorSince: 100_000 })).toMatchObject({ failureClass: 'image' });
  });

  it('Unschedulable past timeouts.pending -> unschedulable', () => {
    const p = pod('Pending', { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/4 nodes are available' }] });
    expect(classify({ pod: p, unschedulableSince: 90_000 })).toMatchObject({ state: 'pending', message: expect.stringContaining('0/4') });
    expect(classify({ pod: p, unschedulableSince: 60_000 })).toMatchObject({ failureClass: 'unschedulable' });
  });

  it('a complete job whose pod is gone -> node-lost (the result cannot be read)', () => {
    expect(classify({ job: job([{ type: 'Complete' }]), pod: undefined })).toMatchObject({ state: 'failed', failureClass: 'node-lost' });
  });

  it('a failed job without a telling pod -> unknown', () => {
    expect(classify({ job: job([{ type: 'Failed', reason: 'PodFailurePolicy' }]), pod: undefined })).toMatchObject({ failureClass: 'unknown' });
    // Its one pod failed and then vanished: the pod is gone.
    expect(classify({ job: job([{ type: 'Failed', reason: 'BackoffLimitExceeded' }]), pod: undefined })).toMatchObject({ failureClass: 'node-lost' });
  });
});
