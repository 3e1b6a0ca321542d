/**
 * The sequencing rules of a stream, pure: a stream knows the position of the user's log it has
 * reached and the last inbox version it applied; each incoming message's positions (or version)
 * are judged against them. No I/O and no allocation (verdicts are interned strings), so the hot
 * path can call it per event.
 */

/**
 * What to do with an incoming position: `deliver` the next one, drop a `duplicate` (at or before
 * the last delivered: a replayed or re-sent message), or stop at a `gap` (positions are missing:
 * read them from the database, which delivers this one too).
 */
export type PositionVerdict = 'deliver' | 'duplicate' | 'gap';

export function judgePosition(lastSeq: number, seq: number): PositionVerdict {
  if (seq <= lastSeq) return 'duplicate';
  return seq === lastSeq + 1 ? 'deliver' : 'gap';
}

/**
 * What to do with a message that took the positions after `from` up to `to` of the user's log
 * (one committed transaction): `deliver` when it starts where the stream is, drop a `duplicate`
 * the stream has already reached (a re-sent message, or one a database read covered), stop at a
 * `gap` when positions before it are missing (read them from the database, which covers this one
 * too). A message that overlaps the stream's position cannot come from one transaction; it is a
 * gap, so the database decides.
 */
export function judgeRange(lastSeq: number, from: number, to: number): PositionVerdict {
  if (to <= lastSeq) return 'duplicate';
  return from === lastSeq ? 'deliver' : 'gap';
}

/** Whether a message's inbox version is newer than the last applied (older ones carry stale counts and changes). */
export function isNewerVersion(lastVersion: number, version: number): boolean {
  return version > lastVersion;
}

/**
 * Where a stream asked to resume after `after` starts, given the user's newest and highest pruned
 * positions: `ok`, or why not (`unknown`: a position the user never had; `expired`: older than
 * retention). Without `after` a stream starts at the newest position.
 */
export type ResumeVerdict = 'ok' | 'unknown' | 'expired';

export function judgeResume(after: number, state: { lastSeq: number; prunedThroughSeq: number }): ResumeVerdict {
  if (after > state.lastSeq) return 'unknown';
  if (after < state.prunedThroughSeq) return 'expired';
  return 'ok';
}
