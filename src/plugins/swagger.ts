// OpenAPI 3 document generated from the route schemas, and Swagger UI at /docs.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

export default fp<{ version: string }>(async (app, opts) => {
  await app.register(swagger, {
    // Shared schemas keep their $id as their name under components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'jelou-hsm-proxy',
        version: opts.version,
        description: 'Send one WhatsApp template (HSM) message to one person through Jelou. Each template kind has its own small body; the service validates it, normalizes the phone number, adds the Jelou credentials and forwards it. In sandbox mode (no credentials) messages go to a built-in Jelou look-alike: try any example below.',
        license: { name: 'UNLICENSED', url: 'https://jelou-hsm-proxy/license' }
      },
      servers: [{ url: '/', description: 'This service' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A key from API_KEYS (when the service has keys configured).' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key, as a header.' }
        }
      },
      tags: [
        { name: 'messages', description: 'Send one template message to one person.' },
        { name: 'templates', description: 'Your company\'s templates by name, one route each, from the template catalogue (Jelou\'s lists and TEMPLATES_FILE). This document lists the templates of the running deployment; the published openapi.json shows the sandbox\'s demo catalogue.' },
        { name: 'sandbox', description: 'Sandbox mode only: what the built-in Jelou look-alike received.' },
        { name: 'health', description: 'Liveness and readiness.' }
      ]
    }
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false }
  })
}, { name: 'swagger', fastify: '5.x' })
