/**
 * HTTP/1.1 for our client connections (connection.ts: the device's, and those of the
 * registrar's pool to its MASAs): the request head they write, and an incremental parser for
 * the answer. No I/O here, so that every framing rule can be tested byte by byte.
 *
 * The answer comes from a peer that is not yet authenticated (a provisional connection, RFC
 * 8995 section 5.1), so parsing is strict and bounded: a header section of at most
 * `maxHeaderBytes` and `maxHeaderLines` lines, a body of at most `maxBodyBytes`, and every
 * ambiguity in framing refused rather than resolved (RFC 9112 section 6.3: both
 * Transfer-Encoding and Content-Length, Content-Length values that disagree, obs-fold, a
 * transfer coding other than chunked), since two readers that frame one answer differently
 * are how responses are smuggled. Every fault is an ERR_TRANSPORT AirlockError whose
 * `details.fault` names it, so that tests assert the reason and not the wording.
 */
import { AirlockError } from '../../core/errors.js';

export type Http1Fault =
  | 'status-line'
  | 'header-line'
  | 'obs-fold'
  | 'headers-too-large'
  | 'too-many-headers'
  | 'ambiguous-length'
  | 'content-length'
  | 'transfer-encoding'
  | 'chunk'
  | 'body-too-large'
  | 'truncated'
  | 'upgrade';

export interface Http1Limits {
  /** Largest body accepted, in bytes; checked against Content-Length and chunk sizes before the bytes arrive. */
  maxBodyBytes: number;
  /** Largest header section, in bytes, counting interim (1xx) sections and trailers too (default 16 KiB). */
  maxHeaderBytes?: number;
  /** Most field lines in one header or trailer section (default 100). */
  maxHeaderLines?: number;
}

export interface Http1Response {
  status: number;
  /** Field values by lower-case name; a repeated field's values joined with ', ' (RFC 9110 section 5.3). */
  headers: ReadonlyMap<string, string>;
  body: Buffer;
  /**
   * The connection can carry no further request: the peer said `connection: close` (or spoke
   * HTTP/1.0 without keep-alive), or the body ran until the peer closed.
   */
  close: boolean;
}

export const http1Defaults = { maxHeaderBytes: 16 * 1024, maxHeaderLines: 100 } as const;

/** A chunk-size line, extensions included; no honest peer comes near it. */
const MAX_CHUNK_LINE = 1024;
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value or reason phrase: visible characters, SP, HTAB, obs-text (the head is read as latin1). */
const FIELD_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const CHUNK_LINE = /^([0-9A-Fa-f]{1,16})[\t ]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
/** A request target we send: origin-form, printable ASCII without spaces (no request splitting). */
const TARGET = /^\/[\x21-\x7e]*$/;

export function http1Error(fault: Http1Fault, why: string): AirlockError {
  return new AirlockError('ERR_TRANSPORT', why, { details: { fault } });
}

/**
 * A request head (and body) as one string, so that it goes out in one write and one TLS
 * record. Values that could split the request (CR, LF, spaces in the target) are refused, and
 * the caller's `headers` are held to the rules of `requestBytes`.
 */
export function requestText(
  method: 'GET' | 'POST',
  host: string,
  path: string,
  opts: {
    body?: string;
    contentType?: string;
    accept?: string;
    headers?: Readonly<Record<string, string>>;
  },
): string {
  const fields: Array<readonly [string, string | undefined]> = [
    ['content-type', opts.contentType],
    ['accept', opts.accept],
    ...callerFields(opts.headers ?? {}),
  ];
  const body = opts.body ?? '';
  return (
    requestHead(
      method,
      host,
      path,
      fields,
      opts.body === undefined ? undefined : Buffer.byteLength(body, 'utf8'),
    ) + body
  );
}

/**
 * A request head and a byte body in one buffer (one write, one TLS record): for bodies that
 * are not text (CBOR, CMS). Field names must be tokens, and none may be one that frames the
 * message or names its host (host, content-length, transfer-encoding, connection): those are
 * this module's to write.
 */
