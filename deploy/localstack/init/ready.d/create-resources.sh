#!/bin/bash
# LocalStack init hook (ready stage): creates the labelq queues once LocalStack serves
# requests. docker-compose.yml mounts this folder at /etc/localstack/init/ready.d/.
#
# Same names and attributes as src/adapters/sqs/create-queues.ts (prefix "labelq", its defaults).
# Idempotent: an existing queue is found by name and its attributes are set again, so
# rerunning this (a restart with PERSISTENCE=1, or by hand) converges instead of failing.
set -euo pipefail

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# awslocal points the AWS CLI at LocalStack; LocalStack accepts any credentials.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"

PREFIX="labelq"
DLQ_RETENTION_S=1209600        # 14 days, the SQS maximum
REQUESTS_VISIBILITY_TIMEOUT_S=120
MAX_RECEIVE_COUNT=5

# ensure_queue NAME [ATTRIBUTES_JSON] -> prints the queue URL
ensure_queue() {
  local name="$1" attributes="${2:-}" url
  if url="$(awslocal sqs get-queue-url --queue-name "$name" --query QueueUrl --output text 2>/dev/null)"; then
    if [[ -n "$attributes" ]]; then
      awslocal sqs set-queue-attributes --queue-url "$url" --attributes "$attributes"
    fi
  elif [[ -n "$attributes" ]]; then
    url="$(awslocal sqs create-queue --queue-name "$name" --attributes "$attributes" --query QueueUrl --output text)"
  else
    url="$(awslocal sqs create-queue --queue-name "$name" --query QueueUrl --output text)"
  fi
  echo "$url"
}

dlq_url="$(ensure_queue "${PREFIX}-dlq" "{\"MessageRetentionPeriod\":\"${DLQ_RETENTION_S}\"}")"
dlq_arn="$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)"

# RedrivePolicy is itself a JSON document, passed as a string attribute value.
redrive_policy="{\\\"deadLetterTargetArn\\\":\\\"${dlq_arn}\\\",\\\"maxReceiveCount\\\":${MAX_RECEIVE_COUNT}}"
requests_url="$(ensure_queue "${PREFIX}-requests" "{\"VisibilityTimeout\":\"${REQUESTS_VISIBILITY_TIMEOUT_S}\",\"RedrivePolicy\":\"${redrive_policy}\"}")"

results_url="$(ensure_queue "${PREFIX}-results")"

# --- DynamoDB -------------------------------------------------------------------------------
# Same definitions as src/adapters/dynamodb/create-tables.ts (tableDefinitions): one string hash key each,
# on-demand billing, TTL on expiresAt.
ensure_table() {
  local name="$1" key="$2"
  if ! awslocal dynamodb describe-table --table-name "$name" >/dev/null 2>&1; then
    awslocal dynamodb create-table --table-name "$name" \
      --attribute-definitions "AttributeName=${key},AttributeType=S" \
      --key-schema "AttributeName=${key},KeyType=HASH" \
      --billing-mode PAY_PER_REQUEST >/dev/null
    awslocal dynamodb wait table-exists --table-name "$name"
  fi
  awslocal dynamodb update-time-to-live --table-name "$name" \
    --time-to-live-specification "Enabled=true,AttributeName=expiresAt" >/dev/null 2>&1 || true
}
ensure_table "${PREFIX}-label-cache" pk
ensure_table "${PREFIX}-batches" batchId

# The bulk path's table (src/adapters/dynamodb/create-tables.ts, bulkTableDefinition): key pk, and the
# sparse index byGroup (gpk, gsk). Used only with LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN set.
if ! awslocal dynamodb describe-table --table-name "${PREFIX}-bulk" >/dev/null 2>&1; then
  awslocal dynamodb create-table --table-name "${PREFIX}-bulk" \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=gpk,AttributeType=S AttributeName=gsk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH \
    --global-secondary-indexes '[{"IndexName":"byGroup","KeySchema":[{"AttributeName":"gpk","KeyType":"HASH"},{"AttributeName":"gsk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]' \
    --billing-mode PAY_PER_REQUEST >/dev/null
  awslocal dynamodb wait table-exists --table-name "${PREFIX}-bulk"
fi
awslocal dynamodb update-time-to-live --table-name "${PREFIX}-bulk" \
  --time-to-live-specification "Enabled=true,AttributeName=expiresAt" >/dev/null 2>&1 || true

# --- S3 -------------------------------------------------------------------------------------
# The bulk path's bucket (LABELQ_BULK_BUCKET=labelq-bulk) for batch inference input and output.
awslocal s3api head-bucket --bucket "${PREFIX}-bulk" >/dev/null 2>&1 || awslocal s3api create-bucket --bucket "${PREFIX}-bulk" >/dev/null

echo "labelq: queues ready: requests=${requests_url} results=${results_url} dlq=${dlq_url} (redrive to ${dlq_arn} after ${MAX_RECEIVE_COUNT} receives)"
