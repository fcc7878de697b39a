/**
 * Issue 5 acceptance, in a browser: a small sweep (6 runs, one of which fails with a user
 * error) runs against the dev server, then Debian's Chromium opens the Temporal Web UI and
 * checks what a user sees there:
 *  - the sweep's page: its current details (Markdown: progress by state, GPU-hours, ETA,
 *    recent failures), on the User Metadata tab;
 *  - the workflow list filtered by SweepId: every run listed, with its axes and state as
 *    search-attribute columns;
 *  - every run's static summary (`resnet18 - imagenet - 10/class - 20 ep - seed 0 - 1 GPU`) on
 *    the sweep's timeline and on the run's own page, with the run's current details.
 * Screenshots are kept in test-artifacts/ (webui-sweep.png, webui-runs.png, ...).
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrainerArgs, planTraining } from '../../sim/trainer/model';
import { expandGrid, SweepSpecSchema, type SweepSpecInput } from '../../spec';
import type { Progress, SweepSummary } from '../../contract';
import { startHarness, type Harness } from '../integration/helpers/harness';

const ARTIFACTS = resolve('test-artifacts');
const UI_TIMEOUT = 30_000;

const name = 'webui-e2e';
const wid = `sweep/${name}`;
const spec: SweepSpecInput = {
  name,
  description: 'issue 5 browser acceptance',
  grid: { arch: ['resnet18'], dataset: ['imagenet'], samples_per_class: [10, 30, 100], epochs: [20], seed: [0, 1] },
  job: {
    image: 'ghcr.io/scaling-sweep/trainer:latest',
    command: ['node', '--import', 'tsx', 'sim/trainer/main.ts'],
    // Half-second runs; fault seed 7 gives exactly one user error (exit 3) among the six.
    args: ['--min-seconds=0.5', '--max-seconds=0.5', '--p-user-error=0.2', '--fault-seed=7'],
    resources: { gpus: 1, cpu: 1, memory: '1Gi' },
  },
  executor: { kind: 'local' },
  concurrency: { maxRuns: 3 },
  retry: { nonRetryableExitCodes: [3] },
  metrics: ['V1', 'V2', 'V4', 'IT', 'Behavioral'],
};
const parsed = SweepSpecSchema.parse(spec);
const cells = expandGrid(parsed);
const knobs = parseTrainerArgs(parsed.job!.args);
const failing = cells.filter(
  (c) => planTraining({ sweep: name, runId: c.runId, attempt: 1, axes: c.axes }, knobs).fault === 'user-error',
);
/** The summary format users read in the UI, spelled out here rather than imported. */
const summaryOf = (axes: Record<string, unknown>) =>
  `${String(axes.arch)} - ${String(axes.dataset)} - ${String(axes.samples_per_class)}/class - ${String(axes.epochs)} ep - seed ${String(axes.seed)} - 1 GPU`;

let h: Harness;
let browser: Browser;
let page: Page;
let summary: SweepSummary;
let progress: Progress;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  h = await startHarness({ ui: true });
  expect(h.uiUrl).toBeDefined();
  const handle = await h.env.client.workflow.start('sweep', {
    taskQueue: 'scaling-sweeps',
    workflowId: wid,
    args: [spec],
  });
  summary = (await handle.result()) as SweepSummary;
  progress = await handle.query<Progress>('progress');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(UI_TIMEOUT);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

const ui = (path: string) => `${h.uiUrl}/namespaces/${h.namespace}${path}`;
const workflowPage = (workflowId: string) => ui(`/workflows/${encodeURIComponent(workflowId)}`);

async function visible(l: Locator): Promise<Locator> {
  await l.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  return l;
}

/** Opens a workflow's User Metadata tab; returns the frame its current details render in. */
async function openUserMetadata(workflowId: string): Promise<FrameLocator> {
  await page.goto(workflowPage(workflowId));
  await visible(page.getByRole('heading', { name: workflowId }));
  await (await visible(page.getByText('User Metadata', { exact: true }))).first().click();
  await visible(page.getByText('Current Details', { exact: true }));
  return page.frameLocator('#user-metadata-current-details');
}

