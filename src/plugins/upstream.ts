// Owns the undici Pool to Jelou (or an injected dispatcher), decorates `upstream`, closes it on shutdown.
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
  /** Tests may pass their own dispatcher; the app then does not close it. */
  dispatcher?: Dispatcher
  /** Only when tracing is on. */
  tracer?: AttemptTracer
}

declare module 'fastify' {
  interface FastifyInstance {
    upstream: UpstreamClient & { pool: Dispatcher }
  }
}

export default fp<UpstreamPluginOptions>(async (app, opts) => {
  const pool = opts.dispatcher ?? new Pool(opts.origin, {
    connections: opts.connections,
    connect: { timeout: opts.connectTimeoutMs },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    // Jelou's answer is a short JSON list; a larger one is a fault, not a reason to buffer it all.
    maxResponseSize: MAX_UPSTREAM_ANSWER_BYTES
  })
  const client = createUpstreamClient({ dispatcher: pool, clientId: opts.clientId, clientSecret: opts.clientSecret, timeoutMs: opts.timeoutMs, tracer: opts.tracer })
  app.decorate('upstream', { ...client, pool })
  if (opts.dispatcher === undefined) {
    app.addHook('onClose', async () => { await pool.close() })
  }
}, { name: 'upstream', fastify: '5.x' })
