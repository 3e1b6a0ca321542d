import { isGone, type NodeResponse } from '../node-http.ts';

/**
 * Answers a refusal for a limit (429) after a delay: a client that sends its next request as soon
 * as the last is answered (every flood script) then makes one attempt per delay and connection,
 * instead of as many as the server can refuse. Refusing still costs a little each time, and a
 * flood of cheap refusals filled the server's core: the well-behaved clients beside it waited up
 * to 7x longer (npm run bench -- --scenarios attack). The response is paused meanwhile, so the
 * attacker's socket costs a timer and nothing is read; a client that leaves is simply not answered.
 * Waiting longer than the client is told to retry after would delay an honest retry.
 */
export function refuseLater(res: NodeResponse, delayMs: number, retryAfterSeconds: number, answer: () => void): void {
  const ms = Math.min(delayMs, retryAfterSeconds * 1000);
  if (ms <= 0) {
    answer();
    return;
  }
  res.req.pause();
  const timer = setTimeout(() => {
    res.off('close', cancel);
    if (!isGone(res) && !res.writableEnded) answer();
  }, ms);
  const cancel = () => clearTimeout(timer);
  res.once('close', cancel);
}
