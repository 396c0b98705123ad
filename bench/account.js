// A generated Jelou account on a stand-in (this process, loopback): the template list, paginated
// (100 a page, with totals), and Jelou's send endpoint; and the sends the benches make to the
// service. Used by bench/catalogue.js and bench/instructions.js.
import { once } from 'node:events'
import http from 'node:http'

export function generate (n) {
  return Array.from({ length: n }, (_, i) => {
    const vars = 1 + (i % 4)
    return {
      elementName: `tpl_${String(i).padStart(4, '0')}`,
      displayName: `Template ${i}`,
      template: `Hola ${Array.from({ length: vars }, (_, j) => `{{${j + 1}}}`).join(', ')}: tu pedido está en camino.`,
      params: Array.from({ length: vars }, (_, j) => ({ label: ['nombre', 'pedido', 'fecha', 'monto'][j], param: String(j + 1) })),
      paramsNumber: vars,
      language: i % 3 === 0 ? 'EN' : 'ES',
      status: 'APPROVED',
      category: i % 10 === 0 ? 'MARKETING' : 'UTILITY',
      createdAt: '2025-01-10T15:00:00.000Z',
      updatedAt: '2025-01-12T09:30:00.000Z'
    }
  })
}

export async function startStandIn () {
  let items = []
  let sends = 0
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    if (req.method === 'GET' && /^\/v1\/bots\/[^/]+\/templates$/.test(url.pathname)) {
      const page = Number(url.searchParams.get('page') ?? 1)
      const limit = Number(url.searchParams.get('limit') ?? 100)
      const body = JSON.stringify({ pagination: { page, limit, total: items.length, totalPages: Math.ceil(items.length / limit) }, results: items.slice((page - 1) * limit, page * limit) })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
      return
    }
    req.resume()
    req.on('end', () => {
      sends++
      const body = JSON.stringify([{ id: `m-${sends}`, destination: '593987654321' }])
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
    })
  })
  // Idle connections kept a minute (Node's default is 5 s): the service under valgrind runs some 50
  // times slower, and a connection it chose to reuse could be closed before its request was written
  // (a 502 "closed the connection before answering" that ended a bench:instructions run).
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    set: (next) => { items = next },
    change: () => {
      // One template gains a variable: the rest of the list is byte for byte the same.
      const first = items[0]
      items = [{ ...first, paramsNumber: first.paramsNumber + 1, params: [...first.params, { label: 'extra', param: String(first.paramsNumber + 1) }] }, ...items.slice(1)]
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) })
  }
}

/** Requests in flight at once, as a few callers would keep them. */
export const CONNECTIONS = 4

/** `n` sends of one body to one route of the service (an undici Pool), CONNECTIONS at a time, each answered 202. */
export async function post (pool, url, payload, n) {
  let left = n
  const worker = async () => {
    while (left-- > 0) {
      const { statusCode, body } = await pool.request({ path: url, method: 'POST', headers: { 'content-type': 'application/json' }, body: payload })
      const text = await body.text()
      if (statusCode !== 202) throw new Error(`${url} answered ${statusCode} ${text}`)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
}
