import { IncomingMessage } from 'node:http';
import { pino } from 'pino';

export type Logger = pino.Logger;

/** Query parameters that carry credentials: never logged in full. */
const SECRET_PARAMS = /([?&](?:ticket|token|access_token)=)[^&#]*/gi;

/** A URL (or path with a query) with its `ticket` (and token) parameters replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

/**
 * The process logger (JSON lines on stdout). A URL logged as `url`, or within `req` (pino's
 * request serializer), has its stream ticket redacted: a ticket in a log could be replayed until
 * it is used or expires. `destination`: stdout unless given (tests).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'herald' },
    serializers: {
      url: (url: unknown) => (typeof url === 'string' ? redactUrl(url) : url),
      req: (req: unknown) => {
        if (!(req instanceof IncomingMessage)) return req;
        const serialized = pino.stdSerializers.req(req);
        return { ...serialized, url: redactUrl(serialized.url) };
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
