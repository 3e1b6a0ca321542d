import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate for 127.0.0.1 and localhost, made for this run. */
export function selfSigned(): { cert: Buffer; key: Buffer; certFile: string; keyFile: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return {
    cert: readFileSync(cert),
    key: readFileSync(key),
    certFile: cert,
    keyFile: key,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
