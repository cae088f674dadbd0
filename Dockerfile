# Roster container image: build with the full toolchain, run with production
# dependencies only, as an unprivileged user, on a read-only root filesystem.
#   docker build -t roster .
#   docker run -e DATABASE_URL=postgres://... -p 8080:8080 roster

# Node 22 in every stage: package.json "engines" admits 20.19+ and 22.12+, and CI tests on Node 20.

# --- build: compile TypeScript to dist/ ---
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# --- deps: production node_modules only ---
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

# --- runtime ---
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root: the process can read its code but not change it.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json carries "type": "module", which the compiled ESM files need.
COPY package.json ./
# Numeric uid/gid of the image's "node" user, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# 8080: SCIM and admin API (PORT); 9464: Prometheus /metrics (METRICS_PORT).
EXPOSE 8080 9464
# Node runs as PID 1 and receives SIGTERM directly; Roster shuts down gracefully on it.
# No HEALTHCHECK: Kubernetes probes /livez and /readyz instead.
# Nothing is written to the filesystem when DATABASE_URL is set (PGlite is for local use only).
CMD ["node", "dist/src/main.js"]
