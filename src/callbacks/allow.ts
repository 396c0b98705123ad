// Callback URLs (SPEC §21): the operator's allow-list (CALLBACK_URL_ALLOW) and the check every callbackUrl passes at request time.

/** One allowed origin: scheme, host (exact, or `*.` and a domain for its subdomains) and port (`*`: any). */
export interface AllowRule {
  scheme: 'http' | 'https'
  host: string
  wildcard: boolean
  port: string
}

const DEFAULT_PORT = { http: '80', https: '443' } as const
const ENTRY = /^(https?):\/\/(\*\.)?([^/:?#@*]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}|\*))?\/?$/

/** Reads `https://hooks.example.com, https://*.corp.example, http://127.0.0.1:4000, http://127.0.0.1:*`; a wrong entry is named in the error. */
export function parseAllowList (raw: string): { rules: AllowRule[], problems: string[] } {
  const rules: AllowRule[] = []
  const problems: string[] = []
  for (const entry of raw.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const match = ENTRY.exec(entry)
    let host: string | undefined
    if (match !== null) {
      try {
        // The URL parser's own reading of the host (IPv4 in any notation, IPv6, upper case) is what requests are compared with.
        host = new URL(`${match[1] as string}://${match[3] as string}`).hostname
      } catch {
        host = undefined
      }
    }
    if (match === null || host === undefined || host === '') {
      problems.push(`CALLBACK_URL_ALLOW entries are origins such as https://hooks.example.com, https://*.example.com or http://127.0.0.1:4000 (no path, no credentials); "${entry.slice(0, 80)}" is not one`)
      continue
    }
    const scheme = match[1] as 'http' | 'https'
    rules.push({ scheme, host, wildcard: match[2] !== undefined, port: match[4] ?? DEFAULT_PORT[scheme] })
  }
  return { rules, problems }
}

const ruleText = (rule: AllowRule) => `${rule.scheme}://${rule.wildcard ? '*.' : ''}${rule.host}${rule.port === DEFAULT_PORT[rule.scheme] ? '' : `:${rule.port}`}`

/**
 * Why this callbackUrl is refused, or undefined when the allow-list admits it. Scheme, host and
 * port must match an entry; a wildcard entry matches subdomains by name only, so an IP address
 * (loopback, link-local or any other) passes only when listed exactly, in whatever notation the
 * caller writes it (`http://2130706433/` is `http://127.0.0.1/`).
 */
export function refusal (raw: string, rules: readonly AllowRule[]): string | undefined {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'must be an absolute http or https URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL'
  if (url.username !== '' || url.password !== '') return 'must not carry credentials (user:password@): the callback is signed instead'
  if (rules.length === 0) return 'callbacks are off: CALLBACK_URL_ALLOW lists no receiver'
  const scheme = url.protocol.slice(0, -1) as 'http' | 'https'
  const port = url.port === '' ? DEFAULT_PORT[scheme] : url.port
  const host = url.hostname
  const ip = /^[\d.]+$/.test(host) || host.startsWith('[')
  for (const rule of rules) {
    if (rule.scheme !== scheme || (rule.port !== '*' && rule.port !== port)) continue
    if (rule.wildcard ? !ip && host.endsWith(`.${rule.host}`) : host === rule.host) return undefined
  }
  return `is not allowed by CALLBACK_URL_ALLOW (${rules.map(ruleText).join(', ')}): scheme, host and port must match an entry`
}
