import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin, type YogaLogger } from 'graphql-yoga';
import type { Logger } from '../logger.ts';

/**
 * Unexpected errors (a bug, a failed dependency: what masking hides from the client as "Unexpected
 * error.") logged once, with the request id that the client got in `x-request-id`, so an operator
 * can find the cause of the 500 or the masked error a user reports.
 *
 * Errors in results are logged by `plugin()`, before Yoga's masking (which comes later in the
 * pipeline and logs what it masks without a request id): `yogaLogger` skips those already logged.
 * Errors thrown outside execution are logged by the HTTP layer (http/graphql.ts) with the same id.
 */
export class ErrorLog {
  constructor(
    private readonly log: Logger,
    /** Told once per unexpected error (metrics). */
    private readonly onUnexpected: () => void = () => {},
  ) {}

  plugin(): Plugin {
    return {
      onExecute: () => ({
        onExecuteDone: ({ result, args }) => {
          if (!isAsyncIterable(result)) this.result(result, requestIdOf(args.contextValue));
        },
      }),
    };
  }

  /** Logs the unexpected errors of a result (each once). */
  result(result: ExecutionResult, requestId: string | null) {
    for (const error of result.errors ?? []) {
      if (!isUnexpected(error) || logged.has(error)) continue;
      logged.add(error);
      this.onUnexpected();
      this.log.error({ err: error.originalError ?? error, requestId, path: error.path }, 'unexpected error');
    }
  }

  /** Logs an error thrown while serving a request, unless it was logged already. */
  thrown(error: unknown, requestId: string | null) {
    if (typeof error === 'object' && error !== null) {
      if (logged.has(error)) return;
      logged.add(error);
    }
    this.onUnexpected();
    this.log.error({ err: error, requestId }, 'request failed');
  }

  /** `mask`, logging (once, with the request id) the unexpected errors it hides. */
  masking(mask: (error: unknown) => GraphQLError): (error: unknown, requestId: string | null) => GraphQLError {
    return (error, requestId) => {
      if (isUnexpected(error) && !(typeof error === 'object' && error !== null && logged.has(error))) {
        if (typeof error === 'object' && error !== null) logged.add(error);
        this.onUnexpected();
        this.log.error({ err: error instanceof GraphQLError ? (error.originalError ?? error) : error, requestId }, 'unexpected error');
      }
      return mask(error);
    };
  }

  /** Yoga's logger: Herald's, without the errors logged here a second time. */
  yogaLogger(): YogaLogger {
    const log = this.log;
    return {
      // Yoga logs at debug on every request: build nothing unless debug is on.
      debug: (...args: unknown[]) => {
        if (log.isLevelEnabled('debug')) log.debug({ args }, 'yoga');
      },
      info: (...args: unknown[]) => log.info({ args }, 'yoga'),
      warn: (...args: unknown[]) => log.warn({ args }, 'yoga'),
      error: (...args: unknown[]) => {
        const [first] = args;
        if (typeof first === 'object' && first !== null && logged.has(first)) return;
        if (first instanceof Error) {
          this.onUnexpected();
          log.error({ err: first }, 'unexpected error');
        } else log.error({ args }, 'yoga');
      },
    };
  }
}

/** Errors already logged (by any instance: an error object belongs to one request). */
const logged = new WeakSet<object>();

/** An error masking hides: not a GraphQL error, or one wrapping something that is not. */
export function isUnexpected(error: unknown): boolean {
  if (!(error instanceof GraphQLError)) return true;
  return error.originalError != null && !(error.originalError instanceof GraphQLError);
}

function requestIdOf(context: unknown): string | null {
  if (typeof context !== 'object' || context === null || !('requestId' in context)) return null;
  return typeof context.requestId === 'string' ? context.requestId : null;
}
