// Payload carried by every benchmark event: "@B<step>,<seq>,<scheduledMs>@" + padding.
// It contains no characters that JSON escapes, so receivers can find it with indexOf inside
// raw SSE frames, GraphQL JSON bodies or socket.io messages alike.
export const MARKER = '@B';

export function makePayload(step: number, seq: number, scheduledMs: number, padBytes: number): string {
  const head = `${MARKER}${step},${seq},${scheduledMs.toFixed(3)}@`;
  return padBytes > head.length ? head + 'x'.repeat(padBytes - head.length) : head;
}

export interface Marker {
  step: number;
  seq: number;
  scheduledMs: number;
}

/** Parses the marker found at or after `from` and before `to` in `s`; returns false if there is none. */
export function parseMarker(s: string, from: number, to: number, out: Marker): boolean {
  const i = s.indexOf(MARKER, from);
  if (i < 0 || i >= to) return false;
  const a = s.indexOf(',', i + 2);
  const b = s.indexOf(',', a + 1);
  const c = s.indexOf('@', b + 1);
  if (a < 0 || b < 0 || c < 0) return false;
  out.step = Number(s.slice(i + 2, a));
  out.seq = Number(s.slice(a + 1, b));
  out.scheduledMs = Number(s.slice(b + 1, c));
  return true;
}
