import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit, type GroupCommitOptions } from '../../src/notifications/batcher.ts';

/** A member: its name and weight (an emit's recipient count). */
interface Member {
  name: string;
  weight: number;
}

const m = (name: string, weight = 1): Member => ({ name, weight });
const names = (batch: readonly Member[]) => batch.map((x) => x.name);

class Unreachable extends Error {}

/**
 * A group commit over a fake store: each call to `store` waits until the test commits or refuses
 * it (in call order), so the test sees exactly which batches were formed and when. What was
 * committed, answered as stored and answered as failed is recorded.
 */
function harness(options: Partial<GroupCommitOptions<Member, string[]>> = {}) {
  const calls: { batch: string[]; commit: () => void; refuse: (e: unknown) => void }[] = [];
  const committed: string[][] = [];
  const stored: string[] = [];
  const failed: { name: string; error: unknown }[] = [];
  let called = () => {};
  const batcher = new GroupCommit<Member, string[]>({
    weight: (x) => x.weight,
    maxBatchWeight: 10,
    maxConcurrent: 4,
    store: (batch) =>
      new Promise<string[]>((resolve, reject) => {
        calls.push({
          batch: names(batch),
          commit: () => {
            committed.push(names(batch));
            resolve(names(batch));
          },
          refuse: reject,
        });
        called();
      }),
    stored: (batch, outcome) => {
      expect(outcome).toEqual(names(batch));
      stored.push(...outcome);
    },
    failed: (x, error) => failed.push({ name: x.name, error }),
    failsWhole: (error) => error instanceof Unreachable,
    ...options,
  });
  /** Resolves once `store` has been called `n` times in all. */
  const storeCalls = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (calls.length >= n) resolve();
      };
      called = check;
      check();
    });
  /** The `i`-th call to store (0-based), once it has been made. */
  const call = async (i: number) => {
    await storeCalls(i + 1);
    const c = calls[i];
    if (c === undefined) throw new Error(`no store call ${i}`);
    return c;
  };
  return { batcher, calls, call, committed, stored, failed };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('group commit: grouping', () => {
  it('commits the first member at once and the members arriving meanwhile together in the next commit', async () => {
    const h = harness({ maxConcurrent: 1 });
    h.batcher.add(m('a'));
    const first = await h.call(0);
    expect(first.batch).toEqual(['a']);
    for (const name of ['b', 'c', 'd']) h.batcher.add(m(name));
    expect(h.batcher.stats()).toMatchObject({ queued: 3, running: 1 });
    first.commit();
    const second = await h.call(1);
    expect(second.batch).toEqual(['b', 'c', 'd']);
    second.commit();
    await h.batcher.settle();
    expect(h.committed).toEqual([['a'], ['b', 'c', 'd']]);
    expect(h.stored).toEqual(['a', 'b', 'c', 'd']);
    expect(h.batcher.stats()).toEqual({ queued: 0, running: 0, isolations: 0 });
  });

  it('fills a batch up to maxBatchWeight, in order; a member heavier than that goes alone', async () => {
    const h = harness({ maxConcurrent: 1 });
    h.batcher.add(m('blocker'));
    const blocker = await h.call(0);
    h.batcher.add(m('a', 4));
    h.batcher.add(m('b', 6));
    h.batcher.add(m('c', 1));
    h.batcher.add(m('huge', 25));
    h.batcher.add(m('d', 3));
    blocker.commit();
    for (let i = 1; i <= 4; i++) (await h.call(i)).commit();
    await h.batcher.settle();
    expect(h.calls.map((c) => c.batch)).toEqual([['blocker'], ['a', 'b'], ['c'], ['huge'], ['d']]);
    expect(h.stored).toEqual(['blocker', 'a', 'b', 'c', 'huge', 'd']);
  });
});

