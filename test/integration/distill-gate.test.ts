import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "@labelq/bedrock-emulator";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import type { GateReport } from "../../src/app/distill/run-gate.ts";
import { runGate } from "../../src/app/distill/run-gate.ts";
import { createEvalCore, type EvalCore } from "../../src/app/eval/eval-core.ts";
import { type GoldItem, loadGoldSet } from "../../src/app/eval/gold-set.ts";
import { labelGoldTexts } from "../../src/app/eval/label-gold-texts.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import type { Taxonomy } from "../../src/core/taxonomy/taxonomy-schema.ts";
import { PROMPTS_DIR, REPO_ROOT, silentLogger } from "../support/fakes.ts";
import { runCli } from "../support/run-cli.ts";

// The gate on the Bedrock emulator (a test double). The teacher labels the repo's gold texts
// with no errors: that is the held-out set, as `labelq distill export` writes it (texts with the
// teacher's labels). The "student" then answers with the emulator's error model flipping two
// single-choice dimensions at a high rate and nothing else: the gate must hold exactly those two
// and promote the rest. (In the lines answer format the emulator names a dimension after its
// title, so the two chosen are ones whose title reads as their key.) 161 texts keep every interval narrow enough to separate 1.0 from ~0.4.
const TEACHER = "llama3.3-70b";
const STUDENT = "nova-micro";
const DAMAGED = ["sentiment_polarity", "urgency"];
const FLIP = 0.6;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-distill-gate-"));
const heldoutFile = path.join(tmp, "heldout.jsonl");

