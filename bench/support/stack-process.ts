// The embedded stack (fauxqs, dynalite and the Bedrock emulator, a test double) in a process of
// its own, for benchmarks that measure labelq's worker rather than the emulators sharing its CPU:
// as on AWS, where SQS, DynamoDB and Bedrock run elsewhere. Prints one JSON line when ready
// ({ env, queues }) and closes the stack when its stdin ends (the parent exited) or on SIGTERM.
//   node bench/support/stack-process.ts '{"latency":{"fixedMs":300,"perOutputTokenMs":2}}'
import { startLocalStack } from "../../src/app/local/local-stack.ts";

const emulator = JSON.parse(process.argv[2] ?? "{}") as NonNullable<Parameters<typeof startLocalStack>[0]>["emulator"];
const stack = await startLocalStack({ emulator });
let closing: Promise<void> | undefined;
const close = () => {
  closing ??= stack.close().then(() => process.exit(0));
  return closing;
};
process.once("SIGTERM", () => void close());
process.stdin.on("end", () => void close()).resume();
process.stdout.write(JSON.stringify({ env: stack.env, queues: stack.queues }) + "\n");
