import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checked } from '../../src/protocols/schema.js';
import { AirlockError } from '../../src/core/errors.js';

const Message = z.object({ serial: z.string().min(1), nested: z.object({ n: z.number().int() }) });

function failure(f: () => unknown): AirlockError {
  try {
    f();
  } catch (e) {
    if (e instanceof AirlockError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('checked: schema failures as one kind of error', () => {
  it('answers the typed value when the schema holds', () => {
    expect(checked(Message, { serial: 'a', nested: { n: 1 } }, 'ERR_INPUT_SCHEMA')).toEqual({
      serial: 'a',
      nested: { n: 1 },
    });
  });

  it("throws the caller's code, naming each failing field by its path", () => {
    const e = failure(() =>
      checked(
        Message,
        { serial: '', nested: { n: 1.5 } },
        'ERR_DECLARATION_MALFORMED',
        'the export file',
      ),
    );
    expect(e.code).toBe('ERR_DECLARATION_MALFORMED');
    expect(e.message).toMatch(/the export file does not match its schema/);
    expect(e.message).toMatch(/serial: /);
    expect(e.message).toMatch(/nested\.n: /);
  });

  it('a value that is not even an object fails as a whole, and a message failing everywhere is named five times at most', () => {
    expect(failure(() => checked(Message, 'text', 'ERR_INPUT_SCHEMA')).message).toMatch(
      /\(the whole\): /,
    );
    const Wide = z.object(
      Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, z.string()])),
    );
    const e = failure(() => checked(Wide, {}, 'ERR_INPUT_SCHEMA'));
    expect(e.message.match(/\bf\d+: /g)?.length).toBe(5);
  });
});
