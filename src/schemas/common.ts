// Shared TypeBox pieces: the common request fields, named patterns, and the answer and problem bodies.
import { Type, type TProperties, type TUnsafe } from 'typebox'
import { BOT_ID_PATTERN, LANGUAGES } from '../config.js'
import { PreviewSchema } from '../preview/schema.js'

/**
 * Named patterns. The error handler turns a failed `pattern` into the sentence given here,
 * so a caller reads "must not contain a newline or tab" instead of a regular expression.
 * Each pattern must mean the same without JavaScript's `u` flag, as other validators read the
 * published document: a rule that needs it (emoji) lives in code instead (test/openapi.test.ts).
 */
export const PATTERNS = {
  template: { pattern: '^[a-z0-9_]{1,512}$', message: 'must be 1 to 512 lowercase letters, digits or underscores' },
  botId: { pattern: BOT_ID_PATTERN, message: 'must be 1 to 128 letters, digits or + _ . - and must not contain ".."' },
  noNewline: { pattern: '^[^\\n\\r\\t]*$', message: 'must not contain a newline or tab' },
  noFiveSpaces: { pattern: '^(?!.* {5})', message: 'must not contain a run of 5 or more spaces' },
  noSpace: { pattern: '^\\S*$', message: 'must not contain whitespace' },
  https: { pattern: '^https://', message: 'must be an https URL' },
  image: { pattern: '\\.(jpe?g|png|JPE?G|PNG)([?#].*)?$', message: 'must point to a .jpg, .jpeg or .png file' },
  video: { pattern: '\\.(mp4|MP4)([?#].*)?$', message: 'must point to a .mp4 file' },
  cardMedia: { pattern: '\\.(jpe?g|png|mp4|JPE?G|PNG|MP4)([?#].*)?$', message: 'must point to an image (.jpg, .jpeg, .png) or a video (.mp4)' },
  document: { pattern: '\\.(pdf|PDF)([?#].*)?$', message: 'must point to a .pdf file' },
  pdfName: { pattern: '\\.(pdf|PDF)$', message: 'must end in .pdf' },
  noUrl: { pattern: '^(?!.*(https?://|www\\.|\\w\\.(com|net|org|io|ai|co)\\b))', message: 'must not contain a URL' },
  country: { pattern: '^[A-Za-z]{2}$', message: 'must be an ISO 3166 alpha-2 region such as EC' }
} as const

export const PATTERN_MESSAGES: ReadonlyMap<string, string> = new Map(Object.values(PATTERNS).map((p) => [p.pattern, p.message]))

/** A string that must satisfy several named patterns; each failure is reported by name. */
export function patterned (names: Array<keyof typeof PATTERNS>, options: { minLength?: number, maxLength?: number, description: string, format?: string, examples?: string[] }): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: 'string',
    ...options,
    allOf: names.map((name) => ({ pattern: PATTERNS[name].pattern }))
  })
}

export const ParamSchema = patterned(['noNewline', 'noFiveSpaces'], {
  minLength: 1,
  maxLength: 1024,
  description: 'A template placeholder value: 1 to 1024 characters, no newline or tab, no run of 5 or more spaces (Meta rules).'
})

export const HeaderParamSchema = patterned(['noNewline', 'noFiveSpaces'], {
  minLength: 1,
  maxLength: 60,
  description: 'Value of the template header variable (`{{1}}` in the header): 1 to 60 characters.'
})

export const UrlParamsSchema = Type.Array(patterned(['noSpace'], {
  minLength: 1,
  maxLength: 2000,
  description: 'Dynamic suffix of a URL button: 1 to 2000 characters, no spaces.'
}), { minItems: 1, maxItems: 2, description: 'One value per dynamic URL button, in button order (at most 2).' })

export const QuickReplySchema = Type.Object({
  text: Type.String({ minLength: 1, maxLength: 25, description: 'Button label exactly as approved (1 to 25 characters).' }),
  flowId: Type.Optional(Type.Integer({ minimum: 1, description: 'Jelou flow started when the button is tapped.' }))
}, { additionalProperties: false, description: 'One quick-reply button.' })

export const QuickRepliesSchema = Type.Array(QuickReplySchema, {
  minItems: 1,
  maxItems: 3,
  description: 'Quick-reply buttons in template order (1 to 3).'
})

export function mediaUrlSchema (kind: 'image' | 'video' | 'document', description: string): TUnsafe<string> {
  return patterned(['https', kind], { format: 'uri', maxLength: 2048, description })
}

export const FutureTimeSchema = (description: string) => Type.Union([
  Type.String({ format: 'date-time', description: 'ISO 8601 date-time with offset, e.g. 2030-01-01T00:00:00Z.' }),
  Type.Integer({ minimum: 0, maximum: 8640000000000000, description: 'Epoch milliseconds.' })
], { description })

