// A Prometheus histogram kept by hand, registered in a prom-client Registry like its own metrics.
import type { Registry } from 'prom-client'

type Labels = Record<string, string | number>

/** One label set's counts. Keep it and call observe(): no label hashing per observation. */
export interface Series {
  observe: (value: number) => void
}

interface SeriesState extends Series {
  labels: Labels
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  counts: number[]
  sum: number
}

/**
 * Same exposition as prom-client's Histogram (buckets, `_sum`, `_count`), but an observation is
 * a loop over the bounds: prom-client validates and hashes the labels on every observe(), which
 * the benchmark showed at about 1 µs per send for the two histograms (docs/performance.md).
 */
export class FastHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #series = new Map<string, SeriesState>()

  constructor (
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry
  ) {
    registry.registerMetric(this as never)
  }

  /** The series `key` names, if it has been created. */
  find (key: string): Series | undefined {
    return this.#series.get(key)
  }

  /** The series of one label set, created on first use; `key` identifies it (callers build it from the label values). */
  series (key: string, labels: Labels = {}): Series {
    let state = this.#series.get(key)
    if (state === undefined) {
      const bounds = this.bounds
      const created: SeriesState = {
        labels,
        counts: new Array<number>(bounds.length + 1).fill(0),
        sum: 0,
        observe (value: number) {
          let i = 0
          while (i < bounds.length && value > (bounds[i] as number)) i++
          created.counts[i] = (created.counts[i] as number) + 1
          created.sum += value
        }
      }
      state = created
      this.#series.set(key, state)
    }
    return state
  }

  /** What prom-client's Registry reads on a scrape. */
  get (): { name: string, help: string, type: string, aggregator: string, values: Array<{ labels: Labels, value: number, metricName: string }> } {
    const values: Array<{ labels: Labels, value: number, metricName: string }> = []
    for (const { labels, counts, sum } of this.#series.values()) {
      let cumulative = 0
      this.bounds.forEach((bound, i) => {
        cumulative += counts[i] as number
        values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${this.name}_bucket` })
      })
      cumulative += counts[this.bounds.length] as number
      values.push({ labels: { le: '+Inf', ...labels }, value: cumulative, metricName: `${this.name}_bucket` })
      values.push({ labels, value: sum, metricName: `${this.name}_sum` })
      values.push({ labels, value: cumulative, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Zeroes every series in place, so a series a caller kept goes on counting where a scrape sees it. */
  reset (): void {
    for (const state of this.#series.values()) {
      state.counts.fill(0)
      state.sum = 0
    }
  }
}
