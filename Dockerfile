# syntax=docker/dockerfile:1
# Talos for TypeScript: the compiled server on Node.js 20, production dependencies only, non-root.
#   docker build -t talos-ts .
#   docker run --rm talos-ts --help
# Configuration comes from TALOS_* environment variables or a mounted file (--config); see README.
ARG NODE_IMAGE=node:20.19-bookworm-slim

# ---- manifests: the workspace package.json files, shared by the two install stages ----
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/http/package.json packages/http/
COPY packages/server/package.json packages/server/
COPY packages/proxy/package.json packages/proxy/
COPY packages/cli/package.json packages/cli/
COPY apps/admin/package.json apps/admin/
COPY apps/public/package.json apps/public/
COPY apps/console/package.json apps/console/

# ---- build: every dependency, compile every workspace to dist/ ----
FROM manifests AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.build.json ./
COPY packages packages
COPY apps apps
RUN npm run build

# ---- deps: production dependencies of every workspace, nothing else ----
FROM manifests AS deps
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime: compiled JavaScript, migrations, production node_modules ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/packages/core/package.json packages/core/
COPY --from=deps /app/packages/http/package.json packages/http/
COPY --from=deps /app/packages/server/package.json packages/server/
COPY --from=deps /app/packages/proxy/package.json packages/proxy/
COPY --from=deps /app/packages/cli/package.json packages/cli/
COPY --from=deps /app/apps/admin/package.json apps/admin/
COPY --from=deps /app/apps/public/package.json apps/public/
COPY --from=deps /app/apps/console/package.json apps/console/
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/http/dist packages/http/dist
COPY --from=build /app/packages/server/dist packages/server/dist
COPY --from=build /app/packages/proxy/dist packages/proxy/dist
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY --from=build /app/apps/admin/dist apps/admin/dist
COPY --from=build /app/apps/public/dist apps/public/dist
COPY --from=build /app/apps/console/dist apps/console/dist
# the console's stylesheet and script, read relative to apps/console/dist
COPY apps/console/static apps/console/static
# resolved relative to packages/core/dist/store/open.js (../../../../drizzle)
COPY drizzle drizzle
# `talos …` for `docker exec` (migrate, jwk generate); the entry point below is the same program
RUN printf '#!/bin/sh\nexec node /app/packages/cli/dist/main.js "$@"\n' > /usr/local/bin/talos \
 && chmod 0755 /usr/local/bin/talos
# the image's unprivileged user (uid 1000); the process writes nothing under /app
USER node
EXPOSE 4420 4422
# readiness on the metrics listener (curl is not in the image: node's fetch instead)
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TALOS_SERVE_METRICS_PORT||4422)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "packages/cli/dist/main.js"]
CMD ["serve"]
