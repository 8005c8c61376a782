import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configVariables } from "../../src/core/config/config.ts";
import { REPO_ROOT } from "../support/fakes.ts";

// The README and docs/ name no file that is not there: every relative link resolves (and its
// #anchor names a heading of the linked Markdown file), and every backticked repository path
// exists. A path may carry an explicit placeholder (`test/integration/<file>.test.ts`: the
// folder before the first <...> must exist) or a glob (`deploy/iam/*.json`: it must match).

/** Top-level folders whose backticked paths are checked (out/ is written by labelq, not committed). */
const ROOTS = ["src", "docs", "deploy", "packages", "schemas", "bench", "test", "prompts", "samples", "eval", "bin", ".ci"];
const REPO_PATH = new RegExp(`^(?:${ROOTS.map((r) => r.replace(".", "\\.")).join("|")})/[^\\s]*$`);


const docs = ["README.md", "packages/bedrock-emulator/README.md", ...fs.readdirSync(path.join(REPO_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** The text outside fenced code blocks, with each line's number. */
function prose(markdown: string): { line: number; text: string }[] {
  let fenced = false;
  return markdown.split("\n").flatMap((text, k) => {
    if (/^\s*```/.test(text)) {
      fenced = !fenced;
      return [];
    }
    return fenced ? [] : [{ line: k + 1, text }];
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { text } of prose(fs.readFileSync(file, "utf8"))) {
    const h = /^#{1,6}\s+(.*)$/.exec(text);
    if (!h) continue;
    const base = slug(h[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Why a backticked repository path does not resolve, or undefined when it does. */
function missingPath(p: string): string | undefined {
  const clean = p.replace(/:\d+(-\d+)?$/, "").replace(/#.*$/, "");
  if (clean.includes("<")) {
    const folder = clean.slice(0, clean.indexOf("<"));
    const dir = folder.endsWith("/") ? folder : path.dirname(folder);
    return fs.existsSync(path.join(REPO_ROOT, dir)) ? undefined : `${p}: no folder ${dir}`;
  }
  if (/[*?{]/.test(clean)) return fs.globSync(clean, { cwd: REPO_ROOT }).length > 0 ? undefined : `${p}: the glob matches nothing`;
  return fs.existsSync(path.join(REPO_ROOT, clean)) ? undefined : `${p}: no such file or folder`;
}

function brokenReferences(doc: string): string[] {
  const file = path.join(REPO_ROOT, doc);
  const broken: string[] = [];
  for (const { line, text } of prose(fs.readFileSync(file, "utf8"))) {
    const where = `${doc}:${line}`;
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue;
      const [rel, anchor] = target.split("#") as [string, string | undefined];
      const resolved = rel === "" ? file : path.resolve(path.dirname(file), rel);
      if (!fs.existsSync(resolved)) broken.push(`${where}: link ${target}: no such file`);
      else if (anchor && resolved.endsWith(".md") && !anchors(resolved).has(anchor)) broken.push(`${where}: link ${target}: no heading #${anchor}`);
    }
    // Backticked paths are repository paths in README.md and docs/; the package README's are its own.
    if (doc.startsWith("packages/")) continue;
    for (const m of text.replace(/\]\([^)]*\)/g, "]").matchAll(/`([^`\s]+)`/g)) {
      if (!REPO_PATH.test(m[1]!)) continue;
      const why = missingPath(m[1]!);
      if (why) broken.push(`${where}: ${why}`);
    }
  }
  return broken;
}

describe("references in README.md and docs/", () => {
  it.each(docs)("%s links and names only files that exist", (doc) => {
    expect(brokenReferences(doc)).toEqual([]);
  });

  it("checks what it says it checks: a made-up link and path are reported", () => {
    expect(missingPath("src/core/nowhere.ts")).toMatch(/no such file/);
    expect(missingPath("src/core/contracts/request.ts")).toBeUndefined();
    expect(missingPath("test/integration/<file>.test.ts")).toBeUndefined();
    expect(missingPath("tests/<file>.ts")).toMatch(/no folder/);
    expect(missingPath("deploy/iam/*.json")).toBeUndefined();
    expect(missingPath("deploy/iam/*.yaml")).toMatch(/matches nothing/);
    expect(slug("Model invocation jobs (batch inference)")).toBe("model-invocation-jobs-batch-inference");
    expect(slug("Bedrock's rules (strict by default)")).toBe("bedrocks-rules-strict-by-default");
  });
});

describe("docs/architecture.md's map of src/", () => {
  it("lists exactly the folders of src/ and the folders of core, adapters and app", () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "architecture.md"), "utf8");
    const map = /```\nsrc\/\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    expect(map, "a fenced block that starts with src/").not.toBe("");
    // Each entry is indented two spaces per level and ends its folder name with a slash.
    const listed: string[] = [];
    const parents: string[] = [];
    for (const line of map.split("\n")) {
      const m = /^( +)([a-z][\w.-]*\/)/.exec(line);
      if (!m) continue;
      const depth = m[1]!.length / 2 - 1;
      parents.length = depth;
      parents.push(m[2]!.slice(0, -1));
      listed.push(parents.join("/"));
    }
    const dirs = (rel: string): string[] =>
      fs.readdirSync(path.join(REPO_ROOT, "src", rel), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => (rel ? `${rel}/${e.name}` : e.name));
    const tree = [...dirs(""), ...["core", "adapters", "app"].flatMap((d) => dirs(d))];
    expect(listed.sort()).toEqual(tree.sort());
  });
});

describe("docs/configuration.md", () => {
  it("describes every variable the configuration reads", () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "configuration.md"), "utf8");
    const rows = doc.split("\n").filter((l) => l.startsWith("| `"));
    const named = new Set(rows.flatMap((row) => [...row.split(" | ")[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)));
    expect(configVariables.length).toBeGreaterThan(40);
    expect(configVariables.filter((v) => !named.has(v))).toEqual([]);
  });
});
