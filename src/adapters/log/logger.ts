/**
 * Structured logs (pino). Every field that could ever carry a secret is redacted, as a
 * second line of defence: the code never logs secrets in the first place. The level comes
 * from the caller, else AIRLOCK_LOG_LEVEL (which `airlock --log-level` sets), else info: at
 * info, the HTTPS servers write one line per request (src/adapters/http/server.ts).
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { AirlockError } from '../../core/errors.js';

export type { Logger };

export const REDACTED_PATHS = [
  'key',
  '*.key',
  'privateKey',
  '*.privateKey',
  'psk',
  '*.psk',
  'passphrase',
  '*.passphrase',
  'secret',
  '*.secret',
  'kek',
  '*.kek',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'body',
  '*.body',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The level named by `level`, else by AIRLOCK_LOG_LEVEL, else info; ERR_CONFIG if it names none. */
export function logLevel(level?: string): string {
  const l = (level ?? process.env.AIRLOCK_LOG_LEVEL ?? 'info').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(l))
    throw new AirlockError('ERR_CONFIG', `log level must be one of ${LOG_LEVELS.join(', ')}`);
  return l;
}

export function createLogger(
  opts: { level?: string; destination?: DestinationStream | string; name?: string } = {},
): Logger {
  const level = logLevel(opts.level);
  const dest =
    typeof opts.destination === 'string'
      ? pino.destination({ dest: opts.destination, sync: true, mkdir: true })
      : opts.destination;
  return pino(
    {
      level,
      name: opts.name ?? 'airlock',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    dest ?? pino.destination(2),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
