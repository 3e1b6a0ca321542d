import { createHash } from 'node:crypto';

/**
 * An LRU cache for Yoga's parser cache (documents and parse errors), bounded in bytes and keyed
 * by the SHA-256 of the document text.
 *
 * Why: Yoga's default keeps 1,024 entries keyed by the full text, with no byte bound, so a client
 * sending distinct large documents (no token needed) held hundreds of megabytes of text and ASTs
 * until the process ran out of memory. Keyed by hash, the cache holds no document text as keys;
 * bounded in bytes, its size is the configuration's, whatever the documents. An entry's weight is
 * its text length times AST_FACTOR (an AST of a document is a few times its text) plus a fixed
 * overhead, so many small documents are bounded too. The hash is a cryptographic one: a collision
 * would hand one client's document to another.
 */
export class DocumentCache<T> {
  private readonly entries = new Map<string, { value: T; weight: number }>();
  private bytes = 0;
  /** The last text hashed and its hash: a miss is followed by a `set` for the same text. */
  private lastText: string | undefined;
  private lastKey = '';

  constructor(private readonly maxBytes: number) {}

  get(text: string): T | undefined {
    const key = this.keyOf(text);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // Most recently used last (Map keeps insertion order).
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(text: string, value: T): void {
    const weight = text.length * AST_FACTOR + ENTRY_OVERHEAD;
    if (weight > this.maxBytes) return;
    const key = this.keyOf(text);
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.weight;
      this.entries.delete(key);
    }
    this.entries.set(key, { value, weight });
    this.bytes += weight;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.weight;
    }
  }

  get size() {
    return this.entries.size;
  }

  get weight() {
    return this.bytes;
  }

  private keyOf(text: string): string {
    if (text !== this.lastText) {
      this.lastText = text;
      this.lastKey = createHash('sha256').update(text).digest('base64');
    }
    return this.lastKey;
  }
}

/** Bytes an AST takes per byte of its text (measured on Herald's documents: 5-9x). */
export const AST_FACTOR = 10;
/** Bytes per entry besides the AST (key, map entry, record). */
export const ENTRY_OVERHEAD = 512;
