// Prometheus metrics at /metrics (prom-client): sends by outcome, upstream latency, refusals, process and HTTP.
import type { CallbackObserver } from '../callbacks/callbacks.js'
import fp from 'fastify-plugin'
import { OPEN_ROUTE, openResponses } from '../schemas/routes.js'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { CatalogueObserver } from '../catalogue/catalogue.js'
import { FastHistogram, type Series } from '../histogram.js'
import type { SendObserver } from '../send.js'

export interface Metrics extends SendObserver, CatalogueObserver {
  registry: Registry
  validationFailure: (rule: string) => void
  refusal: (code: string) => void
  /** A message reached this status (SPEC §18). */
  messageStatus: (status: string) => void
  /** Status events by outcome: stored, repeated, refused, unauthorized. */
  statusEvents: (outcome: string, count: number) => void
  /** Status lookups by where the answer came from: store, refreshed, stale. */
  statusLookup: (source: string) => void
  /** Resolutions of outcome-unknown sends: found, resent, unresolved, ambiguous, unresolvable. */
  resolution: (outcome: string) => void
  /** Scheduled sends by outcome: scheduled, sent, cancelled, expired, failed. */
  scheduled: (outcome: string) => void
  /** Callback POSTs by outcome and attempt, and callbacks that could not be queued. */
  callbacks: CallbackObserver
  /** Report the memory idempotency store's size and effective replay window at each scrape (not with Redis: its keys belong to every replica). */
  idempotencyKeys: (size: () => number, replayWindowMs: () => number) => void
  /** The memory store's drop hook: counts each unexpired answer dropped to make room, and logs at most once a minute. */
  idempotencyDropped: (log: { warn: (object: object, message: string) => void }) => (ageMs: number) => void
  /** Reads the catalogue's size and age at each scrape. */
  watchCatalogue: (read: () => CatalogueReading) => void
}

