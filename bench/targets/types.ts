// Contract between the runner / load generator and a benchmarked server ("target").
// Targets are looked up by name in every process (runner, receivers, publisher), so all
// per-target knowledge (how to start it, how to subscribe, how to emit) lives in one module.

export interface TargetAddress {
  host: string;
  port: number;
}

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export type SubscribeSpec =
  | { kind: 'sse'; request: HttpRequestSpec }
  | {
      kind: 'socketio';
      path: string; // usually "/socket.io/"
      auth: Record<string, string>;
      query: Record<string, string>;
      event: string; // event name carrying notifications
      payloadField: string; // field of the event object holding the payload string
    };

export interface LaunchSpec {
  command: string; // executable (will be wrapped in `taskset -c <cpu>` when pinning)
  args: string[];
  cwd: string;
  /** added to the runner's environment; a key whose value is `undefined` is removed from it */
  env: Record<string, string | undefined>;
  /** how to know it is up: a "READY <port>" line on stdout, or an HTTP GET answering 200 */
  ready: { kind: 'stdout' } | { kind: 'http'; path: string };
  /** GET <statsPath>?gc=1 -> {streams, rss, heapUsed}; on 404 or absence, /proc VmRSS is used */
  statsPath?: string;
}

export interface LaunchOptions {
  heartbeatMs: number;
}

/** Per-process client helper, created once (e.g. holds signed tokens). */
export interface TargetClient {
  subscribe(userId: string): Promise<SubscribeSpec> | SubscribeSpec;
  publish(userIds: string[], payload: string): HttpRequestSpec;
  /** true when a publish response means "accepted" */
  publishOk(status: number, body: string): boolean;
}

export interface Target {
  name: string;
  description: string;
  uses: { redis: boolean; postgres: boolean };
  /** null if it can run here, otherwise why not (e.g. server source missing) */
  unavailableReason(): string | null;
  /** called before every server start (e.g. recreate the scratch database) */
  prepare?(): Promise<void>;
  /** heartbeatMs: interval of the SSE heartbeat the server should use (one shared timer) */
  launch(port: number, opts: LaunchOptions): LaunchSpec;
  userId(index: number): string;
  client(addr: TargetAddress): Promise<TargetClient>;
}
