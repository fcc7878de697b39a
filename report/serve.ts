/**
 * `sweep report <sweep> --serve`: the report over HTTP, re-rendered whenever the results store
 * changes, so a scaling law can be watched being refitted as results arrive.
 *
 * The server polls `changeStamp()` (one cheap count/max query) every `pollMs`; when the stamp
 * moves it re-renders (refit + render) and bumps a version. The page carries a tiny script that
 * polls `/version` and reloads itself only when the version moved. Chosen over a meta refresh,
 * which would re-download the whole (up to ~2 MB) page every few seconds whether or not
 * anything changed and jump the reader back while reading; a `<noscript>` meta refresh (30 s)
 * covers browsers without scripts. Files the worker writes stay script-free.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServeReportOptions {
  /** Renders the page from the store as it is now. */
  render: () => Promise<string>;
  /** The store's change token (ResultsStore.changeStamp for the sweep). */
  stamp: () => Promise<string>;
  /** Default 127.0.0.1: the report is not for the whole network unless asked (`--host`). */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** How often the store is polled, ms (default 1000). */
  pollMs?: number;
  /** How often the page polls /version, ms (default 1000). */
  clientPollMs?: number;
  /** Told when a re-render or a poll fails (the last good page stays served). */
  onError?: (err: Error) => void;
}

export interface ReportServer {
  /** `http://host:port/` */
  url: string;
  /** Renders so far (1 after start). */
  version(): number;
  close(): Promise<void>;
}

/** Upper bound of the page poll interval the script accepts (a typo must not freeze the page). */
const MAX_CLIENT_POLL_MS = 60_000;

/** The reload script and the no-script fallback, placed before `</body>`. */
export function liveScript(version: number, clientPollMs: number, renderedAt: string): string {
  const every = Math.min(MAX_CLIENT_POLL_MS, Math.max(200, Math.floor(clientPollMs)));
  const at = renderedAt.replace(/[^0-9A-Za-z:.-]/g, '');
  return `<p class="note" id="live-note">Live: re-rendered from the results store as results arrive (rendering ${version}, ${at}).</p>
<noscript><meta http-equiv="refresh" content="30"></noscript>
<script>
(function () {
  var shown = ${JSON.stringify(version)};
  function poll() {
    fetch('/version', { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (j) { if (j.version !== shown) location.reload(); else setTimeout(poll, ${every}); })
      .catch(function () { setTimeout(poll, ${every * 3}); });
  }
  setTimeout(poll, ${every});
})();
</script>`;
}

const isLoopback = (address: string): boolean => address === '::1' || /^127\./.test(address) || address === '::ffff:127.0.0.1';

function withScript(html: string, script: string): string {
  const at = html.lastIndexOf('</body>');
  return at < 0 ? html + script : `${html.slice(0, at)}${script}\n${html.slice(at)}`;
}

/** Renders once (failing if that fails), then serves and keeps the page current. */
export async function serveReport(opts: ServeReportOptions): Promise<ReportServer> {
  const pollMs = opts.pollMs ?? 1000;
  const clientPollMs = opts.clientPollMs ?? 1000;
  let stamp = await opts.stamp();
  let html = await opts.render();
  let version = 1;
  let renderedAt = new Date().toISOString();
  let lastError: string | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  // A chain of timeouts, not an interval: a slow refit never overlaps the next poll.
  const tick = async (): Promise<void> => {
    try {
      const now = await opts.stamp();
      if (now !== stamp) {
        const next = await opts.render();
        // Only a successful render moves the stamp: a failed one is tried again next tick.
        stamp = now;
        html = next;
        version++;
        renderedAt = new Date().toISOString();
      }
      lastError = undefined;
    } catch (e) {
      lastError = (e as Error).message;
      opts.onError?.(e as Error);
    }
    if (!closed) timer = setTimeout(() => void tick(), pollMs);
  };
  timer = setTimeout(() => void tick(), pollMs);

  // Set once listening. On a loopback address, only a loopback Host is served: a web page that
  // rebinds its own name to 127.0.0.1 (DNS rebinding) must not read the report.
  let allowedHosts: Set<string> | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (allowedHosts && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('forbidden: not a loopback Host\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path === '/' || path === '/report.html') {
      send(200, 'text/html; charset=utf-8', withScript(html, liveScript(version, clientPollMs, renderedAt)));
    } else if (path === '/version') {
      send(200, 'application/json', JSON.stringify({ version, renderedAt, ...(lastError ? { error: lastError } : {}) }));
    } else {
      send(404, 'text/plain; charset=utf-8', 'not found\n');
    }
  };

  const server = createServer(handle);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  if (isLoopback(addr.address)) {
    allowedHosts = new Set([host, 'localhost', '127.0.0.1', '[::1]'].map((h) => `${h}:${addr.port}`));
  }
  return {
    url: `http://${host}:${addr.port}/`,
    version: () => version,
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
