import { type Command, InvalidArgumentError } from "commander";
import path from "node:path";
import { createLogger } from "../core/observability/logger.ts";
import { configFrom, endpointOverridden, useLocalCredentials } from "./config-from-flags.ts";
import { DEFAULT_EMULATOR_LATENCY, EMULATOR_HELP, emulatorSettings } from "./emulator-flag.ts";
import { integerArg, positiveNumberArg } from "./numeric-flags.ts";
import { packageRoot } from "./package-root.ts";

/** Add `labelq demo`: the whole pipeline in this process on the embedded stack. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("Run the whole pipeline in this process on the embedded stack with the Bedrock emulator (a test double) and print a summary.")
    .option("--texts <file>", "texts to label (.jsonl or .csv)", path.join(packageRoot, "samples", "product-feedback.jsonl"))
    .option("--batch-size <n>", "texts per batch", integerArg(1, 1_000), 50)
    .option("--out <file>", "where to write the results (JSONL); with --distill, the directory for everything it writes (default out/demo-distill)")
    .option("--timeout <seconds>", "give up after this long", positiveNumberArg("seconds"), 300)
    .option("--emulator <json>", EMULATOR_HELP)
    .option("--runs <n>", "label the same texts this many times on the same stack (run 2 shows the label cache)", integerArg(1, 10), 1)
    .option("--bulk", "label the sample through the bulk path (Bedrock batch inference jobs, on the emulator) and show its cost beside the live cost")
    .option("--external", "use the stack and workers the configuration names (e.g. a running `labelq local`) instead of starting them")
    .option(
      "--distill",
      "teacher to student on the embedded stack: label the sample with the teacher, export a training set, train and deploy a student on the emulator, gate it, " +
        "route a 10 % canary to it, and compare agreement and cost per 1,000 texts of teacher, student and cascade (docs/distill.md)",
    )
    .action(async (o: { texts: string; batchSize: number; out?: string; timeout: number; emulator?: string; runs: number; external?: boolean; bulk?: boolean; distill?: boolean }) => {
      const base = configFrom({}, { logLevel: "warn" });
      // --external talks to what the configuration names, which may be real AWS: its own credentials then.
      if (!o.external || endpointOverridden(base)) useLocalCredentials();
      const logger = createLogger(base.log);
      if (o.distill) {
        if (o.external || o.bulk || o.runs > 1) throw new InvalidArgumentError("--distill runs on the embedded stack on its own: leave out --external, --bulk and --runs");
        const { runDistillDemo, DEMO_STUDENT_ERRORS } = await import("../app/distill/run-distill-demo.ts");
        await runDistillDemo({
          textsFile: o.texts,
          outDir: path.resolve(o.out ?? path.join("out", "demo-distill")),
          batchSize: o.batchSize,
          env: { ...process.env, LOG_LEVEL: base.log.level },
          logger,
          timeoutMs: o.timeout * 1000,
          emulator: { latency: DEFAULT_EMULATOR_LATENCY, studentLabelErrors: DEMO_STUDENT_ERRORS, ...emulatorSettings(o.emulator) },
          canaryShare: 0.1,
          maxTextChars: base.limits.maxTextChars,
          write: (line) => process.stdout.write(line + "\n"),
        });
        return;
      }
      const outFile = path.resolve(o.out ?? path.join("out", `demo-results-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`));
      // Loaded when the command runs: the embedded stack costs every other command ~1.5 s of start-up.
      const { runDemo } = await import("../app/demo/run-demo.ts");
      await runDemo({
        textsFile: o.texts,
        outFile,
        batchSize: o.batchSize,
        runs: o.runs,
        external: o.external ?? false,
        bulk: o.bulk ?? false,
        env: { ...process.env, LOG_LEVEL: base.log.level },
        logger,
        timeoutMs: o.timeout * 1000,
        maxTextChars: base.limits.maxTextChars,
        emulator: { latency: DEFAULT_EMULATOR_LATENCY, ...emulatorSettings(o.emulator) },
        write: (line) => process.stdout.write(line + "\n"),
      });
    });
}
