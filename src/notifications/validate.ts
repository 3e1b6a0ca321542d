import { LIMITS } from '../domain/model.ts';
import { badInput } from '../errors.ts';

/** Trims and checks a required text field. */
export function requiredText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text.length === 0) throw badInput(`"${field}" must not be empty`, { field });
  if (text.length > max) throw badInput(`"${field}" must be at most ${max} characters`, { field, max });
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
  return value;
}

/** A list of notification ids for a bulk action: 1 to 1,000, no duplicates. */
export function idList(ids: readonly string[], field = 'ids'): string[] {
  if (ids.length === 0) throw badInput(`"${field}" must not be empty`, { field });
  if (ids.length > LIMITS.maxIds) throw badInput(`"${field}" holds at most ${LIMITS.maxIds} ids`, { field, max: LIMITS.maxIds });
  return [...new Set(ids)];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

/** Checks JSON `data`: an object (or null), at most 16 KiB serialised. */
export function jsonData(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badInput('"data" must be a JSON object', { field: 'data' });
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > LIMITS.maxDataBytes) {
    throw badInput(`"data" must be at most ${LIMITS.maxDataBytes} bytes of JSON (got ${size})`, {
      field: 'data',
      max: LIMITS.maxDataBytes,
    });
  }
  return value;
}
