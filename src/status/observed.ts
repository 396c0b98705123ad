// A status store that counts each status reached (hsm_message_status_total{status}) around any store.
import { statusOf, type StatusStore } from './types.js'

export function observedStatusStore (store: StatusStore, reached: (status: string) => void): StatusStore {
  return {
    ...store,
    record (base) {
      store.record(base)
      reached('accepted')
    },
    async apply (messageId, update) {
      const changed = await store.apply(messageId, update)
      // The news' furthest step: a message moving two steps in one poll counts once, at the step it reached.
      if (changed) reached(statusOf(update.steps))
      return changed
    }
  }
}
