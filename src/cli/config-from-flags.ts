import { type Config, loadConfig } from "../config/config.ts";
import { LOCAL_CREDENTIALS } from "../local/local-stack.ts";

/** Flags override the environment variable of the same setting; then config is validated once. */
export function configFrom(flags: Record<string, string | number | undefined>): Config {
  const overrides = Object.fromEntries(Object.entries(flags).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
  return loadConfig({ ...process.env, ...overrides });
}

/** Emulators need some credentials; never set them when real AWS is the target (no endpoint override). */
export function useLocalCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
}
