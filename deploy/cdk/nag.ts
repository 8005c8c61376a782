// `npm run deploy:nag`: synthesizes every variant of the stack (ECS, Lambda, FIFO, and ECS and
// Lambda with a customer-managed key and the bulk path) under every residency setting, from
// cdk.json's context, runs cdk-nag's AwsSolutions pack on each, prints the counts and every
// finding, and exits 1 when any of them has an error.
import { App, type Stack } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { RESIDENCIES } from "../../src/core/config/config.ts";
import { stackPropsFromContext } from "./context.ts";
import { LabelqStack } from "./labelq-stack.ts";

const CDK_JSON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "cdk.json");

/** The variants the stack's context selects between (context.ts: `compute`, `fifo`, `kms`, `bulk`). */
export const NAG_VARIANTS: Record<string, Record<string, unknown>> = {
  ecs: { compute: "ecs", fifo: false },
  lambda: { compute: "lambda", fifo: false },
  fifo: { compute: "ecs", fifo: true },
  "ecs-kms-bulk": { compute: "ecs", kms: "create", bulk: true },
  // The Lambda worker runs no bulk loop: the stack refuses bulk with compute=lambda.
  "lambda-kms": { compute: "lambda", kms: "create" },
};

/**
 * Each residency setting, with models that can run under it: under "region" only models with an
 * in-Region id (the default llama3.3-70b and its fallback claude-sonnet have none, and the stack
 * refuses them as the worker would).
 */
export const NAG_RESIDENCIES: Record<(typeof RESIDENCIES)[number], Record<string, unknown>> = {
  region: { residency: "region", defaultModel: "nova-lite", fallbackModels: "nova-micro" },
  geography: { residency: "geography" },
  global: { residency: "global" },
};

/** Every variant under every residency, named `<variant>/<residency>`. */
export function nagCases(): [string, Record<string, unknown>][] {
  return Object.entries(NAG_VARIANTS).flatMap(([name, variant]) =>
    Object.entries(NAG_RESIDENCIES).map(([residency, settings]): [string, Record<string, unknown>] => [`${name}/${residency}`, { ...variant, ...settings }]),
  );
}

export interface NagFinding {
  rule: string;
  severity: "error" | "warning";
  path: string;
  description: string;
}

/** Every AwsSolutions finding (one per rule and resource) on a construct tree that is not acknowledged in code. */
export function nagFindings(scope: App | Stack): NagFinding[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({
      rule: v.ruleName,
      severity: v.severity === "error" ? ("error" as const) : ("warning" as const),
      path: r.constructPath ?? "",
      description: v.description,
    })),
  );
}

/** The stack of one variant, from cdk.json's context with the variant's keys on top, synthesized into outdir. */
export function synthVariant(variant: Record<string, unknown>, outdir: string): LabelqStack {
  const context = (JSON.parse(readFileSync(CDK_JSON, "utf8")) as { context: Record<string, unknown> }).context;
  const merged: Record<string, unknown> = { ...context, ...variant };
  const { stackName, props } = stackPropsFromContext((key) => merged[key]);
  const app = new App({ outdir });
  const stack = new LabelqStack(app, stackName, props);
  app.synth();
  return stack;
}

function main(): number {
  const outdir = mkdtempSync(path.join(tmpdir(), "labelq-nag-"));
  let errors = 0;
  try {
    for (const [name, variant] of nagCases()) {
      const findings = nagFindings(synthVariant(variant, path.join(outdir, name.replace("/", "-"))));
      const e = findings.filter((f) => f.severity === "error");
      errors += e.length;
      console.log(`${name}: ${e.length} errors, ${findings.length - e.length} warnings`);
      for (const f of findings) console.log(`  [${f.severity}] ${f.rule} ${f.path}: ${f.description}`);
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
  return errors === 0 ? 0 : 1;
}

if (import.meta.main) process.exitCode = main();