describe('the Temporal Web UI shows a sweep and its runs', () => {
  it('ran the sweep the test expects (6 runs, one user error)', () => {
    expect(cells).toHaveLength(6);
    expect(failing).toHaveLength(1);
    expect(summary.byState).toMatchObject({ succeeded: 5, failed: 1, pending: 0, running: 0, cancelled: 0 });
  });

  it("the sweep's page shows its current details: progress by state, GPU-hours, recent failures", async () => {
    const details = await openUserMetadata(wid);
    // "6/6" is rendered by the UI's Markdown typographer as a fraction (6⁄6, sup/sub) - read either way.
    const heading = details.getByRole('heading', { name: new RegExp(`^${name}: 6\\s*(?:/|⁄|of)\\s*6 done$`) });
    await visible(heading);
    // The state table, rendered from Markdown.
    const table = details.locator('table');
    await visible(table);
    const head = (await table.locator('th').allInnerTexts()).map((t) => t.trim());
    const cellsText = (await table.locator('td').allInnerTexts()).map((t) => t.trim());
    expect(head).toEqual(['pending', 'running', 'succeeded', 'failed', 'cancelled']);
    const b = progress.byState;
    expect(cellsText).toEqual([b.pending, b.running, b.succeeded, b.failed, b.cancelled].map(String));
    expect(cellsText).toEqual(['0', '0', '5', '1', '0']);
    const text = await details.locator('body').innerText();
    expect(text).toContain(`GPU-hours: ${progress.gpuHours.toFixed(3)}`);
    expect(text).toContain('ETA:');
    expect(text).toContain('concurrency: 3 runs');
    expect(text).toContain('Recent failures');
    expect(text).toContain(`${failing[0].runId}: user-error`);
    await page.screenshot({ path: resolve(ARTIFACTS, 'webui-sweep.png'), fullPage: true });
  });

  it('the workflow list filtered by SweepId lists every run, with its axes and state as columns', async () => {
    const query = `SweepId="${wid}"`;
    await page.setViewportSize({ width: 1900, height: 900 }); // room for the sweep's columns
    await page.goto(ui(`/workflows?query=${encodeURIComponent(query)}`));
    for (const c of cells) await visible(page.getByRole('link', { name: `${wid}/${c.runId}`, exact: true }));
    // Show the sweep's search attributes as columns, as a user would (Configure Columns).
    await (await visible(page.getByTestId('workflows-summary-table-configuration-button'))).click();
    for (const col of ['Run ID', 'End'])
      await (await visible(page.getByRole('button', { name: `Remove ${col} column` }))).click();
    for (const col of ['Arch', 'SamplesPerClass', 'RunState'])
      await (await visible(page.getByRole('button', { name: `Add ${col} column` }))).click();
    await page.reload(); // the column choice is saved in the browser; reload closes the drawer
    await visible(page.getByRole('columnheader', { name: 'RunState' }));
    // "7 Workflows": the six runs and the sweep itself (it carries SweepId too), nothing else.
    const count = page.getByRole('heading').filter({ hasText: /Workflows/ });
    await visible(count);
    expect((await count.first().innerText()).replace(/\s+/g, ' ').trim()).toBe(`${cells.length + 1} Workflows`);
    const rows = page.getByRole('row');
    for (const c of cells) {
      const row = rows.filter({ has: page.getByRole('link', { name: `${wid}/${c.runId}`, exact: true }) });
      await visible(row);
      const cellTexts = (await row.getByRole('cell').allInnerTexts()).map((t) => t.trim());
      const state = failing.some((f) => f.runId === c.runId) ? 'failed' : 'succeeded';
      expect(cellTexts).toEqual(
        expect.arrayContaining(['sweepRun', String(c.axes.arch), String(c.axes.samples_per_class), state]),
      );
    }
    await visible(page.getByRole('link', { name: wid, exact: true }));
    await page.screenshot({ path: resolve(ARTIFACTS, 'webui-runs.png'), fullPage: true });
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  it("every run shows its static summary on the sweep's timeline", async () => {
    await page.goto(workflowPage(wid));
    await visible(page.getByRole('heading', { name: 'Timeline' }));
    for (const c of cells) await visible(page.getByText(summaryOf(c.axes), { exact: true }));
    await page.screenshot({ path: resolve(ARTIFACTS, 'webui-timeline.png'), fullPage: true });
  });

  it("a failed run's page shows its summary, details and the failure in its current details", async () => {
    const run = failing[0];
    const details = await openUserMetadata(`${wid}/${run.runId}`);
    await visible(page.frameLocator('#user-metadata-summary').getByText(summaryOf(run.axes), { exact: true }));
    // Static details: the full cell as a table, and the resources.
    const staticDetails = page.frameLocator('#user-metadata-details');
    await visible(staticDetails.getByRole('table'));
    const axisRows = await staticDetails.getByRole('row').allInnerTexts();
    for (const [k, v] of Object.entries(run.axes))
      expect(axisRows.map((r) => r.replace(/\s+/g, ' ').trim())).toContain(`${k} ${String(v)}`);
    expect(await staticDetails.locator('body').innerText()).toContain('Resources: 1 GPU, 1 CPU, 1Gi memory');
    await visible(details.getByText('Last failure:'));
    const current = await details.locator('body').innerText();
    expect(current).toContain('Phase: failed');
    expect(current).toContain('Last failure: user-error');
    await page.screenshot({ path: resolve(ARTIFACTS, 'webui-run.png'), fullPage: true });
  });
});
