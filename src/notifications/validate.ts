import { LIMITS } from '../domain/model.ts';
import { badInput } from '../errors.ts';

/** NUL or any surrogate: one cheap test, then the exact check (paired surrogates are fine). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for.
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

/**
 * True when PostgreSQL can store the string as text: no NUL (its text types cannot hold one) and
 * no unpaired surrogate (not UTF-8: the driver would silently store U+FFFD instead, so the stored
 * value would differ from the one given).
 */
export function isStorable(value: string): boolean {
  return !SUSPECT.test(value) || (!value.includes('\u0000') && isWellFormed(value));
}

/** `String.prototype.isWellFormed` (Node 20+; not yet in TypeScript's ES2023 lib). */
const isWellFormed = (value: string): boolean => (value as string & { isWellFormed(): boolean }).isWellFormed();

/** Refuses a string PostgreSQL cannot store (NUL, unpaired surrogates) as BAD_USER_INPUT naming the field. */
export function storable(value: string, field: string): string {
  if (!isStorable(value)) {
    throw badInput(`"${field}" holds a character that cannot be stored (NUL or an unpaired UTF-16 surrogate)`, { field });
  }
  return value;
}

/** Trims and checks a required text field. */
export function requiredText(value: string, field: string, max: number): string {
  const text = storable(value, field).trim();
  if (text.length === 0) throw badInput(`"${field}" must not be empty`, { field });
  if (text.length > max) throw badInput(`"${field}" must be at most ${max} characters`, { field, max });
  return text;
}

/** Trims and checks an optional text field: absent is the empty string. */
export function optionalText(value: string | null | undefined, field: string, max: number): string {
  if (value === undefined || value === null) return '';
  const text = storable(value, field).trim();
  if (text.length > max) throw badInput(`"${field}" must be at most ${max} characters`, { field, max });
  return text;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
const UNSAFE_IN_URL = /[\u0000-\u001F\u007F\s\\]/;

/**
 * A link a UI will put in an `href` or `src`: an absolute http(s) URL or, when `paths` is on, a
 * path of the app itself ("/invoices/42"). Anything else is refused, `javascript:` and `data:`
 * above all (a producer's mistake, or a compromised producer, must not become script in every
 * recipient's inbox), and so are "//host" and "/\\host", which browsers read as another site.
 */
export function link(value: string, field: string, paths: boolean): string {
  const text = value.trim();
  const refuse = () =>
    badInput(
      `"${field}" must be an absolute http(s) URL${paths ? ' or a path starting with "/"' : ''}, at most ${LIMITS.maxUrl} characters`,
      {
        field,
      },
    );
  if (text.length === 0 || text.length > LIMITS.maxUrl || !isStorable(text) || UNSAFE_IN_URL.test(text)) throw refuse();
  if (text.startsWith('/')) {
    if (!paths || text.startsWith('//')) throw refuse();
    return text;
  }
  if (!URL.canParse(text)) throw refuse();
  const { protocol } = new URL(text);
  if (protocol !== 'http:' && protocol !== 'https:') throw refuse();
  return text;
}

/** A category such as `timesheet.rejected`: letters, digits and `._:-/`, at most 100 characters. */
export function category(value: string, field = 'category'): string {
  const text = value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._:\-/]*$/.test(text) || text.length > LIMITS.maxCategory) {
    throw badInput(`"${field}" must be 1-${LIMITS.maxCategory} characters of letters, digits and . _ : - /`, { field });
  }
  return text;
}

/** A user id from the host app: an opaque, non-empty string of at most 255 characters. */
export function userId(value: string, field = 'recipientIds'): string {
  if (value.length === 0 || value.length > LIMITS.maxUserId || value.trim() !== value) {
    throw badInput(`"${field}" holds an invalid user id (1-${LIMITS.maxUserId} characters, no surrounding spaces)`, { field });
  }
  return storable(value, field);
}

/** A list of notification ids for a bulk action: 1 to 1,000, no duplicates. */
export function idList(ids: readonly string[], field = 'ids'): string[] {
  if (ids.length === 0) throw badInput(`"${field}" must not be empty`, { field });
  if (ids.length > LIMITS.maxIds) throw badInput(`"${field}" holds at most ${LIMITS.maxIds} ids`, { field, max: LIMITS.maxIds });
  for (const id of ids) storable(id, field);
  return [...new Set(ids)];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

/**
 * Checks JSON `data`: an object (or null), at most LIMITS.maxDataDepth levels of objects and
 * arrays (the object itself is level 1), every key and string storable, at most 16 KiB
 * serialised. The walk is iterative, so a value nested thousands deep is refused, not a stack
 * overflow; JSON.stringify only runs once the depth is known to be small. Its stored size is
 * bounded too (LIMITS.maxDataStoredBytes): an emit stores it once per recipient, and a 16 KiB
 * list of 8,000 numbers is 96 KB in jsonb, so 10,000 recipients of it took 15 s to insert and
 * timed out. Returns the JSON text.
 */
export function jsonData(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badInput('"data" must be a JSON object', { field: 'data' });
  const stack: [unknown, number][] = [[value, 1]];
  // PostgreSQL's jsonb size, estimated as the walk goes: a value's entry (4 bytes) plus its own
  // bytes. Numbers are what it expands: "1," is 2 bytes of text and about 12 stored.
  let stored = 0;
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top;
    stored += 4;
    if (typeof node === 'string') {
      storable(node, 'data');
      stored += node.length;
      continue;
    }
    if (typeof node === 'number') {
      stored += 8 + 2 * Math.ceil(String(Math.abs(node)).replace(/[.e+-]/g, '').length / 4);
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth > LIMITS.maxDataDepth) {
      throw badInput(`"data" must be at most ${LIMITS.maxDataDepth} levels deep`, { field: 'data', maxDepth: LIMITS.maxDataDepth });
    }
    if (Array.isArray(node)) {
      for (const item of node) stack.push([item, depth + 1]);
    } else {
      for (const [key, item] of Object.entries(node)) {
        storable(key, 'data');
        stored += 4 + key.length;
        stack.push([item, depth + 1]);
      }
    }
  }
  if (stored > LIMITS.maxDataStoredBytes) {
    throw badInput(
      `"data" would take about ${stored} bytes stored, over ${LIMITS.maxDataStoredBytes} (PostgreSQL stores each number in about 12 bytes: send long lists of numbers as a string, or a link to them)`,
      { field: 'data', maxStored: LIMITS.maxDataStoredBytes },
    );
  }
  const text = JSON.stringify(value);
  const size = Buffer.byteLength(text);
  if (size > LIMITS.maxDataBytes) {
    throw badInput(`"data" must be at most ${LIMITS.maxDataBytes} bytes of JSON (got ${size})`, {
      field: 'data',
      max: LIMITS.maxDataBytes,
    });
  }
  return text;
}
