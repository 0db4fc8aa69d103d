/**
 * The only platform globals the pure layers (src/core, src/protocols) may use, declared for
 * their own type check (tsconfig.pure.json), which has no Node types: the WHATWG text codecs,
 * which every JavaScript runtime has. `Buffer`, `process` and the rest of Node are then type
 * errors there, as Node imports already are lint errors (eslint.config.js).
 */
interface TextDecodeOptions {
  stream?: boolean;
}
declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  readonly fatal: boolean;
  decode(input?: Uint8Array, options?: TextDecodeOptions): string;
}
