// TypeBox mirror of Jelou's HSM request body (shared/upstream/jelou-hsm-request.schema.json); the answer is checked in client.ts.
import { Type, type Static, type TSchema } from 'typebox'

/** The largest answer read from Jelou (a short JSON list); past it the call fails as UPSTREAM_ERROR. */
export const MAX_UPSTREAM_ANSWER_BYTES = 1024 * 1024

export const UPSTREAM_TYPES = ['text', 'hsm', 'image', 'document', 'video', 'catalog', 'carousel'] as const
export const MEDIA_TYPES: ReadonlySet<string> = new Set(['image', 'video', 'document'])

export const ButtonParameterSchema = Type.Object({
  type: Type.String({ minLength: 1, description: 'Button kind, e.g. `URL` (dynamic URL suffix) or `COPY_CODE`.' }),
  param: Type.Optional(Type.Union([Type.String(), Type.Number()], { description: 'Button value: URL suffix or code.' })),
  payload: Type.Optional(Type.Unknown({ description: 'Free-form button payload.' }))
}, { description: 'Runtime value for one template button.' })

export const ButtonPayloadSchema = Type.Object({
  flowId: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'Flow started when the button is tapped.' })),
  action: Type.Optional(Type.String({ description: 'Button label, exactly as approved.' }))
}, { description: 'Behaviour of one quick-reply button.' })

export const CardSchema = Type.Object({
  mediaUrl: Type.Optional(Type.String({ format: 'uri', description: 'Card header media URL.' })),
  params: Type.Optional(Type.Array(Type.String(), { description: 'Card body placeholder values.' })),
  buttonParameters: Type.Optional(Type.Array(ButtonParameterSchema))
}, { description: 'One carousel card.' })

/**
 * The upstream body. `strict` is the raw route's version: unknown top-level fields are
 * refused and `destinations` holds exactly one number in any common format (the route
 * normalizes it). The permissive version is what Jelou itself accepts (the sandbox's rules).
 */
export function upstreamBodySchema (strict: boolean): TSchema {
  const destination = strict
    ? Type.String({ minLength: 1, maxLength: 64, description: 'Recipient phone number in any common format; normalized before sending.' })
    : Type.String({ pattern: '^[1-9][0-9]+$', description: 'Country code and number, digits only.' })
  return Type.Object({
    elementName: strict
      ? Type.String({ pattern: '^[a-z0-9_]{1,512}$', description: 'Approved template name.' })
      : Type.String({ minLength: 1, description: 'Approved template name.' }),
    destinations: Type.Array(destination, strict
      ? { minItems: 1, maxItems: 1, description: 'Exactly one recipient: this service sends to one person at a time.' }
      : { minItems: 1, description: 'Recipient numbers.' }),
    type: Type.Optional(Type.Union(UPSTREAM_TYPES.map((t) => Type.Literal(t)), { description: 'Template kind; Jelou defaults to `text`.' })),
    language: Type.Optional(Type.String({ minLength: 2, description: 'Template language code.' })),
    parameters: Type.Optional(Type.Array(Type.String(), { description: 'Body placeholder values in order.' })),
    mediaUrl: Type.Optional(Type.String({ format: 'uri', description: 'Header media URL; required for image, video and document.' })),
    filename: Type.Optional(Type.String({ description: 'Document file name.' })),
    fileName: Type.Optional(Type.String({ deprecated: true, description: 'Legacy spelling of `filename`.' })),
    headerParameters: Type.Optional(Type.Array(Type.String(), { maxItems: 1, description: 'Header variable value, at most one.' })),
    buttonParameters: Type.Optional(Type.Array(ButtonParameterSchema)),
    buttonPayloads: Type.Optional(Type.Array(ButtonPayloadSchema)),
    actions: Type.Optional(Type.Object({
      setFlow: Type.Optional(Type.Object({ id: Type.Union([Type.Integer(), Type.String()]) }, { description: 'Route the reply to a flow.' })),
      setState: Type.Optional(Type.Object({}, { description: 'Option menu.', additionalProperties: true })),
      setMemoryParams: Type.Optional(Type.Object({}, { description: 'Values stored in the user memory.', additionalProperties: true }))
    }, { description: 'Post-send conversation configuration.' })),
    ltoParams: Type.Optional(Type.Object({ expirationTime: Type.Number({ description: 'Offer expiry, epoch ms.' }) }, { description: 'Limited-time-offer parameters.' })),
    cards: Type.Optional(Type.Array(CardSchema, { minItems: 1, description: 'Carousel cards.' })),
    expirationTime: Type.Optional(Type.String({ description: 'Message expiry, epoch ms as a string.' })),
    campaignId: Type.Optional(Type.String({ description: 'Campaign the send belongs to.' })),
    thumbnailProduct: Type.Optional(Type.String({ description: 'Catalog thumbnail URL.' })),
    dynamicUrlParameter: Type.Optional(Type.Array(Type.String(), { deprecated: true, description: 'Legacy dynamic URL values.' }))
  }, { additionalProperties: !strict, description: 'A Jelou HSM request body.' })
}

export interface UpstreamBody {
  elementName: string
  destinations: string[]
  type?: typeof UPSTREAM_TYPES[number]
  language?: string
  parameters?: string[]
  mediaUrl?: string
  filename?: string
  fileName?: string
  headerParameters?: string[]
  buttonParameters?: Array<Static<typeof ButtonParameterSchema>>
  buttonPayloads?: Array<Static<typeof ButtonPayloadSchema>>
  actions?: { setFlow?: { id: number | string }, setState?: Record<string, unknown>, setMemoryParams?: Record<string, string> }
  ltoParams?: { expirationTime: number }
  cards?: Array<Static<typeof CardSchema>>
  expirationTime?: string
  campaignId?: string
  thumbnailProduct?: string
  dynamicUrlParameter?: string[]
}

/** The conditional rules of the upstream schema (`allOf` if/then), which OpenAPI 3.0 cannot carry. */
export function upstreamConditionalErrors (body: UpstreamBody): Array<{ path: string, rule: string, message: string }> {
  const errors = []
  if (body.type !== undefined && MEDIA_TYPES.has(body.type) && body.mediaUrl === undefined) {
    errors.push({ path: '/mediaUrl', rule: 'required', message: `is required when type is ${body.type}` })
  }
  if (body.type === 'carousel' && body.cards === undefined) {
    errors.push({ path: '/cards', rule: 'required', message: 'is required when type is carousel' })
  }
  return errors
}
