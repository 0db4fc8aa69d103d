/**
 * Reading QR codes back in tests (jsQR, pngjs): a PNG file, or a grid of modules drawn from an
 * SVG of qrcode's or from terminal text of half blocks.
 */
import jsQRModule from 'jsqr';

// jsqr is CommonJS, its types an ES module's: the function is the module's `default` (and,
// at run time, the module itself).
const jsQR = jsQRModule.default;
import { PNG } from 'pngjs';

/** A PNG file: its size, its first pixel (RGBA), and what it decodes to. */
export function decodePng(bytes: Uint8Array): {
  width: number;
  height: number;
  corner: number[];
  text: string | undefined;
} {
  const png = PNG.sync.read(Buffer.from(bytes));
  return {
    width: png.width,
    height: png.height,
    corner: [...png.data.subarray(0, 4)],
    text: jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data,
  };
}

/** A bitmap of modules (true: dark), drawn `scale` pixels a module, read by jsQR. */
export function decodeModules(dark: boolean[][], scale = 4): string | undefined {
  const height = dark.length * scale;
  const width = dark[0]!.length * scale;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const v = dark[Math.floor(y / scale)]![Math.floor(x / scale)] ? 0 : 255;
      rgba.set([v, v, v, 255], (y * width + x) * 4);
    }
  return jsQR(rgba, width, height, { inversionAttempts: 'dontInvert' })?.data;
}

/** The modules an SVG of qrcode's draws: a white square, then `M x y` / `m dx 0` / `h n` strokes one module high. */
export function svgModules(svg: string): boolean[][] {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)![1]);
  const grid = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  const d = /<path stroke="#000000" d="([^"]*)"/.exec(svg)![1]!;
  let x = 0;
  let y = 0;
  for (const [, cmd, a, b] of d.matchAll(/([Mmh])([\d.]+)(?: ([\d.]+))?/g)) {
    if (cmd === 'M') {
      x = Number(a);
      y = Math.floor(Number(b));
    } else if (cmd === 'm') x += Number(a);
    else {
      for (let i = 0; i < Number(a); i++) grid[y]![x + i] = true;
      x += Number(a);
    }
  }
  return grid;
}

/** The modules of terminal text: each character two modules, top and bottom. */
export function terminalModules(text: string, blockIsDark: boolean): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const c of line) {
      const [t, b] = { ' ': [0, 0], '\u2580': [1, 0], '\u2584': [0, 1], '\u2588': [1, 1] }[c]!;
      top.push((t === 1) === blockIsDark);
      bottom.push((b === 1) === blockIsDark);
    }
    rows.push(top, bottom);
  }
  return rows;
}
