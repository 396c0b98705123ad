// The live catalogue: loaded at start-up, refreshed on a timer (last good kept, backoff on failure), and the send check.
import { problem, type HsmError, type ProblemCode } from '../errors.js'
import { TEMPLATE_KINDS } from '../templates/index.js'
import type { UpstreamBody } from '../upstream/schema.js'
import type { FileTemplate } from './file.js'
import type { JelouTemplate, ListTemplates } from './jelou.js'
import { mergeCatalogue, screenNames } from './merge.js'
import type { CatalogueIssue, CatalogueTemplate } from './types.js'

/** Jelou's `type` each kind sends (the header shape Meta checks), read from the kinds' own mappers. */
export const KIND_UPSTREAM_TYPE: ReadonlyMap<string, string> = new Map(TEMPLATE_KINDS.map((k) => {
  const example = Object.values(k.examples)[0].value
  return [k.kind, k.toUpstream(example, { to: '0', language: undefined }).type ?? 'text']
}))

export interface CatalogueLog {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
}

export interface CatalogueObserver {
  refreshFailed: (botId: string) => void
  /** A bot's list was cut short by the page cap. */
  listTruncated: (botId: string) => void
  unknownSend: (kind: string) => void
  refused: (code: string) => void
}

export interface CatalogueOptions {
  botIds: readonly string[]
  file: readonly FileTemplate[]
  defaultBot: string | null
  list: ListTemplates
  refreshMs: number
  strict: boolean
  log: CatalogueLog
  observer?: CatalogueObserver
  /** First retry after a failed load; doubled per failure, at most refreshMs. Default 1000. */
  retryMs?: number
}

/** What the send pipeline asks before calling Jelou. */
export interface SendGuard {
  check: (botId: string, template: string, kind: string, body: UpstreamBody) => HsmError | undefined
}

interface Entry {
  template: CatalogueTemplate
  /** Jelou's `type` this template needs, or null when no source says its kind. */
  type: string | null
  /** The first problem: every send to the template is refused with its code. */
  refusal: { code: ProblemCode, detail: string } | null
}

export interface BotState {
  botId: string
  /** When Jelou's list last loaded, epoch ms; null if never. */
  loadedAt: number | null
  /** Consecutive failed loads. */
  failures: number
  lastError: string | null
  /** The last good load stopped at the page cap: templates past it are missing. */
  truncated: boolean
  /** Pages read at the last good load. */
  pages: number
}

/** Which bot a send by name goes to: the one asked, JELOU_BOT_ID's when it has the template, else the only definition. */
export type BotChoice = { botId: string } | { botId: undefined, ambiguous: string[] }

/** What makes two bots' templates of one name the same route: kind, variables (names and limits) and languages. */
function definitionOf (t: CatalogueTemplate): string {
  return JSON.stringify([t.kind, t.variables.map((v) => [v.name, v.maxLength]), [...t.languages].sort()])
}

