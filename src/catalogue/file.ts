// The catalogue file (TEMPLATES_FILE, JSON or YAML): its TypeBox schema, published as JSON Schema, and its strict reading.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv, type ErrorObject } from 'ajv'
import { Type, type Static } from 'typebox'
import { parse as parseYaml } from 'yaml'
import { BOT_ID_PATTERN } from '../config.js'
import { TEMPLATE_KINDS } from '../templates/index.js'

const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv) => Ajv

export const VARIABLE_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,63}$'

const FileVariableSchema = Type.Object({
  name: Type.String({ pattern: VARIABLE_NAME_PATTERN, description: 'Field name under `variables` in the request: a letter or underscore, then letters, digits or underscores (at most 64).' }),
  description: Type.Optional(Type.String({ maxLength: 500, description: 'Shown in Swagger UI and the generated client.' })),
  maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'Longest value accepted (Meta allows 1024).' })),
  example: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Value used in the route\'s example.' }))
}, { additionalProperties: false })

const FileButtonSchema = Type.Object({
  type: Type.Union([Type.Literal('URL'), Type.Literal('QUICK_REPLY'), Type.Literal('COPY_CODE'), Type.Literal('PHONE_NUMBER')]),
  text: Type.String({ minLength: 1, maxLength: 25 }),
  url: Type.Optional(Type.String({ maxLength: 2000, description: 'A URL button\'s address; a dynamic one ends in {{1}}.' }))
}, { additionalProperties: false })

export const FileTemplateSchema = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9_]{1,512}$', description: 'Jelou `elementName`.' }),
  bot: Type.Optional(Type.String({ pattern: BOT_ID_PATTERN, description: 'Bot that owns the template; defaults to JELOU_BOT_ID.' })),
  kind: Type.Unsafe<string>({ type: 'string', enum: TEMPLATE_KINDS.map((k) => k.kind), description: 'The template kind; fixes the header and button shape and the route\'s own fields.' }),
  languages: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z]{2,3}([_-][a-z0-9]{2,8})?$' }), { minItems: 1, uniqueItems: true, description: 'Lower-case languages, e.g. [es, en]; Jelou\'s list decides when it disagrees.' })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  text: Type.Optional(Type.String({ maxLength: 1024, description: 'Body text with {{n}} placeholders, when Jelou\'s list is not available.' })),
  header: Type.Optional(Type.Object({
    type: Type.Union([Type.Literal('TEXT'), Type.Literal('IMAGE'), Type.Literal('VIDEO'), Type.Literal('DOCUMENT')]),
    text: Type.Optional(Type.String({ maxLength: 60 }))
  }, { additionalProperties: false })),
  footer: Type.Optional(Type.String({ maxLength: 60 })),
  buttons: Type.Optional(Type.Array(FileButtonSchema, { maxItems: 10 })),
  variables: Type.Optional(Type.Array(FileVariableSchema, { maxItems: 100, description: 'Body variables in order: the first is {{1}}.' })),
  example: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Values of the kind\'s own fields (mediaUrl, urlParams, …) for the route\'s example.' }))
}, { additionalProperties: false })

export const TemplatesFileSchema = Type.Object({
  templates: Type.Array(FileTemplateSchema, { description: 'One entry per template and bot.' })
}, {
  additionalProperties: false,
  title: 'jelou-hsm-proxy templates file',
  description: 'TEMPLATES_FILE: what Jelou\'s template list does not say (kind, variable names, limits, examples). JSON or YAML.'
})

export type FileTemplate = Static<typeof FileTemplateSchema>
export type TemplatesFile = Static<typeof TemplatesFileSchema>

/** The published JSON Schema (schemas/templates-file.schema.json is this, written by `npm run openapi`). */
export function templatesFileJsonSchema (): Record<string, unknown> {
  return { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'https://jelou-hsm-proxy/schemas/templates-file.schema.json', ...JSON.parse(JSON.stringify(TemplatesFileSchema)) }
}

