/**
 * What the CLI prints of a peer's text: control characters and bidirectional overrides are
 * neutralised on every print path; messages that crossed roles do not repeat their titles.
 */
import { describe, expect, it } from 'vitest';
import { AirlockError, ErrorCodes } from '../../src/core/errors.js';
import { bareDetail, fromProblem, toProblem } from '../../src/adapters/http/problem.js';
import { errorLines, isSafeText, safeJson, safeText } from '../../src/cli/output.js';

const hostile = [
  '\u001b[2J\u001b]0;owned\u0007', // C0: clear screen, set title, bell
  'a\rb\nc\td\u0000',
  '\u007f\u0085\u009b31m', // DEL, C1 NEL and CSI
  '\u202eevil\u202c', // RLO ... PDF
  '\u2066\u2067\u2068\u2069\u200e\u200f\u202a\u202b\u202d',
];

describe('safeText', () => {
  it.each(hostile)('neutralises %j', (text) => {
    const shown = safeText(text);
    expect(isSafeText(shown)).toBe(true);
    expect(shown).toMatch(/\\u\{[0-9a-f]+\}/);
  });

  it('leaves ordinary text, accents and scripts alone', () => {
    for (const t of ['Doe Family', 'Müller & Söhne', '東京ホーム', 'שלום', 'emoji 🙂'])
      expect(safeText(t)).toBe(t);
  });

  it('JSON stays JSON with the same value, and holds no unsafe character', () => {
    const value = { owner: hostile.join('|'), n: 1 };
    const text = safeJson(value);
    expect(isSafeText(text.replace(/\n/g, ''))).toBe(true);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('error lines carry a peer message and hint neutralised', () => {
    const e = new AirlockError('ERR_PEER_REFUSED', `registrar says \u001b[31mOK\u202e`, {
      details: { hint: 'try \u0007again' },
    });
    const lines = errorLines(e);
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(isSafeText(l)).toBe(true);
  });
});

describe('messages across roles', () => {
  it('a problem relayed through several roles states its title once', () => {
    let e = new AirlockError('ERR_MASA_UNKNOWN_DEVICE', 'AL-0001');
    for (let hop = 0; hop < 3; hop++) {
      const p = toProblem(e);
      e = fromProblem(p.status, JSON.stringify(p));
    }
    expect(e.code).toBe('ERR_MASA_UNKNOWN_DEVICE');
    expect(e.message.split(ErrorCodes.ERR_MASA_UNKNOWN_DEVICE).length - 1).toBe(1);
    expect(e.message).toContain('AL-0001');
  });

  it('a peer that doubled the title itself is undoubled', () => {
    const t = ErrorCodes.ERR_MASA_REFUSED;
    expect(bareDetail(`${t}: ${t}: ${ErrorCodes.ERR_MASA_NOT_AUTHORIZED}: x`)).toBe('x');
    const e = fromProblem(
      502,
      JSON.stringify({ code: 'ERR_MASA_REFUSED', detail: `${t}: ${t}: why` }),
    );
    expect(e.message).toBe(`${t}: why`);
  });
});
