# syntax=docker/dockerfile:1
#
# labelq image: Node 24 runs the TypeScript sources directly (type stripping), so there is
# no build step, only a production install of the dependencies.
#
#   docker build -t labelq .
#   docker run --rm labelq --help
#   docker run --rm -e AWS_REGION=... -e LABELQ_REQUESTS_QUEUE_URL=... labelq   # worker

ARG NODE_IMAGE=node:24-bookworm-slim

# --- Stage 1: production dependencies only -------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The Bedrock emulator (a test double behind `labelq local` and the demo) is a workspace package.
COPY packages/bedrock-emulator/package.json ./packages/bedrock-emulator/
# --omit=dev leaves out the devDependencies, including the `node` package (a Node binary
# for npm scripts on machines with an older system Node) and everything the tests need.
# Install scripts still run for production packages (allowScripts in package.json):
# classic-level (under dynalite) ships prebuilt binaries for linux x64/arm64 (glibc), so
# this slim image needs no compiler. The npm cache lives in a build cache mount, never in
# a layer. typescript comes along as an optional peer of valibot (under fauxqs), but no
# code needs it at run time: Node strips the types itself.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver

# --- Stage 2: runtime ------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# JSON logs always: pino-pretty is a devDependency and not in this image, and the logger
# would otherwise choose it whenever stderr is a TTY (docker run -t).
ENV NODE_ENV=production \
    LABELQ_LOG_PRETTY=false
WORKDIR /app
# Owned by root and read-only to the process: the app never writes to its own files.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY packages ./packages
COPY prompts ./prompts
COPY schemas ./schemas
COPY samples ./samples
# The base image's unprivileged user (uid 1000).
USER node
ENTRYPOINT ["node", "bin/labelq.js"]
CMD ["worker"]
