import type { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { createEvalCore } from "../app/eval/eval-core.ts";
import { formatReport } from "../app/eval/format-terminal.ts";
import { loadGoldSet } from "../app/eval/gold-set.ts";
import { renderHtmlReport } from "../app/eval/report-html.ts";
import { runEvaluation } from "../app/eval/run-evaluation.ts";
import { DEFAULT_MIN_COVERAGE, DEFAULT_MIN_TEXTS, parseThresholds } from "../app/eval/thresholds.ts";
import { createLogger } from "../core/observability/logger.ts";
import { formatShadowAgreement, shadowAgreement } from "../app/eval/shadow-report.ts";
import { DynamoShadowSummary } from "../adapters/dynamodb/dynamo-shadow-summary.ts";
import { ConfigError } from "../core/errors/errors.ts";
import type { Config } from "../core/config/config.ts";
import { loadModelRoutes } from "../app/worker/model-routes-setup.ts";
import { modelCatalogueFor } from "../app/worker/worker.ts";
import { PromptRegistry } from "../core/prompts/prompt-registry.ts";
import { configFrom } from "./config-from-flags.ts";
import { type EvalTargetFlags, openEvalTarget, requireKnownModel, withEvalTargetOptions } from "./eval-target.ts";
import { checkIntegerFlag, integerArg, shareArg } from "./numeric-flags.ts";
import { packageRoot } from "./package-root.ts";

interface EvalFlags extends EvalTargetFlags {
  gold?: string;
  taxonomy?: string;
  prompt?: string;
  model?: string;
  against?: string;
  repeat: number;
  batchSize: number;
  cache?: boolean;
  min: string[];
  minCoverage?: number;
  minTexts: number;
  json?: boolean;
  html?: string;
  out?: string;
}

/** Exit code when the run completed but a --min threshold or the coverage gate was not met (1 is for errors). */
const THRESHOLD_FAILED = 2;

/** Add `labelq eval`: label a gold set through the worker's core and report how good the labels are. */
export function registerEvalCommand(program: Command): void {
  const evalCommand = program.command("eval");
  evalCommand
    .command("canary")
    .description(
      "Shadow agreement of a prompt alias (how often its version and its shadow version gave the same labels), or with --model-route of a model's shadow route " +
        "in LABELQ_MODEL_ROUTES (the model against its shadow model), per dimension, from the DynamoDB summary the workers keep.",
    )
    .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
    .option("--alias <alias>", "prompt alias with a shadow share (default LABELQ_DEFAULT_PROMPT_VERSION)")
    .option("--model-route <alias>", "a model with a shadow route in LABELQ_MODEL_ROUTES, instead of a prompt alias")
    .option("--json", "print the rows as JSON")
    .action(async (o: { taxonomy?: string; alias?: string; modelRoute?: string; json?: boolean }) => {
      const config = configFrom({});
      const taxonomyName = o.taxonomy ?? config.prompts.defaultTaxonomy;
      const alias = o.alias ?? config.prompts.defaultVersion;
      const registry = new PromptRegistry(config.prompts.dir);
      const described = o.modelRoute === undefined ? await promptShadow(registry, taxonomyName, alias) : modelShadow(config, taxonomyName, o.modelRoute);
      if (!described.scope) {
        process.stdout.write(`${described.heading}; no shadow share, so nothing is compared\n`);
        return;
      }
      const table = config.store.batchesTable;
      if (!table) throw new ConfigError(["LABELQ_BATCHES_TABLE: the shadow summary lives in the batches table; it is off"]);
      const clients = createAwsClients(config);
      try {
        const taxonomy = (await registry.resolve(taxonomyName, alias)).taxonomy;
        const rows = shadowAgreement(taxonomy, await new DynamoShadowSummary(clients.dynamo, table).read(described.scope, taxonomy.dimensions.map((d) => d.key)));
        if (o.json) process.stdout.write(JSON.stringify({ ...described.scope, ...described.shares, dimensions: rows }, null, 2) + "\n");
        else process.stdout.write(formatShadowAgreement(described.heading, rows) + "\n");
      } finally {
        clients.destroy();
      }
    });
  withEvalTargetOptions(evalCommand)
    .description(
      "Label a gold set through the same core as the worker and score the labels per dimension (accuracy, kappa, F1, bootstrap intervals), " +
        "optionally against another prompt version, model or stored results. Uses the Bedrock emulator (a test double) unless --target bedrock.",
    )
    .option("--gold <file>", "gold set JSONL (default: eval/gold/<taxonomy>.jsonl)")
    .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
    .option("--prompt <version>", "prompt version or alias (default LABELQ_DEFAULT_PROMPT_VERSION)")
    .option("--model <alias>", "model alias (default LABELQ_DEFAULT_MODEL)")
    .option("--against <what>", "compare with a prompt version or alias (v1), a model alias, or a results JSONL file")
    .option("--repeat <n>", "label the gold texts n times and report self-consistency", integerArg(1, 20), 1)
    .option("--batch-size <n>", "texts per batch (as one request message)", integerArg(1, 1_000), 50)
    .option("--cache", "use the label cache (off by default: cached labels would measure an earlier run)")
    .option("--min <spec>", "fail (exit 2) below a headline score: 0.7 (overall), overall=0.7, sentiment_polarity=0.8; repeatable", (v: string, all: string[]) => [...all, v], [])
    .option(
      "--min-coverage <share>",
      `with --min: fail (exit 2) when fewer than this share of the gold texts got valid labels (the run's for overall, the dimension's for a dimension); given alone, gates the run on coverage (default ${DEFAULT_MIN_COVERAGE})`,
      shareArg("[0, 1]"),
    )
    .option("--min-texts <n>", "with --min: fail (exit 2) when a score rests on fewer texts than this", integerArg(1, 1_000_000), DEFAULT_MIN_TEXTS)
    .option("--json", "print the whole report as JSON instead of the table")
    .option("--html <file>", "also write a self-contained HTML report with charts")
    .option("--out <file>", "also write the run's result messages (JSONL), usable later as --against")
    .action(async (o: EvalFlags) => {
      const opened = await openEvalTarget(o);
      const { config, target } = opened;
      const logger = createLogger(config.log);
      const clients = createAwsClients(config);
      const core = createEvalCore(config, clients, logger, { cache: o.cache ?? false });
      try {
        const model = o.model ?? config.models.default;
        // Eval may use any model in the catalogue: name each once, before any text is labelled.
        requireKnownModel(config, "--model", model);
        const taxonomyName = o.taxonomy ?? config.prompts.defaultTaxonomy;
        const promptVersion = o.prompt ?? config.prompts.defaultVersion;
        const prompt = await new PromptRegistry(config.prompts.dir).resolve(taxonomyName, promptVersion);
        const goldFile = o.gold ?? path.join(packageRoot, "eval", "gold", `${taxonomyName}.jsonl`);
        const gold = await loadGoldSet(goldFile, prompt.taxonomy, { maxTextChars: config.limits.maxTextChars });
        const thresholds = parseThresholds(o.min, prompt.taxonomy.dimensions.map((d) => d.key));
        const batchSize = checkIntegerFlag("--batch-size", o.batchSize, 1, config.limits.maxItems, " (LABELQ_MAX_ITEMS)");
        const out = o.out ? fs.openSync(o.out, "w") : undefined;
        let report;
        try {
          report = await runEvaluation(
            prompt.taxonomy,
            gold,
            {
              taxonomy: taxonomyName,
              promptVersion,
              model,
              goldFile: path.relative(process.cwd(), goldFile) || goldFile,
              batchSize,
              cache: o.cache ?? false,
              against: o.against,
              repeat: o.repeat,
              thresholds,
              gate: { minCoverage: o.minCoverage ?? DEFAULT_MIN_COVERAGE, minTexts: o.minTexts },
              requireCoverage: o.minCoverage !== undefined,
              bootstrap: { resamples: o.resamples, seed: o.seed },
              target,
              onResult: out === undefined ? undefined : (r) => fs.writeSync(out, JSON.stringify(r) + "\n"),
              progress: (line) => process.stderr.write(`${line}\n`),
            },
            core,
          );
        } finally {
          if (out !== undefined) fs.closeSync(out);
        }
        process.stdout.write(o.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report) + "\n");
        if (o.html) {
          fs.writeFileSync(o.html, renderHtmlReport(report));
          process.stderr.write(`wrote ${o.html}\n`);
        }
        if (!report.passed) process.exitCode = THRESHOLD_FAILED;
      } finally {
        await core.close();
        clients.destroy();
        await opened.close();
      }
    });
}

