import { type Config, type ConfigDefaults, loadConfig } from "../core/config/config.ts";
import { LOCAL_CREDENTIALS } from "../app/local/local-credentials.ts";

/** Flags override the environment variable of the same setting; then config is validated once. */
export function configFrom(flags: Record<string, string | number | undefined>, defaults: ConfigDefaults = {}): Config {
  const overrides = Object.fromEntries(Object.entries(flags).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
  return loadConfig({ ...process.env, ...overrides }, defaults);
}

/** Whether the configuration points the AWS clients at an endpoint override (LocalStack, `labelq local`) rather than AWS. */
export function endpointOverridden(config: Pick<Config, "endpoints">): boolean {
  const { sqs, dynamodb, bedrock } = config.endpoints;
  return sqs !== undefined || dynamodb !== undefined || bedrock !== undefined;
}

/**
 * Emulators need some credentials: placeholders go into the environment, where the SDKs read them.
 * Call it only when an embedded stack or an endpoint override is the target, never real AWS.
 */
export function useLocalCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
}
