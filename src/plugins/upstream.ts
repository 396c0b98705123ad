// Owns the undici Pool to Jelou, decorates `upstream`, closes it on shutdown.
import fp from 'fastify-plugin'
import { Pool, type Dispatcher } from 'undici'
import { createUpstreamClient, type AttemptTracer, type UpstreamClient } from '../upstream/client.js'
import { MAX_UPSTREAM_ANSWER_BYTES } from '../upstream/schema.js'

export interface UpstreamPluginOptions {
  origin: string
  clientId: string
  clientSecret: string
  timeoutMs: number
  connectTimeoutMs: number
  connections: number
  /** Only when tracing is on. */
  tracer?: AttemptTracer
}

declare module 'fastify' {
  interface FastifyInstance {
    upstream: UpstreamClient & { pool: Dispatcher }
  }
}

export default fp<UpstreamPluginOptions>(async (app, opts) => {
  const pool = new Pool(opts.origin, {
    connections: opts.connections,
    connect: { timeout: opts.connectTimeoutMs },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    // Jelou's answer is a short JSON list; a larger one is a fault, not a reason to buffer it all.
    maxResponseSize: MAX_UPSTREAM_ANSWER_BYTES
  })
  const client = createUpstreamClient({ dispatcher: pool, clientId: opts.clientId, clientSecret: opts.clientSecret, timeoutMs: opts.timeoutMs, tracer: opts.tracer })
  app.decorate('upstream', { ...client, pool })
  app.addHook('onClose', async () => { await pool.close() })
}, { name: 'upstream', fastify: '5.x' })
