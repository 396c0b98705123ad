// A scriptable Jelou stand-in on 127.0.0.1: sends that answer, hang, or create then hang; a notifications list with any page size, totals or none, delays, failures, foreign messages and a skewed clock.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

/** One message Jelou has, as its notifications list shows it. */
export interface StandinMessage {
  id?: string
  destination: string
  elementName: string
  campaignId: string | null
  createdAt: string
  sentStatus: string
  /** Whose it is: a key's send through the service, or another sender on the same bot. */
  from: 'service' | 'foreign'
  /** For the service's: the first template parameter of the send (the property test puts its key there). */
  param?: string
}

/** What Jelou does with one send: create the message or not, then answer or never answer. */
export interface SendScript {
  create: boolean
  answer: 'ok' | 'hang' | 'error'
}

export interface StandinBehaviour {
  /** Decides each send; by default every send is created and answered. */
  send: (body: Record<string, unknown>, index: number) => SendScript
  /** Items per notifications page, whatever `limit` asks (Jelou may use a smaller page). */
  pageSize: number
  /** Whether the answer carries pagination.total (else pagination.pages when `pages`, else nothing). */
  total: boolean
  pages: boolean
  /** Serve page 1 whatever `page` asks (a Jelou that ignores the parameter). */
  ignorePage: boolean
  /** Delay before each answered send, in ms. */
  sendDelayMs: number
  /** Delay before each notifications answer, in ms. */
  pageDelayMs: number
  /** Notifications answer 503 while this returns true. */
  failing: () => boolean
  /** Jelou's clock: what createdAt a message gets (unless `createdAt` says otherwise). */
  clock: () => number
  /** When Jelou created the message of this send, by its clock; default now. */
  createdAt?: (body: Record<string, unknown>) => number
  /** createdAt without a zone (as Jelou's server might print it). */
  zonelessTimes: boolean
  /** Jelou lists a message only this long after creating it (by its own clock). */
  lagMs: number
}

export interface Standin {
  url: string
  behaviour: StandinBehaviour
  messages: StandinMessage[]
  /** Sends received (each body), in order. */
  sends: Array<Record<string, unknown>>
  /** Notification pages served. */
  pagesServed: () => number
  /** Another sender's message on the same bot. */
  foreign: (message: Omit<StandinMessage, 'from' | 'sentStatus' | 'campaignId'> & { campaignId?: string | null }) => void
  /** Answer every hanging send now (with 504-worthy silence ended by a close). */
  close: () => Promise<void>
}

const iso = (ms: number, zoneless: boolean) => zoneless ? new Date(ms).toISOString().slice(0, 23) : new Date(ms).toISOString()

export async function startStandin (behaviour: Partial<StandinBehaviour> = {}): Promise<Standin> {
  const state: StandinBehaviour = {
    send: () => ({ create: true, answer: 'ok' }),
    pageSize: 50,
    total: true,
    pages: false,
    pageDelayMs: 0,
    sendDelayMs: 0,
    ignorePage: false,
    failing: () => false,
    clock: Date.now,
    zonelessTimes: false,
    lagMs: 0,
    ...behaviour
  }
  const messages: StandinMessage[] = []
  const sends: Array<Record<string, unknown>> = []
  const hanging = new Set<http.ServerResponse>()
  let pagesServed = 0

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin')
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (req.method === 'GET' && /^\/v1\/bots\/[^/]+\/templates$/.test(url.pathname)) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}')
        return
      }
      if (req.method === 'POST' && /^\/v2\/whatsapp\/[^/]+\/hsm$/.test(url.pathname)) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
        const index = sends.length
        sends.push(body)
        const script = state.send(body, index)
        const destination = (body.destinations as string[])[0] as string
        const id = randomUUID()
        if (script.create) {
          messages.push({ id, destination, elementName: body.elementName as string, campaignId: (body.campaignId as string | undefined) ?? null, createdAt: iso(state.createdAt?.(body) ?? state.clock(), state.zonelessTimes), sentStatus: 'CREATED', from: 'service', param: (body.parameters as string[] | undefined)?.[0] })
        }
        if (script.answer === 'hang') {
          hanging.add(res)
          res.on('close', () => hanging.delete(res))
          return
        }
        if (script.answer === 'error') {
          res.writeHead(500, { 'content-type': 'application/json' }).end('{}')
          return
        }
        const ok = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ id, destination }]))
        if (state.sendDelayMs > 0) setTimeout(ok, state.sendDelayMs)
        else ok()
        return
      }
      const list = /^\/v1\/external\/bots\/[^/]+\/notifications$/.exec(url.pathname)
      if (req.method === 'GET' && list !== null) {
        const answer = () => {
          pagesServed++
          if (state.failing()) {
            res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"unavailable"}')
            return
          }
          const q = url.searchParams
          const from = q.get('from') === null ? -Infinity : Date.parse(q.get('from') as string)
          const to = q.get('to') === null ? Infinity : Date.parse(q.get('to') as string)
          const timeOf = (m: StandinMessage) => Date.parse(state.zonelessTimes ? `${m.createdAt}Z` : m.createdAt)
          const matching = messages.filter((m) =>
            (q.get('elementName') === null || m.elementName === q.get('elementName')) &&
            (q.get('campaignId') === null || m.campaignId === q.get('campaignId')) &&
            (q.get('messageId') === null || m.id === q.get('messageId')) &&
            timeOf(m) >= from && timeOf(m) <= to && timeOf(m) <= state.clock() - state.lagMs)
          const size = Math.min(state.pageSize, Number(q.get('limit') ?? 50))
          const page = state.ignorePage ? 1 : Number(q.get('page') ?? 1)
          const results = matching.slice((page - 1) * size, page * size).map(({ from: _from, param: _param, ...item }) => item)
          const pagination: Record<string, number> = { page, limit: size }
          if (state.total) pagination.total = matching.length
          else if (state.pages) pagination.pages = Math.max(1, Math.ceil(matching.length / size))
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pagination, results }))
        }
        if (state.pageDelayMs > 0) setTimeout(answer, state.pageDelayMs)
        else answer()
        return
      }
      res.writeHead(404).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    behaviour: state,
    messages,
    sends,
    pagesServed: () => pagesServed,
    foreign (message) {
      messages.push({ campaignId: null, sentStatus: 'CREATED', ...message, from: 'foreign' })
    },
    async close () {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      server.close()
      await once(server, 'close').catch(() => {})
    }
  }
}

/** Resolution settings as short as the rules allow (the window is JELOU_TIMEOUT_MS + skew), for tests that wait it out. */
export const FAST = { JELOU_TIMEOUT_MS: '300', RESOLUTION_CLOCK_SKEW_SECONDS: '1', RESOLUTION_WINDOW_SECONDS: '2', MESSAGE_STATUS_TIMEOUT_MS: '5000' }

/** A stand-in closed when the test ends. */
export async function standin (t: { teardown: (fn: () => unknown) => void }, behaviour: Partial<StandinBehaviour> = {}): Promise<Standin> {
  const jelou = await startStandin(behaviour)
  t.teardown(() => jelou.close())
  return jelou
}

/** How many sends Jelou received for one number. */
export const sendsTo = (jelou: Standin, to: string) => jelou.sends.filter((s) => (s.destinations as string[])[0] === to).length
