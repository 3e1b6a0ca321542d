import * as hdr from 'hdr-histogram-js';

// Latencies are recorded in microseconds (integers), up to 1 hour, 3 significant digits.
export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

export function recordMs(h: hdr.Histogram, ms: number): void {
  h.recordValue(ms > 0 ? Math.round(ms * 1000) : 0);
}

export const encodeHistogram = (h: hdr.Histogram): string => hdr.encodeIntoCompressedBase64(h);

export function mergeEncoded(encoded: string[]): hdr.Histogram {
  const total = newHistogram();
  for (const e of encoded) {
    const h = hdr.decodeFromCompressedBase64(e);
    total.add(h);
    h.destroy();
  }
  return total;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Summary in milliseconds. */
export function summarize(h: hdr.Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}
