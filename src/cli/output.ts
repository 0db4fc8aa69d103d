/**
 * Printing for the CLI: human lines on stdout, or one JSON document with --json; notes and
 * errors on stderr. Everything printed passes through `safeText` (or its JSON form): text a
 * peer chose (problem details, owner and buyer names, serial numbers) reaches the operator's
 * terminal with control characters and bidirectional overrides neutralised, so that it can
 * neither drive the terminal nor reorder what the operator reads.
 */
import { isAirlockError } from '../core/errors.js';

/**
 * C0 controls, DEL, C1 controls, and the bidirectional marks, embeddings, overrides and
 * isolates (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069).
 */
export const UNSAFE_CHARACTERS =
  /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** `text` with every unsafe character shown as a `\u{...}` escape. Pure. */
export function safeText(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** Whether `text` holds no unsafe character. */
export function isSafeText(text: string): boolean {
  return !new RegExp(UNSAFE_CHARACTERS.source, 'u').test(text);
}

/** JSON with the unsafe characters JSON.stringify leaves alone (DEL, C1, bidi) escaped as `\uXXXX`: still the same JSON. */
export function safeJson(value: unknown): string {
  // JSON.stringify already escapes C0 inside strings; the raw newlines left are its indentation.
  return JSON.stringify(value, null, 2).replace(
    /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function printJson(value: unknown): void {
  process.stdout.write(`${safeJson(value)}\n`);
}

/** One human line on stdout. */
export function say(line: string): void {
  process.stdout.write(`${safeText(line)}\n`);
}

/** One note on stderr (what the command did besides its output: keys created, keys exported). */
export function note(line: string): void {
  process.stderr.write(`airlock: ${safeText(line)}\n`);
}

/** A table on stdout, every cell made safe. */
export function printTable(rows: Array<Record<string, unknown>>): void {
  console.table(
    rows.map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, typeof v === 'string' ? safeText(v) : v]),
      ),
    ),
  );
}

/**
 * Keeps serving until SIGINT or SIGTERM, then closes gracefully (the roles drain: requests in
 * flight get their drain bound, new ones a 503) and exits 0. A second signal exits at once.
 */
export function serveUntilInterrupted(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(
      `airlock: ${signal}: draining, then stopping (send it again to stop at once)\n`,
    );
    close().then(
      () => process.exit(0),
      (e: unknown) => fail(e),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** The lines `fail` prints for an error: code and message, then the hint if it has one. */
export function errorLines(e: unknown): string[] {
  if (isAirlockError(e)) {
    const hint = e.details['hint'];
    return [
      `airlock: ${e.code}: ${safeText(e.message)}`,
      ...(typeof hint === 'string' ? [`airlock: hint: ${safeText(hint)}`] : []),
    ];
  }
  return [`airlock: ${safeText((e as Error)?.message ?? String(e))}`];
}

export function fail(e: unknown): never {
  for (const line of errorLines(e)) process.stderr.write(`${line}\n`);
  process.exit(1);
}