export function requestBytes(
  method: 'GET' | 'POST',
  host: string,
  path: string,
  fields: Readonly<Record<string, string>>,
  body?: Uint8Array,
): Buffer {
  const head = requestHead(method, host, path, callerFields(fields), body?.length);
  // The head is ASCII (checked there): one byte per character.
  const out = Buffer.allocUnsafe(head.length + (body?.length ?? 0));
  out.write(head, 0, 'latin1');
  if (body !== undefined) out.set(body, head.length);
  return out;
}

/**
 * A caller's header fields, names lower-cased. Names must be tokens, and none may be one that
 * frames the message or names its host (RESERVED_FIELDS): those are this module's to write.
 */
function callerFields(fields: Readonly<Record<string, string>>): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  for (const name of Object.keys(fields)) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name) || RESERVED_FIELDS.has(lower))
      throw http1Error(
        'header-line',
        `the header field name ${JSON.stringify(name)} is not acceptable`,
      );
    list.push([lower, fields[name]!]);
  }
  return list;
}

/** Fields the request writer owns: a caller's value for one could frame or route the request differently. */
const RESERVED_FIELDS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'te',
  'upgrade',
  'trailer',
]);

/** The head up to and including the blank line; fields with an undefined or empty value are left out. */
function requestHead(
  method: 'GET' | 'POST',
  host: string,
  path: string,
  fields: Iterable<readonly [string, string | undefined]>,
  bodyLength: number | undefined,
): string {
  if (!TARGET.test(path)) throw http1Error('header-line', 'the request target is not acceptable');
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of fields) {
    if (value === undefined || value === '') continue;
    if (!/^[\x20-\x7e]+$/.test(value))
      throw http1Error('header-line', `the ${name} value is not acceptable`);
    head += `${name}: ${value}\r\n`;
  }
  // A POST without a body still says so: without a length, a server may wait for one.
  if (bodyLength !== undefined || method === 'POST')
    head += `content-length: ${bodyLength ?? 0}\r\n`;
  return `${head}\r\n`;
}

type State =
  | 'head'
  | 'fixed'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-end'
  | 'trailers'
  | 'until-close'
  | 'done';

/**
 * One answer, fed as it arrives. `push` returns the answer once it is complete, undefined
 * while more is needed, and throws on a fault; `end` is called when the peer closes. Bytes
 * after the answer are kept, not parsed: `excess` says how many there were, since on a
 * connection that carries one request at a time they can only be unsolicited.
 */
export class ResponseParser {
  private state: State = 'head';
  /** Received and not yet consumed: a partial head, chunk-size line or trailer line. */
  private pending: Buffer = Buffer.alloc(0);
  /** Where the search for the end of the head resumes, so that a head fed byte by byte is scanned once. */
  private scanFrom = 0;
  private headerBytes = 0;
  private status = 0;
  private headers = new Map<string, string>();
  private close = false;
  private readonly chunks: Buffer[] = [];
  private bodyBytes = 0;
  /** Bytes left in the current fixed-length body or chunk. */
  private remaining = 0;
  private trailerLines = 0;
  private response: Http1Response | undefined;
  private readonly maxBodyBytes: number;
  private readonly maxHeaderBytes: number;
  private readonly maxHeaderLines: number;

  constructor(limits: Http1Limits) {
    this.maxBodyBytes = limits.maxBodyBytes;
    this.maxHeaderBytes = limits.maxHeaderBytes ?? http1Defaults.maxHeaderBytes;
    this.maxHeaderLines = limits.maxHeaderLines ?? http1Defaults.maxHeaderLines;
  }

  /** Bytes received after the complete answer. */
  get excess(): number {
    return this.state === 'done' ? this.pending.length : 0;
  }

  push(data: Buffer): Http1Response | undefined {
    if (data.length === 0) return undefined;
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    if (this.state === 'done') return undefined;
    return this.run();
  }

  /** The peer closed the connection: the answer if it was read until close, else a fault. */
  end(): Http1Response {
    if (this.state === 'until-close') return this.finish();
    if (this.response) return this.response;
    throw http1Error('truncated', 'the peer closed the connection before the answer was complete');
  }

