/**
 * Issue 8: TLS settings reach the SDK in the shape it reads (bytes, `clientCertPair`,
 * `serverNameOverride`), bad ones are errors naming the variable; `--slots 0|abc` is refused;
 * tables are plain text off a terminal or with NO_COLOR. (mTLS end to end: test/integration/mtls.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { colorEnabled, table } from '../../cli/color';
import { connectionOptions, temporalSettings, tlsConfig } from '../../worker/settings';
import { isTransient } from '../../worker/connect';
import { sweepCli } from '../integration/helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'sweep-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
const CA = '-----BEGIN CERTIFICATE-----\nCAAA\n-----END CERTIFICATE-----\n';

describe('TLS settings -> the SDK TLSConfig', () => {
  it('plain text when nothing asks for TLS', () => {
    expect(temporalSettings({}).tls).toBeUndefined();
    expect(connectionOptions(temporalSettings({ TEMPORAL_ADDRESS: 'h:1' }))).toEqual({ address: 'h:1', apiKey: undefined, tls: false });
  });

  it('reads the pair and the CA as bytes, and overrides the server name', () => {
    const env = {
      TEMPORAL_TLS_CLIENT_CERT_PATH: file('c.pem', CERT),
      TEMPORAL_TLS_CLIENT_KEY_PATH: file('k.pem', KEY),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem', CA),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    };
    const tls = tlsConfig(temporalSettings(env));
    expect(tls).toEqual({
      clientCertPair: { crt: Buffer.from(CERT), key: Buffer.from(KEY) },
      serverRootCACertificate: Buffer.from(CA),
      serverNameOverride: 'temporal.example',
    });
    // The old shape the SDK never read must be gone.
    expect(tls).not.toHaveProperty('clientCertPath');
  });

  it('TEMPORAL_TLS_CA_PATH is accepted for the CA; an API key alone turns TLS on; TEMPORAL_TLS=false turns it off', () => {
    expect(tlsConfig(temporalSettings({ TEMPORAL_TLS_CA_PATH: file('ca2.pem', CA) }))).toEqual({ serverRootCACertificate: Buffer.from(CA) });
    expect(connectionOptions(temporalSettings({ TEMPORAL_API_KEY: 'k' })).tls).toEqual({});
    expect(connectionOptions(temporalSettings({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).tls).toBe(false);
  });

  it('a missing, unreadable or non-PEM file, or half a pair, is an error naming the variable', () => {
    const missing = join(dir, 'nope.pem');
    expect(() => tlsConfig(temporalSettings({ TEMPORAL_TLS_CLIENT_CERT_PATH: missing, TEMPORAL_TLS_CLIENT_KEY_PATH: file('k2.pem', KEY) }))).toThrow(
      `TEMPORAL_TLS_CLIENT_CERT_PATH=${missing}: cannot read it (ENOENT)`,
    );
    expect(() => tlsConfig(temporalSettings({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: dir }))).toThrow(/TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*cannot read it \(EISDIR\)/);
    expect(() => tlsConfig(temporalSettings({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('junk.pem', 'hello') }))).toThrow(
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*not a PEM file/,
    );
    expect(() => tlsConfig(temporalSettings({ TEMPORAL_TLS_CLIENT_CERT_PATH: file('c2.pem', CERT) }))).toThrow(
      'TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not',
    );
  });

  it('one task queue setting, default scaling-sweeps', () => {
    expect(temporalSettings({}).taskQueue).toBe('scaling-sweeps');
    expect(temporalSettings({ TEMPORAL_TASK_QUEUE: 'gpu-lab' }).taskQueue).toBe('gpu-lab');
  });

  it('a starting server is retried; a TLS refusal is not', () => {
    expect(isTransient(new Error('14 UNAVAILABLE: shard status unknown'))).toBe(true);
    expect(isTransient(new Error('tonic::transport::Error(Transport, ConnectError("tcp connect error", Os { code: 111, message: "Connection refused" }))'))).toBe(true);
    expect(isTransient(new Error('transport error: received fatal alert: CertificateRequired'))).toBe(false);
  });
});

describe('colour only on a terminal, never with NO_COLOR', () => {
  it('decides from the stream and NO_COLOR', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true); // no-color.org: empty means unset
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
  });

  it('a table off a terminal has no escape codes (vitest output is not a TTY)', () => {
    const t = table({ head: ['a', 'b'] });
    t.push([1, 2]);
    expect(t.toString()).toContain('a');
    expect(t.toString()).not.toContain('\x1b[');
  });

  it('`sweep plan` piped prints no escape codes', async () => {
    const r = await sweepCli(['plan', 'configs/demo.yaml']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('run id');
    expect(r.stdout).not.toContain('\x1b[');
  });
});

describe('sweep worker --slots', () => {
  for (const bad of ['0', 'abc']) {
    it(`--slots ${bad} is refused with exit 2, the flag named`, async () => {
      // An address nothing listens on: the flag must be refused before any connection is tried.
      const r = await sweepCli(['worker', '--slots', bad], { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:9' }, 30_000);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--slots must be a whole number of processes from 1 to 4096 (got "${bad}")`);
    });
  }
});
