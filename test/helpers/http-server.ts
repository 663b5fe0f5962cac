import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One published file: its bytes, and the validators the server gives (or not). */
export interface Published {
  body: Buffer;
  etag?: boolean;
  lastModified?: Date;
}

export interface Request {
  url: string;
  range?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifRange?: string;
  status: number;
  /** Body bytes sent. */
  sent: number;
}

/**
 * A loopback HTTP server that serves `files` with Range and conditional GET, and misbehaves on cue:
 * `drops` cuts the next N responses half-way, `status` answers a path with another status.
 */
export class MisbehavingServer {
  readonly files = new Map<string, Published>();
  readonly requests: Request[] = [];
  drops = 0;
  status = new Map<string, number>();
  #srv = http.createServer((req, res) => this.#serve(req, res));
  #port = 0;

  /** The requests for one path (a download also asks for `PATH.sha256`). */
  requestsFor(path: string): Request[] {
    return this.requests.filter((r) => r.url.split('?')[0] === path);
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#srv.listen(0, '127.0.0.1', r));
    this.#port = (this.#srv.address() as AddressInfo).port;
    return this;
  }

  url(path: string, auth = ''): string {
    return `http://${auth}127.0.0.1:${this.#port}${path}`;
  }

  publish(path: string, body: Buffer, o: { etag?: boolean; lastModified?: Date } = {}): void {
    this.files.set(path, { body, etag: o.etag ?? true, lastModified: o.lastModified });
  }

  close(): Promise<void> {
    this.#srv.closeAllConnections();
    return new Promise((r) => this.#srv.close(() => r()));
  }

  #serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    const rec: Request = {
      url: req.url ?? '',
      range: req.headers.range,
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: req.headers['if-modified-since'],
      ifRange: req.headers['if-range'] as string | undefined,
      status: 0,
      sent: 0,
    };
    this.requests.push(rec);
    const f = this.files.get(path);
    const forced = this.status.get(path);
    if (forced || !f) {
      rec.status = forced ?? 404;
      res.writeHead(rec.status).end();
      return;
    }
    const etag = f.etag ? `"${createHash('sha256').update(f.body).digest('hex').slice(0, 16)}"` : undefined;
    const headers: Record<string, string> = {};
    if (etag) headers.etag = etag;
    if (f.lastModified) headers['last-modified'] = f.lastModified.toUTCString();
    const notModified =
      (etag && rec.ifNoneMatch === etag) ||
      (!rec.ifNoneMatch &&
        f.lastModified &&
        rec.ifModifiedSince &&
        Date.parse(rec.ifModifiedSince) >= Math.floor(f.lastModified.getTime() / 1000) * 1000);
    if (notModified) {
      rec.status = 304;
      res.writeHead(304, headers).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(rec.range ?? '');
    const rangeOk = m && (!rec.ifRange || rec.ifRange === etag || rec.ifRange === headers['last-modified']);
    const from = rangeOk ? Number(m[1]) : 0;
    const part = f.body.subarray(from);
    rec.status = rangeOk ? 206 : 200;
    res.writeHead(rec.status, {
      ...headers,
      'content-length': part.length,
      ...(rangeOk ? { 'content-range': `bytes ${from}-${f.body.length - 1}/${f.body.length}` } : {}),
    });
    if (this.drops > 0) {
      this.drops--;
      const half = part.subarray(0, part.length >> 1);
      rec.sent = half.length;
      res.write(half, () => res.socket?.destroy());
      return;
    }
    rec.sent = part.length;
    res.end(part);
  }
}
