import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { files: string[] };

describe("the published package", () => {
  // Default paths the CLI and config resolve from the package root: an installed labelq must ship them, not only a checkout.
  it.each(["prompts/product-feedback", "schemas/request.v1.json", "samples/product-feedback.jsonl", "eval/gold/product-feedback.jsonl"])(
    "ships %s",
    (file) => {
      expect(pkg.files.some((entry) => file === entry || file.startsWith(`${entry}/`))).toBe(true);
      expect(existsSync(new URL(`../../${file}`, import.meta.url))).toBe(true);
    },
  );
});
