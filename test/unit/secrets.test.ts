import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalExecutor, resolveSecretRef, secretEnvName } from '../../activities/executors/local';
import type { LaunchRequest } from '../../activities/executors/types';
import { SweepSpecSchema } from '../../spec';

const root = mkdtempSync(join(tmpdir(), 'sweep-secrets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const MARKER = 'sk-marker-7c1e0d9a';
const ref = { name: 'hf-token', key: 'api.key' };

function request(job: Record<string, unknown>, resources: LaunchRequest['resources'] = { gpus: 0, cpu: 1, memory: '1Gi' }): LaunchRequest {
  const spec = SweepSpecSchema.parse({ name: 'secret-test', grid: { seed: [0] }, job: { command: ['node', '-e', 'process.exit(0)'], ...job }, timeouts: { run: '30s' } });
  return {
    sweep: 'secret-test',
    instance: 'inst',
    jobHash: 'h',
    runId: 'seed-0',
    attempt: 1,
    axes: { seed: 0 },
    resources,
    spec: { job: spec.job!, executor: spec.executor, timeouts: spec.timeouts, retry: spec.retry, metrics: spec.metrics },
  };
}

describe('local secretKeyRef resolution', () => {
  it('names the worker variable SWEEP_SECRET_<NAME>__<KEY>', () => {
    expect(secretEnvName(ref)).toBe('SWEEP_SECRET_HF_TOKEN__API_KEY');
  });

  it('reads the worker environment first, then a JSON or dotenv SWEEP_SECRETS_FILE', () => {
    expect(resolveSecretRef(ref, { SWEEP_SECRET_HF_TOKEN__API_KEY: MARKER })).toBe(MARKER);
    const json = join(root, 'secrets.json');
    writeFileSync(json, JSON.stringify({ 'hf-token': { 'api.key': `${MARKER}-json` } }));
    expect(resolveSecretRef(ref, { SWEEP_SECRETS_FILE: json })).toBe(`${MARKER}-json`);
    expect(resolveSecretRef(ref, { SWEEP_SECRETS_FILE: json, SWEEP_SECRET_HF_TOKEN__API_KEY: MARKER })).toBe(MARKER);
    const dotenv = join(root, 'secrets.env');
    writeFileSync(dotenv, `# comment\nOTHER=1\nexport SWEEP_SECRET_HF_TOKEN__API_KEY="${MARKER}-env"\n`);
    expect(resolveSecretRef(ref, { SWEEP_SECRETS_FILE: dotenv })).toBe(`${MARKER}-env`);
  });

  it('a missing secret or a broken file fails with a message that names the variable and never a value', () => {
    expect(() => resolveSecretRef(ref, {})).toThrow(/secret hf-token key api\.key is not set on this worker: set SWEEP_SECRET_HF_TOKEN__API_KEY/);
    const bad = join(root, 'bad.json');
    writeFileSync(bad, `{"hf-token": {"api.key": "${MARKER}"`);
    let msg = '';
    try {
      resolveSecretRef(ref, { SWEEP_SECRETS_FILE: bad });
    } catch (e) {
      msg = (e as Error).message;
      expect((e as Error).name).toBe('JobRejectedError');
    }
    expect(msg).toMatch(/not valid JSON/);
    expect(msg).not.toContain(MARKER);
  });

  it('the local job gets the value; the LaunchRequest and the attempt folder never hold it', async () => {
    const dir = join(root, 'exec');
    const out = join(root, 'seen.txt');
    const req = request({
      command: ['node', '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, process.env.HF_TOKEN + '|' + process.env.PLAIN); require('fs').writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify({ metrics: {} }))`],
      env: { HF_TOKEN: { secretKeyRef: ref }, PLAIN: 'seed-{{seed}}' },
    });
    expect(JSON.stringify(req)).not.toContain(MARKER);
    process.env.SWEEP_SECRET_HF_TOKEN__API_KEY = MARKER;
    try {
      const ex = new LocalExecutor({ dir, launchLog: join(dir, 'launches.log') });
      await ex.launch(req);
      const outcome = await ex.watch(req, () => undefined, new AbortController().signal);
      expect(outcome.status).toBe('succeeded');
    } finally {
      delete process.env.SWEEP_SECRET_HF_TOKEN__API_KEY;
    }
    expect(readFileSync(out, 'utf8')).toBe(`${MARKER}|seed-0`);
    // Nothing the executor wrote (config, launch record, logs) holds the value.
    const files = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? files(join(d, f)) : [join(d, f)]));
    for (const f of files(dir)) expect(readFileSync(f, 'utf8'), f).not.toContain(MARKER);
  });

  it('refuses nodes > 1 and envFrom with a clear message, before starting anything', async () => {
    const ex = new LocalExecutor({ dir: join(root, 'refuse'), launchLog: join(root, 'refuse.log') });
    await expect(ex.launch(request({}, { nodes: 2, gpus: 4, cpu: 1, memory: '1Gi' }))).rejects.toMatchObject({
      name: 'JobRejectedError',
      message: expect.stringMatching(/resources\.nodes is 2: .*multi-node runs need the kubernetes executor/),
    });
    await expect(ex.launch(request({ envFrom: [{ secret: 'wandb' }] }))).rejects.toThrow(/job\.envFrom/);
  });
});
