// The id of each request: the caller's X-Request-Id when it is short and plain (so it cannot inject
// into logs), else a new UUID.
import { randomUUID } from 'node:crypto'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function requestIdFor (header: string | string[] | undefined): string {
  if (typeof header === 'string' && REQUEST_ID.test(header)) return header
  // Request ids outlive the request in message status records. randomUUID() builds its string
  // from 20 pieces, a V8 cons string holding about 490 bytes of heap; reading a character
  // flattens it in place to about 66 (`npm run bench:steps` measures a status record with it).
  const generated = randomUUID()
  generated.charCodeAt(0)
  return generated
}
