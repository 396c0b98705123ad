// HTTP details for every route: strict JSON bodies, and the closing flag that sendAnswer reads.
import fp from 'fastify-plugin'
import { validationFailed } from '../errors.js'

export default fp(async (app) => {
  // JSON only: a text/plain body is a 415, not a string for the schema to puzzle over.
  app.removeContentTypeParser('text/plain')
  // Strict UTF-8: Fastify's parser would turn invalid bytes into U+FFFD and send them to a customer.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = utf8.decode(body as Buffer)
    } catch {
      done(validationFailed([{ in: 'body', path: '/', rule: 'encoding', message: 'is not valid UTF-8' }]), undefined)
      return
    }
    parseJson(request, text, done)
  })

  // While closing, answers in flight tell keep-alive clients to hang up (see sendAnswer), so
  // close() does not wait for their idle sockets to time out.
  app.decorate('closing', false)
  app.addHook('preClose', (done) => {
    app.closing = true
    done()
  })
}, { name: 'http', fastify: '5.x' })

declare module 'fastify' {
  interface FastifyInstance {
    /** True once the server has started closing. */
    closing: boolean
  }
}
