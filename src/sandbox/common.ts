// What every sandbox endpoint shares: option checks, header reading and Jelou's Basic credentials.
import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply } from 'fastify'

export function nonNegativeInteger (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`sandbox option ${name} must be a non-negative integer, got ${String(value)}`)
  }
  return value
}

export function headerValue (value: string | string[] | undefined): string | null {
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(', ') : value
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The sandbox's Basic credentials, checked the same way on every endpoint, as Jelou does. */
export interface SandboxAuth {
  /** Constant-time comparison of the Basic token; the scheme is case-insensitive (RFC 7617). */
  matches: (header: string | null) => boolean
  /** Jelou's 401 answer. */
  unauthorized: (reply: FastifyReply) => FastifyReply
}

export function sandboxAuth (clientId: string, clientSecret: string): SandboxAuth {
  if (clientId.includes(':')) throw new RangeError('sandbox clientId must not contain ":" (Basic credentials join id and secret with a colon)')
  const expectedToken = Buffer.from(Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64'), 'utf8')
  return {
    matches (header) {
      if (header === null) return false
      const match = /^basic +(\S+) *$/i.exec(header)
      if (match === null) return false
      const token = Buffer.from(match[1], 'utf8')
      return token.length === expectedToken.length && timingSafeEqual(token, expectedToken)
    },
    unauthorized (reply) {
      return reply.code(401).header('www-authenticate', 'Basic realm="sandbox"')
        .send({ code: 'unauthorized', description: 'Missing or invalid Basic credentials.' })
    }
  }
}