/** Where this message's callbacks go (SPEC §21); checked against CALLBACK_URL_ALLOW. */
export const CallbackUrlSchema = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'Where to POST this message\'s callbacks (every status change, the customer\'s reply, a 504\'s resolution), signed by the Standard Webhooks specification with your callback secret; overrides your default. Must match CALLBACK_URL_ALLOW (scheme, host and port), else 400 naming `allowList`. In sandbox mode http://localhost:3000/sandbox/callbacks is allowed: see GET /sandbox/callbacks.'
})

/** When to send (SPEC §21): an RFC 3339 instant with its zone. */
export const SendAtSchema = Type.String({
  format: 'date-time',
  maxLength: 64,
  description: 'Send later, at this instant: RFC 3339 with a zone (2026-12-08T09:00:00-05:00 or …Z), at least SCHEDULE_MIN_AHEAD_SECONDS (60) and at most SCHEDULE_MAX_AHEAD_DAYS (35) ahead. Every check runs now; the answer is 202 with `status: "scheduled"` and this service\'s id (`sch-…`), which GET /v1/messages/{id} follows and DELETE cancels until it is sent.'
})

/** Fields every kind route accepts (SPEC §4). */
export const CommonFields = {
  to: Type.String({ minLength: 1, maxLength: 64, description: 'Recipient phone number in any common format: +593 98 765 4321, 00593987654321, 593987654321, or a national number with `country`.' }),
  template: patterned(['template'], { description: 'Approved template name (Jelou `elementName`): lowercase letters, digits and underscores.' }),
  language: Type.Optional(Type.Enum(LANGUAGES, { description: 'Template language; defaults to DEFAULT_LANGUAGE, else omitted.' })),
  params: Type.Optional(Type.Array(ParamSchema, { maxItems: 100, description: 'Body placeholder values `{{1}}`, `{{2}}`, … in order.' })),
  botId: Type.Optional(patterned(['botId'], { description: 'Jelou bot that sends the message; defaults to JELOU_BOT_ID.' })),
  country: Type.Optional(patterned(['country'], { description: 'Region used to read a national-format `to` (ISO 3166 alpha-2); defaults to DEFAULT_COUNTRY.' })),
  campaignId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Jelou campaign the send belongs to.' })),
  expiresAt: Type.Optional(FutureTimeSchema('When the message stops being deliverable; must be in the future (Jelou `expirationTime`).')),
  flowId: Type.Optional(Type.Integer({ minimum: 1, description: 'Jelou flow that handles the reply (`actions.setFlow.id`).' })),
  memory: Type.Optional(Type.Object({}, {
    additionalProperties: Type.String({ maxLength: 1024 }),
    maxProperties: 20,
    description: 'Values stored in the user memory when the message is sent (`actions.setMemoryParams`); at most 20 string values.'
  })),
  clientRef: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Your own reference for this send; logged and echoed back.' })),
  callbackUrl: Type.Optional(CallbackUrlSchema),
  sendAt: Type.Optional(SendAtSchema)
}

type CommonName = keyof typeof CommonFields

/** A kind route body: the common fields (less `omit`) plus the kind's own, nothing else. */
export function kindBody<P extends TProperties> (fields: P, description: string, omit: CommonName[] = []) {
  const common: TProperties = { ...CommonFields }
  for (const name of omit) Reflect.deleteProperty(common, name)
  return Type.Object({ ...common, ...fields } as typeof CommonFields & P, { additionalProperties: false, description })
}

export const PhoneEchoSchema = Type.Object({
  input: Type.String({ description: 'The `to` you sent.' }),
  normalized: Type.String({ description: 'What was sent to Jelou: country code and number, digits only.' }),
  country: Type.Union([Type.String(), Type.Null()], { description: 'Region of the number (ISO 3166 alpha-2), when known; null for non-geographic numbers such as +800.' }),
  countrySource: Type.Union([Type.Literal('prefix'), Type.Literal('digits'), Type.Literal('country-field'), Type.Literal('default-country')], {
    description: 'Where the country came from: `prefix` (the number started with +, 00 or the region\'s international prefix such as 011), `digits` (an unformatted digit string read country code first), `country-field` (read as a national number of the `country` you gave), `default-country` (read as a national number of DEFAULT_COUNTRY).'
  }),
  allowance: Type.Optional(Type.String({ description: 'Set when the number passed only through a documented allowance (MX_521, BR_NO_NINTH_DIGIT).' }))
}, { description: 'How `to` was read.' })

