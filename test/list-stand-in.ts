// A scriptable stand-in for Jelou's template list on a loopback port: its own page size, with or without totals, endless, or a slow drip.
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

export type Item = Record<string, unknown>

export interface ListStandIn {
  url: string
  /** Each bot's items, in Jelou's shape; change them between refreshes. */
  bots: Map<string, Item[]>
  /** The server's own page size, whatever `limit` asks; null serves the asked limit. */
  pageSize: number | null
  /** What the pagination says: page count and total, only the total, or nothing (the list ends on an empty page). */
  totals: 'both' | 'total' | 'none'
  /** `results` + `pagination` (older, paginated) or `data` (current, whole list). */
  shape: 'results' | 'data'
  /** Every page is full and new: only the client's page cap ends the scan. */
  endless: boolean
  /** Answer headers, then one byte every this many ms, never finishing. */
  dripMs: number | null
  /** Query strings of the list requests, in order. */
  requests: string[]
  close: () => Promise<void>
}

export const item = (elementName: string, paramsNumber: number, extra: Item = {}): Item => ({
  template: `Hola ${Array.from({ length: paramsNumber }, (_, i) => `{{${i + 1}}}`).join(' ')}`.trim(),
  elementName,
  params: Array.from({ length: paramsNumber }, (_, i) => ({ label: `dato ${i + 1}`, param: String(i + 1) })),
  paramsNumber,
  language: 'ES',
  status: 'APPROVED',
  category: 'UTILITY',
  ...extra
})

export async function startListStandIn (): Promise<ListStandIn> {
  const standIn: Omit<ListStandIn, 'url' | 'close'> = { bots: new Map(), pageSize: null, totals: 'both', shape: 'results', endless: false, dripMs: null, requests: [] }
  const drips = new Set<NodeJS.Timeout>()
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const match = /^\/v1\/bots\/([^/]+)\/templates$/.exec(url.pathname)
    if (match === null) {
      res.writeHead(404).end()
      return
    }
    standIn.requests.push(url.search)
    if (standIn.dripMs !== null) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"data":[')
      const timer = setInterval(() => { res.write(' ') }, standIn.dripMs)
      drips.add(timer)
      res.on('close', () => { clearInterval(timer); drips.delete(timer) })
      return
    }
    const all = standIn.bots.get(decodeURIComponent(match[1])) ?? []
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1))
    const limit = standIn.pageSize ?? Math.max(1, Number(url.searchParams.get('limit') ?? 10))
    let answer: unknown
    if (standIn.shape === 'data') {
      answer = { data: all }
    } else {
      const items = standIn.endless
        ? Array.from({ length: limit }, (_, i) => item(`endless_${page}_${i}`, 0))
        : all.slice((page - 1) * limit, page * limit)
      const pagination: Record<string, unknown> = { page, limit }
      if (standIn.totals !== 'none' && !standIn.endless) pagination.total = all.length
      if (standIn.totals === 'both' && !standIn.endless) pagination.totalPages = Math.ceil(all.length / limit)
      answer = { pagination, results: items }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return Object.assign(standIn, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const timer of drips) clearInterval(timer)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  })
}