/** A bad catalogue file: one message naming each bad entry and the rule it breaks. */
export class CatalogueFileError extends Error {
  constructor (readonly file: string, readonly problems: string[]) {
    super(`invalid TEMPLATES_FILE ${file}:\n  - ${problems.join('\n  - ')}`)
    this.name = 'CatalogueFileError'
  }
}

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
addFormats(ajv)
const validateFile = ajv.compile(TemplatesFileSchema)

function where (data: unknown, instancePath: string): string {
  const match = /^\/templates\/(\d+)(\/.*)?$/.exec(instancePath)
  if (match === null) return instancePath === '' ? 'file' : instancePath
  const entry = (data as TemplatesFile).templates[Number(match[1])] as { name?: unknown } | undefined
  const name = typeof entry?.name === 'string' ? ` (${entry.name})` : ''
  return `templates[${match[1]}]${name}${match[2] ?? ''}`
}

function describe (data: unknown, e: ErrorObject): string {
  const params = e.params as Record<string, unknown>
  if (e.keyword === 'required') return `${where(data, e.instancePath)}/${String(params.missingProperty)} is required`
  if (e.keyword === 'additionalProperties') return `${where(data, e.instancePath)}/${String(params.additionalProperty)} is not an allowed field`
  if (e.keyword === 'anyOf') return `${where(data, e.instancePath)} must be one of the documented values`
  return `${where(data, e.instancePath)} ${e.message ?? 'is invalid'} (rule ${e.keyword})`
}

/**
 * Pure: the parsed file's entries, or every problem: the schema's rules, then the rules a schema
 * cannot say (an entry without a bot when there is no JELOU_BOT_ID, duplicates, repeated variable names).
 */
export function checkTemplatesFile (data: unknown, defaultBot: string | null): { ok: true, templates: FileTemplate[] } | { ok: false, problems: string[] } {
  if (!validateFile(data)) {
    // anyOf branch failures repeat what the anyOf line says.
    const errors = (validateFile.errors ?? []).filter((e, _i, all) => !all.some((o) => o.keyword === 'anyOf' && o !== e && e.schemaPath.startsWith(o.schemaPath.replace(/anyOf$/, ''))))
    return { ok: false, problems: [...new Set(errors.map((e) => describe(data, e)))] }
  }
  const file = data as TemplatesFile
  const problems: string[] = []
  const seen = new Set<string>()
  file.templates.forEach((entry, i) => {
    const at = `templates[${i}] (${entry.name})`
    const bot = entry.bot ?? defaultBot
    if (bot === null) problems.push(`${at}/bot is required when JELOU_BOT_ID is not set (rule required)`)
    const key = `${bot ?? ''}\u0000${entry.name}`
    if (seen.has(key)) problems.push(`${at} repeats the template ${entry.name} for bot ${bot ?? '(none)'} (rule unique)`)
    seen.add(key)
    const names = new Set<string>()
    for (const [j, variable] of (entry.variables ?? []).entries()) {
      if (names.has(variable.name)) problems.push(`${at}/variables/${j}/name repeats "${variable.name}" (rule unique)`)
      names.add(variable.name)
    }
  })
  return problems.length > 0 ? { ok: false, problems } : { ok: true, templates: file.templates }
}

/** Reads and checks TEMPLATES_FILE (YAML when it ends in .yaml/.yml, else JSON); throws CatalogueFileError. */
export function loadTemplatesFile (path: string, defaultBot: string | null): FileTemplate[] {
  let data: unknown
  try {
    const text = readFileSync(path, 'utf8')
    data = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text)
  } catch (error) {
    throw new CatalogueFileError(path, [`cannot be read: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`])
  }
  const checked = checkTemplatesFile(data, defaultBot)
  if (!checked.ok) throw new CatalogueFileError(path, checked.problems)
  return checked.templates
}