export const SendResultSchema = Type.Object({
  messageId: Type.String({ description: 'Jelou id of the accepted message; use it to follow delivery. For a scheduled send, this service\'s id (`sch-…`).' }),
  status: Type.Optional(Type.Literal('scheduled', { description: 'Set when the send waits for its sendAt: nothing was sent yet.' })),
  sendAt: Type.Optional(Type.String({ format: 'date-time', description: 'When a scheduled send goes out.' })),
  statusUrl: Type.String({ description: 'Where to follow its delivery: GET this path (same API key).' }),
  resolved: Type.Optional(Type.Boolean({ description: 'True when a same-key retry found the message of an earlier attempt whose outcome was unknown (504): it was sent once.' })),
  to: Type.String({ description: 'The normalized number.' }),
  kind: Type.String({ description: 'Template kind route used.' }),
  template: Type.String(),
  botId: Type.String(),
  requestId: Type.String({ description: 'Also in the X-Request-Id header; quote it when asking about a send.' }),
  phone: PhoneEchoSchema,
  clientRef: Type.Optional(Type.String()),
  sandbox: Type.Boolean({ description: 'True when the message went to the built-in sandbox, not to Jelou.' })
}, { description: 'Jelou accepted the message for delivery (not yet delivered).' })

export const DryRunResultSchema = Type.Object({
  dryRun: Type.Literal(true),
  kind: Type.String(),
  requestId: Type.String(),
  phone: PhoneEchoSchema,
  sandbox: Type.Boolean(),
  upstream: Type.Object({
    method: Type.Literal('POST'),
    path: Type.String({ description: 'Path on JELOU_BASE_URL, with the bot id.' }),
    body: Type.Unknown({ description: 'The exact JSON body that would be sent.' })
  }, { description: 'The request that would be sent (without Authorization).' }),
  preview: PreviewSchema,
  sendAt: Type.Optional(Type.String({ format: 'date-time', description: 'With sendAt: when it would be sent.' }))
}, { description: 'Every check passed; nothing was sent.' })

export const FieldErrorSchema = Type.Object({
  in: Type.String({ description: 'body, querystring or headers.' }),
  path: Type.String({ description: 'JSON pointer to the field, e.g. /params/0.' }),
  rule: Type.String({ description: 'The rule broken: maxLength, pattern, required, additionalProperties, future, …' }),
  message: Type.String(),
  limit: Type.Optional(Type.Union([Type.Number(), Type.String()])),
  region: Type.Optional(Type.String({ description: 'For INVALID_FOR_REGION: the region (ISO 3166 alpha-2) the number was assumed to belong to.' }))
})

export const RetrySchema = Type.Object({
  policy: Type.Union([Type.Literal('never'), Type.Literal('same-key'), Type.Literal('new-key')], {
    description: '`never`: the same request fails the same way, change it first. `same-key`: send the same request again after `afterSeconds`, with the same Idempotency-Key if you sent one (nothing was sent, or the retry learns the outcome; a new key may send twice). `new-key`: only as a new message with a new Idempotency-Key.'
  }),
  afterSeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'Seconds to wait before retrying; equal to the Retry-After header.' }))
}, { description: 'How to retry this request.' })

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'URI naming the error kind.' }),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String({ description: 'Stable machine code, e.g. VALIDATION_FAILED, INVALID_PHONE, UPSTREAM_TIMEOUT.' }),
  detail: Type.String(),
  retriable: Type.Boolean({ description: 'Whether sending the same request again may succeed: `retry.policy` is not `never`.' }),
  retry: RetrySchema,
  requestId: Type.String(),
  reason: Type.Optional(Type.String({ description: 'For INVALID_PHONE: TOO_SHORT, TOO_LONG, INVALID_COUNTRY, NEEDS_COUNTRY, NOT_A_NUMBER or INVALID_FOR_REGION.' })),
  errors: Type.Optional(Type.Array(FieldErrorSchema)),
  resolution: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('ambiguous'), Type.Literal('unresolvable')], {
    description: 'For a 504/502 after which the message may have been sent: `pending`, a same-key retry after Retry-After resolves it; `ambiguous`, messages exist at Jelou that could be this one but also another send\'s, a same-key retry asks again; `unresolvable`, final: whether it was sent cannot be known (a request without an Idempotency-Key, or a key past IDEMPOTENCY_TTL_SECONDS), check the message list before sending again.'
  })),
  candidates: Type.Optional(Type.Integer({ minimum: 1, description: 'With `resolution: ambiguous`: how many messages at Jelou could be this one.' })),
  upstream: Type.Optional(Type.Object({
    status: Type.Integer(),
    body: Type.Unknown({ description: 'Jelou\'s answer with phone numbers, parameters and codes removed.' })
  }))
}, { description: 'RFC 9457 problem details.' })
