// The 202 answer of an accepted send, one shape whether Jelou's answer gave the id or a resolution found it.
import type { Answer } from './errors.js'
import { statusUrlOf } from './status/lookup.js'

export interface AcceptedSend {
  messageId: string
  kind: string
  template: string
  botId: string
  requestId: string
  phone: { input: string, normalized: string, country: string | null, allowance?: unknown }
  clientRef?: string
  sandbox: boolean
  /** Set when a same-key retry found the message of an outcome-unknown send. */
  resolved?: boolean
}

export function acceptedAnswer (send: AcceptedSend): Answer {
  const body: Record<string, unknown> = {
    messageId: send.messageId,
    statusUrl: statusUrlOf(send.messageId),
    to: send.phone.normalized,
    kind: send.kind,
    template: send.template,
    botId: send.botId,
    requestId: send.requestId,
    phone: send.phone,
    clientRef: send.clientRef,
    sandbox: send.sandbox
  }
  if (send.resolved === true) body.resolved = true
  return { status: 202, contentType: 'application/json; charset=utf-8', body }
}
