// Sandbox: posts status events to a configured URL (in sandbox mode the service's own receiver), as Jelou's "Notification URL" does.

export interface SandboxEvent {
  messageId: string
  /** Lower-case event name, as in Jelou's webhook subscriptions. */
  event: string
  sentStatus: string
  botId: string
  destination: string
  elementName: string
  timestamp: string
  error?: { code: number, message: string }
  /** A `reply` event's answer: the text typed, or a quick-reply button's label and payload. */
  reply?: SandboxReply
}

/** What the recipient answered, as the sandbox's `reply` event carries it. */
export interface SandboxReply {
  text: string
  payload?: string
}

export interface EventPoster {
  /** Where to post, and the Bearer token; null stops posting. */
  target: (url: string | null, token?: string) => void
  post: (event: SandboxEvent) => void
  /** Events posted so far (for tests and the log): delivered, and failed to deliver. */
  stats: () => { posted: number, failed: number }
}

/** Fire and forget, one POST per event with a short deadline: a receiver that is down loses the event, as with Jelou (polling still finds the status). */
export function createEventPoster (log: { warn: (obj: object, msg: string) => void }): EventPoster {
  let url: string | null = null
  let authorization: string | undefined
  let posted = 0
  let failed = 0
  return {
    target (next, token) {
      url = next
      authorization = token === undefined ? undefined : `Bearer ${token}`
    },
    post (event) {
      if (url === null) return
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (authorization !== undefined) headers.authorization = authorization
      fetch(url, { method: 'POST', headers, body: JSON.stringify(event), signal: AbortSignal.timeout(5000) })
        .then(async (response) => {
          await response.body?.cancel()
          if (response.ok) posted++
          else throw new Error(`receiver answered ${response.status}`)
        })
        .catch((error: Error) => {
          failed++
          log.warn({ messageId: event.messageId, event: event.event, err: { message: error.message } }, 'sandbox event not delivered')
        })
    },
    stats: () => ({ posted, failed })
  }
}
