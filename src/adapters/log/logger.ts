/**
 * Structured logs (pino). Every field that could ever carry a secret is redacted, as a
 * second line of defence: the code never logs secrets in the first place.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'key', '*.key', 'privateKey', '*.privateKey', 'psk', '*.psk', 'passphrase', '*.passphrase',
  'secret', '*.secret', 'kek', '*.kek', 'password', '*.password', 'authorization', '*.authorization',
  'req.headers.authorization', 'req.headers.cookie', 'body', '*.body',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream | string; name?: string } = {}): Logger {
  const dest = typeof opts.destination === 'string' ? pino.destination({ dest: opts.destination, sync: true, mkdir: true }) : opts.destination;
  return pino(
    { level: opts.level ?? process.env.AIRLOCK_LOG_LEVEL ?? 'info', name: opts.name ?? 'airlock', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    dest ?? pino.destination(2),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
