// OpenTelemetry, imported by server.ts only when config.tracing is set: request spans, one span per Jelou attempt, trace ids in log lines.
import { readFileSync } from 'node:fs'
import { DiagLogLevel, context, type Attributes, defaultTextMapSetter, diag, propagation, trace, SpanKind, SpanStatusCode, type Context, type Span, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import { BatchSpanProcessor, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import type { FastifyPluginCallback, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { TracingConfig } from './config.js'
import { outcomeOf } from './send.js'
import type { AttemptTracer, SendInput, SendOutcome } from './upstream/client.js'
import { upstreamPath } from './upstream/client.js'

export interface Tracing {
  /** Registered first in buildApp: @fastify/otel's server span per request, the active context of everything the request runs. */
  plugin: FastifyPluginCallback
  /** pino mixin: `trace_id`, `span_id` and `trace_flags` of the active span on every line written inside a request. */
  logMixin: () => Record<string, string>
  /** One CLIENT span per attempt of a send to Jelou (src/upstream/client.ts). */
  attempts: AttemptTracer
  /** SDK warnings and errors (a collector that cannot be reached, a rejected export) go to this logger. */
  reportTo: (logger: { warn: (object: object, message: string) => void }) => void
  /** Exports what is buffered (tests, and before exit). */
  forceFlush: () => Promise<void>
  /** Exports what is buffered and stops: server.ts calls it after the app has closed. */
  shutdown: () => Promise<void>
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
/** Probes and docs are polled constantly and tell nothing about a send: no spans for them. */
const UNTRACED = /^\/(?:health|ready|metrics|docs)(?:[/?]|$)/
/** The send POST, traced by the sender itself (see `attempts`); undici's instrumentation traces every other call. */
const SEND_PATH = new RegExp(`^${upstreamPath('BOT').replace('BOT', '[^/?]+')}$`)
const URL_TEMPLATE = upstreamPath('{botId}').replace(encodeURIComponent('{botId}'), '{botId}')

/**
 * W3C trace context read from callers, but written on outgoing calls (all of them go to Jelou,
 * a third party) only when JELOU_SEND_TRACEPARENT=true.
 */
class CallerTraceContext implements TextMapPropagator {
  private readonly w3c = new W3CTraceContextPropagator()
  constructor (private readonly sendOut: boolean) {}
  inject (ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    if (this.sendOut) this.w3c.inject(ctx, carrier, setter)
  }

  extract (ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this.w3c.extract(ctx, carrier, getter)
  }

  fields (): string[] { return this.w3c.fields() }
}

export async function startTracing (config: TracingConfig): Promise<Tracing> {
  const exporter: SpanExporter = config.protocol === 'http/json'
    ? new JsonExporter({ url: config.endpoint })
    : new ProtobufExporter({ url: config.endpoint })
  // OTEL_RESOURCE_ATTRIBUTES (and OTEL_SERVICE_NAME) win over the package's name and version.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': version }))
    .merge(detectResources({ detectors: [envDetector] }))
  // Sampler (OTEL_TRACES_SAMPLER, default parent-based always-on) and batching (OTEL_BSP_*) come from the SDK's own env reading.
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] })
  const propagator = new CallerTraceContext(config.sendTraceparent)
  provider.register({ propagator })

  const fastifyOtel = new FastifyOtelInstrumentation({
    // One server span per request: no span per hook or handler (each would cost CPU on every send).
    instrumentHooks: false,
    instrumentHandler: false,
    ignorePaths: (route: { url?: string }) => UNTRACED.test(route.url ?? ''),
    // An exception's message may quote the request (V8's JSON errors echo the body); the code is enough.
    recordExceptions: false,
    requestHook: (span: Span, request: FastifyRequest) => {
      // The query string is the caller's: keep only the path (the raw route's query holds botId and country).
      span.setAttribute('url.path', request.url.split('?', 1)[0] as string)
      keepStatusCodeOnly(span)
    }
  })
  const undici = new UndiciInstrumentation({
    ignoreRequestHook: (request) => request.method === 'POST' && SEND_PATH.test(request.path),
    // Never the query string (it could carry a caller's values); headers are not recorded by default.
    startSpanHook: (request) => ({ 'url.full': `${request.origin}${request.path.split('?', 1)[0] as string}`, 'url.query': '' })
  })

  const tracer = provider.getTracer('jelou-hsm-proxy', version)
  // Attributes are set in as few calls as possible: each call copies and checks what it is given.
  const attempts: AttemptTracer = {
    start (input: SendInput, attempt: number, headers: Record<string, string>) {
      const parentContext = context.active()
      const parent = trace.getSpan(parentContext)
      const kind = input.kind ?? 'unknown'
      const template = input.body.elementName
      const span = tracer.startSpan(`POST ${URL_TEMPLATE}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          'hsm.kind': kind,
          'hsm.template': template,
          'hsm.attempt': attempt,
          'http.request.method': 'POST',
          'http.request.resend_count': attempt - 1,
          'url.template': URL_TEMPLATE
        }
      }, parentContext)
      // The context with this span is only needed to write traceparent, which is off by default.
      if (config.sendTraceparent) propagator.inject(trace.setSpan(parentContext, span), headers, defaultTextMapSetter)
      return {
        end (outcome: SendOutcome) {
          const sent = outcome.ok
          const result: Attributes = {
            'hsm.outcome': sent ? 'sent' : outcomeOf(outcome.error.code),
            'hsm.code': sent ? 'OK' : outcome.error.code
          }
          if (outcome.upstreamStatus !== null) {
            result['hsm.upstream_status'] = outcome.upstreamStatus
            result['http.response.status_code'] = outcome.upstreamStatus
          }
          if (!sent) {
            result['error.type'] = outcome.error.code
            span.setStatus({ code: SpanStatusCode.ERROR })
          }
          span.setAttributes(result)
          span.end()
          // The request span carries the send's summary; the last attempt's answer is the send's.
          if (parent === undefined) return
          const summary: Attributes = {
            'hsm.kind': kind,
            'hsm.template': template,
            'hsm.outcome': result['hsm.outcome'],
            'hsm.code': result['hsm.code'],
            'hsm.attempts': outcome.attempts
          }
          if (outcome.upstreamStatus !== null) summary['hsm.upstream_status'] = outcome.upstreamStatus
          parent.setAttributes(summary)
        }
      }
    }
  }

  const plugin = fp((app, _options, done) => {
    app.register(fastifyOtel.plugin())
    app.addHook('onError', (request, _reply, error, next) => {
      const span = request.opentelemetry().span
      if (span !== null) span.setAttribute('error.type', (error as { code?: string }).code ?? error.name)
      next()
    })
    done()
  }, { name: 'tracing', fastify: '5.x' })

  return {
    plugin,
    logMixin (): Record<string, string> {
      const span = trace.getSpan(context.active())
      if (span === undefined) return {}
      const { traceId, spanId, traceFlags } = span.spanContext()
      return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags.toString(16).padStart(2, '0') }
    },
    attempts,
    reportTo (logger) {
      const report = (message: string) => { logger.warn({ otel: message }, 'opentelemetry problem') }
      const ignore = () => {}
      diag.setLogger({ error: report, warn: report, info: ignore, debug: ignore, verbose: ignore }, DiagLogLevel.WARN)
    },
    forceFlush: async () => { await provider.forceFlush() },
    shutdown: async () => {
      fastifyOtel.disable()
      undici.disable()
      await provider.shutdown()
      // Unregister the globals, so a later startTracing in the same process (tests) starts clean.
      diag.disable()
      trace.disable()
      context.disable()
      propagation.disable()
    }
  }
}

/** The status keeps ERROR but not @fastify/otel's message (the raw error's text); `error.type` names the code. */
function keepStatusCodeOnly (span: Span): void {
  const setStatus = span.setStatus.bind(span)
  span.setStatus = (status) => setStatus({ code: status.code })
}
