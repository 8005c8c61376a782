import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requestSchema } from "../../src/core/contracts/request.ts";
import { resultSchema } from "../../src/core/contracts/result.ts";
import { exited, freePort, repoRoot } from "../support/run-cli.ts";

/**
 * The README's command blocks, run the way a reader pastes them into a shell in the repository's
 * folder. A block is marked by an HTML comment on the line before it:
 *   <!-- readme-test: background -->          started first and left running (labelq local)
 *   <!-- readme-test: skip: <reason> -->      not run here, and the README says why
 * Every other `sh` block runs, in order, in one shell.
 */
interface Block {
  line: number;
  lang: string;
  code: string;
  mark: { kind: "run" } | { kind: "background" } | { kind: "skip"; reason: string };
}

function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let k = 0; k < lines.length; k++) {
    const open = /^```(\S*)\s*$/.exec(lines[k]!);
    if (!open) continue;
    const end = lines.findIndex((l, n) => n > k && l.startsWith("```"));
    const before = lines.slice(0, k).reverse().find((l) => l.trim() !== "") ?? "";
    const marker = /^<!-- readme-test: (background|skip: (.*\S)) -->$/.exec(before.trim());
    const mark = !marker ? { kind: "run" as const } : marker[1] === "background" ? { kind: "background" as const } : { kind: "skip" as const, reason: marker[2]! };
    blocks.push({ line: k + 1, lang: open[1] ?? "", code: lines.slice(k + 1, end).join("\n"), mark });
    k = end;
  }
  return blocks;
}

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
const blocks = readmeBlocks(readme);
const shell = blocks.filter((b) => b.lang === "sh");

/** A fresh shell's environment: the system PATH (not this test run's node_modules/.bin), HOME, nothing of labelq or AWS. */
function freshShellEnv(): Record<string, string> {
  const pathDirs = (process.env.PATH ?? "").split(path.delimiter).filter((d) => !d.includes("node_modules"));
  return { PATH: pathDirs.join(path.delimiter), HOME: process.env.HOME ?? "/root", LANG: "C.UTF-8" };
}

function run(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", script], { cwd: repoRoot, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("README", () => {
  it("marks every shell block it does not run, with the reason, and runs the rest", () => {
    expect(shell.length).toBeGreaterThan(0);
    for (const b of shell) {
      if (b.mark.kind === "skip") expect(b.mark.reason.length, `README.md:${b.line}`).toBeGreaterThan(20);
    }
    // Markers only where they belong: a misspelt one would silently turn into a run block.
    const markers = readme.match(/<!-- readme-test:[^>]*-->/g) ?? [];
    expect(markers.length).toBe(shell.filter((b) => b.mark.kind !== "run").length);
    expect(shell.filter((b) => b.mark.kind === "background")).toHaveLength(1);
    expect(shell.filter((b) => b.mark.kind === "run").length).toBeGreaterThanOrEqual(2);
  });

  it("uses `labelq` bare only where the command is on PATH: every command line in a shell block starts with npx", () => {
    for (const b of shell) {
      for (const line of b.code.split("\n")) expect(line, `README.md:${b.line}`).not.toMatch(/^\s*labelq\b/);
    }
  });

  it("shows a request and a result that pass the contract's schemas", () => {
    const examples = blocks.filter((b) => b.lang === "json").map((b) => JSON.parse(b.code) as Record<string, unknown>);
    const requests = examples.filter((e) => e.schemaVersion === 1 && !("status" in e));
    const results = examples.filter((e) => e.schemaVersion === 1 && "status" in e);
    expect(requests).toHaveLength(1);
    expect(results).toHaveLength(1);
    expect(requestSchema().safeParse(requests[0]).error?.issues ?? []).toEqual([]);
    expect(resultSchema.safeParse(results[0]).error?.issues ?? []).toEqual([]);
  });

  it("lists every item error code the contract has", async () => {
    const { itemErrorCodes } = await import("../../src/core/contracts/result.ts");
    for (const code of itemErrorCodes) expect(readme).toContain(`\`${code}\``);
  });

  describe("its command blocks, pasted into a shell against `labelq local`", () => {
    let local: ChildProcess | undefined;

    afterAll(async () => {
      if (local?.pid !== undefined && local.exitCode === null) {
        // Ctrl-C in the terminal: SIGINT to the whole process group (npx, npm, labelq).
        process.kill(-local.pid, "SIGINT");
        await exited(local);
      }
    });

    it("run verbatim, in order, in one shell", async () => {
      // Free ports through the environment (the commands stay as written): other test runs on the
      // same machine may hold the default ones.
      const ports = { sqs: await freePort(), dynamodb: await freePort(), bedrock: await freePort(), metrics: await freePort() };
      const env = {
        ...freshShellEnv(),
        LABELQ_LOCAL_SQS_PORT: String(ports.sqs),
        LABELQ_LOCAL_DYNAMODB_PORT: String(ports.dynamodb),
        LABELQ_LOCAL_BEDROCK_PORT: String(ports.bedrock),
        LABELQ_HTTP_PORT: String(ports.metrics),
      };
      const background = shell.find((b) => b.mark.kind === "background")!;
      const child = spawn("bash", ["-c", background.code], { cwd: repoRoot, env, detached: true });
      local = child;
      let localErr = "";
      child.stderr.on("data", (d: Buffer) => (localErr += d.toString()));
      const firstLine = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
        });
        child.on("close", (code) => reject(new Error(`README.md:${background.line} exited with ${code} before it was ready\n${localErr}`)));
      });
      expect(JSON.parse(firstLine)).toMatchObject({ envFile: "out/labelq-local.env", metrics: `http://127.0.0.1:${ports.metrics}/metrics` });

      const script = [
        "set -euo pipefail",
        ...shell.filter((b) => b.mark.kind === "run").map((b) => `echo "--- README.md:${b.line}" >&2\n${b.code}`),
      ].join("\n");
      const pasted = await run(script, env);
      expect(pasted.code, `${pasted.stderr}\n${pasted.stdout}`).toBe(0);
      // What each block promises, as its comments say.
      expect(pasted.stdout).toMatch(/labelq-label-cache: exists/);
      expect(pasted.stdout).toMatch(/^small-[-0-9TZ]+-000003$/m);
      expect(pasted.stderr).toMatch(/^collected 3 batch results into out\/results\.jsonl$/m);
      expect(pasted.stdout).toMatch(/^dlq\s+\d+\s+\d+\s+\d+$/m);
      expect(pasted.stdout).toMatch(new RegExp(`^worker http://127\\.0\\.0\\.1:${ports.metrics}/metrics: in flight \\d+`, "m"));
      expect(pasted.stdout).toMatch(/^dry run: 0 would move/m);
      // A backstop over vitest's 180 s: this test starts a stack and seven CLI processes one after another.
    }, 420_000);
  });
});
