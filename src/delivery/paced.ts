import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs a periodic job over many users in small chunks spread evenly over `spreadMs`, one chunk at
 * a time. A job over 10,000 users done at once (the catch-up sweep, the presence refresh) held
 * the event loop for 100-300 ms every 10 s, which was the slowest 1% of live deliveries (bench/,
 * personal delivery at 10,000 streams); spread out, each step costs a few milliseconds.
 */
export async function inPacedChunks<T>(
  items: readonly T[],
  options: { size: number; spreadMs: number },
  work: (chunk: readonly T[]) => Promise<void>,
): Promise<void> {
  const chunks = Math.ceil(items.length / options.size);
  const gap = chunks > 1 ? options.spreadMs / chunks : 0;
  for (let i = 0; i < chunks; i++) {
    if (i > 0 && gap >= 1) await sleep(gap, undefined, { ref: false });
    await work(items.slice(i * options.size, (i + 1) * options.size));
  }
}
