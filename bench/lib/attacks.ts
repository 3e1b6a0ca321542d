// What the attacker load generator (load/attacker.ts) and the attack scenario
// (scenarios/attack.ts) share: the attack kinds and the shape of a result. A module of its own
// because the attacker's module starts serving RPC when imported.
import type { TargetAddress } from '../targets/types.ts';
import type { LatencySummary } from './hist.ts';

export const ATTACK_KINDS = ['aliases', 'depth', 'query-flood', 'emit-flood', 'reservations', 'stream-flood', 'slow-loris'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

export const ATTACK_DESCRIPTIONS: Record<AttackKind, string> = {
  aliases: '10,000 aliases of unreadCount per query, 4 in flight, one user',
  depth: '1,000-deep selections, 5 MB and 2.5 MB unused variables, in turn, 4 in flight',
  'query-flood': "one user's unreadCount queries, 32 connections, as fast as answered",
  'emit-flood': 'one producer emitting into one inbox, 32 connections, as fast as answered',
  reservations: 'PUT /graphql/stream, half anonymous, half one user, 32 connections',
  'stream-flood': 'SSE streams of new users from one address, 32 opening at once, held (≤ 5,000)',
  'slow-loris': '1,000 sockets: trickled headers / unended POST bodies, replaced when closed',
};

export interface AttackerInit {
  target: string;
  addr: TargetAddress;
  /** Source address of every connection (null: the kernel picks). */
  localAddress: string | null;
}

export interface AttackParams {
  kind: AttackKind;
  durationMs: number;
  /** Distinguishes the users of one run from another's (stream-flood). */
  runId: string;
}

export interface AttackResult {
  kind: AttackKind;
  description: string;
  concurrency: number;
  seconds: number;
  attempts: number;
  accepted: number;
  refused: number;
  dropped: number;
  acceptedPerSecond: number;
  refusedPerSecond: number;
  droppedPerSecond: number;
  /** count per outcome, e.g. "200", "400 GRAPHQL_VALIDATION_FAILED", "429 RATE_LIMITED", "dropped ECONNRESET" */
  outcomes: Record<string, number>;
  /** per second of the attack: [accepted, refused, dropped] */
  perSecond: Array<[number, number, number]>;
  /** HTTP attacks: time from sending a request to its answer read (closed loop: what each answer took) */
  answerMs: LatencySummary | null;
  /** kind-specific figures (streams held, slow-loris hold times) */
  extra: Record<string, unknown>;
}
