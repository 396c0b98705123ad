// Pure merge of Jelou's lists and the catalogue file into one catalogue, with each disagreement named as a problem.
import type { CatalogueIssue, CatalogueProblem, CatalogueTemplate, TemplateVariable } from './types.js'
import type { FileTemplate } from './file.js'
import type { JelouTemplate } from './jelou.js'

export interface MergeInput {
  /** Per configured bot: its last good Jelou list, or null when it has never loaded. */
  jelou: ReadonlyMap<string, readonly JelouTemplate[] | null>
  file: readonly FileTemplate[]
  /** Bot of file entries that name none (JELOU_BOT_ID, or the sandbox bot). */
  defaultBot: string | null
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
/** Meta's rule for a template name: lower-case letters, digits and underscores (512 at most, the send route's limit). */
export const TEMPLATE_NAME = /^[a-z0-9_]{1,512}$/

/** A name as it may be quoted in a log line or an answer: JSON-quoted, at most 80 characters. */
function quoted (name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)
}

/**
 * Pure: each bot's list less the items whose name breaks Meta's rule (they get no route and are
 * never sent), and one issue per bad name, so nothing is renamed or silently dropped.
 */
export function screenNames (jelou: ReadonlyMap<string, readonly JelouTemplate[] | null>): { lists: Map<string, JelouTemplate[] | null>, issues: CatalogueIssue[] } {
  const lists = new Map<string, JelouTemplate[] | null>()
  const issues: CatalogueIssue[] = []
  for (const [bot, items] of jelou) {
    if (items === null) {
      lists.set(bot, null)
      continue
    }
    const good: JelouTemplate[] = []
    const bad = new Set<string>()
    for (const item of items) {
      if (TEMPLATE_NAME.test(item.name)) good.push(item)
      else bad.add(item.name)
    }
    for (const name of bad) {
      issues.push({ code: 'TEMPLATE_NAME_INVALID', botId: bot, template: name.slice(0, 512), message: `Jelou's list for bot ${bot} has a template named ${quoted(name)}, which breaks Meta's rule (lower-case letters, digits and underscores, at most 512): it has no route and is never sent.` })
    }
    lists.set(bot, good)
  }
  return { lists, issues }
}

/**
 * Jelou's human labels as variable names: accents dropped, words joined in camelCase
 * ("Nombre del cliente" → nombreDelCliente). Any label that gives no identifier, or a
 * repeated one, makes the whole list `var1…varN`, so names never depend on label order.
 */
export function namesFromLabels (labels: readonly string[]): string[] {
  const names = labels.map((label) => {
    const words = label.normalize('NFD').replace(/[\u0300-\u036f]/g, '').split(/[^A-Za-z0-9]+/).filter((w) => w !== '')
    const name = words.map((w, i) => i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1)).join('')
    return IDENTIFIER.test(name) ? name : ''
  })
  const unique = new Set(names)
  return names.includes('') || unique.size !== names.length ? labels.map((_, i) => `var${i + 1}`) : names
}

