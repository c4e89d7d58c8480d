# Easel hub / worker image. docker-compose.yml picks the process with `command:`.
# Node 24 "Krypton" (LTS until 2028-04-30) on Debian 13: MikroORM 7 declares node >= 22.17, and
# uWebSockets.js ships its Node 24 binary (ABI 137) built against glibc 2.38, which Debian 12 (bookworm,
# glibc 2.36) lacks, so a bookworm image would silently fall back to node:http. Node 26 (LTS since 2026-10-28)
# is not used yet: uWebSockets.js 3.0.6 has no binary for its ABI. .ci/run runs the suite on the same Node 24.
FROM node:24-trixie-slim

ENV NODE_ENV=production \
    DATA_DIR=/app/data \
    PORT=8000 \
    ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app

# Dependencies first, for layer caching. ONNXRUNTIME_NODE_INSTALL=skip (above): onnxruntime-node's install
# script downloads CUDA binaries and fails offline. No devDependencies: tsx runs the TypeScript sources directly.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY config ./config
COPY scripts ./scripts
COPY src ./src
# The web app served at `/` (Vite + Preact are dependencies, so this works without devDependencies). Built here
# because the image runs node directly, not `npm start` (whose prestart builds it).
COPY web ./web
RUN npm run build:web
# ONNX weights and their manifest, produced on the build host by `npm run weights` (see weights/README.md).
COPY weights ./weights

# Run unprivileged; DATA_DIR (media files, shared between hub nodes through a volume) and /app/run (the worker
# token that docker-compose.yml's worker-token service writes for the worker) belong to that user.
RUN mkdir -p /app/data /app/run && chown node:node /app/data /app/run
USER node

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# = `npm run hub`, without npm in between so SIGTERM reaches the hub and it drains before exiting.
CMD ["node", "--import", "tsx", "src/main.ts", "--hub"]
