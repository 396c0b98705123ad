// Request ids: the caller's X-Request-Id when short and plain, else a new UUID (never a header that could inject into logs).
import t from 'tap'
import { requestIdFor } from '../src/request-id.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('a plain caller id is kept; anything else gets a new UUID', async (t) => {
  t.equal(requestIdFor('order-1234:retry.2_a'), 'order-1234:retry.2_a')
  for (const bad of [undefined, '', 'a'.repeat(129), 'x\ny', 'a b', '{"x":1}', ['a', 'b']]) {
    t.match(requestIdFor(bad), UUID, `${JSON.stringify(bad)} is replaced`)
  }
  const ids = new Set(Array.from({ length: 1000 }, () => requestIdFor(undefined)))
  t.equal(ids.size, 1000, 'generated ids do not repeat')
})
