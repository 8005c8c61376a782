import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CustomizationJobStatus } from "../../src/adapters/bedrock/customization-control.ts";
import { mergeIntoCatalogue, packagedEntry, removeFromCatalogue, studentCatalogueEntry } from "../../src/app/distill/catalogue-overlay.ts";
import { hostingName } from "../../src/app/distill/deploy-student.ts";
import { hostingPlan } from "../../src/app/distill/hosting-plan.ts";
import { readCatalogueFile } from "../../src/core/models/model-catalogue.ts";

const job = (end: string): CustomizationJobStatus => ({ jobArn: "arn:job", jobName: "labelq-distill-0123456789ab", status: "Completed", customModelArn: "arn:aws:bedrock:us-east-1:1:custom-model/x/y", endTime: new Date(end) });

describe("hostingPlan", () => {
  it("serves a Nova student on demand, and refuses one trained before 2025-07-16", () => {
    expect(hostingPlan("nova-micro", job("2026-01-02"), undefined)).toEqual({ kind: "on-demand", baseAlias: "nova-micro" });
    expect(() => hostingPlan("nova-lite", job("2025-07-01"), undefined)).toThrow("trained before 2025-07-16");
  });

  it("refuses a Llama student on demand, naming the flags Provisioned Throughput needs", () => {
    expect(() => hostingPlan("llama3.2-3b", job("2026-01-02"), undefined)).toThrow("--provisioned --model-units 1 --unit-hourly-usd");
  });

  it("shows the hourly cost and refuses until --confirm-hourly-cost reaches it", () => {
    const flags = { modelUnits: 2, commitment: "OneMonth" as const, unitHourlyUsd: 10.335 };
    expect(() => hostingPlan("llama3.1-8b", job("2026-01-02"), flags)).toThrow("2 model units x $10.34 an hour = $20.67 an hour ($15089.10 a month of 730 hours)");
    expect(() => hostingPlan("llama3.1-8b", job("2026-01-02"), { ...flags, confirmHourlyCostUsd: 20.66 })).toThrow("pass --confirm-hourly-cost 20.67");
    expect(hostingPlan("llama3.1-8b", job("2026-01-02"), { ...flags, confirmHourlyCostUsd: 20.67 })).toMatchObject({ kind: "provisioned", modelUnits: 2, commitment: "OneMonth", hourlyUsd: 20.67, baseAlias: "llama3.3-70b" });
    expect(() => hostingPlan("llama3.1-8b", job("2026-01-02"), { modelUnits: 2, unitHourlyUsd: 1, confirmHourlyCostUsd: 9 })).toThrow("no commitment takes exactly 1 model unit");
    expect(() => hostingPlan("llama3.1-8b", job("2026-01-02"), { modelUnits: 1 })).toThrow("--provisioned needs --unit-hourly-usd");
  });
});

describe("hostingName", () => {
  it("makes a deployment name Bedrock accepts from any job name", () => {
    expect(hostingName("labelq-distill-0123456789ab", "on-demand")).toBe("labelq-distill-0123456789ab-od");
    const odd = hostingName("my--job.v2+x".padEnd(70, "z"), "provisioned");
    expect(odd).toMatch(/^([0-9a-zA-Z][_-]?){1,63}$/);
    expect(odd.endsWith("-pt")).toBe(true);
  });
});

describe("the student's catalogue overlay", () => {
  it("copies the base model's limits, prices a provisioned student at 0 per token, and loads through the catalogue schema", async () => {
    const base = packagedEntry("llama3.3-70b")!;
    const entry = studentCatalogueEntry(
      { alias: "llama3.1-8b-student", student: "llama3.1-8b", jobName: "j", customModelArn: "arn:m", hosting: { kind: "provisioned", arn: "arn:aws:bedrock:us-west-2:1:provisioned-model/abc", hourlyUsd: 7.1, modelUnits: 1 }, baseAlias: "llama3.3-70b", asOf: "2026-12-07" },
      base,
    );
    expect(entry).toMatchObject({ tokenizer: base.tokenizer, contextTokens: base.contextTokens, maxOutputTokens: base.maxOutputTokens, outputFormat: "lines", price: { inputPer1k: 0, outputPer1k: 0 }, hosting: { kind: "provisioned", hourlyUsd: 7.1, commitment: "none" } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-overlay-"));
    const file = path.join(dir, "students.json");
    await mergeIntoCatalogue(file, entry);
    await mergeIntoCatalogue(file, { ...entry, name: "replaced" });
    const loaded = readCatalogueFile(file);
    expect(loaded.map((m) => [m.alias, m.name, m.modelIds.inRegion])).toEqual([["llama3.1-8b-student", "replaced", "arn:aws:bedrock:us-west-2:1:provisioned-model/abc"]]);
    // The schema keeps where the student is served and its hourly price.
    expect(loaded[0]).toMatchObject({ hosting: { kind: "provisioned", hourlyUsd: 7.1, modelUnits: 1, commitment: "none" }, customization: { jobName: "j", student: "llama3.1-8b" } });
    expect(await removeFromCatalogue(file, "llama3.1-8b-student")).toBe(true);
    expect(fs.existsSync(file)).toBe(false);
  });
});
