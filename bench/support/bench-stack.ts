import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { QueueSet } from "../../src/adapters/sqs/create-queues.ts";
import { startLocalStack } from "../../src/app/local/local-stack.ts";

/** Where a benchmark's embedded stack runs: in the bench's own process, or in a child process. */
export type StackPlacement = "inline" | "process";

/** The parts of the embedded stack a benchmark uses, wherever it runs. */
export interface BenchStack {
  env: Record<string, string>;
  queues: QueueSet;
  /** Converse calls the Bedrock emulator (a test double) has answered so far. */
  modelCalls(): Promise<number>;
  close(): Promise<void>;
}

type EmulatorSettings = NonNullable<Parameters<typeof startLocalStack>[0]>["emulator"];

/** Start the embedded stack inline or in a child process (see stack-process.ts). */
export async function startBenchStack(placement: StackPlacement, emulator: EmulatorSettings): Promise<BenchStack> {
  if (placement === "inline") {
    const stack = await startLocalStack({ emulator });
    return { env: stack.env, queues: stack.queues, modelCalls: () => Promise.resolve(stack.emulator.stats().calls), close: () => stack.close() };
  }
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "stack-process.ts");
  const child = spawn(process.execPath, [script, JSON.stringify(emulator ?? {})], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = await firstLine(child);
  const { env, queues } = JSON.parse(ready) as { env: Record<string, string>; queues: QueueSet };
  const bedrock = env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME!;
  return {
    env,
    queues,
    async modelCalls() {
      const response = await fetch(new URL("/_emulator/stats", bedrock));
      return ((await response.json()) as { calls: number }).calls;
    },
    async close() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      lines.close();
      resolve(line);
    });
    child.once("exit", (code) => reject(new Error(`the stack process exited (${String(code)}) before it was ready`)));
  });
}
