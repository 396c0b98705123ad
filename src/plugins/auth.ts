// Callers: with API_KEYS set, every /v1 request names its key (Bearer or X-API-Key), compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { problem } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key's name, or `anonymous` when the service runs without keys. */
    caller: string
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest()

function presentedKey (request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization
  if (typeof authorization === 'string' && /^bearer /i.test(authorization)) return authorization.slice(7).trim()
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' ? apiKey : undefined
}

const auth: FastifyPluginAsync<{ apiKeys: ReadonlyArray<{ name: string, key: string }> }> = async (app, { apiKeys }) => {
  app.decorateRequest('caller', 'anonymous')
  if (apiKeys.length === 0) return
  // Hashing first makes every comparison the same length, so time says nothing about the key.
  const known = apiKeys.map(({ name, key }) => ({ name, digest: digest(key) }))
  app.addHook('onRequest', async (request) => {
    const key = presentedKey(request)
    if (key === undefined || key === '') {
      throw problem('UNAUTHORIZED', 'Send your API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".')
    }
    const presented = digest(key)
    let caller: string | undefined
    for (const entry of known) {
      if (timingSafeEqual(presented, entry.digest)) caller = entry.name
    }
    if (caller === undefined) throw problem('UNAUTHORIZED', 'The API key is not known.')
    request.caller = caller
  })
}

export default fp(auth, { name: 'auth', fastify: '5.x' })
