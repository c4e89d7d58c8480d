# Easel hub / worker image. docker-compose.yml picks the process with `command:`.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    DATA_DIR=/app/data \
    PORT=8000
WORKDIR /app

# Dependencies first, for layer caching. .npmrc carries onnxruntime-node-install=skip (its install script
# downloads CUDA binaries and fails offline). No devDependencies: tsx runs the TypeScript sources directly.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY config ./config
COPY scripts ./scripts
COPY src ./src
# ONNX weights and their manifest, produced on the build host by `npm run weights` (see weights/README.md).
COPY weights ./weights

# Run unprivileged; DATA_DIR (media files, shared between hub nodes through a volume) belongs to that user.
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# = `npm run hub`, without npm in between so SIGTERM reaches the hub and it drains before exiting.
CMD ["node", "--import", "tsx", "src/main.ts", "--hub"]
