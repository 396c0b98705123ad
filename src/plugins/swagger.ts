// OpenAPI 3 document generated from the route schemas, and Swagger UI at /docs.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { completeDocument } from './openapi-answers.js'

export default fp<{ version: string }>(async (app, opts) => {
  await app.register(swagger, {
    // Shared schemas keep their $id as their name under components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'jelou-hsm-proxy',
        version: opts.version,
        description: 'Send one WhatsApp template (HSM) message to one person through Jelou. Each template kind has its own small body; the service validates it, normalizes the phone number, adds the Jelou credentials and forwards it. In sandbox mode (no credentials) messages go to a built-in Jelou look-alike: try any example below, then open [the sandbox inbox](/sandbox) to see each message as the recipient\'s phone would show it. Add `?dryRun=true` to any send to get the exact Jelou body and a rendered `preview` without sending.',
        // Internal, unpublished software: a license name and no URL (there is no public license text to link).
        license: { name: 'UNLICENSED (internal use only)' }
      },
      servers: [{ url: '/', description: 'This service' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A key from API_KEYS (when the service has keys configured).' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key, as a header.' },
          eventsToken: { type: 'http', scheme: 'bearer', description: 'JELOU_EVENTS_TOKEN: only for the events receiver (Jelou calls it; Basic with the token as password also works).' }
        }
      },
      tags: [
        { name: 'messages', description: 'Send one template message to one person.' },
        { name: 'templates', description: 'Your company\'s templates by name, one route each, from the template catalogue (Jelou\'s lists and TEMPLATES_FILE). This document lists the templates of the running deployment; the published openapi.json shows the sandbox\'s demo catalogue.' },
        { name: 'status', description: 'Delivery status of the messages you sent, and the receiver for Jelou\'s status events.' },
        { name: 'sandbox', description: 'Sandbox mode only: what the built-in Jelou look-alike received; the inbox page is at /sandbox.' },
        { name: 'health', description: 'Liveness, readiness and metrics.' }
      ]
    },
    // Each route's `x-answers` becomes its statuses, codes, headers and examples.
    transformObject: (document) => completeDocument((document as { openapiObject: Parameters<typeof completeDocument>[0] }).openapiObject)
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false }
  })
}, { name: 'swagger', fastify: '5.x' })
