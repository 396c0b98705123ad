// A generated Jelou account on a stand-in (this process, loopback): the template list, paginated
// (100 a page, with totals), and Jelou's send endpoint. Used by bench/catalogue.js and bench/instructions.js.
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
