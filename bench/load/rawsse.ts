// SSE over a raw TCP socket: writes the GET request itself, checks the status line, removes
// HTTP/1.1 chunked framing and feeds the body to a frame callback. Cheaper per event than
// node:http's client (no IncomingMessage stream per event), which matters when one core's
// worth of generator processes must absorb the fan-out of 10,000 streams.
import net from 'node:net';
import { SseSplitter } from './sse.ts';

export interface RawSseOptions {
  host: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  localAddress?: string | undefined;
  timeoutMs: number;
  onFrame: (buf: string, start: number, end: number) => void;
  onChunk: () => void; // called once per TCP read, before frames are parsed (takes receipt time)
  onClose: () => void;
}

/** Resolves with the socket once a 200 response head has arrived; rejects otherwise. */
export function openRawSse(o: RawSseOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    let head = '';
    let established = false;
    let chunked = false;
    let remaining = 0; // bytes left in the current HTTP chunk
    let sizeLine = ''; // partial chunk-size line
    let skip = 0; // CRLF after chunk data
    const splitter = new SseSplitter(o.onFrame);
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), o.timeoutMs);

    const body = (s: string): void => {
      if (!chunked) {
        splitter.push(s);
        return;
      }
      let i = 0;
      while (i < s.length) {
        if (remaining > 0) {
          const take = Math.min(remaining, s.length - i);
          splitter.push(take === s.length ? s : s.slice(i, i + take));
          remaining -= take;
          i += take;
          if (remaining === 0) skip = 2;
        } else if (skip > 0) {
          i++;
          skip--;
        } else {
          const nl = s.indexOf('\n', i);
          if (nl < 0) {
            sizeLine += s.slice(i);
            return;
          }
          const size = Number.parseInt(sizeLine + s.slice(i, nl), 16);
          sizeLine = '';
          i = nl + 1;
          if (!(size > 0)) {
            socket.end(); // last chunk: the server ended the stream
            return;
          }
          remaining = size;
        }
      }
    };

    socket.on('connect', () => {
      let req = `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\n`;
      for (const [k, v] of Object.entries(o.headers)) req += `${k}: ${v}\r\n`;
      socket.write(`${req}\r\n`);
    });
    socket.on('data', (chunk: string) => {
      if (established) {
        o.onChunk();
        try {
          body(chunk);
        } catch (err) {
          socket.destroy(err as Error);
        }
        return;
      }
      head += chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 65536) socket.destroy(new Error('response head too large'));
        return;
      }
      clearTimeout(timer);
      const status = Number(head.slice(9, 12));
      if (status !== 200) {
        reject(new Error(`HTTP ${status}: ${head.slice(end + 4, end + 304).replace(/\s+/g, ' ')}`));
        socket.destroy();
        return;
      }
      chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(head.slice(0, end + 2));
      established = true;
      const rest = head.slice(end + 4);
      head = '';
      resolve(socket);
      if (rest) {
        o.onChunk();
        body(rest);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (!established) reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!established) reject(new Error('connection closed before response'));
      else o.onClose();
    });
  });
}
