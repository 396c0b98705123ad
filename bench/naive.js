// Benchmark comparison: the hand-written Express 5 + axios proxy a team would write for the text-route job.
import http from 'node:http'
import axios from 'axios'
import express from 'express'

const port = Number(process.env.PORT ?? 0)
const upstreamUrl = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:4010'
const botId = process.env.BOT_ID ?? 'bot-123'

const client = axios.create({
  baseURL: upstreamUrl,
  httpAgent: new http.Agent({ keepAlive: true }),
  auth: { username: 'bench', password: 'bench' },
  timeout: 10_000
})

const FIELDS = new Set(['to', 'template', 'language', 'params'])

// Hand-written checks for the same core fields the baseline's schema covers.
function invalid (body) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be an object'
  for (const key of Object.keys(body)) if (!FIELDS.has(key)) return `unknown field ${key}`
  if (typeof body.to !== 'string' || body.to.length < 1 || body.to.length > 64) return 'to is required'
  if (typeof body.template !== 'string' || !/^[a-z0-9_]{1,512}$/.test(body.template)) return 'template is invalid'
  if (body.language !== undefined && !['en', 'es', 'pt'].includes(body.language)) return 'language is invalid'
  if (body.params !== undefined) {
    if (!Array.isArray(body.params) || body.params.length > 100) return 'params must be an array'
    for (const p of body.params) {
      if (typeof p !== 'string' || p.length < 1 || p.length > 1024 || /[\n\r\t]/.test(p)) return 'params are invalid'
    }
  }
  return null
}

const app = express()
app.use(express.json())

app.post('/v1/messages/text', async (req, res) => {
  const started = Date.now()
  const problem = invalid(req.body)
  if (problem !== null) {
    res.status(400).json({ message: problem })
    return
  }
  const { to, template, language, params } = req.body
  const destination = to.replace(/\D/g, '')
  try {
    const response = await client.post(`/v2/whatsapp/${encodeURIComponent(botId)}/hsm`, {
      elementName: template, destinations: [destination], type: 'text', language, parameters: params
    })
    const messageId = response.data[0].id
    console.log(JSON.stringify({
      level: 'info',
      time: Date.now(),
      kind: 'text',
      template,
      to: `${destination.slice(0, 4)}******${destination.slice(-2)}`,
      paramCount: params?.length ?? 0,
      upstreamStatus: response.status,
      messageId,
      durationMs: Date.now() - started,
      outcome: 'sent'
    }))
    res.status(202).json({ messageId, to: destination })
  } catch (error) {
    console.log(JSON.stringify({ level: 'error', time: Date.now(), outcome: 'failed', message: error.message }))
    res.status(502).json({ message: 'upstream error' })
  }
})

const server = app.listen(port, '127.0.0.1')

process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
