/**
 * Searching for a secret in every form it could leak in: raw bytes, UTF-8, base64 and
 * base64url (at each of the three byte alignments, so a secret inside a larger encoded blob
 * is found too), hex in lower and upper case, a PEM body line; for a private key, each of
 * those for the raw scalar (a JWK `d` is its base64url), the PKCS#8 DER and the SEC1 DER.
 * test/e2e/secret-search.test.ts injects each kind of leak and shows the search finds it.
 */
import * as nodeCrypto from 'node:crypto';

export interface Needle {
  label: string;
  bytes: Buffer;
}

/** The base64 text of `secret` wherever it sits in a larger blob: one needle per byte alignment. */
function base64Forms(secret: Buffer): string[] {
  const out: string[] = [];
  for (const k of [0, 1, 2]) {
    const enc = Buffer.concat([Buffer.alloc(k), secret]).toString('base64');
    const stable = Math.floor((k + secret.length) / 3) * 4;
    out.push(enc.slice([0, 2, 3][k], stable));
  }
  return out;
}

/** Every textual encoding of `bytes`, each labelled. */
function encodings(label: string, bytes: Buffer): Needle[] {
  const needles: Needle[] = [{ label: `${label} (raw)`, bytes }];
  for (const [i, b64] of base64Forms(bytes).entries()) {
    needles.push({ label: `${label} (base64, alignment ${i})`, bytes: Buffer.from(b64) });
    needles.push({
      label: `${label} (base64url, alignment ${i})`,
      bytes: Buffer.from(b64.replace(/\+/g, '-').replace(/\//g, '_')),
    });
  }
  needles.push(
    { label: `${label} (hex)`, bytes: Buffer.from(bytes.toString('hex')) },
    { label: `${label} (HEX)`, bytes: Buffer.from(bytes.toString('hex').toUpperCase()) },
  );
  // A PEM wraps base64 at 64 characters: a whole line of the body.
  const b64 = bytes.toString('base64');
  if (b64.length >= 128)
    needles.push({ label: `${label} (PEM body line)`, bytes: Buffer.from(b64.slice(64, 128)) });
  return needles.filter((n) => n.bytes.length >= 12);
}

/** A shared secret given as text (a PSK): its UTF-8 bytes in every encoding. */
export function textSecretNeedles(label: string, secret: string): Needle[] {
  return encodings(label, Buffer.from(secret, 'utf8'));
}

/** A private key given as PKCS#8 DER: the scalar, the PKCS#8 and the SEC1 forms, each in every encoding. */
export function privateKeyNeedles(label: string, pkcs8: Uint8Array): Needle[] {
  const key = nodeCrypto.createPrivateKey({
    key: Buffer.from(pkcs8),
    format: 'der',
    type: 'pkcs8',
  });
  const sec1 = key.export({ format: 'der', type: 'sec1' });
  // RFC 5915 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING privateKey, ... }
  const lengthBytes = sec1[1]! & 0x80 ? (sec1[1]! & 0x7f) + 2 : 2;
  const at = lengthBytes + 3; // INTEGER 1 is 02 01 01
  if (sec1[at] !== 0x04) throw new Error('unexpected SEC1 layout');
  const scalar = sec1.subarray(at + 2, at + 2 + sec1[at + 1]!);
  return [
    ...encodings(`${label} scalar`, Buffer.from(scalar)),
    ...encodings(`${label} PKCS#8`, Buffer.from(pkcs8)),
    ...encodings(`${label} SEC1`, sec1),
  ];
}

/** Which needles occur in the haystack. */
export function findSecrets(haystack: Buffer | string, needles: Needle[]): string[] {
  const h = typeof haystack === 'string' ? Buffer.from(haystack) : haystack;
  return needles.filter((n) => h.indexOf(n.bytes) >= 0).map((n) => n.label);
}

/** Everything this process writes to stdout and stderr until `stop()` (still written through). */
export function captureOutput(): { stop(): { stdout: string; stderr: string } } {
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const original = originals[name];
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks[name].push(Buffer.from(chunk as string));
      return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  }
  return {
    stop() {
      process.stdout.write = originals.stdout;
      process.stderr.write = originals.stderr;
      return {
        stdout: Buffer.concat(chunks.stdout).toString(),
        stderr: Buffer.concat(chunks.stderr).toString(),
      };
    },
  };
}