export function createCatalogue (options: CatalogueOptions) {
  const { botIds, file, defaultBot, list, refreshMs, strict, log, observer } = options
  const retryMs = options.retryMs ?? 1000
  const lists = new Map<string, JelouTemplate[] | null>(botIds.map((id) => [id, null]))
  const states = new Map<string, BotState>(botIds.map((id) => [id, { botId: id, loadedAt: null, failures: 0, lastError: null, truncated: false, pages: 0 }]))
  /** Each bot's last list as text: a load that gives the same text changes nothing and rebuilds nothing. */
  const signatures = new Map<string, string>()
  let templates: CatalogueTemplate[] = []
  let byBot = new Map<string, Map<string, Entry>>()
  let issues: CatalogueIssue[] = []
  /** Names on several bots with different definitions, and those bots. */
  let ambiguous = new Map<string, string[]>()
  /** Bumped whenever the merged catalogue changes; routes and documents are cached per version. */
  let version = 0
  let timer: NodeJS.Timeout | null = null
  let stopped = false
  const stopping = new AbortController()
  let round: Promise<void> | null = null

  function crossBotIssues (): CatalogueIssue[] {
    const found: CatalogueIssue[] = []
    const byName = new Map<string, CatalogueTemplate[]>()
    for (const t of templates) byName.set(t.name, [...(byName.get(t.name) ?? []), t])
    const next = new Map<string, string[]>()
    for (const [name, all] of byName) {
      if (all.length < 2 || new Set(all.map(definitionOf)).size === 1) continue
      const bots = all.map((t) => t.botId)
      next.set(name, bots)
      const route = defaultBot !== null && bots.includes(defaultBot)
        ? `POST /v1/templates/${name} sends and documents bot ${defaultBot}'s (JELOU_BOT_ID) unless the body names another botId`
        : `POST /v1/templates/${name} documents bot ${bots[0]}'s and refuses a send without botId (TEMPLATE_AMBIGUOUS)`
      found.push({ code: 'TEMPLATE_AMBIGUOUS', template: name, message: `${name} is on bots ${bots.join(', ')} with different variables, kinds or languages: ${route}.` })
    }
    ambiguous = next
    return found
  }

  function rebuild (): void {
    const screened = screenNames(lists)
    templates = mergeCatalogue({ jelou: screened.lists, file, defaultBot })
    const truncated: CatalogueIssue[] = [...states.values()].filter((s) => s.truncated).map((s) => ({
      code: 'TEMPLATE_LIST_TRUNCATED',
      botId: s.botId,
      message: `Jelou's template list for bot ${s.botId} was cut short at ${s.pages} pages (the safety cap): templates past it are missing from the catalogue.`
    }))
    const noBots: CatalogueIssue[] = botIds.length === 0
      ? [{ code: 'CATALOGUE_NO_BOTS', message: 'No bot is configured (JELOU_BOT_ID, TEMPLATES_BOT_IDS): no Jelou template list is read, so only TEMPLATES_FILE entries with a bot are in the catalogue.' }]
      : []
    issues = [...noBots, ...screened.issues, ...truncated, ...crossBotIssues()]
    version++
    const next = new Map<string, Map<string, Entry>>()
    for (const template of templates) {
      let bot = next.get(template.botId)
      if (bot === undefined) {
        bot = new Map()
        next.set(template.botId, bot)
      }
      const first = template.problems[0]
      bot.set(template.name, {
        template,
        type: template.kind === null ? null : KIND_UPSTREAM_TYPE.get(template.kind) ?? null,
        refusal: first === undefined ? null : { code: first.code as ProblemCode, detail: `${first.message} Nothing was sent.` }
      })
    }
    byBot = next
  }

  async function loadBot (botId: string): Promise<boolean> {
    const state = states.get(botId) as BotState
    try {
      const result = await list(botId, stopping.signal)
      const signature = JSON.stringify(result.items)
      const changed = signatures.get(botId) !== signature || state.truncated !== result.truncated || lists.get(botId) === null
      signatures.set(botId, signature)
      lists.set(botId, result.items)
      state.loadedAt = Date.now()
      state.failures = 0
      state.lastError = null
      state.pages = result.pages
      if (result.truncated) {
        observer?.listTruncated(botId)
        log.warn({ botId, pages: result.pages, templates: result.items.length }, 'template list cut short by the page cap; templates past it are missing from the catalogue')
      }
      state.truncated = result.truncated
      return changed
    } catch (error) {
      state.failures++
      state.lastError = error instanceof Error ? error.message : String(error)
      observer?.refreshFailed(botId)
      log.warn({ botId, failures: state.failures, err: { message: state.lastError } }, 'template list could not be loaded; the last good catalogue stays in force')
      return false
    }
  }

  /** One load of every bot; rebuilt only when a list changed; the next is scheduled sooner (with backoff) when one failed. */
  async function refresh (): Promise<void> {
    const changed = await Promise.all(botIds.map(loadBot))
    if (version === 0 || changed.some((c) => c)) {
      rebuild()
      const troubled = templates.filter((t) => t.problems.length > 0)
      if (troubled.length > 0) {
        log.warn({ problems: troubled.map((t) => ({ botId: t.botId, template: t.name, codes: t.problems.map((p) => p.code), messages: t.problems.map((p) => p.message) })) }, 'template catalogue has problems; sends to these templates are refused')
      }
      if (issues.length > 0) log.warn({ issues }, 'template catalogue issues (see GET /v1/templates)')
    }
    if (stopped) return
    const worst = Math.max(0, ...botIds.map((id) => (states.get(id) as BotState)).filter((s) => s.failures > 0).map((s) => s.failures))
    const delay = worst === 0 ? refreshMs : Math.min(refreshMs, retryMs * 2 ** (worst - 1)) * (0.8 + Math.random() * 0.4)
    timer = setTimeout(() => { round = refresh() }, delay)
    timer.unref()
  }

  function refuse (code: ProblemCode, detail: string): HsmError {
    observer?.refused(code)
    return problem(code, detail)
  }

  const guard: SendGuard = {
    check (botId, name, kind, body) {
      const entry = byBot.get(botId)?.get(name)
      if (entry === undefined) {
        // A bot whose list never loaded is an outage, not an unknown template: never blocked.
        const state = states.get(botId)
        if (strict && (state === undefined || state.loadedAt !== null)) {
          return refuse('TEMPLATE_UNKNOWN', `Template ${name} is not in the catalogue of bot ${botId} (TEMPLATES_STRICT); nothing was sent.`)
        }
        observer?.unknownSend(kind)
        return undefined
      }
      if (entry.refusal !== null) return refuse(entry.refusal.code, entry.refusal.detail)
      const template = entry.template
      const language = body.language
      if (language !== undefined && template.languages.length > 0) {
        if (!template.languages.includes(language)) {
          return refuse('TEMPLATE_LANGUAGE_UNAVAILABLE', `Template ${name} exists in ${template.languages.join(', ')}, not in ${language}; nothing was sent.`)
        }
        const status = template.languageStatus?.[language]
        if (status !== undefined && status !== 'APPROVED') {
          return refuse('TEMPLATE_NOT_APPROVED', `Template ${name} in ${language} is ${status}; only APPROVED templates can be sent. Nothing was sent.`)
        }
      }
      const count = body.parameters?.length ?? 0
      if (count !== template.variables.length) {
        return refuse('TEMPLATE_VARIABLE_COUNT', `Template ${name} has ${template.variables.length} body variables; the request fills ${count}. Nothing was sent.`)
      }
      if (entry.type !== null && entry.type !== (body.type ?? 'text')) {
        return refuse('TEMPLATE_KIND_MISMATCH', `Template ${name} is a ${template.kind ?? ''} template (Jelou type ${entry.type}); this send is of type ${body.type ?? 'text'}. Use POST /v1/templates/${name}. Nothing was sent.`)
      }
      return undefined
    }
  }

  return {
    guard,
    /** First load; resolves when every bot has answered or failed (never rejects). */
    async start (): Promise<void> {
      round = refresh()
      await round
    },
    /** Stops the timer and waits for a load in progress. */
    async stop (): Promise<void> {
      stopped = true
      if (timer !== null) clearTimeout(timer)
      // A load in progress is abandoned (its deadline would end it anyway): shutdown does not wait for it.
      stopping.abort()
      await round
    },
    /** Loads now (tests and operators); the timer keeps its own schedule. */
    async refreshNow (): Promise<void> {
      if (timer !== null) clearTimeout(timer)
      round = refresh()
      await round
    },
    all: (): readonly CatalogueTemplate[] => templates,
    find: (botId: string, name: string): CatalogueTemplate | undefined => byBot.get(botId)?.get(name)?.template,
    /** Bots that have a template of this name, in configuration order first. */
    botsOf: (name: string): string[] => [...byBot.entries()].filter(([, m]) => m.has(name)).map(([bot]) => bot),
    /**
     * The bot a send by name goes to: the one asked; else JELOU_BOT_ID's when it has the template;
     * else the first bot that has it, unless bots have it with different definitions (ambiguous).
     */
    botFor (name: string, asked: string | undefined): BotChoice | undefined {
      if (asked !== undefined) return { botId: asked }
      if (defaultBot !== null && byBot.get(defaultBot)?.has(name) === true) return { botId: defaultBot }
      const conflict = ambiguous.get(name)
      if (conflict !== undefined) return { botId: undefined, ambiguous: conflict }
      for (const [bot, m] of byBot) if (m.has(name)) return { botId: bot }
      return undefined
    },
    /** Problems of the catalogue as a whole: bad names, lists cut short, one name on bots with different definitions. */
    issues: (): readonly CatalogueIssue[] => issues,
    /** Changes whenever the merged catalogue does; a refresh that changes nothing keeps it. */
    version: (): number => version,
    states: (): BotState[] => [...states.values()].map((s) => ({ ...s }))
  }
}

export type Catalogue = ReturnType<typeof createCatalogue>
