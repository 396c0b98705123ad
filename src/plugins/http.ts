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
    parseJson(request, text, (error, value) => {
      if ((error as { code?: string } | null)?.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        // Fastify drops the parser's message; parse again (failure path only) to learn where it stopped.
        let message = 'holds a forbidden key (__proto__ or constructor.prototype)'
        try {
          JSON.parse(text)
        } catch (syntax) {
          message = jsonErrorMessage(syntax as SyntaxError, text)
        }
        done(validationFailed([{ in: 'body', path: '/', rule: 'json', message }]), undefined)
        return
      }
      done(error, value)
    })
  })

  // While closing, answers in flight tell keep-alive clients to hang up (see sendAnswer), so
  // close() does not wait for their idle sockets to time out.
  app.decorate('closing', false)
  app.addHook('preClose', (done) => {
    app.closing = true
    done()
  })
}, { name: 'http', fastify: '5.x' })

/**
 * Where JSON parsing stopped, as line, column and character position. Node's own wording is kept
 * only when it holds no quoted input ("Expected ',' or '}' after property value"): newer Node
 * versions quote the text around the error, which could hold a phone number.
 */
export function jsonErrorMessage (error: SyntaxError, text: string): string {
  const at = /at position (\d+)/.exec(error.message)
  const position = at === null ? text.length : Number(at[1])
  const before = text.slice(0, position)
  const line = before.split('\n').length
  const column = position - before.lastIndexOf('\n')
  const what = /^(Expected [^"]*?) in JSON at position/.exec(error.message)?.[1] ?? (at === null ? 'the JSON ends early' : 'unexpected character')
  return `is not valid JSON: ${what.charAt(0).toLowerCase()}${what.slice(1)} at line ${line}, column ${column} (offset ${position})`
}

declare module 'fastify' {
  interface FastifyInstance {
    /** True once the server has started closing. */
    closing: boolean
  }
}
