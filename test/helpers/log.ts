import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/logger.ts';

/** One parsed pino line. */
export interface LogLine {
  level: number;
  msg?: string;
  [field: string]: unknown;
}

/** pino's number for `error`; `fatal` is above it. */
export const ERROR_LEVEL = 50;

/**
 * A real pino logger writing JSON lines into memory, for tests that check what Herald logs. `text`
 * keeps each line as written (to search for a value wherever the logger put it).
 */
export function captureLog(level = 'info'): { log: Logger; lines: () => { text: string; line: LogLine }[] } {
  const lines: { text: string; line: LogLine }[] = [];
  let pending = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      let index = pending.indexOf('\n');
      while (index >= 0) {
        const text = pending.slice(0, index);
        pending = pending.slice(index + 1);
        if (text.trim()) lines.push({ text, line: JSON.parse(text) as LogLine });
        index = pending.indexOf('\n');
      }
      done();
    },
  });
  return { log: pino({ level }, destination), lines: () => [...lines] };
}
