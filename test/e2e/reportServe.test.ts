/**
 * Issue 12 item 4, in a browser: `sweep report <sweep> --serve` (its own process, reading only
 * SWEEP_DB) is opened in Debian's Chromium; a new result written into the store as the worker
 * writes it shows on the open page within 10 s (one more run row, one more point in the live
 * refit), without anyone reloading it. Each run links into the Temporal Web UI.
 * Screenshots in test-artifacts/ (report-serve-before.png, report-serve-after.png).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveReport } from '../../report/serve';
import { SqliteStore } from '../../store/sqlite';
import { REPO_ROOT } from '../../worker/settings';
import { FIT_NAME, fixtureSpec, recordFixtureRun, registerFixtureSweep, runIdOf } from '../store/sweepFixture';

const ARTIFACTS = resolve('test-artifacts');
const NAME = 'serve-report';
const spec = fixtureSpec(NAME);
const dir = mkdtempSync(join(tmpdir(), 'sweep-report-serve-'));
const db = join(dir, 'results.db');
let store: SqliteStore;
let child: ChildProcess;
let url: string;
let browser: Browser;
let page: Page;
let stderr = '';

/** Starts `sweep report <sweep> --serve --port 0` and resolves with the URL it prints. */
function startServe(): Promise<string> {
  child = spawn(
    process.execPath,
    [resolve(REPO_ROOT, 'bin/sweep.js'), 'report', NAME, '--serve', '--port', '0', '--ui', 'http://ui.example:8233/', '--namespace', 'lab ns'],
    { cwd: REPO_ROOT, env: { ...process.env, SWEEP_DB: db, SWEEP_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`no URL within 30 s; stderr:\n${stderr}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`sweep report --serve exited ${code}; stderr:\n${stderr}`));
    });
  });
}

const runRows = (p: Page) => p.locator('table.runs tbody tr').count();
const fitPoints = (p: Page) => p.locator(`#fit-${FIT_NAME} dl.facts dt:text-is("Points") + dd`).textContent();

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  store = new SqliteStore(db);
  await registerFixtureSweep(store, spec);
  for (let i = 0; i < 5; i++) await recordFixtureRun(store, spec, i);
  url = await startServe();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    await exited;
  }
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sweep report <sweep> --serve', () => {
  it('serves on 127.0.0.1 the live report, each run linked to its workflow in the Web UI', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await page.goto(url, { waitUntil: 'load' });
    await page.screenshot({ path: join(ARTIFACTS, 'report-serve-before.png'), fullPage: true });
    expect(await runRows(page)).toBe(5);
    expect(await fitPoints(page)).toBe('5');
    // `<ui>/namespaces/<ns>/workflows/<sweep/<name>/<runId>>`, the id URL-encoded as the UI expects.
    const href = await page.locator(`table.runs a:text-is("${runIdOf(2)}")`).getAttribute('href');
    expect(href).toBe(`http://ui.example:8233/namespaces/lab%20ns/workflows/sweep%2Fserve-report%2F${runIdOf(2)}`);
    const version = (await (await fetch(new URL('/version', url))).json()) as { version: number };
    expect(version.version).toBe(1);
    expect((await fetch(new URL('/nothing', url))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  }, 60_000);

  it('a new result in the store shows on the open page within 10 s', async () => {
    // The page is not reloaded by the test: a marker set on this document must vanish with it.
    await page.evaluate('window.sweepTestMarker = 1');
    const t0 = Date.now();
    await recordFixtureRun(store, spec, 5);
    await page.waitForFunction("document.querySelectorAll('table.runs tbody tr').length === 6", undefined, { timeout: 10_000, polling: 100 });
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(10_000);
    expect(await page.evaluate('typeof window.sweepTestMarker')).toBe('undefined');
    // The law was refitted with the new point, not just the table redrawn.
    expect(await fitPoints(page)).toBe('6');
    await page.screenshot({ path: join(ARTIFACTS, 'report-serve-after.png'), fullPage: true });
    console.log(`served report showed the new result ${elapsed} ms after it was recorded`);
    expect(stderr).toBe('');
  }, 30_000);
});

/** GET `path` with the given Host header (fetch may not set Host). */
function getWithHost(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request(new URL(path, base), { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', fail);
    req.end();
  });
}

describe('serveReport (in process)', () => {
  it('a failed re-render keeps the last page and is retried; the page only moves on a new rendering', async () => {
    let stamp = 'a';
    const renders = ['<html><body><p>page 1</p></body></html>', new Error('store unreachable'), '<html><body><p>page 2</p></body></html>'];
    const errors: string[] = [];
    const server = await serveReport({
      stamp: async () => stamp,
      render: async () => {
        const next = renders.shift();
        if (next instanceof Error) throw next;
        if (next === undefined) throw new Error('rendered more often than the store changed');
        return next;
      },
      port: 0,
      pollMs: 20,
      onError: (e) => errors.push(e.message),
    });
    try {
      const page = async () => (await fetch(server.url)).text();
      expect(await page()).toContain('<p>page 1</p>');
      // Unchanged store: no render however many polls (a third render would throw above).
      await new Promise((r) => setTimeout(r, 150));
      expect(server.version()).toBe(1);
      stamp = 'b';
      for (let i = 0; i < 100 && server.version() < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(server.version()).toBe(2);
      expect(errors).toEqual(['store unreachable']);
      const html = await page();
      expect(html).toContain('<p>page 2</p>');
      expect(html).toContain('var shown = 2;');
      expect(html.indexOf('<script>')).toBeLessThan(html.indexOf('</body>'));
      expect(await (await fetch(new URL('/version', server.url))).json()).toMatchObject({ version: 2 });
    } finally {
      await server.close();
    }
  });

  it('on loopback, refuses a request whose Host is not a loopback name (DNS rebinding)', async () => {
    const server = await serveReport({ stamp: async () => 's', render: async () => '<p>report</p>', port: 0 });
    try {
      const port = new URL(server.url).port;
      expect((await getWithHost(server.url, '/', `evil.example:${port}`)).status).toBe(403);
      expect((await getWithHost(server.url, '/version', `127.0.0.1.evil.example:${port}`)).status).toBe(403);
      const ok = await getWithHost(server.url, '/', `localhost:${port}`);
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('<p>report</p>');
    } finally {
      await server.close();
    }
  });
});
