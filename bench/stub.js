// Benchmark upstream stub: answers POST /v2/whatsapp/:botId/hsm like Jelou, optionally after a delay;
// serves the template list the service's catalogue loads (so every send runs the catalogue's full
// checks), and takes OTLP trace exports (POST /v1/traces) for the traced service.
import { randomUUID } from 'node:crypto'
import http from 'node:http'

const delayMs = Number(process.env.STUB_DELAY_MS ?? process.argv[2] ?? 0)
const PATH = /^\/v2\/whatsapp\/[^/]+\/hsm$/
const LIST = /^\/v1\/bots\/[^/]+\/templates(\?|$)/
const item = (elementName, labels) => ({
  elementName,
  template: 'text',
  language: 'ES',
  status: 'APPROVED',
  category: 'UTILITY',
  params: labels.map((label, i) => ({ label, param: String(i + 1) })),
  paramsNumber: labels.length
})
// The templates the benchmark sends: the text route's and the carousel example's.
const TEMPLATES = JSON.stringify({ data: [item('order_update', ['customerName', 'orderId']), item('weekly_offers', ['customerName'])] })

function answer (res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && LIST.test(req.url)) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(TEMPLATES) })
    res.end(TEMPLATES)
    return
  }
  if (req.method === 'POST' && req.url === '/v1/traces') {
    req.resume()
    req.on('end', () => { res.writeHead(200, { 'content-length': 0 }).end() })
    return
  }
  if (req.method !== 'POST' || !PATH.test(req.url)) {
    req.resume()
    answer(res, 404, { message: 'not found' })
    return
  }
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    let destination
    try {
      destination = JSON.parse(Buffer.concat(chunks).toString('utf8')).destinations[0]
    } catch {
      answer(res, 400, { message: 'unreadable body' })
      return
    }
    const reply = () => answer(res, 200, [{ id: randomUUID(), destination }])
    if (delayMs > 0) setTimeout(reply, delayMs)
    else reply()
  })
})

// Keep connections open for the whole benchmark; callers reuse them.
server.keepAliveTimeout = 120_000
server.headersTimeout = 121_000

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, delayMs })}\n`)
})

process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
