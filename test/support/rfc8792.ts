/**
 * RFC 8792 line unfolding, single-backslash strategy (section 7.2.2): the form of the
 * `*.json_f` files of the EAT corpus (ietf-rats-wg/eat), folded to fit an RFC's 69 columns.
 * Only the tests read folded text, so this lives here rather than in src.
 */

/** RFC 8792 section 7.1.1: the header a folded text starts with, followed by a blank line. */
const HEADER = /^NOTE: '\\' line wrapping per RFC 8792\r?\n\r?\n/;

/**
 * The text unfolded: the header line and its blank line, if present, go; and every line that
 * ends in a backslash continues on the next at its first character that is not a space: the
 * backslash, the line end and those spaces go (space characters only, not tabs).
 */
export function unfoldRfc8792(text: string): string {
  return text.replace(HEADER, '').replace(/\\\r?\n */g, '');
}