  private run(): Http1Response | undefined {
    for (;;) {
      switch (this.state) {
        case 'head':
          if (!this.readHead()) return undefined;
          break;
        case 'fixed':
          this.take();
          if (this.remaining > 0) return undefined;
          return this.finish();
        case 'chunk-size':
          if (!this.readChunkSize()) return undefined;
          break;
        case 'chunk-data':
          this.take();
          if (this.remaining > 0) return undefined;
          this.state = 'chunk-end';
          break;
        case 'chunk-end':
          if (this.pending.length < 2) return undefined;
          if (this.pending[0] !== 0x0d || this.pending[1] !== 0x0a)
            throw http1Error('chunk', 'a chunk does not end with CRLF');
          this.pending = this.pending.subarray(2);
          this.state = 'chunk-size';
          break;
        case 'trailers':
          if (!this.readTrailer()) return undefined;
          break;
        case 'until-close':
          this.remaining = this.pending.length;
          this.take();
          return undefined;
        case 'done':
          return this.response;
      }
    }
  }

  /** Moves up to `remaining` pending bytes into the body. */
  private take(): void {
    const n = Math.min(this.remaining, this.pending.length);
    if (n === 0) return;
    this.bodyBytes += n;
    if (this.bodyBytes > this.maxBodyBytes)
      throw http1Error('body-too-large', 'the answer exceeds the size limit');
    this.chunks.push(this.pending.subarray(0, n));
    this.pending = this.pending.subarray(n);
    this.remaining -= n;
  }

