// Hooks for the Herald-only scenarios of issue #4 (not implemented yet).
//
// 4. History: 1,000,000 notifications across 1,000 users; time page 1 vs page 50 of a user's
//    inbox, and unreadCount. Suggested shape: seed herald_bench directly with SQL (COPY or
//    INSERT ... SELECT generate_series) after ctx.startServer() has migrated it, then time the
//    GraphQL queries with a user token (see targets/herald.ts for signing) using undici.
// 5. Resume: a subscriber reconnecting 1,000 events behind (Last-Event-ID / cursor); time until
//    it has caught up. Suggested shape: connect one stream via LoadGen, note the last cursor,
//    close it, emit 1,000 events to that user, reconnect with the cursor and time the backlog.
//
// Each hook receives the same ScenarioContext as the other scenarios and returns a
// ScenarioResult; the runner writes whatever fields it returns into the report.
import type { ScenarioContext, ScenarioResult } from './context.ts';

export async function history(ctx: ScenarioContext): Promise<ScenarioResult> {
  if (ctx.target.name !== 'herald') return { ok: true, skipped: 'Herald only' };
  return { ok: false, skipped: 'not implemented yet (hook in bench/scenarios/hooks.ts)' };
}

export async function resume(ctx: ScenarioContext): Promise<ScenarioResult> {
  if (ctx.target.name !== 'herald') return { ok: true, skipped: 'Herald only' };
  return { ok: false, skipped: 'not implemented yet (hook in bench/scenarios/hooks.ts)' };
}
