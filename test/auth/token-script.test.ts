import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `npm run -s token -- ...args` as the README shows, with a clean environment. */
function token(args: string[], env: Record<string, string> = {}) {
  return spawnSync('npm', ['run', '-s', 'token', '--', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run token', () => {
  it('--help prints the usage and exits 0', () => {
    const run = token(['--help']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm run token -- --sub <user id>/);
  });

  it('mints a token for --sub, and refuses unknown options and unusable ids with the usage', () => {
    const run = token(['--sub', 'alice', '--scope', 'notifications:emit']);
    expect(run.status).toBe(0);
    expect(decodeJwt(run.stdout.trim())).toMatchObject({ sub: 'alice', scope: 'notifications:emit' });
    const unknown = token(['--bogus']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--bogus'[\s\S]*usage:/);
    expect(token(['--sub', 'a'.repeat(256)]).status).toBe(2);
  });

  it("mints in production with JWT_SECRET alone (the server's other secrets are not its business)", () => {
    const run = token(['--sub', 'alice'], { NODE_ENV: 'production', JWT_SECRET: 'production-secret-that-is-long-enough-0123' });
    expect(run.status).toBe(0);
    expect(decodeJwt(run.stdout.trim())).toMatchObject({ sub: 'alice' });
  });

  it('says so when only JWKS is configured (no HS256 secret to sign with)', () => {
    const run = token(['--sub', 'alice'], { JWT_JWKS_URL: 'https://issuer.example/jwks' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/No JWT_SECRET is configured/);
  });
});