describe("labelq distill gate on the emulator", () => {
  let emulator: BedrockEmulator;
  let core: EvalCore;
  let clients: ReturnType<typeof createAwsClients>;
  let taxonomy: Taxonomy;
  let heldout: GoldItem[];

  beforeAll(async () => {
    emulator = await startBedrockEmulator({ port: 0 });
    process.env.AWS_ACCESS_KEY_ID ??= "test";
    process.env.AWS_SECRET_ACCESS_KEY ??= "test";
    const config = loadConfig({ AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url, LABELQ_CACHE_TABLE: "off", LABELQ_BATCHES_TABLE: "off", LABELQ_FALLBACK_MODELS: "none", LOG_LEVEL: "silent" });
    clients = createAwsClients(config);
    core = createEvalCore(config, clients, silentLogger(), { cache: false });
    taxonomy = (await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v2")).taxonomy;
    const texts = await loadGoldSet(path.join(REPO_ROOT, "eval", "gold", "product-feedback.jsonl"), taxonomy);
    const teacher = await labelGoldTexts(texts, { taxonomy: "product-feedback", promptVersion: "v2", model: TEACHER, batchSize: 50, cache: false, runId: "teacher" }, core);
    expect(teacher.errors).toEqual([]);
    heldout = texts.map((t) => ({ ...t, labels: teacher.labels.get(t.id)! }));
    fs.writeFileSync(heldoutFile, heldout.map((g) => JSON.stringify({ id: g.id, text: g.text, labels: g.labels })).join("\n") + "\n");
  });

  afterAll(async () => {
    await core?.close();
    clients?.destroy();
    await emulator?.close();
  });

  it("holds exactly the two dimensions the student gets wrong and promotes the others", async () => {
    const keys = taxonomy.dimensions.map((d) => d.key);
    const gateOf = (gold?: { file: string; items: GoldItem[] }) =>
      runGate(
        taxonomy,
        {
          taxonomy: "product-feedback",
          promptVersion: "v2",
          student: STUDENT,
          teacher: TEACHER,
          heldout: { file: heldoutFile, items: heldout },
          ...(gold ? { gold } : {}),
          rule: { minLower: Object.fromEntries(keys.map((k) => [k, 0.8])), minCoverage: 0.95, minTexts: 30 },
          batchSize: 50,
          bootstrap: { resamples: 300, seed: 1 },
          target: { kind: "emulator", description: "embedded emulator" },
        },
        core,
      );

    // With no errors the student answers as the teacher did: every dimension passes.
    const clean = await gateOf();
    expect(clean.held).toEqual([]);
    expect(clean.passed).toBe(true);

    emulator.setLabelErrors({ flip: Object.fromEntries(DAMAGED.map((k) => [k, FLIP])) });
    try {
      const report = await gateOf();
      expect([...report.held].sort()).toEqual([...DAMAGED].sort());
      expect(report.promoted).toEqual(keys.filter((k) => !DAMAGED.includes(k)));
      expect(report.passed).toBe(false);
      for (const key of DAMAGED) {
        const row = report.rows.find((r) => r.dimension === key)!;
        // Held on the lower bound, with full coverage: the reason is the score, nothing else.
        expect(row.interval!.low).toBeLessThan(0.8);
        expect(row.coverage).toBe(1);
        expect(row.why).toEqual([expect.stringMatching(/^lower bound 0\.\d{3} < 0\.800$/)]);
      }

      // With a gold set the student is scored there too and a dimension must pass on both; the
      // teacher labels it for reference. (The gold set here is the teacher's clean labels again,
      // so the decisions cannot change; what changes is that every dimension has a gold row.)
      const withGold = await gateOf({ file: "gold.jsonl", items: heldout });
      expect([...withGold.held].sort()).toEqual([...DAMAGED].sort());
      expect(withGold.rows.filter((r) => r.set === "gold").map((r) => r.dimension)).toEqual(keys);
      expect(withGold.rows.filter((r) => r.set === "gold" && !r.passed).map((r) => r.dimension).sort()).toEqual([...DAMAGED].sort());
      expect(withGold.goldFile).toBe("gold.jsonl");
      expect(withGold.teacherOnGold?.map((t) => t.key)).toEqual(keys);
    } finally {
      emulator.setLabelErrors({});
    }
  });

  it("the CLI prints the table and verdict, writes the promoted dimensions and exits 2 when any dimension is held", async () => {
    const out = path.join(tmp, "gate.json");
    const emulatorSettings = JSON.stringify({ latency: { fixedMs: 0, perOutputTokenMs: 0 }, labelErrors: { flip: Object.fromEntries(DAMAGED.map((k) => [k, FLIP])) } });
    const args = ["distill", "gate", "--student", STUDENT, "--teacher", TEACHER, "--heldout", heldoutFile, "--taxonomy", "product-feedback", "--prompt", "v2", "--resamples", "300", "--emulator", emulatorSettings, "--out", out];
    const { code, stdout, stderr } = await runCli(args);
    expect(stderr).not.toMatch(/^labelq: /m);
    expect(code).toBe(2);
    expect(stdout).toMatch(/^dimension\s+set\s+metric\s+point\s+95% interval\s+min lower\s+decision\s+why$/m);
    expect(stdout).toMatch(/^sentiment_polarity\s+heldout\s+accuracy\s+0\.\d{3}\s+\[.*\]\s+0\.800\s+HOLD\s+lower bound/m);
    expect(stdout).toMatch(/^emotion\s+heldout\s+accuracy\s+1\.000\s+\[1\.000, 1\.000\]\s+0\.800\s+PROMOTE$/m);
    expect(stdout).toContain(`HOLD: ${STUDENT} passes on ${taxonomy.dimensions.length - 2} of ${taxonomy.dimensions.length} dimensions`);
    const written = JSON.parse(fs.readFileSync(out, "utf8")) as GateReport;
    expect([...written.held].sort()).toEqual([...DAMAGED].sort());
    expect(written.promoted).toHaveLength(taxonomy.dimensions.length - 2);
    expect(written.student).toBe(STUDENT);

    // A student that is not in the catalogue is an error (exit 1), not a held gate.
    const bad = await runCli(["distill", "gate", "--student", "no-such-model", "--teacher", TEACHER, "--heldout", heldoutFile, "--out", path.join(tmp, "bad.json")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--student "no-such-model" is not a model labelq knows');
    expect(fs.existsSync(path.join(tmp, "bad.json"))).toBe(false);

    // So is a minimum for a dimension the taxonomy does not have.
    const typo = await runCli(["distill", "gate", "--student", STUDENT, "--teacher", TEACHER, "--heldout", heldoutFile, "--prompt", "v2", "--min-lower", "sentiment=0.9", "--out", path.join(tmp, "typo.json")]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('--min-lower sentiment=0.9: "sentiment" is not "overall" nor a dimension of the taxonomy');
    expect(fs.existsSync(path.join(tmp, "typo.json"))).toBe(false);
  });
});
