import fs from "node:fs/promises";
import path from "node:path";

/**
 * A shell file that points labelq, the AWS SDKs and the AWS CLI at a running `labelq local`:
 * `source` it in another terminal. AWS_DEFAULT_REGION is there because the AWS CLI v1 reads
 * only that one; the credentials are the emulators' (any value works there).
 */
export function localEnvBlock(env: Readonly<Record<string, string>>, credentials: { accessKeyId: string; secretAccessKey: string }, startedAt: Date): string {
  const region = env.AWS_REGION ?? "us-east-1";
  const vars: Record<string, string> = {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...env,
  };
  return [
    `# labelq local, started ${startedAt.toISOString()}: the embedded stack (SQS, DynamoDB, Bedrock emulator).`,
    "# Source it in another shell (. <this file>); the credentials only work against this stack.",
    ...Object.entries(vars).map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    "",
  ].join("\n");
}

/** Write the env block, creating its folder; returns the path written. */
export async function writeLocalEnvFile(file: string, block: string): Promise<string> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await fs.writeFile(file, block);
  return file;
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
