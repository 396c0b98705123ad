// Sandbox mode only: GET /sandbox, the inbox page showing what the sandbox received as phone-style bubbles.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { inboxEntry, InboxSchema } from '../preview/inbox.js'
import { INBOX_CSP, INBOX_CSS, INBOX_HTML, INBOX_ICON, INBOX_SCRIPT } from '../preview/inbox-page.js'
import type { TemplateLookup } from '../preview/render.js'
import type { Sandbox } from '../sandbox/server.js'
import { OPEN_ROUTE, openResponses } from '../schemas/routes.js'

/** Headers every inbox answer carries: the page's CSP, no sniffing, no referrer to the media hosts. */
function locked (reply: FastifyReply, type: string): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', INBOX_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
}

export const inboxRoutes: FastifyPluginAsyncTypebox<{ sandbox: Pick<Sandbox, 'messages' | 'notifications' | 'replies'>, lookupTemplate: TemplateLookup }> = async (app, { sandbox, lookupTemplate }) => {
  app.get('/sandbox', {
    schema: {
      tags: ['sandbox'],
      summary: 'Sandbox inbox (HTML page)',
      description: 'Sandbox mode only: a page showing what the sandbox received as the recipient\'s phone would (header, filled body, buttons, cards, masked recipient, time, delivery ticks), newest first, refreshing by itself. Open it in a browser.',
      operationId: 'sandbox_inbox',
      produces: ['text/html'],
      response: { 200: { description: 'The inbox page (HTML).', type: 'string' }, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => locked(reply, 'text/html; charset=utf-8').header('x-request-id', request.id).send(INBOX_HTML))

  app.get('/sandbox/inbox.json', {
    schema: {
      tags: ['sandbox'],
      summary: 'Sandbox inbox as data',
      description: 'Sandbox mode only: what the page draws. Each received request with its masked recipient, the sandbox\'s answer and the rendered preview, newest first.',
      operationId: 'sandbox_inbox_data',
      response: { 200: InboxSchema, ...openResponses },
      'x-answers': OPEN_ROUTE
    }
  }, async (request, reply) => {
    locked(reply, 'application/json; charset=utf-8').header('x-request-id', request.id)
    // Each accepted message's delivery status, as the sandbox's delivery timer moves it (SPEC §18).
    const delivery = new Map(sandbox.notifications().map((n) => [n.id, n.sentStatus]))
    const replies = sandbox.replies()
    return {
      messages: sandbox.messages().map((record) => record.messageId === undefined
        ? inboxEntry(record, lookupTemplate)
        : inboxEntry({ ...record, sentStatus: delivery.get(record.messageId), replies: replies.get(record.messageId) }, lookupTemplate))
    }
  })

  app.get('/sandbox/inbox.js', { schema: { hide: true } }, async (_request, reply) => locked(reply, 'text/javascript; charset=utf-8').send(INBOX_SCRIPT))
  app.get('/sandbox/inbox.css', { schema: { hide: true } }, async (_request, reply) => locked(reply, 'text/css; charset=utf-8').send(INBOX_CSS))
  app.get('/sandbox/inbox.svg', { schema: { hide: true } }, async (_request, reply) => locked(reply, 'image/svg+xml').send(INBOX_ICON))
}
