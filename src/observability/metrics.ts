import { createHash, timingSafeEqual } from 'node:crypto';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Hub } from '../delivery/hub.ts';
import type { SseRegistry } from '../delivery/sse.ts';
import type { EmitObserver } from '../notifications/emit.ts';
import type { SubscriptionObserver } from '../pipeline/subscriptions.ts';

/**
 * Prometheus metrics at GET /metrics (prom-client's text format).
 *
 * - GraphQL: `@graphql-yoga/plugin-prometheus`'s envelop metrics (requests, parse / validate /
 *   context / execute / subscribe durations, error results, deprecated fields) on every request of
 *   every transport, since every operation runs through the one pipeline. Labels are operation
 *   names and types only: no header, so no token, ever reaches a label. Its HTTP histogram is off:
 *   it needs Yoga's handler, which the fast path does not use.
 * - Herald's own: open streams, streams opened and closed, slow readers dropped, catch-up reads and
 *   gap fills, delivery lag from commit to the moment the event is resolved for its stream, emits
 *   by delivery status, grouped-commit sizes, publish failures, unexpected (masked) errors.
 *   Counts the hub and the SSE registry keep anyway are read when /metrics is scraped, so they
 *   cost nothing per event.
 *
 * Each app has its own registry (several apps in one process, as in tests, do not collide).
 */
export interface Metrics {
  registry: Registry;
  /** The Yoga plugins: the GraphQL metrics and the /metrics endpoint. */
  plugins: Plugin[];
  emits: EmitObserver;
  subscriptions: SubscriptionObserver;
  unexpectedError(): void;
}

export interface MetricsOptions {
  path: string;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  token: string | undefined;
  hub: () => Hub;
  sse: () => SseRegistry;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        // A running total kept elsewhere: report it as is.
        this.reset();
        this.inc(read());
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('herald_streams_open', 'Subscriptions open on this instance', () => options.hub().stats().streams);
  gauge('herald_stream_users', 'Users with at least one open subscription on this instance', () => options.hub().stats().users);
  gauge('herald_sse_buffered_bytes', 'Bytes written to SSE streams and not yet sent', () => options.sse().stats().bufferedBytes);
  counter('herald_streams_opened_total', 'Subscriptions opened', () => options.hub().counters.opened);
  counter(
    'herald_streams_closed_total',
    'Subscriptions closed (client gone, shutdown, expiry, failure)',
    () => options.hub().counters.closed,
  );
  new Counter({
    name: 'herald_sse_streams_closed_total',
    help: 'SSE streams closed, by reason: client (gone), complete (ended by an error), server (shutdown), slow (dropped)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(options.sse().counters.closed)) this.inc({ reason }, n);
    },
  });
  counter(
    'herald_slow_readers_dropped_total',
    'SSE streams dropped because their unsent data passed the limit',
    () => options.sse().counters.droppedSlow,
  );
  counter(
    'herald_catchup_reads_total',
    'Database reads by streams catching up (resume, gap, safety net)',
    () => options.hub().counters.catchUps,
  );
  counter(
    'herald_gap_fills_total',
    'Catch-up reads that found notifications the bus had not delivered',
    () => options.hub().counters.gapFills,
  );

  const lag = new Histogram({
    name: 'herald_delivery_lag_seconds',
    help: 'From the commit of a notification to its result being resolved for an open stream',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'herald_emit_deliveries_total',
    help: 'Recipients of committed emits, by status',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const delivered = deliveries.labels('DELIVERED');
  const suppressed = deliveries.labels('SUPPRESSED');
  const duplicate = deliveries.labels('DUPLICATE');
  const updated = deliveries.labels('UPDATED');
  const commitSize = new Histogram({
    name: 'herald_group_commit_emits',
    help: 'Emits per grouped commit',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const publishFailures = new Counter({
    name: 'herald_publish_failures_total',
    help: 'Publishes to the bus that failed after commit (streams catch up from the database)',
    registers: [registry],
  });
  const unexpected = new Counter({
    name: 'herald_unexpected_errors_total',
    help: 'Unexpected errors (masked as "Unexpected error." for clients, logged with the request id)',
    registers: [registry],
  });

  return {
    registry,
    plugins: [
      usePrometheus({
        registry,
        endpoint: false,
        metrics: { graphql_yoga_http_duration: false },
      }),
      useMetricsEndpoint(registry, options),
    ],
    emits: {
      committed(emits, counts) {
        commitSize.observe(emits);
        if (counts.delivered) delivered.inc(counts.delivered);
        if (counts.suppressed) suppressed.inc(counts.suppressed);
        if (counts.duplicate) duplicate.inc(counts.duplicate);
        if (counts.updated) updated.inc(counts.updated);
      },
      publishFailed: () => publishFailures.inc(),
    },
    subscriptions: {
      delivered: (lagMs) => lag.observe(lagMs / 1000),
    },
    unexpectedError: () => unexpected.inc(),
  };
}

/** GET /metrics, with the bearer token when one is configured. */
function useMetricsEndpoint(registry: Registry, options: MetricsOptions): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== options.path || request.method !== 'GET') return;
      if (options.token !== undefined && !sameSecret(request.headers.get('authorization') ?? '', `Bearer ${options.token}`)) {
        endResponse(new fetchAPI.Response('metrics need Authorization: Bearer <METRICS_TOKEN>\n', { status: 401 }));
        return;
      }
      return registry.metrics().then((text) => {
        endResponse(new fetchAPI.Response(text, { headers: { 'content-type': registry.contentType } }));
      });
    },
  };
}

/** Compares in constant time (hashes first, so lengths do not leak either). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
