// pino options from config: level, redaction of credentials, masking of phone numbers in one serializer.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import type { Config } from './config.js'
import { maskPhone } from './phone.js'

/** Paths that may hold a credential or a code anywhere a log call could put them. */
export const REDACT_PATHS = [
  'authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.authorization',
  'clientSecret',
  '*.clientSecret',
  'jelou.clientSecret',
  'body',
  '*.body'
]

export function loggerOptions (config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Every line that names a recipient does so under `to`: masked here, never at the call site.
    serializers: { to: (value: unknown) => typeof value === 'string' ? maskPhone(value) : value }
  }
}

export function createLogger (config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return destination === undefined ? pino(loggerOptions(config)) : pino(loggerOptions(config), destination)
}
