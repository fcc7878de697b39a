/**
 * Issue 12 item 4, from the store alone: `sweep report <sweep>` and `sweep fit <sweep>` run as
 * separate processes that know only SWEEP_DB (a real Postgres), as on a laptop far from the
 * worker. A sweep is written into the store as the worker writes it (register, attempts,
 * results, live refit); then the worker's final refit and report run as finalizeSweep runs them.
 *  - before the final refit: the report is refitted live from the store's points, and the
 *    reader writes nothing into the store; `--final` says there is none yet;
 *  - after it: `sweep report <sweep>` is the worker's report (the same HTML but for the
 *    "Generated" time), and `--final` is the page the worker kept, byte for byte;
 *  - `sweep fit <sweep>` recovers the law the scores were drawn from.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refitSweep } from '../../activities/refit';
import { writeSweepReport } from '../../activities/report';
import { PostgresStore } from '../../store/postgres';
import type { FitSummary } from '../../contract';
import { sweepCli } from '../integration/helpers/cli';
import { startTestPg, type TestPg } from '../store/pgServer';
import { FIT_NAME, fixtureSpec, fixtureSpecInput, LAW, recordFixtureRun, registerFixtureSweep, runIdOf } from '../store/sweepFixture';

const NAME = 'store-report';
const spec = fixtureSpec(NAME);
const dir = mkdtempSync(join(tmpdir(), 'sweep-report-store-'));
let server: TestPg;
let store: PostgresStore;
let env: NodeJS.ProcessEnv;

/** The page minus its one moment-dependent part, the header's "Generated <time>". */
const untimed = (html: string) => html.replace(/Generated \d{4}-\d\d-\d\dT[\d:.]+Z/g, 'Generated <time>');

beforeAll(async () => {
  server = await startTestPg();
  store = await PostgresStore.open(server.url);
  // Only the store: no Temporal server, no UI link settings leaking in from the machine.
  env = { ...process.env, SWEEP_DB: server.url, TEMPORAL_UI_URL: '', SWEEP_LOG_LEVEL: 'warn' };
  await registerFixtureSweep(store, spec);
  for (let i = 0; i < 6; i++) await recordFixtureRun(store, spec, i);
  await recordFixtureRun(store, spec, 6, 'failed');
  // The worker's live refit along the way (version 1 of the fit).
  const [live] = await refitSweep(store, spec, 'point');
  expect(live).toMatchObject({ name: FIT_NAME, version: 1, nPoints: 6 });
}, 120_000);

afterAll(async () => {
  await store?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sweep report <sweep> from a Postgres store', () => {
  it('before the final refit: a live refit of the store points; nothing is written; --final has none yet', async () => {
    const out = join(dir, 'live.html');
    const r = await sweepCli(['report', NAME, '--out', out], env);
    expect(r.stderr + r.stdout).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('Fits are live point fits of the data points in the store (no bootstrap intervals): the final refit has not run.');
    expect(html).toContain(`id="fit-${FIT_NAME}"`);
    expect(html).toContain('<dt>Points</dt><dd>6</dd>');
    // Every run of the store is in the table, the failed one with its class.
    expect(html.match(/<tr><td class="mono">resnet18-\d-0a1b2c3d<\/td>/g)).toHaveLength(7);
    expect(html).toContain('<li class="state-succeeded"><b>6</b> succeeded</li><li class="state-failed"><b>1</b> failed</li>');
    // A reader refits for itself: the store still has only the worker's version 1, and no report.
    expect((await store.latestFits(NAME)).map((f) => f.version)).toEqual([1]);
    expect(await store.getReport(NAME)).toBeUndefined();

    const none = await sweepCli(['report', NAME, '--final'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`the results store has no final report of sweep ${NAME}`);
  }, 60_000);

  it("after the final refit: the same report as the worker's, and --final returns the page it kept", async () => {
    // finalizeSweep, as activities/index.ts runs it.
    const finals: FitSummary[] = await refitSweep(store, spec, 'final');
    expect(finals).toMatchObject([{ name: FIT_NAME, final: true, version: 2, stage: 'bootstrap' }]);
    const workerPath = await writeSweepReport(store, spec, join(dir, 'worker-out'), finals);
    const worker = readFileSync(workerPath, 'utf8');
    expect(worker).toContain('20 bootstrap resamples');

    const stored = await store.getReport(NAME);
    expect(stored).toMatchObject({ sweep: NAME, version: 1, html: worker });
    expect(stored?.fits).toEqual(JSON.parse(JSON.stringify(finals)));

    const rendered = await sweepCli(['report', NAME], env);
    expect(rendered.code).toBe(0);
    expect(rendered.stdout.length).toBeGreaterThan(10_000);
    expect(untimed(rendered.stdout)).toBe(untimed(worker));
    expect(rendered.stdout).not.toContain('live point fits');

    const finalOut = join(dir, 'final.html');
    const final = await sweepCli(['report', NAME, '--final', '--out', finalOut], env);
    expect(final.code).toBe(0);
    expect(readFileSync(finalOut, 'utf8')).toBe(worker);
  }, 90_000);

  it('an unknown sweep fails with exit 2 and says so', async () => {
    const r = await sweepCli(['report', 'no-such-sweep'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sweep no-such-sweep is not in the results store');
  }, 30_000);
});

describe('sweep fit <sweep> from a Postgres store', () => {
  const expectLaw = (stdout: string) => {
    const { fits } = JSON.parse(stdout) as { fits: Array<{ name: string; n_points: number; params: Record<string, number> }> };
    expect(fits).toHaveLength(1);
    expect(fits[0]).toMatchObject({ name: FIT_NAME, n_points: 6 });
    expect(fits[0].params.E).toBeCloseTo(LAW.E, 3);
    expect(fits[0].params.A).toBeCloseTo(LAW.A, 3);
    expect(fits[0].params.alpha).toBeCloseTo(LAW.alpha, 3);
  };

  it("with the stored spec's fits: recovers the law the scores follow", async () => {
    const r = await sweepCli(['fit', NAME, '--json', '--bootstrap', '0', '--workers', '1'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectLaw(r.stdout);
  }, 60_000);

  it('with --spec naming a sweep spec file: its fits', async () => {
    const file = join(dir, 'sweep.yaml');
    writeFileSync(file, JSON.stringify(fixtureSpecInput(NAME))); // JSON is YAML
    const r = await sweepCli(['fit', NAME, '--spec', file, '--json', '--bootstrap', '0', '--workers', '1'], env);
    expect(r.code).toBe(0);
    expectLaw(r.stdout);
  }, 60_000);

  it('a sweep and --data together are refused', async () => {
    const r = await sweepCli(['fit', NAME, '--data', 'x.csv'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give a sweep or --data <csv>, not both');
  }, 30_000);
});

// Keeps the fixture honest: the run ids the table is checked against are the fixture's.
it('fixture run ids', () => expect(runIdOf(3)).toBe('resnet18-3-0a1b2c3d'));
