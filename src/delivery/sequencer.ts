/**
 * The sequencing rules of a stream, pure: a stream knows the last position it delivered and the
 * last inbox version it applied; each incoming position or version is judged against them. No
 * I/O and no allocation (verdicts are interned strings), so the hot path can call it per event.
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
