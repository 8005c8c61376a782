import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { readTexts } from "../../src/app/producer/read-texts.ts";
import { SAMPLES_DIR, rejection } from "../support/fakes.ts";

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "labelq-read-texts-"));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const f = path.join(dir, name);
  await fs.writeFile(f, content);
  return f;
}

describe("readTexts: files that cannot be read", () => {
  it("names a missing file in one line, as an InvalidRequestError", async () => {
    const error = await rejection(readTexts(path.join(dir, "nope.jsonl")));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toBe(`${path.join(dir, "nope.jsonl")}: no such file`);
  });

  it("rejects an empty JSONL file instead of reading zero texts", async () => {
    const f = await file("empty.jsonl", "\n\n");
    expect(((await rejection(readTexts(f))) as Error).message).toMatch(/: no texts in it/);
  });
});

describe("readTexts from JSONL", () => {
  it("keeps the ids and metadata given, and skips blank lines (CRLF too)", async () => {
    const f = await file(
      "with-ids.jsonl",
      ['{"id":"r-1","text":"Love it.","metadata":{"stars":5}}', "", '{"id":7,"text":"Hate it."}', "   "].join("\r\n"),
    );
    expect(await readTexts(f)).toEqual([
      { id: "r-1", text: "Love it.", metadata: { stars: 5 } },
      { id: "7", text: "Hate it." },
    ]);
  });

  it("numbers records without an id as <file stem>-<n>", async () => {
    const f = await file("my reviews.v2.jsonl", ['{"text":"a"}', '{"id":"","text":"b"}', '{"id":"x","text":"c"}', '{"text":"d"}'].join("\n"));
    expect((await readTexts(f)).map((t) => t.id)).toEqual(["my-reviews.v2-1", "my-reviews.v2-2", "x", "my-reviews.v2-4"]);
  });

  it("names file:line for a line that is not JSON", async () => {
    const f = await file("bad.jsonl", ['{"text":"ok"}', "", '{"text": oops}'].join("\n"));
    const error = await rejection(readTexts(f));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: not a JSON object`));
  });

  it("names file:line for a JSON line that is not an object", async () => {
    const f = await file("array.jsonl", ['{"text":"ok"}', '["text"]'].join("\n"));
    expect(((await rejection(readTexts(f))) as Error).message).toContain(`${f}:2: not a JSON object (not an object)`);
  });

  it("rejects a record without a text field, naming the record by its id", async () => {
    const f = await file("no-text.jsonl", ['{"text":"ok"}', '{"id":"b","body":"x"}', '{"text":"also ok"}'].join("\n"));
    expect(((await rejection(readTexts(f))) as Error).message).toBe(`${f}: record b has no "text" field`);
    const g = await file("null-text.jsonl", ['{"text":"ok"}', '{"text":null}'].join("\n"));
    expect(((await rejection(readTexts(g))) as Error).message).toBe(`${g}: record null-text-2 has no "text" field (it is null, not a string)`);
  });

  it("reads an empty or blank text as it is: it is the record's problem (screenTexts), not the file's", async () => {
    const f = await file("blank.jsonl", ['{"text":"fine"}', '{"text":""}', '{"id":"r-3","text":"   "}'].join("\n"));
    expect(await readTexts(f)).toEqual([
      { id: "blank-1", text: "fine" },
      { id: "blank-2", text: "" },
      { id: "r-3", text: "   " },
    ]);
  });

  it("reads the shipped product-feedback sample", async () => {
    const texts = await readTexts(path.join(SAMPLES_DIR, "product-feedback.jsonl"));
    expect(texts.length).toBeGreaterThan(10);
    expect(texts[0]?.id).toBe("pf-0001");
    expect(new Set(texts.map((t) => t.id)).size).toBe(texts.length);
  });
});

describe("readTexts from CSV", () => {
  it("reads samples/small.csv: quoted commas, doubled quotes, multi-line fields and emoji", async () => {
    const texts = await readTexts(path.join(SAMPLES_DIR, "small.csv"));
    expect(texts).toHaveLength(12);
    expect(texts.map((t) => t.id)).toEqual(Array.from({ length: 12 }, (_, n) => `sm-${String(n + 1).padStart(4, "0")}`));
    expect(texts[0]?.text).toBe("Headphones arrived a day early. Sound is crisp, no complaints.");
    expect(texts[2]?.text).toBe('The label said "dishwasher safe". The print washed off after three cycles.');
    expect(texts[4]?.text).toBe("Zappik wall charger gets hot enough to fry an egg 🔥");
    expect(texts[5]?.text).toBe("Hi team,\nmy Larderloop delivery is missing the bread and the yoghurt.\nOrder LQ-61204. Can you refund both?\nThanks, Sam");
    expect(texts[11]?.text).toBe("Très bien emballé, sans plastique. Merci !");
  });

  it("numbers rows without an id column, and keeps leading spaces of a text", async () => {
    const f = await file("plain.csv", '\uFEFFtext,stars\n"  spaced, quoted",5\nsecond,4\n');
    expect(await readTexts(f)).toEqual([
      { id: "plain-1", text: "  spaced, quoted" },
      { id: "plain-2", text: "second" },
    ]);
  });

  it("rejects malformed CSV, naming the file", async () => {
    const f = await file("broken.csv", 'id,text\na,"unterminated\n');
    const error = await rejection(readTexts(f));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not valid CSV`));
  });

  it("rejects a CSV without a text column, listing the columns it found", async () => {
    const f = await file("no-text.csv", "id,body\na,hello\n");
    expect(((await rejection(readTexts(f))) as Error).message).toBe(`${f}: no "text" column in the header row (columns found: "id", "body")`);
    const headerOnly = await file("header-only-no-text.csv", "id,Text\n");
    expect(((await rejection(readTexts(headerOnly))) as Error).message).toBe(`${headerOnly}: no "text" column in the header row (columns found: "id", "Text")`);
  });

  it("rejects an empty CSV, or one with a header and no rows, instead of reading zero texts", async () => {
    for (const [name, content] of [["empty.csv", ""], ["header-only.csv", "id,text\n"]] as const) {
      const f = await file(name, content);
      const error = await rejection(readTexts(f));
      expect(error, name).toBeInstanceOf(InvalidRequestError);
      expect((error as Error).message).toMatch(/: no texts in it/);
    }
  });

  it("treats the extension case-insensitively", async () => {
    const f = await file("UPPER.CSV", "text\nhello\n");
    expect(await readTexts(f)).toEqual([{ id: "UPPER-1", text: "hello" }]);
  });
});
