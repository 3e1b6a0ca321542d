import { METHODS } from 'node:http';
import { connect } from 'node:net';

/** A request as bytes on the wire: `send` writes exactly this (any method, target and header bytes). */
export interface HttpRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer | undefined;
}

/** Every answer of `send` arrives within this by default. */
export const ANSWER_BOUND_MS = 5_000;

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
  /** The first event of an event stream (its data), when the answer is one. */
  event: string | undefined;
  /** No complete answer within the bound. */
  timedOut: boolean;
  /** The connection failed before an answer (reset, hang up). */
  error: string | undefined;
}

/**
 * Sends `request` byte for byte on a new connection (Content-Length from the
 * body) and reads the answer: whole, or for an event stream its headers and first event (or what
 * came within `streamWindowMs`), then closes. Never throws; a timeout or a broken connection is in
 * the answer.
 */
export function send(
  port: number,
  request: HttpRequest,
  options: { timeoutMs?: number; streamWindowMs?: number } = {},
): Promise<RawAnswer> {
  const timeoutMs = options.timeoutMs ?? ANSWER_BOUND_MS;
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let settled = false;
    let head: { status: number; headers: Record<string, string>; bodyStart: number } | undefined;
    let streamTimer: NodeJS.Timeout | undefined;
    const finish = (answer: Partial<RawAnswer>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(streamTimer);
      socket.destroy();
      const body = head ? decodeBody(data.subarray(head.bodyStart), head.headers) : '';
      resolve({
        status: head?.status ?? 0,
        headers: head?.headers ?? {},
        body,
        ms: performance.now() - started,
        event: firstEvent(body),
        timedOut: false,
        error: undefined,
        ...answer,
      });
    };
    const timer = setTimeout(() => finish({ timedOut: true }), timeoutMs);
    socket.on('error', (error) => finish({ error: head ? undefined : error.message }));
    socket.on('end', () => finish(head ? {} : { error: 'connection closed without an answer' }));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (!head) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = parseHead(data.subarray(0, end).toString('latin1'), end + 4);
        if (head.headers['content-type']?.startsWith('text/event-stream')) {
          streamTimer = setTimeout(() => finish({}), options.streamWindowMs ?? 150);
        }
      }
      if (complete(head, data, request.method)) finish({});
    });
    const lines = [`${request.method} ${request.target} HTTP/1.1`];
    for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
    if (request.body !== undefined) lines.push(`content-length: ${request.body.length}`);
    // Kept alive (as clients do): Node then reads and drops a body it answered early (a 406, a
    // 403) instead of closing on a client still writing. The socket is closed once the answer is in.
    lines.push('', '');
    socket.write(Buffer.from(lines.join('\r\n'), 'latin1'));
    if (request.body !== undefined) socket.write(request.body);
  });
}

function parseHead(text: string, bodyStart: number) {
  const [statusLine = '', ...rest] = text.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of rest) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, bodyStart };
}

/** Whether the whole answer is in: by Content-Length, the last chunk, or the first event of a stream. */
function complete(head: { status: number; headers: Record<string, string>; bodyStart: number }, data: Buffer, method: string): boolean {
  const body = data.subarray(head.bodyStart);
  if (method === 'HEAD' || head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200)) return true;
  if (head.headers['content-type']?.startsWith('text/event-stream')) return firstEvent(decodeBody(body, head.headers)) !== undefined;
  if (head.headers['transfer-encoding']?.includes('chunked'))
    return body.includes('\r\n0\r\n\r\n') || body.subarray(0, 5).toString() === '0\r\n\r\n';
  const length = head.headers['content-length'];
  return length !== undefined && body.length >= Number(length);
}

function decodeBody(body: Buffer, headers: Record<string, string>): string {
  if (!headers['transfer-encoding']?.includes('chunked')) return body.toString('utf8');
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The data of the first SSE event carrying data (`next` or a message), if one has arrived. */
function firstEvent(body: string): string | undefined {
  for (const block of body.split('\n\n').slice(0, -1)) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart());
    if (data.length && data.join('') !== '') return data.join('\n');
  }
  return undefined;
}

const NODE_METHODS = new Set(METHODS);

/**
 * Whether Node's HTTP parser refuses this request before any handler sees it (an unknown method,
 * no Host header, a control character in the target or a header, headers over 16 KiB): Node
 * answers 400 or 431 and closes, so a client still
 * writing its body may see the connection reset instead. That is Node's behaviour, not Herald's.
 */
export function refusedByNode(request: HttpRequest): boolean {
  if (!NODE_METHODS.has(request.method)) return true;
  // Node's header limit (16 KiB for the request line and headers): 431, and the connection closes.
  const head = request.target.length + request.headers.reduce((n, [name, value]) => n + name.length + value.length + 4, 0);
  if (head > 16 * 1024 - 256) return true;
  // HTTP/1.1 requires Host: Node refuses a request without one (requireHostHeader).
  if (!request.headers.some(([name]) => name.toLowerCase() === 'host')) return true;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
  const control = /[\x00-\x08\x0a-\x1f\x7f]/;
  if (control.test(request.target) || request.target.includes(' ')) return true;
  return request.headers.some(([name, value]) => control.test(value) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name));
}