  private finish(): Http1Response {
    this.state = 'done';
    const body =
      this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bodyBytes);
    this.response = { status: this.status, headers: this.headers, body, close: this.close };
    return this.response;
  }

  /** One header section (interim or final); false while it is incomplete. */
  private readHead(): boolean {
    const end = this.pending.indexOf(CRLFCRLF, this.scanFrom);
    if (end < 0) {
      if (this.headerBytes + this.pending.length > this.maxHeaderBytes)
        throw http1Error('headers-too-large', "the answer's header section exceeds the size limit");
      this.scanFrom = Math.max(0, this.pending.length - 3);
      return false;
    }
    this.headerBytes += end + 4;
    if (this.headerBytes > this.maxHeaderBytes)
      throw http1Error('headers-too-large', "the answer's header section exceeds the size limit");
    const lines = this.pending.toString('latin1', 0, end).split('\r\n');
    this.pending = this.pending.subarray(end + 4);
    this.scanFrom = 0;
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) throw http1Error('status-line', "the answer's status line is malformed");
    const http10 = m[1] === '0';
    const status = Number(m[2]);
    if (lines.length - 1 > this.maxHeaderLines)
      throw http1Error('too-many-headers', 'the answer has too many header lines');
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const [name, value] = fieldLine(lines[i]!);
      const prior = headers.get(name);
      headers.set(name, prior === undefined ? value : `${prior}, ${value}`);
    }
    if (status === 101) throw http1Error('upgrade', 'the peer switched protocols unasked');
    // An interim answer (100 Continue, 103 Early Hints) carries no body; the real one follows.
    if (status < 200) return true;
    this.status = status;
    this.headers = headers;
    this.frame(http10, headers);
    return true;
  }

  /** How the body is delimited (RFC 9112 section 6.3), refusing every ambiguous case. */
  private frame(http10: boolean, headers: Map<string, string>): void {
    const connection = (headers.get('connection') ?? '')
      .toLowerCase()
      .split(',')
      .map((t) => t.trim());
    this.close = connection.includes('close') || (http10 && !connection.includes('keep-alive'));
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (te !== undefined && cl !== undefined)
      throw http1Error(
        'ambiguous-length',
        'the answer has both Transfer-Encoding and Content-Length',
      );
    let length: number | undefined;
    if (te !== undefined) {
      // Nothing but chunked was asked for (no TE or Accept-Encoding is sent); HTTP/1.0 has no transfer codings.
      if (http10 || te.toLowerCase() !== 'chunked')
        throw http1Error('transfer-encoding', "the answer's transfer coding is not supported");
    } else if (cl !== undefined) {
      const values = cl.split(',').map((v) => v.trim());
      if (!values.every((v) => /^\d{1,15}$/.test(v)))
        throw http1Error('content-length', "the answer's Content-Length is malformed");
      if (values.some((v) => Number(v) !== Number(values[0])))
        throw http1Error('ambiguous-length', 'the answer has conflicting Content-Length values');
      length = Number(values[0]);
    }
    if (this.status === 204 || this.status === 304) {
      this.finish();
    } else if (te !== undefined) {
      this.state = 'chunk-size';
    } else if (length !== undefined) {
      if (length > this.maxBodyBytes)
        throw http1Error('body-too-large', 'the answer exceeds the size limit');
      this.remaining = length;
      this.state = 'fixed';
    } else {
      // Neither: the body runs until the peer closes, so nothing can follow it.
      this.close = true;
      this.state = 'until-close';
    }
  }

  /** One chunk-size line; false while it is incomplete. */
  private readChunkSize(): boolean {
    const end = this.pending.indexOf(CRLF);
    if (end < 0) {
      if (this.pending.length > MAX_CHUNK_LINE)
        throw http1Error('chunk', 'a chunk-size line exceeds the length limit');
      return false;
    }
    if (end > MAX_CHUNK_LINE)
      throw http1Error('chunk', 'a chunk-size line exceeds the length limit');
    const m = CHUNK_LINE.exec(this.pending.toString('latin1', 0, end));
    if (!m) throw http1Error('chunk', 'a chunk-size line is malformed');
    this.pending = this.pending.subarray(end + 2);
    // parseInt of up to 16 hex digits is exact up to 2^53 and far above any limit beyond it.
    const size = parseInt(m[1]!, 16);
    if (this.bodyBytes + size > this.maxBodyBytes)
      throw http1Error('body-too-large', 'the answer exceeds the size limit');
    this.remaining = size;
    this.state = size === 0 ? 'trailers' : 'chunk-data';
    return true;
  }

  /** One trailer line, read and discarded (nothing here needs trailers); false while it is incomplete. */
  private readTrailer(): boolean {
    const end = this.pending.indexOf(CRLF);
    if (end < 0) {
      if (this.headerBytes + this.pending.length > this.maxHeaderBytes)
        throw http1Error(
          'headers-too-large',
          "the answer's trailer section exceeds the size limit",
        );
      return false;
    }
    this.headerBytes += end + 2;
    if (this.headerBytes > this.maxHeaderBytes)
      throw http1Error('headers-too-large', "the answer's trailer section exceeds the size limit");
    const line = this.pending.toString('latin1', 0, end);
    this.pending = this.pending.subarray(end + 2);
    if (line === '') {
      this.finish();
      return true;
    }
    if (++this.trailerLines > this.maxHeaderLines)
      throw http1Error('too-many-headers', 'the answer has too many trailer lines');
    fieldLine(line);
    return true;
  }
}

/** A field line as [lower-case name, value without surrounding whitespace]. */
function fieldLine(line: string): [string, string] {
  // A continuation line (obs-fold) is refused, not unfolded (RFC 9112 section 5.2).
  if (line.startsWith(' ') || line.startsWith('\t'))
    throw http1Error('obs-fold', 'the answer folds a header line');
  const colon = line.indexOf(':');
  const name = colon > 0 ? line.slice(0, colon) : '';
  // No whitespace before the colon either (RFC 9112 section 5.1): the name must be a bare token.
  if (!TOKEN.test(name)) throw http1Error('header-line', 'the answer has a malformed header line');
  // Optional whitespace around the value is SP and HTAB only (RFC 9110 section 5.5), not what String.trim() takes.
  let start = colon + 1;
  let end = line.length;
  while (start < end && isOws(line.charCodeAt(start))) start++;
  while (end > start && isOws(line.charCodeAt(end - 1))) end--;
  const value = line.slice(start, end);
  if (!FIELD_TEXT.test(value))
    throw http1Error('header-line', 'the answer has a malformed header line');
  return [name.toLowerCase(), value];
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
