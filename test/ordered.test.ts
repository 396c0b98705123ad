// OrderedMap: the memory stores' insertion order (oldest first), through moves, deletes and long churn.
import t from 'tap'
import { OrderedMap } from '../src/stores/ordered.js'

const keys = (map: OrderedMap<number>) => [...map.entries()].map(([key]) => key)

t.test('oldest first; setting a key again moves it to the back; deleted keys are skipped', async (t) => {
  const map = new OrderedMap<number>()
  t.equal(map.oldest(), undefined, 'empty')
  for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) map.set(key, i)
  t.strictSame(map.oldest(), ['a', 0])
  map.set('a', 10)
  t.strictSame(keys(map), ['b', 'c', 'd', 'a'], 'a moved to the back')
  t.equal(map.get('a'), 10)
  t.ok(map.delete('b'))
  t.notOk(map.delete('b'), 'a second delete finds nothing')
  t.strictSame(map.oldest(), ['c', 2])
  t.equal(map.size, 3)
  t.strictSame(keys(map), ['c', 'd', 'a'])
})

t.test('the caller may delete each entry it is given while iterating', async (t) => {
  const map = new OrderedMap<number>()
  for (let i = 0; i < 10; i++) map.set(`k${i}`, i)
  const seen: string[] = []
  for (const [key, value] of map.entries()) {
    seen.push(key)
    if (value % 2 === 0) map.delete(key)
  }
  t.equal(seen.length, 10)
  t.strictSame(keys(map), ['k1', 'k3', 'k5', 'k7', 'k9'])
})

t.test('a long run as a queue and with moves keeps exact order and content', async (t) => {
  // A bounded FIFO of 500 under 20 000 inserts, every third write moving an existing key to the
  // back, checked against a plain array model after every step.
  const map = new OrderedMap<number>()
  const model: string[] = []
  for (let i = 0; i < 20_000; i++) {
    if (i % 3 === 0 && model.length > 0) {
      const key = model[(i * 7) % model.length]
      model.splice(model.indexOf(key), 1)
      model.push(key)
      map.set(key, i)
    } else {
      const key = `k${i}`
      model.push(key)
      map.set(key, i)
    }
    while (model.length > 500) {
      const oldest = map.oldest()
      if (oldest?.[0] !== model[0]) return t.fail(`step ${i}: the oldest is ${String(oldest?.[0])}, not ${model[0]}`)
      map.delete(model.shift() as string)
    }
  }
  t.equal(map.size, 500)
  t.strictSame(keys(map), model, 'entries in the same order as the model')
})
