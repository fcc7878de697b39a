import { describe, expect, it } from 'vitest';
import { workerVersioning } from '../../worker/settings';

describe('workerVersioning (SWEEP_WORKER_VERSIONING, SWEEP_DEPLOYMENT_NAME, SWEEP_BUILD_ID)', () => {
  it('is off unless asked for: the default dev flow stays unversioned', () => {
    expect(workerVersioning({})).toBeUndefined();
    expect(workerVersioning({ SWEEP_WORKER_VERSIONING: '0', SWEEP_BUILD_ID: 'x' })).toBeUndefined();
    expect(workerVersioning({ SWEEP_WORKER_VERSIONING: 'false' })).toBeUndefined();
  });
  it('defaults to deployment scaling-sweep and the package version as build id', () => {
    expect(workerVersioning({ SWEEP_WORKER_VERSIONING: '1' })).toEqual({ deploymentName: 'scaling-sweep', buildId: '0.1.0' });
  });
  it('takes both names from the environment', () => {
    expect(workerVersioning({ SWEEP_WORKER_VERSIONING: 'true', SWEEP_DEPLOYMENT_NAME: 'lab-sweeps', SWEEP_BUILD_ID: '0.2.0-rc.1' })).toEqual({
      deploymentName: 'lab-sweeps',
      buildId: '0.2.0-rc.1',
    });
  });
  it('refuses a bad name before connecting, naming the variable', () => {
    expect(() => workerVersioning({ SWEEP_WORKER_VERSIONING: 'yes' })).toThrow(/^SWEEP_WORKER_VERSIONING: 1 or 0/);
    expect(() => workerVersioning({ SWEEP_WORKER_VERSIONING: '1', SWEEP_DEPLOYMENT_NAME: 'a.b' })).toThrow(/^SWEEP_DEPLOYMENT_NAME: no "\."/);
    expect(() => workerVersioning({ SWEEP_WORKER_VERSIONING: '1', SWEEP_BUILD_ID: 'a b' })).toThrow(/^SWEEP_BUILD_ID: no whitespace/);
    expect(() => workerVersioning({ SWEEP_WORKER_VERSIONING: '1', SWEEP_BUILD_ID: 'x'.repeat(256) })).toThrow(/^SWEEP_BUILD_ID: at most 255 characters/);
  });
});
