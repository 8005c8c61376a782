import { BedrockClient } from "@aws-sdk/client-bedrock";
import { S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config/config.ts";

/** The clients only the bulk path uses: S3 for job input and output, the Bedrock control plane for jobs. */
export interface BulkClients {
  s3: S3Client;
  bedrockControl: BedrockClient;
  destroy(): void;
}

/**
 * Built from config like every AWS client (src/aws-clients.ts): endpoints from
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_BEDROCK, credentials from the SDK's chain. With an
 * endpoint override S3 is addressed path-style (an emulator has no DNS for virtual hosts).
 */
export function createBulkClients(config: Pick<Config, "region" | "endpoints">): BulkClients {
  const s3 = new S3Client({ region: config.region, endpoint: config.endpoints.s3, forcePathStyle: config.endpoints.s3 !== undefined });
  // The loop retries on its next pass; the SDK's own three attempts smooth a passing throttle.
  const bedrockControl = new BedrockClient({ region: config.region, endpoint: config.endpoints.bedrockControl, maxAttempts: 3 });
  return {
    s3,
    bedrockControl,
    destroy() {
      s3.destroy();
      bedrockControl.destroy();
    },
  };
}
