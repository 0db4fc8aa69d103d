/**
 * The logger's level: from the caller, else AIRLOCK_LOG_LEVEL (`airlock --log-level` sets it),
 * else info; a level that names none is a typed configuration error, not a pino exception.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, logLevel } from '../../src/adapters/log/logger.js';
import { errorCode } from '../support/wire.js';

describe('log level', () => {
  const saved = process.env.AIRLOCK_LOG_LEVEL;
  afterEach(() => {
    if (saved === undefined) delete process.env.AIRLOCK_LOG_LEVEL;
    else process.env.AIRLOCK_LOG_LEVEL = saved;
  });

  it("is the caller's, else AIRLOCK_LOG_LEVEL, else info", () => {
    delete process.env.AIRLOCK_LOG_LEVEL;
    expect(logLevel()).toBe('info');
    process.env.AIRLOCK_LOG_LEVEL = 'Debug';
    expect(logLevel()).toBe('debug');
    expect(createLogger({ destination: { write: () => undefined } }).level).toBe('debug');
    expect(createLogger({ level: 'warn', destination: { write: () => undefined } }).level).toBe(
      'warn',
    );
  });

  it('refuses a level that names none with ERR_CONFIG, from the caller or the environment', async () => {
    expect(await errorCode(() => logLevel('verbose'))).toBe('ERR_CONFIG');
    process.env.AIRLOCK_LOG_LEVEL = 'loud';
    expect(await errorCode(() => createLogger({ destination: { write: () => undefined } }))).toBe(
      'ERR_CONFIG',
    );
  });

  it('redacts secret-named fields even if code were to log them', () => {
    const out: string[] = [];
    const log = createLogger({
      level: 'info',
      destination: { write: (s: string) => void out.push(s) },
    });
    log.info({ psk: 'PSK-MARKER', body: 'BODY-MARKER', nested: { key: 'KEY-MARKER' } }, 'x');
    expect(out.join('')).not.toMatch(/MARKER/);
  });
});
