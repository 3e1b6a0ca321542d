import type { Authenticator, AuthInfo } from './auth/tokens.ts';
import type { Config } from './config.ts';
import type { Database } from './db/index.ts';
import type { Bus } from './delivery/bus.ts';
import type { Hub } from './delivery/hub.ts';
import type { Presence } from './delivery/presence.ts';
import type { Logger } from './logger.ts';
import type { Emitter } from './notifications/emit.ts';

/** The long-lived parts of one Herald instance, built once by createApp. */
export interface Services {
  config: Config;
  db: Database;
  bus: Bus;
  hub: Hub;
  emitter: Emitter;
  authenticator: Authenticator;
  presence: Presence;
  log: Logger;
}

/** Per-request GraphQL context. */
export interface Context {
  services: Services;
  /** The authenticated caller, or null. */
  auth: AuthInfo | null;
  /** Why authentication failed, when a credential was sent but rejected. */
  authError: string | null;
  /** `Last-Event-ID` of a reconnecting SSE client: resumes after it (takes precedence over `after`). */
  lastEventId: string | null;
}
