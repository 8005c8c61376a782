# syntax=docker/dockerfile:1
#
# labelq in Lambda mode: the same sources and production dependencies as the worker image
# (../../Dockerfile), on the AWS Lambda Node.js 24 base image, which brings the runtime
# interface client. Built by the CDK app (compute=lambda) with the repository as context.

FROM public.ecr.aws/lambda/nodejs:24 AS deps
WORKDIR /build
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver

FROM public.ecr.aws/lambda/nodejs:24
ENV NODE_ENV=production \
    LABELQ_LOG_PRETTY=false
COPY --from=deps /build/node_modules ${LAMBDA_TASK_ROOT}/node_modules
COPY package.json ${LAMBDA_TASK_ROOT}/
COPY src ${LAMBDA_TASK_ROOT}/src
COPY prompts ${LAMBDA_TASK_ROOT}/prompts
# The runtime loads handlers from .js/.mjs/.cjs files only: src/lambda/index.js re-exports the
# TypeScript handler, which Node 24 runs by stripping its types (as bin/labelq.js does).
CMD ["src/lambda/index.handler"]