export interface CatalogueReading {
  /** Templates per configured bot (file-declared ones included). */
  templates: Map<string, number>
  /** Epoch ms of each configured bot's last good Jelou list; null if never. */
  loadedAt: Map<string, number | null>
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
  const statuses = new Counter({ name: 'hsm_message_status_total', help: 'Messages that reached a status: accepted on each recorded send, the others from events and polls.', labelNames: ['status'], registers: [registry] })
  const events = new Counter({ name: 'hsm_status_events_total', help: 'Status events received from Jelou, by outcome: stored (news), repeated (nothing new), refused (unreadable), unauthorized.', labelNames: ['outcome'], registers: [registry] })
  const lookups = new Counter({ name: 'hsm_status_lookups_total', help: 'Status lookups by source of the answer: store, refreshed (from Jelou), stale (Jelou could not answer).', labelNames: ['source'], registers: [registry] })
  const resolutions = new Counter({ name: 'hsm_resolutions_total', help: 'Same-key retries of outcome-unknown sends, by outcome: found, resent, unresolved (not yet), ambiguous, unresolvable (final).', labelNames: ['outcome'], registers: [registry] })
  const deliveries = new Counter({ name: 'hsm_callback_deliveries_total', help: 'Callback POSTs to the calling services, by outcome (delivered: 2xx; error: anything else) and attempt of the delivery job (1, 2, 3, 4+).', labelNames: ['outcome', 'attempt'], registers: [registry] })
  const notQueued = new Counter({ name: 'hsm_callbacks_not_queued_total', help: 'Callbacks the job queue refused (full or closing): each waits for its message\'s next change.', registers: [registry] })
  const schedules = new Counter({ name: 'hsm_scheduled_sends_total', help: 'Scheduled sends by outcome: scheduled (taken), sent, cancelled, expired (due too late), failed (refused at sendAt).', labelNames: ['outcome'], registers: [registry] })
  const dropped = new Counter({ name: 'hsm_idempotency_dropped_total', help: 'Kept answers the memory idempotency store dropped before IDEMPOTENCY_TTL_SECONDS to make room (a same-key retry after that sends again).', registers: [registry] })
  const accepted = statuses.labels({ status: 'accepted' })
  const catalogueFailures = new Counter({ name: 'hsm_catalogue_refresh_failures_total', help: 'Failed loads of a bot\'s Jelou template list (the last good catalogue stays in force).', labelNames: ['bot'], registers: [registry] })
  const truncations = new Counter({ name: 'hsm_catalogue_list_truncated_total', help: 'Loads of a bot\'s Jelou template list cut short by the page cap (templates past it are missing).', labelNames: ['bot'], registers: [registry] })
  const unknownSends = new Counter({ name: 'hsm_catalogue_unknown_sends_total', help: 'Sends to a template the catalogue does not know (sent anyway unless TEMPLATES_STRICT), by kind route.', labelNames: ['kind'], registers: [registry] })
  const catalogueRefusals = new Counter({ name: 'hsm_catalogue_refusals_total', help: 'Sends the catalogue refused before Jelou, by reason (the error code).', labelNames: ['reason'], registers: [registry] })
  let readCatalogue: (() => CatalogueReading) | null = null
  // Bots are configured (JELOU_BOT_ID, TEMPLATES_BOT_IDS), so the `bot` label is bounded.
  const size = new Gauge({
    name: 'hsm_catalogue_templates',
    help: 'Templates in the catalogue, by bot.',
    labelNames: ['bot'],
    registers: [],
    collect () {
      if (readCatalogue === null) return
      for (const [bot, count] of readCatalogue().templates) this.set({ bot }, count)
    }
  })
  const age = new Gauge({
    name: 'hsm_catalogue_age_seconds',
    help: 'Seconds since a bot\'s Jelou template list last loaded; -1 while it never has.',
    labelNames: ['bot'],
    registers: [],
    collect () {
      if (readCatalogue === null) return
      const now = Date.now()
      for (const [bot, at] of readCatalogue().loadedAt) this.set({ bot }, at === null ? -1 : (now - at) / 1000)
    }
  })
  registry.registerMetric(size)
  registry.registerMetric(age)
  // Labelled children are looked up once per label set, not hashed again on every send.
  const sendChildren = new Map<string, { inc: () => void }>()
  const unknownChildren = new Map<string, { inc: () => void }>()
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
    refreshFailed (bot) { catalogueFailures.inc({ bot }) },
    listTruncated (bot) { truncations.inc({ bot }) },
    unknownSend (kind) {
      let child = unknownChildren.get(kind)
      if (child === undefined) {
        child = unknownSends.labels({ kind })
        unknownChildren.set(kind, child)
      }
      child.inc()
    },
    refused (code) { catalogueRefusals.inc({ reason: code }) },
    watchCatalogue (read) { readCatalogue = read },
    validationFailure (rule) { validation.inc({ rule }) },
    refusal (code) {
      refusals.inc({ code })
      const limit = RATE_LIMITS[code]
      if (limit !== undefined) rateLimited.inc({ limit })
    },
    messageStatus (status) {
      if (status === 'accepted') accepted.inc()
      else statuses.inc({ status })
    },
    statusEvents (outcome, count) { if (count > 0) events.inc({ outcome }, count) },
    statusLookup (source) { lookups.inc({ source }) },
    resolution (outcome) { resolutions.inc({ outcome }) },
    scheduled (outcome) { schedules.inc({ outcome }) },
    callbacks: {
      delivery (outcome, attempt) { deliveries.inc({ outcome, attempt: attempt >= 4 ? '4+' : String(attempt) }) },
      notQueued () { notQueued.inc() }
    },
    idempotencyKeys (size, replayWindowMs) {
      // eslint-disable-next-line no-new -- a Gauge registers itself; collect() reads the size at scrape time.
      new Gauge({ name: 'hsm_idempotency_keys', help: 'Idempotency keys held by this process (memory store): sends in flight and answers kept for replay. Bounded by IDEMPOTENCY_MAX_KEYS.', registers: [registry], collect () { this.set(size()) } })
      // eslint-disable-next-line no-new -- as above.
      new Gauge({
        name: 'hsm_idempotency_replay_window_seconds',
        help: 'How long answers really stay replayable in the memory store: IDEMPOTENCY_TTL_SECONDS, or the age of the last answer dropped to make room within that time.',
        registers: [registry],
        collect () { this.set(replayWindowMs() / 1000) }
      })
    },
    idempotencyDropped (log) {
      let loggedAt = 0
      return (ageMs) => {
        dropped.inc()
        const now = Date.now()
        if (now - loggedAt < 60000) return
        loggedAt = now
        log.warn({ ageSeconds: Math.round(ageMs / 1000) }, 'idempotency store full: dropping unexpired answers, a same-key retry older than ageSeconds sends again (raise IDEMPOTENCY_MAX_KEYS or use Redis)')
      }
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
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      description: 'Prometheus text format: hsm_sends_total{kind,outcome,code}, hsm_upstream_duration_seconds, hsm_validation_failures_total{rule}, hsm_idempotent_replays_total, hsm_rate_limit_refusals_total{limit}, hsm_refusals_total{code}, hsm_message_status_total{status}, hsm_status_events_total{outcome}, hsm_status_lookups_total{source}, hsm_resolutions_total{outcome}, hsm_idempotency_keys (memory store), hsm_catalogue_templates{bot}, hsm_catalogue_age_seconds{bot}, hsm_catalogue_refresh_failures_total{bot}, hsm_catalogue_list_truncated_total{bot}, hsm_catalogue_refusals_total{reason}, hsm_catalogue_unknown_sends_total{kind}, http_request_duration_seconds, and the process metrics.',
      produces: ['text/plain'],
      response: {
        200: { description: 'Prometheus text exposition format 0.0.4.', type: 'string' },
        ...openResponses
      },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => {
    reply.header('x-request-id', request.id)
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}, { name: 'metrics', fastify: '5.x' })
