/**
 * The network's device intent manager, its first part (docs/INTENT.md): a MUD file fetched
 * from a URL is accepted only if it is a MUD file (parse.ts), says it is the file of that URL,
 * carries a signature by a signer that chains to the manufacturers' MUD CAs now, and (RFC 8520
 * section 13.2) that signer is the one first seen for that URL: the key is pinned, in the
 * network's database, the first time, and a later file signed by another key is refused
 * (ERR_MUD_SIGNER_CHANGED), nothing changed.
 */
import { AirlockError } from '../../core/errors.js';
import { toBase64Url } from '../../core/bytes.js';
import type { Clock, Crypto } from '../../core/ports.js';
import type { NetworkStore } from '../../core/store.js';
import { parseMud } from '../../protocols/mud/parse.js';
import { verifyMudSignature } from '../../protocols/mud/signature.js';
import type { MudFile, ParsedMud } from '../../protocols/mud/model.js';
import type { Certificate } from '../../protocols/x509/certificate.js';

export interface AcceptedMud extends ParsedMud {
  signer: Certificate;
  /** True when this file pinned its URL's signer (the first seen). */
  pinned: boolean;
}

export async function acceptMudFile(
  ctx: { crypto: Crypto; clock: Clock },
  store: NetworkStore,
  input: {
    url: string;
    mud: Uint8Array;
    signature: Uint8Array;
    anchors: readonly Certificate[];
    /** Whatever else must hold of the verified file (it compiles, say): it throws, nothing is pinned. */
    check?: (mud: MudFile) => void;
  },
): Promise<AcceptedMud> {
  const parsed = parseMud(input.mud);
  if (parsed.mud.url !== input.url)
    throw new AirlockError(
      'ERR_MUD_MALFORMED',
      `/ietf-mud:mud/mud-url: the file says ${JSON.stringify(parsed.mud.url.slice(0, 200))}, it came from another URL`,
    );
  const at = ctx.clock.now();
  const signer = verifyMudSignature(ctx.crypto, {
    mud: input.mud,
    signature: input.signature,
    anchors: input.anchors,
    at,
  });
  input.check?.(parsed.mud);
  const fingerprint = toBase64Url(ctx.crypto.sha256(signer.spki));
  const pinned = await store.transaction(async (r) => {
    const held = await r.mudSigners.pinned(input.url);
    if (held === undefined)
      return r.mudSigners.pin(input.url, { signer: fingerprint, subject: signer.subject }, at);
    if (held.signer !== fingerprint)
      throw new AirlockError(
        'ERR_MUD_SIGNER_CHANGED',
        `first signed by "${held.subject}", now by "${signer.subject}" with another key`,
      );
    return false;
  });
  return { ...parsed, signer, pinned };
}
