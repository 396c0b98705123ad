// The preview's shape (SPEC §20): the message as the customer will see it, with what did not fit reported.
import { Type, type Static } from 'typebox'

export const PreviewProblemSchema = Type.Object({
  code: Type.String({ description: '`UNKNOWN_TEMPLATE`, `UNKNOWN_LANGUAGE`, `MISSING_VALUE`, `EXTRA_VALUE`, `LABEL_MISMATCH`, `HEADER_MISMATCH` or `UNKNOWN_TEXT`.' }),
  path: Type.String({ description: 'JSON pointer into the upstream body (or the template, e.g. `/template/text`) that the problem is about.' }),
  message: Type.String()
}, { description: 'A placeholder without a value, a value without a placeholder, or text the catalogue does not have: reported, never guessed.' })

export const PreviewHeaderSchema = Type.Object({
  type: Type.String({ description: '`text`, `image`, `video` or `document`.' }),
  text: Type.Optional(Type.String({ description: 'A text header, its placeholder filled.' })),
  url: Type.Optional(Type.String({ description: 'The media URL sent (never fetched by the service).' })),
  filename: Type.Optional(Type.String({ description: 'A document header\'s file name.' }))
}, { description: 'The message header.' })

export const PreviewButtonSchema = Type.Object({
  type: Type.String({ description: '`URL`, `QUICK_REPLY`, `COPY_CODE` or `PHONE_NUMBER`.' }),
  text: Type.String({ description: 'The label the customer sees; empty when the catalogue does not have it.' }),
  url: Type.Optional(Type.String({ description: 'A URL button\'s target, its dynamic suffix filled.' })),
  code: Type.Optional(Type.String({ description: 'What a copy-code button copies.' })),
  flowId: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: 'The Jelou flow a quick reply starts.' }))
}, { description: 'One button.' })

export const PreviewCardSchema = Type.Object({
  header: Type.Optional(PreviewHeaderSchema),
  body: Type.Union([Type.String(), Type.Null()], { description: 'The card text, filled; null when the catalogue has no card text.' }),
  values: Type.Array(Type.String(), { description: 'The card\'s body values in order, as sent.' }),
  buttons: Type.Array(PreviewButtonSchema)
}, { description: 'One carousel card.' })

export const PreviewSchema = Type.Object({
  template: Type.String({ description: 'The template name (`elementName`).' }),
  language: Type.Union([Type.String(), Type.Null()], { description: 'The language whose text was used; null when none could be chosen.' }),
  known: Type.Boolean({ description: 'True when the catalogue has the template\'s text in that language.' }),
  header: Type.Optional(PreviewHeaderSchema),
  body: Type.Union([Type.String(), Type.Null()], { description: 'The body with every placeholder filled (a placeholder without a value stays as `{{n}}`); null when the text is unknown.' }),
  values: Type.Array(Type.String(), { description: 'The body values in order, as sent.' }),
  footer: Type.Optional(Type.String()),
  buttons: Type.Array(PreviewButtonSchema),
  cards: Type.Array(PreviewCardSchema),
  offerExpiresAt: Type.Optional(Type.String({ description: 'A limited-time offer\'s end (ISO 8601).' })),
  thumbnailUrl: Type.Optional(Type.String({ description: 'A catalog message\'s product thumbnail URL.' })),
  problems: Type.Array(PreviewProblemSchema, { description: 'Empty when every placeholder has a value and every value a placeholder.' })
}, { description: 'The message as the customer will see it, rendered from the catalogue\'s template text and the exact upstream body. Values are plain text, never markup.' })

export type PreviewProblem = Static<typeof PreviewProblemSchema>
export type PreviewHeader = Static<typeof PreviewHeaderSchema>
export type PreviewButton = Static<typeof PreviewButtonSchema>
export type PreviewCard = Static<typeof PreviewCardSchema>
export type Preview = Static<typeof PreviewSchema>
