/**
 * The device's HTTP/1.1 answer parser and request writer (src/adapters/http/http1.ts). The
 * peer is unauthenticated, so every framing ambiguity and every limit must end in a typed
 * ERR_TRANSPORT naming its fault; and since TCP may split an answer anywhere, every answer
 * must parse the same however it is cut.
 */
import { describe, expect, it } from 'vitest';
import { isAirlockError } from '../../src/core/errors.js';
import {
  ResponseParser,
  requestBytes,
  requestText,
  type Http1Fault,
  type Http1Limits,
  type Http1Response,
} from '../../src/adapters/http/http1.js';

const limits: Http1Limits = { maxBodyBytes: 1024 };

/** Feeds `text` in the given pieces; the answer, or undefined when more is needed. */
function feed(
  text: string | Buffer,
  pieces: number[] = [],
  l: Http1Limits = limits,
): { parser: ResponseParser; res: Http1Response | undefined } {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const parser = new ResponseParser(l);
  let res: Http1Response | undefined;
  let at = 0;
  for (const cut of [...pieces, bytes.length]) {
    const r = parser.push(bytes.subarray(at, cut));
    if (r !== undefined) {
      expect(res, 'the answer was returned twice').toBeUndefined();
      res = r;
    }
    at = cut;
  }
  return { parser, res };
}

/** The fault `fn` throws: a typed ERR_TRANSPORT AirlockError, or the test fails. */
function faultOf(fn: () => unknown): Http1Fault | 'none' {
  try {
    fn();
  } catch (e) {
    if (isAirlockError(e, 'ERR_TRANSPORT')) return e.details.fault as Http1Fault;
    throw e;
  }
  return 'none';
}

const simple = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
const chunked =
  'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5;name=value\r\nhello\r\n' +
  '6 ; a ; b="q"\r\n world\r\n' +
  'A\r\n0123456789\r\n' +
  '0;last\r\nX-Trailer: t\r\nOther:u\r\n\r\n';
const interim =
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok';
const noContent = 'HTTP/1.1 204 No Content\r\ncontent-type: text/plain\r\n\r\n';

