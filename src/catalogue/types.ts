// The template catalogue's shape (SPEC §17): what Jelou's list and the catalogue file say about each company template.

/** A status as Jelou's template list returns it (upper case); only `APPROVED` templates are sendable. */
export type TemplateStatus = 'APPROVED' | 'PENDING' | 'REJECTED' | 'DISABLED' | 'DELETED' | (string & {})

/** One body variable, `{{position}}` in the template text, sent as `variables.<name>`. */
export interface TemplateVariable {
  /** A safe identifier (`^[A-Za-z_][A-Za-z0-9_]*$`), from the catalogue file, else Jelou's label, else `var<n>`. */
  name: string
  /** 1-based position in Jelou's `parameters` (the `n` of `{{n}}`). */
  position: number
  description?: string
  /** Longer values are refused before the send (at most 1024, Jelou's own limit). */
  maxLength?: number
  /** Example value for the route's OpenAPI example. */
  example?: string
}

/** A button as the customer sees it; a URL button's `url` may end in `{{1}}`, filled by `urlParams`. */
export interface TemplateButton {
  type: 'URL' | 'QUICK_REPLY' | 'COPY_CODE' | 'PHONE_NUMBER'
  text: string
  url?: string
}

/** A disagreement between the sources, or a reason the template cannot be sent; sends to it are refused with `code`. */
export interface CatalogueProblem {
  code: string
  message: string
}

/** A problem of the catalogue as a whole (a bad name, a list cut short, one name on two bots): listed by GET /v1/templates. */
export interface CatalogueIssue {
  code: 'TEMPLATE_NAME_INVALID' | 'TEMPLATE_LIST_TRUNCATED' | 'TEMPLATE_AMBIGUOUS' | 'CATALOGUE_NO_BOTS'
  botId?: string
  template?: string
  message: string
}

export interface CatalogueTemplate {
  /** Jelou's `elementName`. */
  name: string
  botId: string
  /** Lower-case languages the template exists in, e.g. `['es']`. */
  languages: string[]
  /** One of the template kinds (`text`, `image`, …), which fixes the header and button shape; null when no source says. */
  kind: string | null
  status: TemplateStatus
  category?: string
  displayName?: string
  /** Body text per lower-case language, with `{{n}}` placeholders, as Jelou's list returns it. */
  text: Record<string, string>
  /** Header as the file declares it: a text header may hold `{{1}}` (filled by `headerParam`). */
  header?: { type: 'TEXT' | 'IMAGE' | 'VIDEO' | 'DOCUMENT', text?: string }
  footer?: string
  buttons?: TemplateButton[]
  /** Body variables in position order. */
  variables: TemplateVariable[]
  source: 'jelou' | 'file' | 'both'
  /** Jelou's status per language, when Jelou lists the template; a language not `APPROVED` is refused. */
  languageStatus?: Record<string, TemplateStatus>
  /** From the catalogue file: shown in Swagger UI. */
  description?: string
  /** From the catalogue file: values of the kind's own fields (mediaUrl, urlParams, …) for the route's example. */
  example?: Record<string, unknown>
  problems: CatalogueProblem[]
}
