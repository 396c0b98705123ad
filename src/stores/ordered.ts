// An insertion-ordered map whose oldest entry is found in constant time, however many were deleted.
//
// The memory stores drop their oldest records first (expiry, or a full store). A JavaScript Map
// keeps insertion order, but V8 leaves a deleted entry as a hole in its table until the table is
// rebuilt, and iteration walks the holes: a Map used as a queue (delete at the front, set at the
// back) at a steady 100 000 entries took 30 to 110 µs per "find the oldest" on these machines,
// since up to its capacity in holes lie before the first live entry. Here a Map holds the values
// and an array holds the order; the array's head only moves forward.

interface Slot<V> {
  value: V
  /** Which order item is this entry's current place; older items for the key are stale. */
  seq: number
}

interface Place {
  key: string
  seq: number
}

/** Stale order items beyond this many (plus twice the live entries), or behind the head, are let go. */
const SLACK = 64

export class OrderedMap<V> {
  readonly #values = new Map<string, Slot<V>>()
  #order: Place[] = []
  #head = 0
  #seq = 0

  get size (): number {
    return this.#values.size
  }

  get (key: string): V | undefined {
    return this.#values.get(key)?.value
  }

  /** Sets `key` as the newest entry: a key already present moves to the back. */
  set (key: string, value: V): void {
    const seq = ++this.#seq
    this.#values.set(key, { value, seq })
    this.#order.push({ key, seq })
    // Moves and deletes leave stale order items: rebuild the order (linear, amortized constant
    // per set) once they outnumber the live entries; and let go of the items behind the head.
    const pending = this.#order.length - this.#head
    if (pending > 2 * this.#values.size + SLACK) this.#rebuild()
    else if (this.#head > SLACK && this.#head >= pending) {
      this.#order = this.#order.slice(this.#head)
      this.#head = 0
    }
  }

  delete (key: string): boolean {
    return this.#values.delete(key)
  }

  /** The oldest live entry, or undefined when empty. */
  oldest (): [string, V] | undefined {
    while (this.#head < this.#order.length) {
      const { key, seq } = this.#order[this.#head]
      const slot = this.#values.get(key)
      if (slot !== undefined && slot.seq === seq) return [key, slot.value]
      this.#head++
    }
    this.#order = []
    this.#head = 0
    return undefined
  }

  /** Live entries, oldest first. The caller may delete the entry it was just given. */
  * entries (): Generator<[string, V]> {
    for (let i = this.#head; i < this.#order.length; i++) {
      const { key, seq } = this.#order[i]
      const slot = this.#values.get(key)
      if (slot !== undefined && slot.seq === seq) yield [key, slot.value]
    }
  }

  #rebuild (): void {
    const live: Place[] = []
    for (let i = this.#head; i < this.#order.length; i++) {
      const place = this.#order[i]
      if (this.#values.get(place.key)?.seq === place.seq) live.push(place)
    }
    this.#order = live
    this.#head = 0
  }
}
