// The ordered table of template kinds: the single list the routes and the OpenAPI document read.
import type { TemplateKind } from './kind.js'
import { text } from './text.js'
import { image } from './image.js'
import { video } from './video.js'
import { document } from './document.js'
import { headerParameter } from './header-parameter.js'
import { urlButton } from './url-button.js'
import { quickReply } from './quick-reply.js'
import { catalog } from './catalog.js'
import { limitedTimeOffer } from './limited-time-offer.js'
import { authentication } from './authentication.js'
import { carousel } from './carousel.js'

export const TEMPLATE_KINDS = [
  text, image, video, document, urlButton, quickReply, headerParameter, catalog, limitedTimeOffer, authentication, carousel
] as unknown as readonly TemplateKind[]
