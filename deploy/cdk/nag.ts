// `npm run deploy:nag`: synthesizes every variant of the stack (ECS, Lambda, FIFO) from
// cdk.json's context, runs cdk-nag's AwsSolutions pack on each, prints the counts and every
// finding, and exits 1 when any variant has an error.
import { App, type Stack } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stackPropsFromContext } from "./context.ts";
import { LabelqStack } from "./labelq-stack.ts";

const CDK_JSON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "cdk.json");

/** The variants the stack's context selects between (context.ts: `compute` and `fifo`). */
export const NAG_VARIANTS: Record<string, Record<string, unknown>> = {
  ecs: { compute: "ecs", fifo: false },
  lambda: { compute: "lambda", fifo: false },
  fifo: { compute: "ecs", fifo: true },
};

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
    for (const [name, variant] of Object.entries(NAG_VARIANTS)) {
      const findings = nagFindings(synthVariant(variant, path.join(outdir, name)));
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
