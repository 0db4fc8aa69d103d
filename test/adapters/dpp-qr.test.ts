/**
 * A DPP URI as a QR code (src/adapters/dpp/qr.ts): each rendering, read back by a QR decoder
 * (jsQR, test/support/qr.ts), gives the URI again. The PNG is decoded as a file (pngjs); the
 * SVG and the terminal text are drawn into a bitmap from what they say (the SVG's module runs,
 * the half blocks) and that is decoded. Text that is not a DPP URI, or one too long for a QR code, is
 * ERR_DPP_URI.
 */
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import {
  DPP_QR_ERROR_CORRECTION,
  renderDppQrPng,
  renderDppQrSvg,
  renderDppQrTerminal,
} from '../../src/adapters/dpp/qr.js';
import { encodeBootstrappingKey } from '../../src/protocols/dpp/bootstrapping-key.js';
import { formatDppUri } from '../../src/protocols/dpp/uri.js';
import { codeOf, errorCode } from '../support/errors.js';
import { decodeModules, decodePng, svgModules, terminalModules } from '../support/qr.js';

const crypto = new NodeCrypto();

function uriOf(info?: string, curve: 'P-256' | 'P-384' = 'P-256'): string {
  const pair = crypto.ecGenerate(curve);
  return formatDppUri({
    version: 2,
    key: encodeBootstrappingKey(curve, pair.publicKey).spkiDer,
    ...(info === undefined ? {} : { info }),
  });
}

describe('DPP URI QR codes', () => {
  // As `airlock manufacturer mint` makes them: I:SN=<serial>, V:2, a compressed P-256 key.
  const uri =
    'DPP:I:SN=AL-0123456789AB;V:2;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=;;';

  it('renders a PNG that decodes to the URI, black on white, version 7 at level M with a 4-module quiet zone', async () => {
    expect(DPP_QR_ERROR_CORRECTION).toBe('M');
    const png = decodePng(await renderDppQrPng(uri));
    // 113 characters at level M: version 7, 45 modules, plus 2 x 4 quiet zone, 8 pixels each.
    expect(png.width).toBe((45 + 8) * 8);
    expect(png.height).toBe(png.width);
    expect(png.text).toBe(uri);
    // The corner is quiet zone: white.
    expect(png.corner).toEqual([255, 255, 255, 255]);
    const small = decodePng(await renderDppQrPng(uri, { scale: 3 }));
    expect(small.width).toBe((45 + 8) * 3);
    expect(small.text).toBe(uri);
  });

  it('renders an SVG that decodes to the URI', async () => {
    const svg = await renderDppQrSvg(uri);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('viewBox="0 0 53 53"');
    const modules = svgModules(svg);
    // The quiet zone is empty, the finder pattern's corner dark.
    expect(modules[3]![3]).toBe(false);
    expect(modules[4]![4]).toBe(true);
    expect(decodeModules(modules)).toBe(uri);
  });

  it('renders terminal text of half blocks that decodes to the URI, for either background', () => {
    const dark = renderDppQrTerminal(uri);
    expect(dark).toMatch(/^[ \u2580\u2584\u2588\n]+$/);
    const lines = dark.replace(/\n$/, '').split('\n');
    // 53 modules wide; 53 rows, two to a line: 27 lines.
    expect(lines.every((l) => [...l].length === 53)).toBe(true);
    expect(lines).toHaveLength(27);
    // Drawn for a dark background, light modules are the blocks: the quiet zone is all blocks.
    expect(lines[0]).toBe('\u2588'.repeat(53));
    expect(decodeModules(terminalModules(dark, false))).toBe(uri);
    // Read with the wrong polarity, nothing decodes (jsQR told not to invert): the test can fail.
    expect(decodeModules(terminalModules(dark, true))).toBeUndefined();
    const light = renderDppQrTerminal(uri, { darkBackground: false });
    expect(light.split('\n')[0]).toBe(' '.repeat(53));
    expect(decodeModules(terminalModules(light, true))).toBe(uri);
  });

  it('renders URIs of other keys and without I: alike', async () => {
    for (const u of [uriOf(), uriOf('SN=AL-0123456789AB'), uriOf('thermo-7', 'P-384')]) {
      expect(decodePng(await renderDppQrPng(u)).text).toBe(u);
      expect(decodeModules(svgModules(await renderDppQrSvg(u)))).toBe(u);
      expect(decodeModules(terminalModules(renderDppQrTerminal(u), false))).toBe(u);
    }
  });

  it('refuses text that is not a DPP URI, and a URI too long for a QR code: ERR_DPP_URI', async () => {
    for (const bad of ['https://example.com/', 'DPP:K:AAAA;;', `${uri};`, '']) {
      expect(
        codeOf(() => renderDppQrTerminal(bad)),
        bad,
      ).toBe('ERR_DPP_URI');
      expect(await errorCode(() => renderDppQrPng(bad)), bad).toBe('ERR_DPP_URI');
      expect(await errorCode(() => renderDppQrSvg(bad)), bad).toBe('ERR_DPP_URI');
    }
    // A well-formed URI (under 4096 characters) past a QR code's 2331 octets at level M.
    const long = uriOf(`SN=${'x'.repeat(2400)}`);
    expect(codeOf(() => renderDppQrTerminal(long))).toBe('ERR_DPP_URI');
    expect(await errorCode(() => renderDppQrPng(long))).toBe('ERR_DPP_URI');
    expect(await errorCode(() => renderDppQrPng(uri, { scale: 0 }))).toBe('ERR_INPUT_SCHEMA');
  });
});
