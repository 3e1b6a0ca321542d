/**
 * One inbox stream per browser, not per tab. Tabs of one origin elect a leader with the Web Locks
 * API: the tab holding the lock runs the inbox store (its fetch and its stream) and posts every
 * state on a BroadcastChannel; the others show what it posts and forward `loadMore` / `refresh` to
 * it. When the leader's tab closes the browser releases its lock, the next tab waiting for it
 * becomes the leader and starts its own store: a fresh first page, then the stream from its
 * `streamCursor`, so what was emitted during the hand-over is in that page (nothing lost) and the
 * state replaces what the tabs showed (nothing shown twice).
 *
 * Without Web Locks or BroadcastChannel (Node, old browsers) each caller gets its own store.
 */
import { createInboxStore, INITIAL_INBOX_STATE, type InboxState, type InboxStore, type InboxStoreOptions } from './inbox.ts';

export interface SharedInboxStoreOptions extends InboxStoreOptions {
  /** The lock's and channel's name: one leader per name and origin (default `herald-inbox`). */
  name?: string;
}

export interface SharedInboxStore extends InboxStore {
  /** Whether this tab holds the stream now. */
  readonly leader: boolean;
}

type Message = { type: 'state'; state: InboxState } | { type: 'hello' } | { type: 'loadMore' } | { type: 'refresh' };

export function createSharedInboxStore(options: SharedInboxStoreOptions): SharedInboxStore {
  const { name = 'herald-inbox', ...storeOptions } = options;
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (!locks || typeof BroadcastChannel === 'undefined') {
    const own = createInboxStore(storeOptions);
    return Object.assign(own, { leader: true });
  }
  const lockManager = locks;

  const channel = new BroadcastChannel(name);
  const listeners = new Set<(state: InboxState) => void>();
  let state = INITIAL_INBOX_STATE;
  let own: InboxStore | undefined;
  let leader = false;
  let closed = false;
  let started: Promise<void> | undefined;
  let releaseLock: (() => void) | undefined;
  const abort = new AbortController();
  /** Resolves `start()` once a state past loading is known (this tab's or the leader's). */
  let ready: () => void = () => {};
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });

  function show(next: InboxState): void {
    state = next;
    if (next.status !== 'idle' && next.status !== 'loading') ready();
    for (const listener of [...listeners]) listener(state);
  }

  function post(message: Message): void {
    if (closed) return;
    try {
      channel.postMessage(message);
    } catch {
      // A state that cannot be cloned (an exotic error object): post it without the error.
      if (message.type === 'state') channel.postMessage({ type: 'state', state: { ...message.state, error: String(message.state.error) } });
    }
  }

  channel.onmessage = (event: MessageEvent<Message>) => {
    const message = event.data;
    if (leader && own) {
      if (message.type === 'hello') post({ type: 'state', state: own.getState() });
      else if (message.type === 'loadMore') own.loadMore().catch(() => {});
      else if (message.type === 'refresh') own.refresh().catch(() => {});
    } else if (!leader && message.type === 'state') show(message.state);
  };

  async function lead(): Promise<void> {
    leader = true;
    const store = createInboxStore(storeOptions);
    own = store;
    store.subscribe((next) => {
      // Until this leader's first page is in, the tabs keep showing the previous leader's state.
      if (next.status === 'loading' && next.items.length === 0) return;
      show(next);
      post({ type: 'state', state: next });
    });
    store.start().catch(() => {});
    await new Promise<void>((resolve) => {
      releaseLock = resolve;
    });
    store.close();
    own = undefined;
    leader = false;
  }

  return {
    get leader() {
      return leader;
    },
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    start() {
      started ??= (() => {
        lockManager.request(name, { signal: abort.signal }, lead).catch(() => {});
        post({ type: 'hello' });
        return isReady;
      })();
      return started;
    },
    async loadMore() {
      if (own) await own.loadMore();
      else post({ type: 'loadMore' });
    },
    async refresh() {
      if (own) await own.refresh();
      else post({ type: 'refresh' });
    },
    close() {
      if (closed) return;
      abort.abort();
      releaseLock?.();
      closed = true;
      channel.close();
      show({ ...state, status: 'closed' });
    },
  };
}
