/**
 * A DPP URI as a QR code (Wi-Fi Easy Connect section 5.2.2: what a device's label or screen
 * shows, and what a Configurator scans), with the `qrcode` package: text of UTF-8 blocks for a
 * terminal, PNG and SVG. Only a URI that `parseDppUri` reads is rendered (else ERR_DPP_URI):
 * nothing else is put in a code a Configurator will trust as a device's key.
 *
 * The encoding modes are qrcode's choice (byte mode for the base64 key, with numeric or
 * alphanumeric segments where they are shorter). Error correction level M (about 15% of the
 * code may be lost): the specification mandates none; M keeps a code printed on a device's
 * housing readable when it is scuffed or partly covered, at the cost of one or two versions
 * over L (Airlock's URI of a P-256 key, a compressed point, with its serial is about 113
 * characters: version 7 at M, 45 x 45 modules, against version 6 at L).
 * The quiet zone is the 4 modules ISO/IEC 18004 asks for.
 */
import QRCode from 'qrcode';
import { AirlockError } from '../../core/errors.js';
import { parseDppUri } from '../../protocols/dpp/uri.js';

export type DppQrFormat = 'terminal' | 'png' | 'svg';

export const DPP_QR_FORMATS: readonly DppQrFormat[] = ['terminal', 'png', 'svg'];

/** The error correction level of every code rendered here (see above). */
export const DPP_QR_ERROR_CORRECTION = 'M';

/** Modules of quiet zone on each side (ISO/IEC 18004 section 6.3.8). */
const QUIET_ZONE = 4;

/** The QR code's modules, row by row: true for a dark module. ERR_DPP_URI when `uri` is not a DPP URI or too long for a QR code. */
function modules(uri: string): { size: number; dark: (row: number, col: number) => boolean } {
  parseDppUri(uri);
  let qr: QRCode.QRCode;
  try {
    qr = QRCode.create(uri, { errorCorrectionLevel: DPP_QR_ERROR_CORRECTION });
  } catch (cause) {
    throw new AirlockError('ERR_DPP_URI', 'the URI is too long for a QR code', { cause });
  }
  const { size } = qr.modules;
  return {
    size,
    dark: (row, col) =>
      row >= 0 && row < size && col >= 0 && col < size && qr.modules.get(row, col) === 1,
  };
}

/**
 * The code as lines of UTF-8 half blocks (two modules to a character cell, so that modules are
 * about square), quiet zone included, no escape sequences. `darkBackground` (the default):
 * drawn for light text on a dark terminal, light modules as blocks and dark ones as the
 * background; false: dark modules as blocks, for dark text on a light background.
 */
export function renderDppQrTerminal(uri: string, o: { darkBackground?: boolean } = {}): string {
  const { size, dark } = modules(uri);
  const blockIsDark = o.darkBackground === false;
  // Cell glyphs by [top is block][bottom is block].
  const glyph = [
    [' ', '\u2584'],
    ['\u2580', '\u2588'],
  ] as const;
  const lines: string[] = [];
  for (let row = -QUIET_ZONE; row < size + QUIET_ZONE; row += 2) {
    let line = '';
    for (let col = -QUIET_ZONE; col < size + QUIET_ZONE; col++) {
      // Outside the code everything is light: the quiet zone, and the half row past the last
      // one (the rows are an odd count).
      const top = dark(row, col) === blockIsDark ? 1 : 0;
      const bottom = dark(row + 1, col) === blockIsDark ? 1 : 0;
      line += glyph[top][bottom];
    }
    lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

/** The code as a PNG: black on white, `scale` pixels a module (default 8). */
export async function renderDppQrPng(uri: string, o: { scale?: number } = {}): Promise<Buffer> {
  modules(uri);
  const scale = o.scale ?? 8;
  if (!Number.isInteger(scale) || scale < 1 || scale > 64)
    throw new AirlockError('ERR_INPUT_SCHEMA', 'the scale is a whole number from 1 to 64');
  return QRCode.toBuffer(uri, {
    type: 'png',
    errorCorrectionLevel: DPP_QR_ERROR_CORRECTION,
    margin: QUIET_ZONE,
    scale,
    color: { dark: '#000000ff', light: '#ffffffff' },
  });
}

/** The code as an SVG document: black on white, one unit a module, scalable. */
export async function renderDppQrSvg(uri: string): Promise<string> {
  modules(uri);
  return QRCode.toString(uri, {
    type: 'svg',
    errorCorrectionLevel: DPP_QR_ERROR_CORRECTION,
    margin: QUIET_ZONE,
    color: { dark: '#000000ff', light: '#ffffffff' },
  });
}
