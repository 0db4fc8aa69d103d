/**
 * A measured component (RFC 10013, "EAT Measured Component"), JSON form, as an entry of the EAT
 * `measurements` claim: `[content-format, JSON text]`. Airlock measures one component, the
 * firmware image, with SHA-256: `{"id": [name, [version, 16384]], "digested-measurement":
 * ["sha-256", base64url digest]}` (16384: the semver version scheme of CoSWID, RFC 9393).
 *
 * The content-format: RFC 10013 asks IANA for a CoAP Content-Format for
 * `application/measured-component+json`; until Airlock carries that number, it uses 65000,
 * from the range RFC 7252 section 12.3 sets aside for experiments. Both ends are Airlock's.
 */
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { checked } from '../schema.js';

export const MEASURED_COMPONENT_JSON_CF = 65000;
export const SEMVER_SCHEME = 16384;

export const MeasuredComponent = z.looseObject({
  id: z.tuple([z.string().min(1).max(128), z.tuple([z.string().min(1).max(64), z.number().int()])]),
  'digested-measurement': z.tuple([
    z.literal('sha-256'),
    z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'base64url SHA-256'),
  ]),
});
export type MeasuredComponent = z.infer<typeof MeasuredComponent>;

export interface Measurement {
  name: string;
  version: string;
  /** base64url SHA-256 of the component. */
  digest: string;
}

export function encodeMeasurement(m: Measurement): [number, string] {
  const mc: MeasuredComponent = {
    id: [m.name, [m.version, SEMVER_SCHEME]],
    'digested-measurement': ['sha-256', m.digest],
  };
  return [MEASURED_COMPONENT_JSON_CF, JSON.stringify(mc)];
}

/** The measured components of a `measurements` claim; entries of other formats are skipped. */
export function decodeMeasurements(entries: readonly (readonly [number, string])[]): Measurement[] {
  const out: Measurement[] = [];
  for (const [cf, text] of entries) {
    if (cf !== MEASURED_COMPONENT_JSON_CF) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new AirlockError('ERR_EAT_MALFORMED', 'a measured component is not JSON', { cause });
    }
    const mc = checked(MeasuredComponent, json, 'ERR_EAT_MALFORMED', 'a measured component');
    out.push({ name: mc.id[0], version: mc.id[1][0], digest: mc['digested-measurement'][1] });
  }
  return out;
}
