import { createRemoteJWKSet, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config.ts';

/** The scope a producer's token carries to call emitNotification. */
export const EMIT_SCOPE = 'notifications:emit';
/** The audience of stream tickets (they open a stream and nothing else). */
const TICKET_AUDIENCE = 'herald:stream-ticket';

/** Who is calling. */
export interface AuthInfo {
  userId: string;
  scopes: ReadonlySet<string>;
  /** Epoch ms when the credentials expire, when they do. */
  expiresAt: number | undefined;
  /** `ticket`: a short-lived stream ticket, accepted only to open a subscription over GET. */
  via: 'bearer' | 'ticket';
}

export class AuthError extends Error {
  override name = 'AuthError';
}

export interface Authenticator {
  /** Verifies a bearer token (HS256 with JWT_SECRET, or a key from JWT_JWKS_URL). */
  verifyBearer(token: string): Promise<AuthInfo>;
  /** Verifies a stream ticket. */
  verifyTicket(ticket: string): Promise<AuthInfo>;
  /** Mints a stream ticket for an authenticated user (for EventSource, which cannot send headers). */
  mintTicket(auth: AuthInfo): Promise<{ ticket: string; expiresAt: Date }>;
}

/** Verified bearer tokens kept (a producer sends the same token with every emit). */
const CACHE_LIMIT = 1_000;
/** A cached verification is reused for at most this long (then the token is verified again). */
const CACHE_MS = 60_000;

export function createAuthenticator(config: Config): Authenticator {
  const raw = new TextEncoder().encode(config.JWT_SECRET);
  // Imported once: jose would otherwise import the raw secret into WebCrypto on every verify,
  // which cost more than the rest of an emit (measured with --cpu-prof).
  const secretKey = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const verified = new Map<string, { auth: AuthInfo; until: number }>();
  const jwks = config.JWT_JWKS_URL ? createRemoteJWKSet(new URL(config.JWT_JWKS_URL)) : undefined;
  const claims = {
    ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
    ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
  };
  const toAuth = (payload: JWTPayload, via: AuthInfo['via']): AuthInfo => {
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255) {
      throw new AuthError('The token has no valid "sub" (user id)');
    }
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    return {
      userId: payload.sub,
      scopes: new Set(scope.split(' ').filter(Boolean)),
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
      via,
    };
  };
  const verifyBearer = async (token: string): Promise<AuthInfo> => {
    try {
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: string };
      if (header.alg === 'HS256') {
        const { payload } = await jwtVerify(token, await secretKey, { algorithms: ['HS256'], ...claims });
        if (payload.aud === TICKET_AUDIENCE) throw new AuthError('A stream ticket is not a bearer token');
        return toAuth(payload, 'bearer');
      }
      if (jwks) {
        const { payload } = await jwtVerify(token, jwks, { algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'], ...claims });
        return toAuth(payload, 'bearer');
      }
      throw new AuthError(`Unsupported token algorithm ${header.alg ?? '(none)'}`);
    } catch (error) {
      if (error instanceof AuthError) throw error;
      throw new AuthError(`Invalid token: ${(error as Error).message}`);
    }
  };
  return {
    async verifyBearer(token) {
      const now = Date.now();
      const hit = verified.get(token);
      if (hit && hit.until > now) return hit.auth;
      const auth = await verifyBearer(token);
      if (verified.size >= CACHE_LIMIT) verified.delete(verified.keys().next().value!);
      verified.set(token, { auth, until: Math.min(now + CACHE_MS, auth.expiresAt ?? Number.POSITIVE_INFINITY) });
      return auth;
    },
    async verifyTicket(ticket) {
      try {
        const { payload } = await jwtVerify(ticket, await secretKey, { algorithms: ['HS256'], audience: TICKET_AUDIENCE });
        const auth = toAuth(payload, 'ticket');
        // The stream lives until the credentials the ticket was minted from expire.
        const streamExp = typeof payload.stream_exp === 'number' ? payload.stream_exp * 1000 : undefined;
        return { ...auth, expiresAt: streamExp };
      } catch (error) {
        throw new AuthError(`Invalid stream ticket: ${(error as Error).message}`);
      }
    },
    async mintTicket(auth) {
      const expiresAt = new Date(Date.now() + config.STREAM_TICKET_TTL_SECONDS * 1000);
      const ticket = await new SignJWT({
        ...(auth.expiresAt ? { stream_exp: Math.floor(auth.expiresAt / 1000) } : {}),
      })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(auth.userId)
        .setAudience(TICKET_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(await secretKey);
      return { ticket, expiresAt };
    },
  };
}

/** Mints an HS256 token (development, tests, `npm run token`). */
export async function signToken(
  secret: string,
  options: { sub: string; scope?: string | undefined; expiresInSeconds?: number | undefined; issuer?: string; audience?: string },
): Promise<string> {
  const jwt = new SignJWT(options.scope ? { scope: options.scope } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
