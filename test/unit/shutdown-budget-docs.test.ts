import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { labelqDefaults, shutdownBudgetS } from "../../deploy/cdk/worker-settings.ts";
import { REPO_ROOT } from "../support/fakes.ts";

// Every place that tells an orchestrator how long a stopping worker may take states the one
// shutdown budget the code computes from labelq's defaults (the CDK stack uses it directly).

const budget = shutdownBudgetS(labelqDefaults().config.worker);
const SETTINGS = [/stopTimeout`? (\d+) ?s\b/g, /terminationGracePeriodSeconds:? `?(\d+)/g, /stop_grace_period:? `?(\d+)s/g];

describe("the shutdown budget in the docs and manifests", () => {
  it(`is ${budget} s wherever stopTimeout, terminationGracePeriodSeconds or stop_grace_period is given`, () => {
    expect(budget).toBe(40);
    for (const file of ["docs/operating.md", "docs/deploy.md", "docker-compose.yml", "deploy/k8s/deployment.yaml"]) {
      const text = fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
      const stated = SETTINGS.flatMap((re) => [...text.matchAll(re)].map((m) => `${m[0]} (${Number(m[1])})`));
      expect(stated.length, `${file} states the budget`).toBeGreaterThan(0);
      for (const s of stated) expect(s, file).toMatch(new RegExp(`\\(${budget}\\)$`));
    }
  });
});

describe("docs/deploy.md and the CDK app", () => {
  it("names the stack as cdk.json does, and the template file cdk synth writes", () => {
    const cdk = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "deploy", "cdk", "cdk.json"), "utf8")) as { output: string; context: { stackName: string } };
    const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "deploy.md"), "utf8");
    const template = path.relative(REPO_ROOT, path.resolve(REPO_ROOT, "deploy", "cdk", cdk.output, `${cdk.context.stackName}.template.json`));
    expect(doc).toContain(`named \`${cdk.context.stackName}\``);
    expect(doc).toContain(`\`${template}\``);
    expect(doc).not.toMatch(/one stack, `LabelqStack`/);
  });
});
