// The hand-kept histogram: for the same observations, /metrics prints exactly what prom-client's Histogram prints.
import t from 'tap'
import { Histogram, Registry } from 'prom-client'
import { FastHistogram } from '../src/histogram.js'

const BOUNDS = [0.001, 0.01, 0.1, 1]
// Values below, on and above the bounds, twice for one label set.
const VALUES = [0, 0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.5, 1, 2, 30]

t.test('same exposition as prom-client for labelled series', async (t) => {
  const ours = new Registry()
  const theirs = new Registry()
  const fast = new FastHistogram('d_seconds', 'Durations.', BOUNDS, ours)
  const reference = new Histogram({ name: 'd_seconds', help: 'Durations.', labelNames: ['route', 'status_code'], buckets: BOUNDS, registers: [theirs] })
  for (const [route, status, repeat] of [['/a', 200, 2], ['/b', 404, 1]] as const) {
    for (let i = 0; i < repeat; i++) {
      for (const value of VALUES) {
        fast.series(`${route} ${status}`, { route, status_code: status }).observe(value)
        reference.labels({ route, status_code: status }).observe(value)
      }
    }
  }
  const text = await ours.metrics()
  t.equal(text, await theirs.metrics())
  t.match(text, /d_seconds_bucket\{le="0.01",route="\/a",status_code="200"\} 10\n/, 'cumulative: 0, 0.0005, 0.001, 0.002, 0.01 twice')
  t.match(text, /d_seconds_count\{route="\/b",status_code="404"\} 11\n/)
})

t.test('a series without labels is printed before any observation, like prom-client', async (t) => {
  const ours = new Registry()
  const theirs = new Registry()
  const fast = new FastHistogram('u_seconds', 'Upstream.', BOUNDS, ours)
  const series = fast.series('')
  const reference = new Histogram({ name: 'u_seconds', help: 'Upstream.', buckets: BOUNDS, registers: [theirs] })
  t.equal(await ours.metrics(), await theirs.metrics(), 'zeros')
  series.observe(0.05)
  reference.observe(0.05)
  t.equal(await ours.metrics(), await theirs.metrics(), 'one observation')
  t.equal(fast.find(''), series, 'find() returns the same series')
  ours.resetMetrics()
  theirs.resetMetrics()
  t.match(await ours.metrics(), /\nu_seconds_count 0\n$/, 'zeros after a reset (prom-client prints no series until the next observation)')
  series.observe(2)
  reference.observe(2)
  t.equal(await ours.metrics(), await theirs.metrics(), 'a series kept across the reset still counts')
})
