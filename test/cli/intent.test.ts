/**
 * `airlock intent check`: a MUD file of the public corpus read, its signature verified with a
 * clock before and after its CA expired, a file with a non-standard key refused with its place,
 * and the nftables document it compiles to.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { interopPath } from '../support/interop.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const signed = (f: string) => interopPath('mud', 'signed', f);
const airlock = (...args: string[]) => run(process.execPath, [bin, 'intent', 'check', ...args]);
const failure = (...args: string[]) =>
  airlock(...args).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );

describe('airlock intent check', () => {
  const luminaire = [
    signed('cisco_Luminaire_150.json'),
    '--signature',
    signed('cisco_Luminaire_150.p7s'),
    '--ca',
    signed('cisco_luminaire-cacert.pem'),
  ];

  it("verifies the luminaire's signature as at a time its CA was valid, and summarises the rules", async () => {
    const { stdout } = await airlock(...luminaire, '--at', '2019-01-01T00:00:00Z');
    expect(stdout).toMatch(/^signature: valid, signed by "O=Demo Luminaire Manufacturer/);
    expect(stdout).toMatch(/valid MUD file for https:\/\/luminaire\.example\.com\/Luminaire_150/);
    expect(stdout).toMatch(/dnsname fw-update\.luminaire\.example\.com/);
  });

  it('refuses it now, its CA expired, and a file with a key no RFC defines, naming the place', async () => {
    const expired = await failure(...luminaire);
    expect(expired?.code).toBe(1);
    expect(expired?.stderr).toMatch(/^airlock: ERR_MUD_SIGNER_UNTRUSTED: .*validity period/);
    const toaster = await failure(signed('spec_files_mud_toaster_mud.json'));
    expect(toaster?.stderr).toMatch(
      /ERR_MUD_MALFORMED: .*\/matches\/ipv4\/ietf-acldns:s:qrc-dnsname/,
    );
    const noCa = await failure(
      signed('cisco_Luminaire_150.json'),
      '--signature',
      signed('cisco_Luminaire_150.p7s'),
    );
    expect(noCa?.stderr).toMatch(/ERR_CONFIG: .*--signature needs --ca/);
  });

  it('prints the nftables document, and warns about a pre-RFC file on stderr', async () => {
    const { stdout, stderr } = await airlock(
      interopPath('mud', 'legacy', 'osmud-lightbulb2000-draft.json'),
      '--json',
    );
    expect(stderr).toMatch(/warning: .*pre-RFC name/);
    const doc = JSON.parse(stdout) as { nftables: Array<Record<string, { chain?: unknown }>> };
    expect(doc.nftables.some((c) => c.add?.chain !== undefined)).toBe(true);
  });
});