describe('group commit: concurrency', () => {
  it('starts another commit beside a slow one only after extraCommitAfterMs, and never more than maxConcurrent', async () => {
    vi.useFakeTimers();
    const h = harness({ maxConcurrent: 2, extraCommitAfterMs: 5 });
    h.batcher.add(m('a'));
    expect(h.calls.map((c) => c.batch)).toEqual([['a']]);
    h.batcher.add(m('b'));
    // Within the delay the member waits for the running commit.
    await vi.advanceTimersByTimeAsync(4);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.calls.map((c) => c.batch)).toEqual([['a'], ['b']]);
    // At the limit: however long the commits take, the next members wait for one of them.
    h.batcher.add(m('c'));
    h.batcher.add(m('d'));
    await vi.advanceTimersByTimeAsync(100);
    expect(h.calls).toHaveLength(2);
    expect(h.batcher.stats()).toMatchObject({ queued: 2, running: 2 });
    (await h.call(1)).commit();
    const third = await h.call(2);
    expect(h.calls.map((c) => c.batch)).toEqual([['a'], ['b'], ['c', 'd']]);
    (await h.call(0)).commit();
    third.commit();
    await h.batcher.settle();
    expect(h.stored.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('settle resolves only once every member added has been answered', async () => {
    const h = harness({ maxConcurrent: 1 });
    h.batcher.add(m('a'));
    const first = await h.call(0);
    h.batcher.add(m('b'));
    let settled = false;
    const settling = h.batcher.settle().then(() => {
      settled = true;
    });
    first.commit();
    const second = await h.call(1);
    expect(settled).toBe(false);
    second.commit();
    await settling;
    expect(h.stored).toEqual(['a', 'b']);
  });
});

describe('group commit: a refused batch', () => {
  it('is split down to the member at fault, which alone fails; the others commit once each', async () => {
    const poison = new Error('violates check constraint');
    const h = harness({ maxConcurrent: 1 });
    h.batcher.add(m('blocker'));
    const blocker = await h.call(0);
    const group = ['a', 'b', 'c', 'bad', 'd', 'e', 'f'];
    for (const name of group) h.batcher.add(m(name));
    blocker.commit();
    // The fake database refuses every batch holding 'bad' and commits every other.
    for (let i = 1; i <= 7; i++) {
      const c = await h.call(i);
      if (c.batch.includes('bad')) c.refuse(poison);
      else c.commit();
    }
    await h.batcher.settle();
    expect(h.failed).toEqual([{ name: 'bad', error: poison }]);
    expect(h.stored.sort()).toEqual(['a', 'b', 'blocker', 'c', 'd', 'e', 'f']);
    // Each good member was committed exactly once, and none was both stored and failed.
    expect(h.committed.flat().sort()).toEqual(h.stored.sort());
    // Bisected: [a b c bad] [d e f] -> [a b] [c bad] -> [c] [bad].
    expect(h.calls.slice(1).map((c) => c.batch)).toEqual([
      group,
      ['a', 'b', 'c', 'bad'],
      ['a', 'b'],
      ['c', 'bad'],
      ['c'],
      ['bad'],
      ['d', 'e', 'f'],
    ]);
    expect(h.batcher.stats().isolations).toBe(3);
  });

  it('fails as a whole, without splitting, when the failure is the whole batch (database unreachable)', async () => {
    const down = new Unreachable('ECONNREFUSED');
    const h = harness({ maxConcurrent: 1 });
    h.batcher.add(m('blocker'));
    const blocker = await h.call(0);
    for (const name of ['a', 'b', 'c']) h.batcher.add(m(name));
    blocker.commit();
    (await h.call(1)).refuse(down);
    await h.batcher.settle();
    expect(h.calls).toHaveLength(2);
    expect(h.failed).toEqual(['a', 'b', 'c'].map((name) => ({ name, error: down })));
    expect(h.stored).toEqual(['blocker']);
    expect(h.batcher.stats().isolations).toBe(0);
  });

  it('reports nothing failed after a commit: a member that committed is answered once, as stored, whatever fails later', async () => {
    const h = harness({ maxConcurrent: 1 });
    h.batcher.add(m('a'));
    (await h.call(0)).commit();
    h.batcher.add(m('b'));
    h.batcher.add(m('c'));
    // The second batch is refused, then its halves: a later failure never reaches 'a'.
    const second = await h.call(1);
    second.refuse(new Error('refused'));
    (await h.call(2)).refuse(new Error('refused b'));
    (await h.call(3)).refuse(new Error('refused c'));
    await h.batcher.settle();
    expect(h.stored).toEqual(['a']);
    expect(h.failed.map((f) => f.name)).toEqual(['b', 'c']);
    expect(h.committed).toEqual([['a']]);
  });
});
