import type { Plugin } from 'graphql-yoga';
import { type Context, releaseContext } from '../context.ts';

/**
 * Lets go of the schema's per-request caches once an operation has its result (see
 * releaseContext): after execution, and after a subscription opened (its events are resolved
 * with a context of their own).
 */
export function useReleaseContext(): Plugin<Context> {
  return {
    onExecute() {
      return {
        onExecuteDone({ args }) {
          releaseContext(args.contextValue);
        },
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult({ args }) {
          releaseContext(args.contextValue);
        },
      };
    },
  };
}
