import type { Plugin } from 'graphql-yoga';
import { type Context, releaseContext } from '../context.ts';

/**
 * Lets go of the schema's per-request caches once an operation has its result (see
 * releaseContext). Subscriptions are released by the subscribe step itself once opened
 * (subscriptions.ts): a hook here would add a wrapper that every stream keeps for its life.
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
  };
}
