// pino options from config: level, redaction of credentials, masking of phone numbers in one serializer.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import type { Config } from './config.js'
import { maskPhone } from './phone.js'

/**
 * Paths that could hold a credential if a log call ever put one there. The service never logs
 * headers or bodies; this is the second line of defence. Static paths only: wildcards cost
 * measurable time on every line (see README "Performance").
 */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'clientSecret',
  'jelou.clientSecret',
  'body'
]

/** `mixin` adds fields to every line: the trace and span ids when tracing is on (src/tracing.ts). */
export function loggerOptions (config: Pick<Config, 'logLevel'>, mixin?: () => Record<string, unknown>): LoggerOptions {
  return {
    ...(mixin === undefined ? {} : { mixin }),
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Every line that names a recipient does so under `to`: masked here, never at the call site.
    serializers: { to: (value: unknown) => typeof value === 'string' ? maskPhone(value) : value }
  }
}

export function createLogger (config: Pick<Config, 'logLevel'>, destination?: DestinationStream, mixin?: () => Record<string, unknown>): Logger {
  return destination === undefined ? pino(loggerOptions(config, mixin)) : pino(loggerOptions(config, mixin), destination)
}
