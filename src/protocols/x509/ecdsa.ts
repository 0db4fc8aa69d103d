import { Tag, tlv } from './der.js';

/** r || s (64 bytes, as JWS and the Crypto port carry it) to the DER Ecdsa-Sig-Value of X.509 and PKCS#10. */
export function p1363ToDer(sig: Uint8Array): Uint8Array {
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    return v[0]! & 0x80 ? tlv(Tag.INTEGER, new Uint8Array([0]), v) : tlv(Tag.INTEGER, v);
  };
  return tlv(Tag.SEQUENCE, int(sig.subarray(0, 32)), int(sig.subarray(32)));
}
