import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/fakes.ts";

// What a new user needs before the README's first commands, said in the README itself.

const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
const beforeFirstBlock = readme.slice(readme.indexOf("## Two commands"), readme.indexOf("`npm run demo` starts"));

describe("README", () => {
  it("states what npm test needs beyond Node and npm, and how long it takes, next to the command", () => {
    expect(beforeFirstBlock).toMatch(/Redis\b[^.]*127\.0\.0\.1:6379/);
    expect(beforeFirstBlock).toMatch(/Chromium/);
    expect(beforeFirstBlock).toMatch(/\d+-\d+ minutes/);
    expect(beforeFirstBlock).not.toMatch(/^You need Node\.js and npm, and nothing else/m);
  });

  it("explains the engine warnings npm ci prints on an older Node", () => {
    expect(beforeFirstBlock).toMatch(/EBADENGINE/);
    expect(beforeFirstBlock).toMatch(/harmless/);
  });

  it("links docs/deploy.md and the other guides from its documentation list", () => {
    const docs = readme.slice(readme.indexOf("## Documentation"));
    for (const doc of ["deploy", "configuration", "operating", "contract", "architecture"]) {
      expect(docs).toMatch(new RegExp(`^- \\[docs/${doc}\\.md\\]\\(docs/${doc}\\.md\\): `, "m"));
    }
  });

  it("stays a front door: at most 200 lines, the detail in docs/", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(200);
  });
});
