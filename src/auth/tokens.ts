import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config.ts';
import { LIMITS } from '../domain/model.ts';
import type { Logger } from '../logger.ts';
import { createMemoryTicketLedger, type TicketLedger } from './tickets.ts';

/** The scope a producer's token carries to call emitNotification. */
export const EMIT_SCOPE = 'notifications:emit';
/** The audience of stream tickets (they open a stream and nothing else). */
export const TICKET_AUDIENCE = 'herald:stream-ticket';
/** The `typ` header of stream tickets: checked both ways, so neither kind passes for the other. */
export const TICKET_TYPE = 'herald-stream-ticket+jwt';
/** The only algorithm of tokens signed with JWT_SECRET and of stream tickets. */
const SECRET_ALGORITHM = 'HS256';
/** Algorithms accepted from JWT_JWKS_URL: asymmetric only, so a public key can never act as an HMAC secret. */
export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Who is calling. */
export interface AuthInfo {
  userId: string;
  scopes: ReadonlySet<string>;
  /** Epoch ms when the credentials expire (every token and ticket does; streams end then). */
  expiresAt: number | undefined;
  /** `ticket`: a short-lived stream ticket, accepted only to open a subscription over GET. */
  via: 'bearer' | 'ticket';
}

/** A credential was presented and refused (answered as UNAUTHENTICATED, or HTTP 401 for a ticket). */
export class AuthError extends Error {
  override name = 'AuthError';
}

export interface Authenticator {
  /** Verifies a bearer token: HS256 with JWT_SECRET when one is configured, or a key from JWT_JWKS_URL. */
  verifyBearer(token: string): Promise<AuthInfo>;
  /** Verifies a stream ticket (signed with the ticket key, never with JWT_SECRET) and uses it up: a ticket opens one stream. */
  verifyTicket(ticket: string): Promise<AuthInfo>;
  /** Mints a stream ticket for a user authenticated by a bearer token (for EventSource, which cannot send headers). */
  mintTicket(auth: AuthInfo): Promise<{ ticket: string; expiresAt: Date }>;
}

/** Verified bearer tokens kept (a producer sends the same token with every emit). */
const CACHE_LIMIT = 1_000;
/** A cached verification is reused for at most this long (then the token is verified again). */
const CACHE_MS = 60_000;
/** What PostgreSQL text cannot hold: NUL, and UTF-16 surrogates without their pair (`u` flag: pairs never match). */
const UNSTORABLE = /\0|\p{Cs}/u;
/** jose's cooldown between JWKS fetches for unknown key ids (its default). */
const JWKS_COOLDOWN_MS = 30_000;

/**
 * The user id a token's `sub` names, by the rule of recipient ids (notifications/validate.ts), so
 * that every user who can sign in can also be notified: a non-empty string of at most 255
 * characters without surrounding spaces that PostgreSQL can store (a NUL used to reach SQL and fail
 * whole groups of emits). Throws AuthError otherwise.
 */
export function userIdOf(sub: unknown): string {
  if (typeof sub !== 'string' || sub.length === 0) throw new AuthError('The token has no "sub" (user id)');
  if (sub.length > LIMITS.maxUserId) throw new AuthError(`The token's "sub" is longer than ${LIMITS.maxUserId} characters`);
  if (sub.trim() !== sub) throw new AuthError('The token\'s "sub" begins or ends with white space');
  if (UNSTORABLE.test(sub)) throw new AuthError('The token\'s "sub" holds a NUL character or an unpaired surrogate');
  return sub;
}

/** Imports an HMAC key once: jose would otherwise import the raw secret into WebCrypto on every verify, which cost more than the rest of an emit (measured with --cpu-prof). */
function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

/** What a token's time claims must satisfy (tickets' and bearer tokens'). */
interface TimeRules {
  /** Longest `exp - iat`, and oldest `iat`, in seconds. */
  maxAgeSeconds: number;
  toleranceSeconds: number;
  /** The credential's name in messages: "token" or "stream ticket". */
  kind: string;
}

/**
 * What jose leaves to check of `exp` and `iat` (jose checks `nbf`, and `iat` against the maximum
 * age and the clock tolerance). `exp` is exact (jose would apply the tolerance): the hub ends
 * a stream at `exp` to the second, so a token past it would open a stream only to end it. A
 * lifetime beyond the maximum is refused at once rather than when its `iat` grows too old, so a
 * misconfigured issuer is seen on the first request, not a day later.
 */
