# jelou-hsm-proxy container: compile TypeScript in a build stage, run the compiled service on
# production dependencies only, as the unprivileged `node` user (nodejs/docker-node BestPractices).
# Build: docker build -t jelou-hsm-proxy .   Run: docker run --init -p 127.0.0.1:3000:3000 --env-file .env jelou-hsm-proxy
# Use an init process (`--init`, or `init: true` in docker-compose.yml) so PID 1 forwards signals.

# ---- build: every dependency, compile src/ to dist/ ----
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and dist/ only ----
FROM node:24-slim AS runtime
# NODE_ENV is for dependencies (the app has no NODE_ENV switches); HOST so the port is reachable.
# SHUTDOWN_DRAIN_MS: on SIGTERM /ready answers 503 for 10 s while requests are still served, long
# enough for a load balancer or Kubernetes to stop routing here (docs/observability.md).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    SHUTDOWN_DRAIN_MS=10000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force
# The app reads ../package.json (relative to dist/) at runtime for its version.
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# No curl in the image: Node's own fetch checks liveness, on PORT if it is overridden.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server.js"]
