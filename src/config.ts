// Configuration: read once from the environment, validated, typed and frozen.
import { isSupportedCountry } from 'libphonenumber-js/max'

export const LANGUAGES: ['en', 'es', 'pt'] = ['en', 'es', 'pt']
export type Language = typeof LANGUAGES[number]
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Every variable the service reads; the README's configuration table and `.env.example` list the same. */
export const ENV_VARIABLES = [
  'PORT', 'HOST', 'JELOU_BASE_URL', 'JELOU_CLIENT_ID', 'JELOU_CLIENT_SECRET', 'JELOU_BOT_ID',
  'JELOU_TIMEOUT_MS', 'JELOU_CONNECT_TIMEOUT_MS', 'JELOU_CONNECTIONS', 'DEFAULT_COUNTRY',
  'DEFAULT_LANGUAGE', 'LOG_LEVEL', 'BODY_LIMIT_BYTES'
] as const
type EnvName = typeof ENV_VARIABLES[number]

export interface Config {
  /** `live` sends to Jelou; `sandbox` starts the built-in look-alike and sends there. */
  mode: 'live' | 'sandbox'
  port: number
  host: string
  jelou: {
    baseUrl: string
    clientId: string
    clientSecret: string
    botId: string | null
    timeoutMs: number
    connectTimeoutMs: number
    connections: number
  }
  defaultCountry: string | null
  defaultLanguage: Language | null
  logLevel: typeof LOG_LEVELS[number]
  bodyLimitBytes: number
}

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

export const BOT_ID_PATTERN = '^(?!.*\\.\\.)[A-Za-z0-9+_.-]{1,128}$'
export const SANDBOX_CREDENTIALS = { clientId: 'sandbox', clientSecret: 'sandbox' }

/** Pure: the same environment always gives the same Config, or one ConfigError naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = []
  const read = (name: EnvName): string | undefined => {
    const value = env[name]
    return value === undefined || value.trim() === '' ? undefined : value.trim()
  }
  const int = (name: EnvName, fallback: number, min: number, max: number): number => {
    const raw = read(name)
    if (raw === undefined) return fallback
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
      return fallback
    }
    return Number(raw)
  }
  const oneOf = <T extends string>(name: EnvName, values: readonly T[]): T | undefined => {
    const raw = read(name)
    if (raw === undefined) return undefined
    if (!(values as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${values.join(', ')} (got "${raw}")`)
      return undefined
    }
    return raw as T
  }

  const port = int('PORT', 3000, 0, 65535)
  const timeoutMs = int('JELOU_TIMEOUT_MS', 10000, 1, 600000)
  const connectTimeoutMs = int('JELOU_CONNECT_TIMEOUT_MS', 3000, 1, 600000)
  const connections = int('JELOU_CONNECTIONS', 64, 1, 4096)
  const bodyLimitBytes = int('BODY_LIMIT_BYTES', 65536, 1024, 10485760)
  const defaultLanguage = oneOf('DEFAULT_LANGUAGE', LANGUAGES) ?? null
  const logLevel = oneOf('LOG_LEVEL', LOG_LEVELS) ?? 'info'

  const clientId = read('JELOU_CLIENT_ID')
  const clientSecret = read('JELOU_CLIENT_SECRET')
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    const missing = clientId === undefined ? 'JELOU_CLIENT_ID' : 'JELOU_CLIENT_SECRET'
    problems.push(`${missing} must be set together with ${missing === 'JELOU_CLIENT_ID' ? 'JELOU_CLIENT_SECRET' : 'JELOU_CLIENT_ID'} (set both for live mode, neither for sandbox mode)`)
  }
  const mode = clientId !== undefined && clientSecret !== undefined ? 'live' : 'sandbox'

  const rawBaseUrl = read('JELOU_BASE_URL')
  let baseUrl = 'https://api.jelou.ai'
  if (rawBaseUrl !== undefined) {
    const url = URL.canParse(rawBaseUrl) ? new URL(rawBaseUrl) : null
    if (url === null || !['http:', 'https:'].includes(url.protocol) || url.username !== '' || url.password !== '' ||
        (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
      problems.push('JELOU_BASE_URL must be an http(s) origin such as https://api.jelou.ai, with no path, query or credentials')
    } else {
      baseUrl = url.origin
    }
    if (mode === 'sandbox' && clientId === undefined && clientSecret === undefined) {
      problems.push('JELOU_BASE_URL is set without JELOU_CLIENT_ID/JELOU_CLIENT_SECRET: set the credentials (sandbox/sandbox for a standalone sandbox) or unset JELOU_BASE_URL to use the built-in sandbox')
    }
  }

  const botId = read('JELOU_BOT_ID') ?? null
  if (botId !== null && !new RegExp(BOT_ID_PATTERN).test(botId)) {
    problems.push(`JELOU_BOT_ID must match ${BOT_ID_PATTERN} (letters, digits, + _ . -, at most 128, no "..")`)
  }

  const rawCountry = read('DEFAULT_COUNTRY')
  let defaultCountry: string | null = null
  if (rawCountry !== undefined) {
    if (/^[A-Za-z]{2}$/.test(rawCountry) && isSupportedCountry(rawCountry.toUpperCase())) {
      defaultCountry = rawCountry.toUpperCase()
    } else {
      problems.push(`DEFAULT_COUNTRY must be an ISO 3166 alpha-2 region with a phone numbering plan, such as EC or MX (got "${rawCountry}")`)
    }
  }

  if (problems.length > 0) throw new ConfigError(problems)

  const credentials = mode === 'live' ? { clientId: clientId as string, clientSecret: clientSecret as string } : SANDBOX_CREDENTIALS
  return deepFreeze({
    mode,
    port,
    host: read('HOST') ?? '127.0.0.1',
    jelou: { baseUrl, ...credentials, botId, timeoutMs, connectTimeoutMs, connections },
    defaultCountry,
    defaultLanguage,
    logLevel,
    bodyLimitBytes
  })
}

function deepFreeze<T extends object> (value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null) deepFreeze(inner)
  }
  return Object.freeze(value)
}