/** One template from Jelou's items (one per language) and/or the file entry. */
function mergeOne (bot: string, name: string, items: readonly JelouTemplate[], entry: FileTemplate | undefined, jelouLoaded: boolean): CatalogueTemplate {
  const problems: CatalogueProblem[] = []
  const languages = items.length > 0 ? [...new Set(items.map((i) => i.language))] : (entry?.languages ?? [])
  const text: Record<string, string> = {}
  for (const item of items) text[item.language] = item.text
  if (items.length === 0 && entry?.text !== undefined) for (const language of languages) text[language] = entry.text

  const languageStatus: Record<string, string> = {}
  const twice = new Set<string>()
  for (const item of items) {
    if (item.language in languageStatus) twice.add(item.language)
    languageStatus[item.language] = item.status
  }
  if (twice.size > 0) {
    problems.push({ code: 'TEMPLATE_AMBIGUOUS', message: `Jelou's list for bot ${bot} has ${name} more than once in ${[...twice].join(', ')}; which one is meant cannot be told.` })
  }
  const approved = items.find((i) => i.status === 'APPROVED')
  const status = items.length === 0 ? 'UNKNOWN' : (approved ?? items[0]).status
  if (items.length > 0 && approved === undefined) {
    problems.push({ code: 'TEMPLATE_NOT_APPROVED', message: `Jelou lists ${name} as ${status}; only APPROVED templates can be sent.` })
  }

  const counts = [...new Set(items.map((i) => i.paramsNumber))]
  if (counts.length > 1) {
    problems.push({ code: 'TEMPLATE_VARIABLES_CONFLICT', message: `Jelou's languages of ${name} have different variable counts (${counts.join(', ')}).` })
  }
  const jelouCount = counts[0]

  let variables: TemplateVariable[]
  if (entry?.variables !== undefined) {
    variables = entry.variables.map((v, i) => ({ ...v, position: i + 1 }))
    if (jelouCount !== undefined && jelouCount !== variables.length) {
      problems.push({ code: 'TEMPLATE_VARIABLES_CONFLICT', message: `The catalogue file names ${variables.length} variables for ${name}; Jelou counts ${jelouCount}.` })
    }
  } else {
    const first = items[0]
    const names = first === undefined ? [] : namesFromLabels(first.labels)
    variables = names.map((n, i) => ({ name: n, position: i + 1 }))
  }

  if (entry !== undefined && items.length > 0 && entry.languages !== undefined) {
    const missing = entry.languages.filter((l) => !languages.includes(l))
    if (missing.length > 0) {
      problems.push({ code: 'TEMPLATE_LANGUAGE_CONFLICT', message: `The catalogue file declares ${name} in ${missing.join(', ')}; Jelou lists it only in ${languages.join(', ')}.` })
    }
  }
  if (entry !== undefined && items.length === 0 && jelouLoaded) {
    problems.push({ code: 'TEMPLATE_NOT_IN_JELOU', message: `The catalogue file declares ${name} for bot ${bot}, but Jelou's list for that bot does not have it.` })
  }

  const template: CatalogueTemplate = {
    name,
    botId: bot,
    languages,
    // Jelou's category says one-time code even when no file entry does.
    kind: entry?.kind ?? (items.some((i) => i.category === 'AUTHENTICATION') ? 'authentication' : null),
    status,
    text,
    variables,
    source: entry === undefined ? 'jelou' : items.length === 0 ? 'file' : 'both',
    problems
  }
  if (items.length > 0) template.languageStatus = languageStatus
  const withCategory = items.find((i) => i.category !== undefined)
  if (withCategory !== undefined) template.category = withCategory.category
  const withName = items.find((i) => i.displayName !== undefined)
  if (withName !== undefined) template.displayName = withName.displayName
  if (entry?.description !== undefined) template.description = entry.description
  if (entry?.header !== undefined) template.header = entry.header
  if (entry?.footer !== undefined) template.footer = entry.footer
  if (entry?.buttons !== undefined) template.buttons = entry.buttons
  if (entry?.example !== undefined) template.example = entry.example
  return template
}

/** Pure: the same lists and file always give the same catalogue, sorted by bot then name. */
export function mergeCatalogue ({ jelou, file, defaultBot }: MergeInput): CatalogueTemplate[] {
  const keys = new Map<string, { bot: string, name: string, items: JelouTemplate[], entry?: FileTemplate }>()
  const slot = (bot: string, name: string) => {
    const key = `${bot}\u0000${name}`
    let found = keys.get(key)
    if (found === undefined) {
      found = { bot, name, items: [] }
      keys.set(key, found)
    }
    return found
  }
  for (const [bot, items] of jelou) for (const item of items ?? []) slot(bot, item.name).items.push(item)
  for (const entry of file) {
    const bot = entry.bot ?? defaultBot
    if (bot !== null) slot(bot, entry.name).entry = entry
  }
  return [...keys.values()]
    .sort((a, b) => a.bot === b.bot ? (a.name < b.name ? -1 : 1) : (a.bot < b.bot ? -1 : 1))
    .map((k) => mergeOne(k.bot, k.name, k.items, k.entry, (jelou.get(k.bot) ?? null) !== null))
}
