/**
 * mTLS in front of a real Temporal dev server. `temporal server start-dev` (CLI 1.x) has no TLS
 * flags and no config file, so the dev server listens in plain text on 127.0.0.1 and a TLS
 * terminator that *requires* a client certificate signed by the test CA forwards the decrypted
 * HTTP/2 bytes to it. The client side (our settings -> the SDK's TLSConfig -> rustls in the worker,
 * grpc-js in the client) does a real mTLS handshake, exactly as against Temporal Cloud or a
 * self-hosted frontend with `requireClientAuth`.
 */
import { execFileSync } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

export interface TestCerts {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client pair signed by a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
  /** The only name in the server certificate (so the client must override the server name). */
  serverName: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

function signed(dir: string, name: string, subject: string, ca: { cert: string; key: string }, ext: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', subject, '-out', csr], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', extFile, '-out', cert], dir);
  return { cert, key };
}

function selfSignedCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { cert, key };
}

/** A CA, a server certificate for `temporal.test`, a client certificate, and a stranger's pair (other CA). */
export function makeTestCerts(dir: string): TestCerts {
  const serverName = 'temporal.test';
  const ca = selfSignedCa(dir, 'sweep-test-ca');
  const server = signed(dir, 'server', `/CN=${serverName}`, ca, `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`);
  const client = signed(dir, 'client', '/CN=sweep-client', ca, 'extendedKeyUsage=clientAuth\n');
  const otherCa = selfSignedCa(dir, 'stranger-ca');
  const stranger = signed(dir, 'stranger', '/CN=stranger', otherCa, 'extendedKeyUsage=clientAuth\n');
  return {
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
    serverName,
  };
}

export interface MtlsProxy {
  address: string;
  /** Common names of the client certificates of every handshake that succeeded. */
  authorizedClients: string[];
  /** Handshakes refused (no certificate, or one the CA did not sign). */
  refused: number;
  stop(): Promise<void>;
}

/** TLS on 127.0.0.1:<random>, client certificate required, forwarding to `target` (host:port, plain text). */
export async function startMtlsProxy(target: string, certs: TestCerts): Promise<MtlsProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const state = { authorizedClients: [] as string[], refused: 0 };
  const server = createTlsServer(
    {
      key: readFileSync(certs.serverKey),
      cert: readFileSync(certs.serverCert),
      ca: readFileSync(certs.caCert),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (tlsSocket: TLSSocket) => {
      const cn = tlsSocket.getPeerCertificate()?.subject?.CN;
      state.authorizedClients.push(String(cn));
      const upstream = netConnect(port, host);
      sockets.add(tlsSocket).add(upstream);
      tlsSocket.pipe(upstream).pipe(tlsSocket);
      const close = () => {
        tlsSocket.destroy();
        upstream.destroy();
      };
      tlsSocket.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    },
  );
  server.on('tlsClientError', () => state.refused++);
  await new Promise<void>((res, rej) => server.once('error', rej).listen(0, '127.0.0.1', () => res()));
  const { port: listening } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${listening}`,
    get authorizedClients() {
      return state.authorizedClients;
    },
    get refused() {
      return state.refused;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
