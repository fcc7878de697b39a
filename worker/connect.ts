import { connect as tcpConnect } from 'node:net';
import type { TemporalSettings } from './settings';

/** How long a command keeps trying a server that is not up yet (a dev server takes a few seconds). */
export const CONNECT_RETRY_MS = 10_000;

/**
 * Errors worth another try: the server is starting (`14 UNAVAILABLE: shard status unknown`,
 * namespace not loaded yet), not listening yet, or the connection dropped. TLS and auth errors
 * are not: they will not heal by waiting.
 */
export function isTransient(err: unknown): boolean {
  const text = errorText(err);
  if (/certificate|tls|ssl|handshake|unauthenticated|permission denied|permissiondenied/i.test(text)) return false;
  return /UNAVAILABLE|shard status unknown|ECONNREFUSED|ECONNRESET|Connection refused|connection reset|ConnectError|tonic::transport|transport error|Failed to connect|DEADLINE_EXCEEDED|deadline|not ready|No connection established/i.test(
    text,
  );
}

/** The message and its causes, one line: SDK errors wrap the gRPC error in `cause`. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 5; i++) {
    const x = e as { message?: string; details?: string; cause?: unknown };
    const m = x.message ?? String(e);
    if (!parts.includes(m)) parts.push(m);
    if (x.details && !parts.includes(x.details)) parts.push(x.details);
    e = x.cause;
  }
  return parts.join(': ');
}

export class TemporalUnreachableError extends Error {}

/** What to tell a user whose server does not answer. */
export function unreachableMessage(
  settings: Pick<TemporalSettings, 'address' | 'namespace' | 'tls'>,
  err: unknown,
  waitedMs = 0,
): string {
  const raw = errorText(err);
  // The transport's own wording (tonic's nested debug structs) helps no one; say what happened.
  const text = /Connection refused|ECONNREFUSED/i.test(raw)
    ? 'connection refused (nothing is listening there)'
    : /shard status unknown/i.test(raw)
      ? 'the server is still starting (shard status unknown)'
      : /dns error|ENOTFOUND|failed to lookup|Name or service not known/i.test(raw)
        ? 'the host name does not resolve'
        : settings.tls && /ConnectionReset|connection reset|ECONNRESET/i.test(raw)
          ? 'the server reset the connection during TLS (is the client certificate signed by the CA it trusts?)'
          : /Failed to connect before the deadline/i.test(raw)
            ? 'no answer before the connect deadline (nothing listening, a firewall, or a TLS handshake refused)'
            : raw.replace(/\s+/g, ' ').slice(0, 300);
  const tlsHint = settings.tls
    ? ' TLS is on (TEMPORAL_TLS_* or TEMPORAL_API_KEY set): check the certificate variables and TEMPORAL_TLS_SERVER_NAME.'
    : '';
  return (
    `cannot reach Temporal at ${settings.address} (namespace ${settings.namespace})${waitedMs >= 1000 ? ` after ${Math.round(waitedMs / 1000)} s` : ''}: ${text}.${tlsHint}\n` +
    '  Either run `npx sweep dev` (a local Temporal dev server with the Web UI, its state kept in .sweep/, and a worker; ' +
    'or just the server: `temporal server start-dev` from .tools/temporal/bin), or point TEMPORAL_ADDRESS at your server ' +
    '(e.g. TEMPORAL_ADDRESS=temporal.example.com:7233).'
  );
}

/**
 * Whether a TCP connection to `address` is refused (nothing listening), accepted, or neither in
 * `timeoutMs`. The SDK reports a refused port only as a connect deadline; this tells them apart.
 */
export function probeTcp(address: string, timeoutMs = 1_000): Promise<'open' | 'refused' | 'unknown'> {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address.replace(/^[a-z]+:\/\//i, ''));
  if (!m) return Promise.resolve('unknown');
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: m[1], port: Number(m[2]) });
    const done = (r: 'open' | 'refused' | 'unknown') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
  });
}

/** The unreachable error, told "connection refused" when the port really refuses connections. */
async function unreachable(
  settings: Pick<TemporalSettings, 'address' | 'namespace' | 'tls'>,
  err: unknown,
  waitedMs: number,
): Promise<TemporalUnreachableError> {
  let shown = err;
  if (/Failed to connect before the deadline|DEADLINE_EXCEEDED/i.test(errorText(err)) && (await probeTcp(settings.address)) === 'refused')
    shown = new Error('Connection refused', { cause: err });
  return new TemporalUnreachableError(unreachableMessage(settings, shown, waitedMs), { cause: err });
}

/**
 * Runs `fn` (a connect, or a first call) until it succeeds, a non-transient error, or `totalMs`:
 * bounded, as Temporal's own CLI waits for a server that is still starting. Then a clear message.
 */
export async function connectWithRetry<T>(
  settings: Pick<TemporalSettings, 'address' | 'namespace' | 'tls'>,
  fn: () => Promise<T>,
  { totalMs = CONNECT_RETRY_MS, intervalMs = 250 }: { totalMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const t0 = Date.now();
  const deadline = t0 + totalMs;
  for (let wait = intervalMs; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await fn();
    } catch (err) {
      // With TLS on, a connection the server resets at once is its TLS layer refusing our
      // certificate (TLS 1.3 reports it after the handshake): waiting will not heal that.
      const tlsReset = !!settings.tls && /ConnectionReset|connection reset|ECONNRESET/i.test(errorText(err));
      if (tlsReset)
        throw new TemporalUnreachableError(unreachableMessage(settings, err, Date.now() - t0), { cause: err });
      if (!isTransient(err)) {
        if (settings.tls && /certificate|tls|ssl|handshake/i.test(errorText(err)))
          throw new TemporalUnreachableError(unreachableMessage(settings, err, Date.now() - t0), { cause: err });
        throw err;
      }
      if (Date.now() + wait > deadline) throw await unreachable(settings, err, Date.now() - t0);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
