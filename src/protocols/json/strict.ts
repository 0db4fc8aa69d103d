/**
 * Strict JSON for signed objects: RFC 7515 section 5.2 (and RFC 8259 section 4, "names within
 * an object SHOULD be unique") lets a recipient refuse a JWS whose header or payload repeats a
 * member name, and Airlock does: JSON.parse keeps the last of two `alg` members, another parser
 * may keep the first, and the two would then disagree about what was signed.
 *
 * `findDuplicateMember` scans text that JSON.parse has already accepted, without building a
 * second object tree: one pass over the characters, a Set of names per open object, strings
 * skipped with indexOf. It is on the hot path (every JWS header and payload).
 */
import { AirlockError, type ErrorCode } from '../../core/errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * The first member name that appears twice in one object (at any depth), or undefined.
 * `text` must be well-formed JSON (JSON.parse it first); names are compared after unescaping,
 * so `"alg"` and `"a\u006cg"` are the same name.
 */
export function findDuplicateMember(text: string): string | undefined {
  // One entry per open container: the names seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectName = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote: the first one not preceded by an odd number of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return undefined; // not JSON; the caller parsed it first
        let b = j - 1;
        while (text.charCodeAt(b) === BACKSLASH) b--;
        if ((j - 1 - b) % 2 === 0) break;
      }
      if (expectName) {
        let name = text.slice(i + 1, j);
        if (name.indexOf('\\') >= 0) name = JSON.parse(text.slice(i, j + 1)) as string;
        const seen = stack[stack.length - 1]!;
        if (seen.has(name)) return name;
        seen.add(name);
        expectName = false;
      }
      i = j;
    } else if (c === OPEN_OBJECT) {
      stack.push(new Set());
      expectName = true;
    } else if (c === OPEN_ARRAY) {
      stack.push(null);
      expectName = false;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
      expectName = false;
    } else if (c === COMMA) {
      expectName = stack[stack.length - 1] != null;
    }
  }
  return undefined;
}

/** JSON.parse that refuses malformed text and duplicated member names with `code`. */
export function parseStrictJson(text: string, code: ErrorCode, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AirlockError(code, `${what} is not JSON`, { cause });
  }
  // Only objects can repeat a name; a scalar or a string needs no scan.
  if (text.indexOf('{') >= 0) {
    const dup = findDuplicateMember(text);
    if (dup !== undefined)
      throw new AirlockError(
        code,
        `${what} repeats the member ${JSON.stringify(dup.slice(0, 40))}`,
      );
  }
  return value;
}
