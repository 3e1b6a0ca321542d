// Mints a development token: npm run token -- --sub alice [--scope notifications:emit] [--expires 3600]
import { parseArgs } from 'node:util';
import { AuthError, EMIT_SCOPE, signToken, userIdOf } from '../src/auth/tokens.ts';
import { ConfigError, loadTokenConfig } from '../src/config.ts';

const USAGE = `usage: npm run token -- --sub <user id> [--scope <scopes>] [--expires <seconds>]

Prints an HS256 bearer token signed with JWT_SECRET (in development without JWT_SECRET and
JWT_JWKS_URL: the development secret). With only JWT_JWKS_URL configured, mint tokens at your issuer.

  --sub <user id>      the user id (the token's "sub"), 1 to 255 characters
  --scope <scopes>     space-separated scopes; "${EMIT_SCOPE}" makes a producer
  --expires <seconds>  lifetime in seconds (default 3600, at most JWT_MAX_TOKEN_AGE_SECONDS: 86400 unless set)
  -h, --help           this help

examples:
  npm run token -- --sub alice
  npm run token -- --sub billing --scope ${EMIT_SCOPE}`;

function fail(message: string, code = 2): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(code);
}

let values: { sub?: string | undefined; scope?: string | undefined; expires: string; help?: boolean | undefined };
try {
  ({ values } = parseArgs({
    options: {
      sub: { type: 'string' },
      scope: { type: 'string' },
      expires: { type: 'string', default: '3600' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values.sub === undefined) fail('--sub is required');
try {
  userIdOf(values.sub);
} catch (error) {
  if (error instanceof AuthError) fail(`--sub: ${error.message}`);
  throw error;
}
const expires = Number(values.expires);
if (!Number.isSafeInteger(expires) || expires <= 0) fail('--expires must be a positive whole number of seconds');

let secret: string | undefined;
let maxAge: number;
try {
  ({ JWT_SECRET: secret, JWT_MAX_TOKEN_AGE_SECONDS: maxAge } = loadTokenConfig());
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 1);
  throw error;
}
// Herald refuses tokens that live longer (JWT_MAX_TOKEN_AGE_SECONDS): say so now, not at the first request.
if (expires > maxAge) fail(`--expires must be at most ${maxAge} s (JWT_MAX_TOKEN_AGE_SECONDS)`);
if (secret === undefined) fail('No JWT_SECRET is configured (JWT_JWKS_URL only): Herald accepts no HS256 token to mint', 1);
console.log(await signToken(secret, { sub: values.sub, scope: values.scope, expiresInSeconds: expires }));
