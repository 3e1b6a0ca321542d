// Incremental, cheap SSE frame splitter: frames end at a blank line ("\n\n"). It does not build
// field objects; it hands the frame's [start, end) range to a callback, which looks for the
// benchmark marker with indexOf. Frames that are only comment lines (":...") are heartbeats.
// Assumes "\n" line endings (what Node servers and graphql-yoga write).
export class SseSplitter {
  private rest = '';

  constructor(private readonly onFrame: (buf: string, start: number, end: number) => void) {}

  push(chunk: string): void {
    const buf = this.rest.length > 0 ? this.rest + chunk : chunk;
    let start = 0;
    for (;;) {
      const end = buf.indexOf('\n\n', start);
      if (end < 0) break;
      if (end > start) this.onFrame(buf, start, end);
      start = end + 2;
    }
    this.rest = start < buf.length ? buf.slice(start) : '';
    if (this.rest.length > 1 << 20) throw new Error('SSE frame larger than 1 MiB');
  }
}

export function isCommentOnly(buf: string, start: number, end: number): boolean {
  // every line of the frame starts with ':'
  let i = start;
  while (i < end) {
    if (buf.charCodeAt(i) !== 58 /* : */) return false;
    const nl = buf.indexOf('\n', i);
    if (nl < 0 || nl >= end) return true;
    i = nl + 1;
  }
  return true;
}
