import { type Command, Option } from "commander";
import type { EvalTarget } from "../app/eval/run-evaluation.ts";
import type { LocalStack } from "../app/local/local-stack.ts";
import { modelCatalogueFor } from "../app/worker/worker.ts";
import type { Config } from "../core/config/config.ts";
import { InvalidRequestError } from "../core/errors/errors.ts";
import { configFrom, useLocalCredentials } from "./config-from-flags.ts";
import { DEFAULT_EMULATOR_LATENCY, EMULATOR_HELP, emulatorSettings } from "./emulator-flag.ts";
import { integerArg } from "./numeric-flags.ts";

/** The flags of a command that labels a gold set: where the model runs, and the bootstrap's settings. */
export interface EvalTargetFlags {
  target: "emulator" | "bedrock";
  emulator?: string;
  seed: number;
  resamples: number;
}

/** Add --target, --emulator, --seed and --resamples (labelq eval, labelq distill gate). */
export function withEvalTargetOptions(command: Command): Command {
  return command
    .addOption(new Option("--target <where>", "emulator: an embedded Bedrock emulator (test double); bedrock: the endpoint the configuration names").choices(["emulator", "bedrock"]).default("emulator"))
    .option("--emulator <json>", EMULATOR_HELP)
    .option("--seed <n>", "bootstrap seed", integerArg(0, 2 ** 31 - 1), 1)
    .option("--resamples <n>", "bootstrap resamples", integerArg(100, 100_000), 1_000);
}

/** The configuration and target to label against; `close` stops the embedded stack if one was started. */
export interface OpenedEvalTarget {
  config: Config;
  target: EvalTarget;
  close(): Promise<void>;
}

/** Start the embedded stack with its Bedrock emulator (--target emulator), or use the configured endpoint (--target bedrock). */
export async function openEvalTarget(o: Pick<EvalTargetFlags, "target" | "emulator">): Promise<OpenedEvalTarget> {
  if (o.target !== "emulator") {
    const config = configFrom({}, { logLevel: "warn" });
    return { config, target: { kind: "bedrock", description: config.endpoints.bedrock ?? `Amazon Bedrock in ${config.region}` }, close: () => Promise.resolve() };
  }
  useLocalCredentials();
  const base = configFrom({}, { logLevel: "warn" });
  const { startLocalStack } = await import("../app/local/local-stack.ts");
  const stack: LocalStack = await startLocalStack({ region: base.region, emulator: { latency: DEFAULT_EMULATOR_LATENCY, ...emulatorSettings(o.emulator) } });
  return {
    config: configFrom({ LOG_LEVEL: base.log.level, ...stack.env }),
    target: { kind: "emulator", description: `Bedrock emulator (test double) at ${stack.endpoints.bedrock}${o.emulator ? `, settings ${o.emulator}` : ""}` },
    close: () => stack.close(),
  };
}

/** Refuse, before any text is labelled, a model alias the catalogue does not know; `flag` names where it came from. */
export function requireKnownModel(config: Config, flag: string, alias: string): void {
  const catalogue = modelCatalogueFor(config);
  if (!catalogue.find(alias)) {
    throw new InvalidRequestError(`${flag} "${alias}" is not a model labelq knows (known: ${[...new Set(catalogue.models.map((m) => m.alias))].join(", ")})`, [], "MODEL_NOT_ALLOWED");
  }
}
