// Benchmark upstream stub: answers POST /v2/whatsapp/:botId/hsm like Jelou, optionally after a delay.
import { randomUUID } from 'node:crypto'
import http from 'node:http'

const delayMs = Number(process.env.STUB_DELAY_MS ?? process.argv[2] ?? 0)
const PATH = /^\/v2\/whatsapp\/[^/]+\/hsm$/

function answer (res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const server = http.createServer((req, res) => {
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
