import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { routeText } from "../../src/core/classify/prompt-routing.ts";
import { routeTextToModel } from "../../src/core/classify/model-routes.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { DynamoShadowSummary } from "../../src/adapters/dynamodb/dynamo-shadow-summary.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { runCli } from "../support/run-cli.ts";
import { until } from "../support/until.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe("canary and shadow prompt versions through the worker", () => {
  it("routes texts by the alias's shares, says which version labelled each, and sums shadow agreement for `labelq eval canary`", async () => {
    const prompts = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-canary-e2e-"));
    fs.cpSync(PROMPTS_DIR, prompts, { recursive: true });
    const manifestFile = path.join(prompts, "product-feedback", "manifest.json");
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as { aliases: Record<string, unknown> };
    manifest.aliases.prod = { version: "v1", canary: { version: "v2", share: 0.3 }, shadow: { version: "v2", share: 0.5 } };
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));

    pipeline = await startPipeline({ env: { LABELQ_PROMPTS_DIR: prompts } });
    const worker = pipeline.startWorker();
    const request = makeRequest(40);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);

    const routes = await new PromptRegistry(prompts).routes("product-feedback", "prod");
    const expected = request.items.map((it) => routeText(it.text, routes, "product-feedback:prod"));
    expect(result!.status).toBe("completed");
    expect(result!.promptVersion).toBe("v1");
    expect(result!.items.map((it) => it.promptVersion)).toEqual(expected.map((r) => r.version));
    expect(expected.some((r) => r.role === "canary")).toBe(true);
    const shadowed = expected.filter((r) => r.shadow).length;
    expect(shadowed).toBeGreaterThan(0);

    // The emulator (a test double) answers the same labels whatever the version: full agreement.
    const metric = (await worker.metrics.shadowLabels.get()).values.filter((v) => v.labels.dimension === "sentiment_polarity");
    expect(Object.fromEntries(metric.map((v) => [String(v.labels.agreed), v.value]))).toEqual({ true: shadowed, false: 0 });

    const summary = new DynamoShadowSummary(pipeline.clients.dynamo, pipeline.tables.batchesTable);
    const scope = { taxonomy: "product-feedback", alias: "prod", baseline: "v1", shadow: "v2" };
    await until(async () => (await summary.read(scope, ["sentiment_polarity"])).sentiment_polarity !== undefined);
    const counts = await summary.read(scope, ["sentiment_polarity", "topics"]);
    expect(counts.sentiment_polarity!.reduce((s, p) => s + p.count, 0)).toBe(shadowed);
    expect(counts.topics!.reduce((s, p) => s + p.count, 0)).toBe(shadowed);

    const cli = await runCli(["eval", "canary", "--alias", "prod"], { ...pipeline.env, LABELQ_PROMPTS_DIR: prompts });
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain("prod -> v1: canary v2 answers 30 % of texts; shadow v2 labels 50 % of texts too");
    expect(cli.stdout).toMatch(new RegExp(`^sentiment_polarity\\s+${shadowed}\\s+kappa\\s+\\S+\\s+100\\.0%`, "m"));
  });
});

describe("model routes through the worker (LABELQ_MODEL_ROUTES)", () => {
  it("sends a canary share to the student and shadows others with it, and `labelq eval canary --model-route` reads the comparison", async () => {
    const routes = { "llama3.3-70b": { canary: { model: "nova-micro", share: 0.2 }, shadow: { model: "nova-micro", share: 0.5 } } };
    const env = { LABELQ_MODEL_ROUTES: JSON.stringify(routes) };
    pipeline = await startPipeline({ env });
    pipeline.startWorker();
    const request = makeRequest(40);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);

    const route = { canary: routes["llama3.3-70b"].canary, shadow: routes["llama3.3-70b"].shadow };
    const expected = request.items.map((it) => routeTextToModel(it.text, route, "product-feedback:llama3.3-70b"));
    const canaryIds = new Set(request.items.filter((_, k) => expected[k]!.role === "canary").map((it) => it.id));
    expect(canaryIds.size).toBeGreaterThan(0);
    expect(result!.status).toBe("completed");
    expect(result!.model).toBe("llama3.3-70b");
    for (const item of result!.items) expect(item.model).toMatch(canaryIds.has(item.id) ? /nova-micro/ : /llama3-3-70b/);
    const shadowed = expected.filter((r) => r.role === "teacher" && r.shadow).length;
    expect(shadowed).toBeGreaterThan(0);

    const summary = new DynamoShadowSummary(pipeline.clients.dynamo, pipeline.tables.batchesTable);
    const scope = { taxonomy: "product-feedback", alias: "model:llama3.3-70b", baseline: "llama3.3-70b", shadow: "nova-micro" };
    await until(async () => (await summary.read(scope, ["sentiment_polarity"])).sentiment_polarity !== undefined);
    const cli = await runCli(["eval", "canary", "--model-route", "llama3.3-70b"], { ...pipeline.env, ...env });
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain("product-feedback model llama3.3-70b: canary nova-micro answers 20 % of texts; shadow nova-micro labels 50 % of texts too");
    expect(cli.stdout).toMatch(new RegExp(`^sentiment_polarity\\s+${shadowed}\\s+kappa`, "m"));
  });

  it("runs a cascade over the wire: the student labels every text, the teacher is asked for the held dimensions with a prompt of those only", async () => {
    const held = ["sentiment_polarity", "urgency"];
    const taxonomy = (await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1")).taxonomy;
    const studentDimensions = taxonomy.dimensions.map((d) => d.key).filter((k) => !held.includes(k));
    const routes = { "llama3.3-70b": { cascade: { student: "nova-micro", studentDimensions, samples: 1 } } };
    pipeline = await startPipeline({ env: { LABELQ_MODEL_ROUTES: JSON.stringify(routes) } });
    pipeline.startWorker();
    const request = makeRequest(30);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);
    expect(result!.status).toBe("completed");
    // Every text: the student's labels, with the teacher's for the two held dimensions.
    expect(result!.items.every((it) => /nova-micro.*\+.*llama3-3-70b/.test(it.model ?? ""))).toBe(true);
    expect(result!.items.every((it) => Object.keys(it.labels!).length === taxonomy.dimensions.length)).toBe(true);
    // One student call and one teacher call for 30 texts.
    expect(result!.usage.modelCalls).toBe(2);
  });
});
