/** One parsed Server-Sent Event. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Reads SSE events from a fetch Response, incrementally. Tests await `next()` (with a timeout)
 * instead of sleeping; `close()` cancels the stream.
 */
export class SseReader {
  private readonly buffer: SseEvent[] = [];
  private waiters: ((e: SseEvent | null) => void)[] = [];
  private ended = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Comment lines seen (heartbeats). */
  comments = 0;
  readonly done: Promise<void>;

  constructor(readonly response: Response) {
    if (!response.body) throw new Error('response has no body');
    this.reader = response.body.getReader();
    this.done = this.pump();
  }

  private async pump() {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        let index = text.indexOf('\n\n');
        while (index >= 0) {
          const block = text.slice(0, index);
          text = text.slice(index + 2);
          this.parse(block);
          index = text.indexOf('\n\n');
        }
      }
    } catch {
      // cancelled or connection lost
    }
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(null);
  }

  private parse(block: string) {
    const event: SseEvent = { event: 'message', data: '' };
    const data: string[] = [];
    let any = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') event.id = value;
      else if (field === 'event') event.event = value;
      else if (field === 'data') data.push(value);
      else continue;
      any = true;
    }
    if (!any) return;
    event.data = data.join('\n');
    const waiter = this.waiters.shift();
    if (waiter) waiter(event);
    else this.buffer.push(event);
  }

  /** The next event, or null when the stream ended. Rejects after `timeoutMs`. */
  next(timeoutMs = 10_000): Promise<SseEvent | null> {
    const queued = this.buffer.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no SSE event within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (e: SseEvent | null) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push(done);
    });
  }

  /** The next `next` event's parsed GraphQL result (skipping nothing else). */
  async nextResult<T = Record<string, unknown>>(
    timeoutMs?: number,
  ): Promise<{
    id?: string;
    result: { data?: T; errors?: { message: string; extensions?: { code?: string } }[]; extensions?: { cursor?: string } };
  }> {
    const e = await this.next(timeoutMs);
    if (!e) throw new Error('stream ended');
    if (e.event !== 'next') throw new Error(`expected a next event, got ${e.event}`);
    return { ...(e.id ? { id: e.id } : {}), result: JSON.parse(e.data) };
  }

  /** Collects `n` next-events' data. */
  async take<T>(n: number, timeoutMs?: number): Promise<{ id?: string; data: T }[]> {
    const out: { id?: string; data: T }[] = [];
    while (out.length < n) {
      const { id, result } = await this.nextResult<T>(timeoutMs);
      if (result.errors) throw new Error(`stream error: ${JSON.stringify(result.errors)}`);
      out.push({ ...(id ? { id } : {}), data: result.data as T });
    }
    return out;
  }

  /** True if nothing arrives within `ms` (use sparingly: for asserting absence only). */
  async quietFor(ms: number): Promise<boolean> {
    try {
      const e = await this.next(ms);
      if (e) this.buffer.unshift(e);
      return e === null;
    } catch {
      return true;
    }
  }

  /** Cancels the stream (as a client closing the tab would). */
  async close() {
    void this.reader.cancel().catch(() => {});
    await Promise.race([this.done, new Promise((resolve) => setTimeout(resolve, 500))]);
  }
}
