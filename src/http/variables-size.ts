/**
 * The size of a JSON body's top-level `variables`, found by a scan of the bytes, without parsing
 * them: a client sending megabytes of variables (used or not) is refused before JSON.parse builds
 * them (a 3.5 MB array of numbers cost 117 ms and +30 MB to parse, for an operation that used none
 * of it). Strings are skipped by their quotes and escapes; nothing is decoded but the keys (so
 * `"\u0076ariables"` is seen as what JSON.parse makes of it). Every `variables` key counts, should
 * a body repeat it. Not a validator: a malformed body ends the scan, and JSON.parse refuses it later.
 */
export function variablesBytes(body: Buffer): number {
  let i = skipSpace(body, 0);
  if (body[i] !== OPEN_OBJECT) return 0;
  i++;
  let total = 0;
  while (i < body.length) {
    i = skipSpace(body, i);
    const c = body[i];
    if (c === COMMA) {
      i++;
      continue;
    }
    if (c !== QUOTE) return total;
    const keyEnd = endOfString(body, i);
    const key = decodeKey(body, i, keyEnd);
    i = skipSpace(body, keyEnd);
    if (body[i] !== COLON) return total;
    const start = skipSpace(body, i + 1);
    i = endOfValue(body, start);
    if (key === 'variables') total += i - start;
  }
  return total;
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

function skipSpace(body: Buffer, from: number): number {
  let i = from;
  while (i < body.length) {
    const c = body[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** The index just past the string opened at `from`. */
function endOfString(body: Buffer, from: number): number {
  let i = from + 1;
  while (i < body.length) {
    const c = body[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return body.length;
}

/** The index just past the value starting at `from` (an object or array with everything in it). */
function endOfValue(body: Buffer, from: number): number {
  const first = body[from];
  if (first === QUOTE) return endOfString(body, from);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    let i = from;
    while (i < body.length) {
      const c = body[i];
      if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  let i = from;
  while (i < body.length) {
    const c = body[i];
    if (c === QUOTE) {
      i = endOfString(body, i);
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return body.length;
}

function decodeKey(body: Buffer, start: number, end: number): string | undefined {
  const raw = body.toString('utf8', start, end);
  if (!raw.includes('\\')) return raw.slice(1, -1);
  try {
    const key: unknown = JSON.parse(raw);
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}
