/**
 * Issue 14: every command that needs the server, run where nothing listens, says what it tried
 * to reach and the two ways out (`sweep dev`, or TEMPORAL_ADDRESS), exits 1, and shows no stack
 * trace and no raw transport error. (`sweep worker` used to print tonic's nested debug structs.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../worker/devServer';
import { sweepCli } from '../integration/helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'sweep-noserver-'));
let port: number;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  port = await freePort(); // closed again at once: nothing listens there
  env = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, SWEEP_DB: join(dir, 'results.db'), SWEEP_LOCAL_DIR: join(dir, 'local') };
  for (const k of Object.keys(env)) if (k.startsWith('TEMPORAL_TLS') || k === 'TEMPORAL_API_KEY') delete env[k];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STACK = /^\s+at .+[:(]\d+|\.ts:\d+:\d+|node:internal/m;

// Each waits out the 10 s a starting server is given: run them side by side.
describe.concurrent('with nothing listening at TEMPORAL_ADDRESS', () => {
  it.each([['worker'], ['status', 'demo'], ['runs', 'demo'], ['watch', 'demo'], ['cancel', 'demo'], ['pause', 'demo']])(
    'sweep %s: the friendly message, exit 1, no stack trace',
    async (...args: string[]) => {
      const r = await sweepCli(args, env, 60_000);
      const what = JSON.stringify(r);
      expect(r.code, what).toBe(1);
      expect(r.stderr, what).toMatch(new RegExp(`^error: cannot reach Temporal at 127\\.0\\.0\\.1:${port} \\(namespace default\\) after \\d+ s: connection refused \\(nothing is listening there\\)\\.`));
      expect(r.stderr, what).toContain('Either run `npx sweep dev`');
      expect(r.stderr, what).toContain('or point TEMPORAL_ADDRESS at your server');
      expect(r.stderr + r.stdout, what).not.toMatch(STACK);
      expect(r.stderr, what).not.toMatch(/tonic|transport::Error|ConnectError/);
      expect(r.stdout, what).toBe('');
    },
  );
});
