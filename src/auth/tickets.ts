import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

/**
 * The stream tickets already used, remembered by their `jti` until they expire: a ticket opens one
 * stream, so a ticket read from a URL (a proxy's log, a browser's history) opens nothing.
 */
export interface TicketLedger {
  /** Records a ticket id until `expiresAt` (epoch ms): true the first time, false if it was recorded already. */
  claim(id: string, expiresAt: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Past this many remembered ids, expired ones are swept (then again each time the count doubles). */
const SWEEP_FROM = 1_024;

/** This instance's memory: enough for one instance (embedded mode, or Redis unreachable). */
export function createMemoryTicketLedger(): TicketLedger {
  const used = new Map<string, number>();
  let sweepAt = SWEEP_FROM;
  return {
    async claim(id, expiresAt) {
      const now = Date.now();
      const known = used.get(id);
      if (known !== undefined && known > now) return false;
      used.set(id, expiresAt);
      if (used.size >= sweepAt) {
        for (const [key, until] of used) if (until <= now) used.delete(key);
        sweepAt = Math.max(SWEEP_FROM, used.size * 2);
      }
      return true;
    },
    async close() {
      used.clear();
    },
  };
}

/**
 * Redis (`SET <prefix>:ticket:<jti> 1 NX PX <ms>`): shared by every instance, so a ticket used on
 * one cannot open a stream on another. While Redis does not answer (1 s), this instance's memory
 * stands in: tickets stay single-use on each instance, and streams keep opening during an outage
 * (delivery falls back to catch-up then too).
 */
export function createRedisTicketLedger(url: string, prefix: string, log: Pick<Logger, 'warn' | 'info'>): TicketLedger {
  const redis = new Redis(url, {
    connectionName: 'herald-tickets',
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
  });
  // ioredis reports connection errors as events; the failing commands say what matters.
  redis.on('error', () => {});
  const fallback = createMemoryTicketLedger();
  let degraded = false;
  return {
    async claim(id, expiresAt) {
      const ms = Math.max(1, expiresAt - Date.now());
      try {
        const set = await redis.set(`${prefix}:ticket:${id}`, '1', 'PX', ms, 'NX');
        if (degraded) {
          degraded = false;
          log.info('stream tickets are recorded in Redis again');
        }
        // Also recorded here, so that a ticket used during an outage stays used once Redis is back.
        return set === 'OK' && (await fallback.claim(id, expiresAt));
      } catch (error) {
        if (!degraded) {
          degraded = true;
          log.warn({ err: error }, 'Redis does not answer: used stream tickets are recorded in this instance only');
        }
        return fallback.claim(id, expiresAt);
      }
    },
    async close() {
      await fallback.close();
      redis.disconnect();
    },
  };
}
