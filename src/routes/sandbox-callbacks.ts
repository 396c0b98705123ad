// Sandbox mode only: the callback catcher. POST /sandbox/callbacks receives what the service posts and checks its signature; GET shows it (page and data).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { Webhook } from 'standardwebhooks'
import { OPEN_ROUTE, openResponses } from '../schemas/routes.js'

/** The catcher keeps this many, newest first. */
const KEPT = 200

const CSP = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export interface Caught {
  receivedAt: string
  webhookId: string
  type: string
  /** The Standard Webhooks verifier's verdict with the caller secrets this service knows: the caller whose secret matched, or why none did. */
  signature: { valid: true, caller: string } | { valid: false, reason: string }
  body: unknown
}

const CaughtSchema = Type.Object({
  receivedAt: Type.String({ format: 'date-time' }),
  webhookId: Type.String(),
  type: Type.String(),
  signature: Type.Object({ valid: Type.Boolean(), caller: Type.Optional(Type.String()), reason: Type.Optional(Type.String()) }),
  body: Type.Unknown()
})

const escape = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page (caught: readonly Caught[]): string {
  const rows = caught.map((c) => `<tr><td>${escape(c.receivedAt)}</td><td>${escape(c.type)}</td><td class="${c.signature.valid ? 'ok' : 'bad'}">${c.signature.valid ? `valid (${escape(c.signature.caller)})` : `invalid: ${escape(c.signature.reason)}`}</td><td><code>${escape(c.webhookId)}</code></td><td><pre>${escape(JSON.stringify(c.body, null, 2))}</pre></td></tr>`).join('\n')
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="refresh" content="3"><title>Sandbox callbacks</title><link rel="stylesheet" href="/sandbox/callbacks.css"></head>
<body>
<h1>Callbacks the service posted</h1>
<p>Send with <code>"callbackUrl": "http://localhost:3000/sandbox/callbacks"</code>; every change of the message arrives here, signed (Standard Webhooks). Newest first, the last ${KEPT}; this page refreshes itself.</p>
<table><thead><tr><th>Received</th><th>Type</th><th>Signature</th><th>webhook-id</th><th>Body</th></tr></thead>
<tbody>
${rows === '' ? '<tr><td colspan="5">Nothing yet.</td></tr>' : rows}
</tbody></table>
</body>
</html>
`
}

const CSS = 'body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2328}table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:.4rem;text-align:left;vertical-align:top}pre{margin:0;white-space:pre-wrap;font-size:.85rem}.ok{color:#1a7f37}.bad{color:#cf222e}'

function locked (reply: FastifyReply, type: string): FastifyReply {
  return reply.type(type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('cache-control', 'no-store')
}

export const sandboxCallbackRoutes: FastifyPluginAsyncTypebox<{ secrets: ReadonlyArray<{ caller: string, secret: string }> }> = async (app, { secrets }) => {
  const caught: Caught[] = []
  const verifiers = secrets.map(({ caller, secret }) => ({ caller, webhook: new Webhook(secret) }))
  // The signature is over the exact bytes: keep them.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })

  app.post('/sandbox/callbacks', {
    schema: {
      tags: ['sandbox'],
      summary: 'Callback catcher (sandbox)',
      description: 'Sandbox mode only: a receiver for callbacks. Give `http://localhost:3000/sandbox/callbacks` as `callbackUrl`; each callback is checked with the Standard Webhooks verifier and shown on GET /sandbox/callbacks.',
      operationId: 'sandbox_catch_callback',
      response: { 204: { description: 'Caught.', type: 'null' }, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request: FastifyRequest, reply) => {
    const raw = typeof request.body === 'string' ? request.body : ''
    const headers = { 'webhook-id': String(request.headers['webhook-id'] ?? ''), 'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''), 'webhook-signature': String(request.headers['webhook-signature'] ?? '') }
    let signature: Caught['signature'] = { valid: false, reason: verifiers.length === 0 ? 'no callback secret is configured' : 'no configured secret verifies it' }
    for (const { caller, webhook } of verifiers) {
      try {
        webhook.verify(raw, headers)
        signature = { valid: true, caller }
        break
      } catch (error) {
        signature = { valid: false, reason: (error as Error).message }
      }
    }
    let body: unknown = raw
    try { body = JSON.parse(raw) } catch { /* shown as text */ }
    caught.unshift({ receivedAt: new Date().toISOString(), webhookId: headers['webhook-id'], type: typeof (body as { type?: unknown })?.type === 'string' ? (body as { type: string }).type : '', signature, body })
    caught.length = Math.min(caught.length, KEPT)
    return await reply.code(204).send()
  })

  app.get('/sandbox/callbacks', {
    schema: {
      tags: ['sandbox'],
      summary: 'Callbacks caught (HTML page)',
      description: 'Sandbox mode only: every callback posted to /sandbox/callbacks, newest first, with its signature check. Open it in a browser.',
      operationId: 'sandbox_callbacks_page',
      produces: ['text/html'],
      response: { 200: { description: 'The page (HTML).', type: 'string' }, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => locked(reply, 'text/html; charset=utf-8').header('x-request-id', request.id).send(page(caught)))

  app.get('/sandbox/callbacks.json', {
    schema: {
      tags: ['sandbox'],
      summary: 'Callbacks caught, as data',
      description: 'Sandbox mode only: what the page shows.',
      operationId: 'sandbox_callbacks_data',
      response: { 200: Type.Object({ callbacks: Type.Array(CaughtSchema) }), ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => {
    locked(reply, 'application/json; charset=utf-8').header('x-request-id', request.id)
    return { callbacks: caught }
  })

  app.get('/sandbox/callbacks.css', { schema: { hide: true } }, async (_request, reply) => locked(reply, 'text/css; charset=utf-8').send(CSS))
}