function checkTimes(payload: JWTPayload, rules: TimeRules): number {
  const { exp, iat } = payload;
  if (typeof exp !== 'number' || typeof iat !== 'number') throw new AuthError(`The ${rules.kind} needs "exp" and "iat"`);
  if (exp * 1000 <= Date.now()) throw new AuthError(`The ${rules.kind} expired`);
  if (exp - iat > rules.maxAgeSeconds) {
    throw new AuthError(
      `The ${rules.kind} lives ${exp - iat} s ("exp" - "iat"), longer than the ${rules.maxAgeSeconds} s this server accepts: mint shorter-lived tokens`,
    );
  }
  return exp * 1000;
}

/** jose's verification options for `rules`: `exp` and `iat` required, `iat` bounded both ways, `nbf` checked. */
function joseTimes(rules: TimeRules) {
  return { requiredClaims: ['exp', 'iat'], maxTokenAge: rules.maxAgeSeconds, clockTolerance: rules.toleranceSeconds };
}

/** A clear message for jose's claim failures (which name the claim, not the rule). */
function claimMessage(error: unknown, rules: TimeRules): string {
  if (error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired) {
    const { claim, reason } = error;
    if (reason === 'missing' && claim === 'exp') return `The ${rules.kind} has no "exp": tokens that never expire are refused`;
    if (reason === 'missing' && claim === 'iat')
      return `The ${rules.kind} has no "iat" (issued at): it is required to bound the token's age`;
    if (claim === 'exp') return `The ${rules.kind} expired`;
    if (claim === 'nbf') return `The ${rules.kind} is not valid yet ("nbf" is in the future)`;
    if (claim === 'iat' && error instanceof errors.JWTExpired) {
      return `The ${rules.kind} is older than the ${rules.maxAgeSeconds} s this server accepts ("iat"): mint a new one`;
    }
    if (claim === 'iat') {
      return `The ${rules.kind}'s "iat" is in the future (beyond the ${rules.toleranceSeconds} s clock tolerance)`;
    }
  }
  return `Invalid ${rules.kind}: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Builds the token and ticket checks from the configuration. Each key source has its own fixed
 * algorithms: HS256 only with an explicitly configured JWT_SECRET (config.ts supplies the
 * development secret only in development without JWKS), asymmetric algorithms only from the JWKS,
 * `none` never. Tickets have a key of their own: STREAM_TICKET_SECRET, or outside production a
 * random key generated for this process (logged as a warning on `log`). `tickets` records used
 * tickets (default: this process's memory).
 */
export function createAuthenticator(
  config: Config,
  log?: Pick<Logger, 'warn'>,
  tickets: TicketLedger = createMemoryTicketLedger(),
): Authenticator {
  const secretKey = config.JWT_SECRET === undefined ? undefined : hmacKey(config.JWT_SECRET);
  let ticketKey: Promise<CryptoKey>;
  if (config.STREAM_TICKET_SECRET !== undefined) {
    ticketKey = hmacKey(config.STREAM_TICKET_SECRET);
  } else {
    // config.ts refuses production without STREAM_TICKET_SECRET; elsewhere a key of this process only.
    ticketKey = crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign', 'verify']);
    log?.warn(
      'STREAM_TICKET_SECRET is not set: stream tickets are signed with a random key of this process (they fail after a restart and on other instances)',
    );
  }
  const jwksCacheMs = config.JWT_JWKS_CACHE_SECONDS * 1000;
  const jwks: JWTVerifyGetKey | undefined = config.JWT_JWKS_URL
    ? createRemoteJWKSet(new URL(config.JWT_JWKS_URL), {
        cacheMaxAge: jwksCacheMs,
        cooldownDuration: Math.min(JWKS_COOLDOWN_MS, jwksCacheMs),
      })
    : undefined;
  const bearerRules: TimeRules = {
    maxAgeSeconds: config.JWT_MAX_TOKEN_AGE_SECONDS,
    toleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
    kind: 'token',
  };
  const ticketRules: TimeRules = {
    maxAgeSeconds: config.STREAM_TICKET_TTL_SECONDS,
    toleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
    kind: 'stream ticket',
  };
  const claims = {
    ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
    ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
    ...joseTimes(bearerRules),
  };
  // A cached verification must not outlive the keys it was checked with (a key removed at the issuer).
  const cacheMs = Math.min(CACHE_MS, jwksCacheMs);
  const verified = new Map<string, { auth: AuthInfo; until: number }>();

  const toAuth = (payload: JWTPayload, via: AuthInfo['via'], expiresAt: number): AuthInfo => {
    const userId = userIdOf(payload.sub);
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    return { userId, scopes: new Set(scope.split(' ').filter(Boolean)), expiresAt, via };
  };

  const verifyBearer = async (token: string): Promise<AuthInfo> => {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch (error) {
      throw new AuthError(`Invalid token: ${(error as Error).message}`);
    }
    if (typeof header.typ === 'string' && header.typ.toLowerCase() === TICKET_TYPE) {
      throw new AuthError('A stream ticket is not a bearer token');
    }
    let payload: JWTPayload;
    try {
      if (header.alg === SECRET_ALGORITHM) {
        if (!secretKey) throw new AuthError('HS256 tokens are not accepted: no JWT_SECRET is configured');
        ({ payload } = await jwtVerify(token, await secretKey, { algorithms: [SECRET_ALGORITHM], ...claims }));
      } else if (typeof header.alg === 'string' && JWKS_ALGORITHMS.includes(header.alg)) {
        if (!jwks) throw new AuthError(`${header.alg} tokens are not accepted: no JWT_JWKS_URL is configured`);
        ({ payload } = await jwtVerify(token, jwks, { algorithms: JWKS_ALGORITHMS, ...claims }));
      } else {
        throw new AuthError(`Unsupported token algorithm ${header.alg ?? '(none)'}`);
      }
    } catch (error) {
      if (error instanceof AuthError) throw error;
      throw new AuthError(claimMessage(error, bearerRules));
    }
    const aud = payload.aud;
    if (aud === TICKET_AUDIENCE || (Array.isArray(aud) && aud.includes(TICKET_AUDIENCE))) {
      throw new AuthError('A stream ticket is not a bearer token');
    }
    return toAuth(payload, 'bearer', checkTimes(payload, bearerRules));
  };

  return {
    async verifyBearer(token) {
      const now = Date.now();
      const hit = verified.get(token);
      if (hit && hit.until > now) return hit.auth;
      const auth = await verifyBearer(token);
      if (verified.size >= CACHE_LIMIT) {
        const oldest = verified.keys().next();
        if (!oldest.done) verified.delete(oldest.value);
      }
      verified.set(token, { auth, until: Math.min(now + cacheMs, auth.expiresAt ?? Number.POSITIVE_INFINITY) });
      return auth;
    },
    async verifyTicket(ticket) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(ticket, await ticketKey, {
          algorithms: [SECRET_ALGORITHM],
          audience: TICKET_AUDIENCE,
          typ: TICKET_TYPE,
          ...joseTimes(ticketRules),
          requiredClaims: ['exp', 'iat', 'sub', 'jti', 'stream_exp'],
        }));
      } catch (error) {
        throw new AuthError(claimMessage(error, ticketRules));
      }
      const expiresAt = checkTimes(payload, ticketRules);
      // The stream lives until the token the ticket was minted from expires.
      const streamExp = payload.stream_exp;
      if (typeof streamExp !== 'number') throw new AuthError('Invalid stream ticket: "stream_exp" is not a number');
      if (streamExp * 1000 <= Date.now()) throw new AuthError('The token this stream ticket was minted from expired');
      const auth = toAuth(payload, 'ticket', streamExp * 1000);
      if (typeof payload.jti !== 'string' || !(await tickets.claim(payload.jti, expiresAt))) {
        throw new AuthError('This stream ticket was used already: a ticket opens one stream, mint a new one');
      }
      return auth;
    },
    async mintTicket(auth) {
      if (auth.via !== 'bearer') throw new AuthError('Stream tickets are minted for bearer tokens only');
      if (auth.expiresAt === undefined) throw new AuthError('Stream tickets are minted for tokens that expire only');
      // A ticket is no use after its token: the stream it opened would end at once.
      const expiresAt = new Date(Math.min(Date.now() + config.STREAM_TICKET_TTL_SECONDS * 1000, auth.expiresAt));
      const ticket = await new SignJWT({ stream_exp: Math.floor(auth.expiresAt / 1000) })
        .setProtectedHeader({ alg: SECRET_ALGORITHM, typ: TICKET_TYPE })
        .setSubject(auth.userId)
        .setAudience(TICKET_AUDIENCE)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(await ticketKey);
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
    .setProtectedHeader({ alg: SECRET_ALGORITHM })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
