// Mints a development token: npm run token -- --sub alice [--scope notifications:emit] [--expires 3600]
import { parseArgs } from 'node:util';
import { signToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';

const { values } = parseArgs({
  options: { sub: { type: 'string' }, scope: { type: 'string' }, expires: { type: 'string', default: '3600' } },
});
if (!values.sub) {
  console.error('usage: npm run token -- --sub <user id> [--scope notifications:emit] [--expires <seconds>]');
  process.exit(2);
}
const config = loadConfig();
console.log(await signToken(config.JWT_SECRET, { sub: values.sub, scope: values.scope, expiresInSeconds: Number(values.expires) }));
