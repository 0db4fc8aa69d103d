/** Object identifiers Airlock reads or writes. */
export const Oid = {
  /** RFC 8995 section 2.3.2: id-pe-masa-url. */
  masaUrl: '1.3.6.1.5.5.7.1.32',
  /** RFC 8520 section 10: id-pe-mud-url. */
  mudUrl: '1.3.6.1.5.5.7.1.25',
  /** X.520 serialNumber attribute. */
  serialNumber: '2.5.4.5',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  ecPublicKey: '1.2.840.10045.2.1',
  secp256r1: '1.2.840.10045.3.1.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  /** RFC 6402 / RFC 7299: id-kp-cmcRA, marks an RFC 8995 registrar certificate. */
  cmcRA: '1.3.6.1.5.5.7.3.28',
} as const;