/** What `eval canary` compares: the shadow summary's scope (none without a shadow share), a heading and the shares. */
interface ShadowScope {
  heading: string;
  scope?: { taxonomy: string; alias: string; baseline: string; shadow: string };
  shares?: Record<string, unknown>;
}

/** A prompt alias's canary and shadow versions. */
async function promptShadow(registry: PromptRegistry, taxonomyName: string, alias: string): Promise<ShadowScope> {
  const routes = await registry.routes(taxonomyName, alias);
  const canary = routes.canary ? `canary ${routes.canary.version} answers ${(routes.canary.share * 100).toFixed(0)} % of texts` : "no canary";
  const heading = `${taxonomyName} ${alias} -> ${routes.baseline}: ${canary}`;
  if (!routes.shadow) return { heading };
  return {
    heading: `${heading}; shadow ${routes.shadow.version} labels ${(routes.shadow.share * 100).toFixed(0)} % of texts too`,
    scope: { taxonomy: taxonomyName, alias, baseline: routes.baseline, shadow: routes.shadow.version },
    shares: { canary: routes.canary ?? null, shadowShare: routes.shadow.share },
  };
}

/** A model's routes in LABELQ_MODEL_ROUTES, as labelModelRouted records its shadow comparisons (alias `model:<model>`). */
function modelShadow(config: Config, taxonomyName: string, model: string): ShadowScope {
  const route = loadModelRoutes(config.models.routesJson, modelCatalogueFor(config))?.get(model);
  const canary = route?.canary ? `canary ${route.canary.model} answers ${(route.canary.share * 100).toFixed(0)} % of texts` : "no canary";
  const heading = `${taxonomyName} model ${model}: ${canary}`;
  if (!route?.shadow) return { heading };
  return {
    heading: `${heading}; shadow ${route.shadow.model} labels ${(route.shadow.share * 100).toFixed(0)} % of texts too`,
    scope: { taxonomy: taxonomyName, alias: `model:${model}`, baseline: model, shadow: route.shadow.model },
    shares: { canary: route.canary ?? null, shadowShare: route.shadow.share },
  };
}
