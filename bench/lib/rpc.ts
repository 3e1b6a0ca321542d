// Minimal request/response over the Node IPC channel (parent <-> load-generator children).
import type { ChildProcess } from 'node:child_process';

interface Request {
  rpc: number;
  method: string;
  params: unknown;
}
interface Response {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class RpcClient {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.on('message', (m: Response) => {
      const p = this.pending.get(m.rpc);
      if (!p) return;
      this.pending.delete(m.rpc);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${label}: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
      }
      this.pending.clear();
    });
  }

  call<T>(method: string, params: unknown, timeoutMs: number): Promise<T> {
    const rpc = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rpc);
        reject(new Error(`${this.label}: ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rpc, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ rpc, method, params } satisfies Request);
    });
  }
}

/** Child side: answer RPCs; exit when the parent goes away. */
export function serveRpc(handlers: Record<string, (params: any) => unknown>): void {
  if (!process.send) throw new Error('must be started with an IPC channel');
  process.on('message', async (m: Request) => {
    const h = handlers[m.method];
    let res: Response;
    try {
      if (!h) throw new Error(`unknown method ${m.method}`);
      res = { rpc: m.rpc, ok: true, result: await h(m.params) };
    } catch (err) {
      res = { rpc: m.rpc, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    process.send?.(res);
  });
  process.on('disconnect', () => process.exit(0));
}
