// One clock for every process of the benchmark: CLOCK_MONOTONIC via process.hrtime, in ms with
// sub-ms fraction. On Linux it is system-wide, so a time taken in the publisher process can be
// compared with one taken in a receiver process without the wall-clock anchoring error of
// performance.timeOrigin (which is fixed separately in every process).
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
