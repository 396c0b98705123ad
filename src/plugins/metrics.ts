// Prometheus metrics at /metrics (prom-client): sends by outcome, upstream latency, refusals, process and HTTP.
import fp from 'fastify-plugin'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { FastHistogram, type Series } from '../histogram.js'
import type { SendObserver } from '../send.js'

export interface Metrics extends SendObserver {
  registry: Registry
  validationFailure: (rule: string) => void
  refusal: (code: string) => void
  /** Report the memory idempotency store's size at each scrape (not with Redis: its keys belong to every replica). */
  idempotencyKeys: (size: () => number) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** Codes of refusals that are rate limits, by which limit refused. */
const RATE_LIMITS: Record<string, string> = { RATE_LIMITED: 'caller', RECIPIENT_RATE_LIMITED: 'recipient' }

/** One registry per app (never the global one), so two apps in one process keep their own counts. */
export function createMetrics (): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // Every label below is bounded: kinds and codes come from tables, rules from the schema keywords.
  const sends = new Counter({ name: 'hsm_sends_total', help: 'Send attempts that reached the send pipeline, by kind, outcome and error code (OK on success).', labelNames: ['kind', 'outcome', 'code'], registers: [registry] })
  const upstream = new FastHistogram('hsm_upstream_duration_seconds', 'Time from forwarding to Jelou to its answer, retries included.', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registry).series('')
  const validation = new Counter({ name: 'hsm_validation_failures_total', help: 'Requests refused by a validation rule, by rule.', labelNames: ['rule'], registers: [registry] })
  const replays = new Counter({ name: 'hsm_idempotent_replays_total', help: 'Answers replayed for a repeated Idempotency-Key.', labelNames: ['kind'], registers: [registry] })
  const rateLimited = new Counter({ name: 'hsm_rate_limit_refusals_total', help: 'Requests refused by a rate limit: caller or recipient.', labelNames: ['limit'], registers: [registry] })
  const refusals = new Counter({ name: 'hsm_refusals_total', help: 'Requests refused before any send, by error code.', labelNames: ['code'], registers: [registry] })
  // Labelled children are looked up once per label set, not hashed again on every send.
  const sendChildren = new Map<string, { inc: () => void }>()
  return {
    registry,
    outcome (kind, outcome, code) {
      const key = `${kind}|${outcome}|${code}`
      let child = sendChildren.get(key)
      if (child === undefined) {
        child = sends.labels({ kind, outcome, code })
        sendChildren.set(key, child)
      }
      child.inc()
      if (outcome === 'replayed') replays.inc({ kind })
    },
    upstreamSeconds (seconds) { upstream.observe(seconds) },
    validationFailure (rule) { validation.inc({ rule }) },
    refusal (code) {
      refusals.inc({ code })
      const limit = RATE_LIMITS[code]
      if (limit !== undefined) rateLimited.inc({ limit })
    },
    idempotencyKeys (size) {
      // eslint-disable-next-line no-new -- a Gauge registers itself; collect() reads the size at scrape time.
      new Gauge({ name: 'hsm_idempotency_keys', help: 'Idempotency keys held by this process (memory store): sends in flight and answers kept for replay. Bounded by IDEMPOTENCY_MAX_KEYS.', registers: [registry], collect () { this.set(size()) } })
    }
  }
}

export default fp<{ metrics: Metrics }>(async (app, { metrics }) => {
  app.decorate('metrics', metrics)
  const http = new FastHistogram('http_request_duration_seconds', 'HTTP answers by method, route pattern and status.',
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], metrics.registry)
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const key = `${request.method} ${route} ${reply.statusCode}`
    const series: Series = http.find(key) ?? http.series(key, { method: request.method, route, status_code: reply.statusCode })
    series.observe(reply.elapsedTime / 1000)
    done()
  })
  app.get('/metrics', {
    schema: {
      tags: ['health'],
      summary: 'Prometheus metrics',
      description: 'Prometheus text format: hsm_sends_total{kind,outcome,code}, hsm_upstream_duration_seconds, hsm_validation_failures_total{rule}, hsm_idempotent_replays_total, hsm_rate_limit_refusals_total{limit}, hsm_refusals_total{code}, hsm_idempotency_keys (memory store), http_request_duration_seconds, and the process metrics.',
      produces: ['text/plain']
    }
  }, async (_request, reply) => {
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}, { name: 'metrics', fastify: '5.x' })