describe('ResponseParser: answers', () => {
  it('a Content-Length body, header names case-insensitive', () => {
    const { parser, res } = feed(simple);
    expect(res).toBeDefined();
    expect(res!.status).toBe(200);
    expect(res!.headers.get('content-type')).toBe('text/plain');
    expect(res!.body.toString()).toBe('hello');
    expect(res!.close).toBe(false);
    expect(parser.excess).toBe(0);
  });

  it('a chunked body: extensions ignored, trailers read and discarded', () => {
    const { res, parser } = feed(chunked);
    expect(res!.body.toString()).toBe('hello world0123456789');
    expect(res!.headers.get('content-type')).toBe('application/json');
    expect(res!.headers.has('x-trailer')).toBe(false);
    expect(res!.close).toBe(false);
    expect(parser.excess).toBe(0);
  });

  it('interim 1xx answers are skipped', () => {
    const { res } = feed(interim);
    expect(res!.status).toBe(201);
    expect(res!.body.toString()).toBe('ok');
    expect(res!.headers.has('link')).toBe(false);
  });

  it('204 has no body, whatever it declares', () => {
    const { res } = feed(noContent);
    expect(res!.status).toBe(204);
    expect(res!.body.length).toBe(0);
  });

  it('an empty Content-Length body, and an identical repeated Content-Length', () => {
    expect(feed('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n').res!.body.length).toBe(0);
    expect(
      feed(
        'HTTP/1.1 200 OK\r\ncontent-length: 3\r\nContent-Length: 3\r\n\r\nabc',
      ).res!.body.toString(),
    ).toBe('abc');
    expect(feed('HTTP/1.1 200 OK\r\ncontent-length: 3, 3\r\n\r\nabc').res!.body.toString()).toBe(
      'abc',
    );
  });

  it('a body without Content-Length or chunking runs until the peer closes, and ends the connection', () => {
    const { parser, res } = feed('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst ', [40]);
    expect(res).toBeUndefined();
    expect(parser.push(Buffer.from('second'))).toBeUndefined();
    const done = parser.end();
    expect(done.body.toString()).toBe('first second');
    expect(done.close).toBe(true);
  });

  it('connection: close, and HTTP/1.0 without keep-alive, end the connection; HTTP/1.0 keep-alive does not', () => {
    expect(
      feed('HTTP/1.1 200 OK\r\nConnection: Close\r\ncontent-length: 1\r\n\r\nx').res!.close,
    ).toBe(true);
    expect(
      feed('HTTP/1.1 200 OK\r\nconnection: keep-alive, close\r\ncontent-length: 1\r\n\r\nx').res!
        .close,
    ).toBe(true);
    expect(feed('HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx').res!.close).toBe(true);
    expect(
      feed('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\nx').res!.close,
    ).toBe(false);
  });

  it('an empty reason phrase, or none', () => {
    expect(feed('HTTP/1.1 404 \r\ncontent-length: 0\r\n\r\n').res!.status).toBe(404);
    expect(feed('HTTP/1.1 404\r\ncontent-length: 0\r\n\r\n').res!.status).toBe(404);
  });

  it('bytes after the answer are counted as excess, not parsed', () => {
    const { parser, res } = feed(`${simple}HTTP/1.1 200 OK\r\n`);
    expect(res!.body.toString()).toBe('hello');
    expect(parser.excess).toBe(17);
  });

  it('a UTF-8 body split inside a character is reassembled', () => {
    const text = 'h\u00e9llo \u20ac';
    const body = Buffer.from(text, 'utf8');
    const head = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`, 'latin1');
    const all = Buffer.concat([head, body]);
    for (let cut = head.length; cut <= all.length; cut++)
      expect(feed(all, [cut]).res!.body.toString('utf8')).toBe(text);
  });

  it('every answer parses the same when cut at any byte, or fed one byte at a time', () => {
    for (const text of [simple, chunked, interim, noContent]) {
      const whole = feed(text).res!;
      for (let cut = 0; cut <= text.length; cut++) {
        const r = feed(text, [cut]).res;
        expect(r, `cut at ${cut}`).toBeDefined();
        expect(r!.status).toBe(whole.status);
        expect(r!.body.equals(whole.body), `cut at ${cut}`).toBe(true);
      }
      const parser = new ResponseParser(limits);
      const bytes = Buffer.from(text, 'latin1');
      for (let i = 0; i < bytes.length - 1; i++)
        expect(parser.push(bytes.subarray(i, i + 1)), `byte ${i}`).toBeUndefined();
      const last = parser.push(bytes.subarray(bytes.length - 1));
      expect(last!.status).toBe(whole.status);
      expect(last!.body.equals(whole.body)).toBe(true);
      expect(parser.excess).toBe(0);
    }
  });
});

describe('ResponseParser: refusals', () => {
  const cl = (n: string | number) => `HTTP/1.1 200 OK\r\ncontent-length: ${n}\r\n\r\n`;

  it('both Transfer-Encoding and Content-Length', () => {
    expect(
      faultOf(() =>
        feed(
          'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        ),
      ),
    ).toBe('ambiguous-length');
    expect(
      faultOf(() =>
        feed('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n'),
      ),
    ).toBe('ambiguous-length');
  });

  it('Content-Length values that disagree, on two lines or in one', () => {
    expect(
      faultOf(() =>
        feed('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!'),
      ),
    ).toBe('ambiguous-length');
    expect(faultOf(() => feed('HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\nhello!'))).toBe(
      'ambiguous-length',
    );
  });

  it('a malformed Content-Length', () => {
    for (const v of ['abc', '-1', '+5', '5.0', '0x10', '', '1234567890123456'])
      expect(
        faultOf(() => feed(cl(v))),
        v,
      ).toBe('content-length');
  });

  it('a malformed status line', () => {
    for (const line of [
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/2 200 OK',
      'HTTP/1.2 200 OK',
      'http/1.1 200 OK',
      'ICY 200 OK',
      'HTTP/1.1 200OK',
      'HTTP/1.1  200 OK',
      ' HTTP/1.1 200 OK',
      'HTTP/1.1 600 Nope',
      'HTTP/1.1 200 O\u0001K',
      '',
    ]) {
      expect(
        faultOf(() => feed(`${line}\r\ncontent-length: 0\r\n\r\n`)),
        JSON.stringify(line),
      ).toBe('status-line');
    }
  });

  it('a header section over the size limit, terminated or not', () => {
    const big = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(16 * 1024)}\r\ncontent-length: 0\r\n\r\n`;
    expect(faultOf(() => feed(big))).toBe('headers-too-large');
    // Refused as soon as the limit is passed, before any end of the section arrives.
    expect(
      faultOf(() => feed(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(17 * 1024)}`, [100, 5000])),
    ).toBe('headers-too-large');
    // The limit is settable, and counts interim sections too.
    expect(faultOf(() => feed(interim, [], { maxBodyBytes: 1024, maxHeaderBytes: 60 }))).toBe(
      'headers-too-large',
    );
    expect(feed(interim, [], { maxBodyBytes: 1024, maxHeaderBytes: 200 }).res!.status).toBe(201);
  });

  it('more header lines than allowed', () => {
    const lines = (n: number) =>
      `HTTP/1.1 200 OK\r\n${Array.from({ length: n - 1 }, (_, i) => `x-h${i}: v\r\n`).join('')}content-length: 0\r\n\r\n`;
    expect(feed(lines(100)).res!.status).toBe(200);
    expect(faultOf(() => feed(lines(101)))).toBe('too-many-headers');
  });

  it('malformed header lines', () => {
    for (const line of [
      'no colon',
      ': empty name',
      'name : space before colon',
      'na me: v',
      'x: a\nb',
      'x: a\rb',
      'x: nul\u0000',
      'x\u0080: v',
    ]) {
      expect(
        faultOf(() => feed(`HTTP/1.1 200 OK\r\n${line}\r\ncontent-length: 0\r\n\r\n`)),
        JSON.stringify(line),
      ).toBe('header-line');
    }
  });

  it('a value loses the spaces and tabs around it, and only those', () => {
    const res = feed(
      'HTTP/1.1 200 OK\r\ncontent-type: \t application/json; a=b \t\r\nx-empty: \t \r\nx-nbsp: a\u00a0\r\ncontent-length: 0\r\n\r\n',
    ).res!;
    expect(res.headers.get('content-type')).toBe('application/json; a=b');
    expect(res.headers.get('x-empty')).toBe('');
    expect(res.headers.get('x-nbsp')).toBe('a\u00a0');
    for (const ws of ['\u000b', '\u000c'])
      expect(
        faultOf(() => feed(`HTTP/1.1 200 OK\r\nx-a: v${ws}\r\ncontent-length: 0\r\n\r\n`)),
        JSON.stringify(ws),
      ).toBe('header-line');
  });

  it('obs-fold, in the header section or in trailers', () => {
    expect(
      faultOf(() => feed('HTTP/1.1 200 OK\r\nx-a: one\r\n two\r\ncontent-length: 0\r\n\r\n')),
    ).toBe('obs-fold');
    expect(
      faultOf(() => feed('HTTP/1.1 200 OK\r\nx-a: one\r\n\ttwo\r\ncontent-length: 0\r\n\r\n')),
    ).toBe('obs-fold');
    expect(
      faultOf(() =>
        feed('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n folded\r\n\r\n'),
      ),
    ).toBe('obs-fold');
  });

  it('a transfer coding other than chunked, or any in HTTP/1.0', () => {
    for (const te of ['gzip', 'gzip, chunked', 'chunked, chunked', 'identity', '']) {
      expect(
        faultOf(() => feed(`HTTP/1.1 200 OK\r\ntransfer-encoding: ${te}\r\n\r\n0\r\n\r\n`)),
        te,
      ).toBe('transfer-encoding');
    }
    expect(
      faultOf(() => feed('HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n')),
    ).toBe('transfer-encoding');
  });

  it('malformed chunk framing', () => {
    const te = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n';
    for (const body of [
      'zz\r\n',
      '-1\r\n',
      '\r\n',
      ' 5\r\nhello\r\n',
      '5 x\r\nhello\r\n',
      '0x5\r\nhello\r\n',
      '5\r\nhelloXX',
      '5\r\nhello\n0\r\n\r\n',
      `5;${'e'.repeat(2000)}\r\n`,
      '5;a\u0001\r\nhello\r\n',
    ]) {
      expect(
        faultOf(() => feed(te + body)),
        JSON.stringify(body),
      ).toBe('chunk');
    }
    // A chunk-size line that never ends is refused at the limit, not buffered.
    expect(faultOf(() => feed(te + '5'.repeat(2000), [te.length + 10]))).toBe('chunk');
  });

  it('a body over the size limit: declared, chunked, or read until close', () => {
    expect(feed(cl(1024) + 'x'.repeat(1024)).res!.body.length).toBe(1024);
    // Declared: refused from the head alone, before any body byte.
    expect(faultOf(() => feed(cl(1025)))).toBe('body-too-large');
    // Chunked: refused at the chunk size that passes the limit, before its data.
    const te = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n';
    expect(
      feed(`${te}200\r\n${'x'.repeat(512)}\r\n200\r\n${'y'.repeat(512)}\r\n0\r\n\r\n`).res!.body
        .length,
    ).toBe(1024);
    expect(faultOf(() => feed(`${te}200\r\n${'x'.repeat(512)}\r\n201\r\n`))).toBe('body-too-large');
    expect(faultOf(() => feed(`${te}ffffffffffffffff\r\n`))).toBe('body-too-large');
    // Until close: refused as the bytes pass the limit.
    const open = feed('HTTP/1.1 200 OK\r\n\r\n' + 'x'.repeat(1024)).parser;
    expect(faultOf(() => open.push(Buffer.from('x')))).toBe('body-too-large');
  });

  it('an answer cut short by the peer closing', () => {
    for (const text of [
      simple.slice(0, -1),
      'HTTP/1.1 200 OK\r\ncontent-le',
      chunked.slice(0, -2),
      '',
    ]) {
      const { parser } = feed(text);
      expect(
        faultOf(() => parser.end()),
        JSON.stringify(text),
      ).toBe('truncated');
    }
  });

  it('101 Switching Protocols, never asked for', () => {
    expect(
      faultOf(() =>
        feed('HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n'),
      ),
    ).toBe('upgrade');
  });

  it('a bare LF ends no line: the head is never complete, and is refused at the size limit', () => {
    const lf = 'HTTP/1.1 200 OK\ncontent-length: 0\n\n';
    expect(feed(lf).res).toBeUndefined();
    expect(faultOf(() => feed(lf + 'x'.repeat(17 * 1024)))).toBe('headers-too-large');
  });
});

describe('requestText', () => {
  it('writes the request line, host, the given headers and the UTF-8 byte length', () => {
    const body = 'caf\u00e9 \u20ac';
    expect(
      requestText('POST', '127.0.0.1:8443', '/.well-known/est/simpleenroll', {
        body,
        contentType: 'application/pkcs10',
        accept: 'application/pkcs7-mime',
      }),
    ).toBe(
      `POST /.well-known/est/simpleenroll HTTP/1.1\r\nhost: 127.0.0.1:8443\r\ncontent-type: application/pkcs10\r\naccept: application/pkcs7-mime\r\ncontent-length: 9\r\n\r\n${body}`,
    );
  });

  it('a POST without a body says content-length: 0; a GET says nothing', () => {
    expect(requestText('POST', 'h', '/wifi', {})).toBe(
      'POST /wifi HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n',
    );
    expect(requestText('GET', 'h', '/cacerts?x=1', {})).toBe(
      'GET /cacerts?x=1 HTTP/1.1\r\nhost: h\r\n\r\n',
    );
  });

  it('refuses a target or a header value that could split the request', () => {
    for (const path of ['/a b', '/a\r\nx: y', 'relative', '', '/\u00e9'])
      expect(
        faultOf(() => requestText('GET', 'h', path, {})),
        JSON.stringify(path),
      ).toBe('header-line');
    expect(
      faultOf(() => requestText('POST', 'h', '/', { contentType: 'text/plain\r\nx-injected: 1' })),
    ).toBe('header-line');
    expect(faultOf(() => requestText('GET', 'h', '/', { accept: 'a\u0000' }))).toBe('header-line');
  });
});

describe('requestBytes', () => {
  it("writes the head, the given fields (names in lower case) and the body's bytes as they are", () => {
    const body = new Uint8Array([0xa1, 0x00, 0xff, 0x0d, 0x0a]);
    const out = requestBytes(
      'POST',
      'masa.example',
      '/p/.well-known/brski/requestvoucher',
      { 'Content-Type': 'application/voucher-cose+cbor', accept: 'application/voucher-cose+cbor' },
      body,
    );
    const head =
      'POST /p/.well-known/brski/requestvoucher HTTP/1.1\r\nhost: masa.example\r\ncontent-type: application/voucher-cose+cbor\r\naccept: application/voucher-cose+cbor\r\ncontent-length: 5\r\n\r\n';
    expect(out.equals(Buffer.concat([Buffer.from(head, 'latin1'), body]))).toBe(true);
  });

  it('a GET without a body says no length; a POST without one says 0; empty values are left out', () => {
    expect(
      requestBytes('GET', 'h', '/d/1', {
        'airlock-declaration-read': 'a.b.c',
        accept: '',
      }).toString('latin1'),
    ).toBe('GET /d/1 HTTP/1.1\r\nhost: h\r\nairlock-declaration-read: a.b.c\r\n\r\n');
    expect(requestBytes('POST', 'h', '/', {}).toString('latin1')).toBe(
      'POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n',
    );
  });

  it('refuses fields that frame or route the request, names that are not tokens, values that could split it', () => {
    for (const name of [
      'Host',
      'content-length',
      'Transfer-Encoding',
      'connection',
      'upgrade',
      'te',
      'trailer',
      'a b',
      'x:y',
      '',
    ]) {
      expect(
        faultOf(() => requestBytes('POST', 'h', '/', { [name]: 'v' })),
        name,
      ).toBe('header-line');
    }
    expect(faultOf(() => requestBytes('POST', 'h', '/', { 'x-a': 'v\r\nx-injected: 1' }))).toBe(
      'header-line',
    );
    expect(faultOf(() => requestBytes('GET', 'h', '/a b', {}))).toBe('header-line');
  });
});
