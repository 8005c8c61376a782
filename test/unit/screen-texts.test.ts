import { describe, expect, it } from "vitest";
import { textProblem } from "../../src/core/contracts/text-checks.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { screenTexts, skippedLines } from "../../src/app/producer/screen-texts.ts";
import { caught } from "../support/fakes.ts";

describe("textProblem: the one rule for texts the model is never asked about", () => {
  it("finds empty, blank (invisible characters too), over-long and broken texts, and passes the rest", () => {
    expect(textProblem("", 10)?.code).toBe("TEXT_EMPTY");
    expect(textProblem(" \n\t\u200b\ufeff", 10)?.code).toBe("TEXT_EMPTY");
    expect(textProblem("x".repeat(11), 10)).toEqual({ code: "TEXT_TOO_LONG", message: "the text is 11 characters; the limit is 10 (LABELQ_MAX_TEXT_CHARS)" });
    expect(textProblem("ok \ud800", 10)?.code).toBe("TEXT_INVALID");
    for (const fine of ["x".repeat(10), "👍", "Schöne Farbe, 🔋 leer nach einer Woche", "!!"]) expect(textProblem(fine, 40), fine).toBeUndefined();
  });
});

describe("screenTexts", () => {
  const texts = [
    { id: "mine-1", text: "Love it" },
    { id: "mine-2", text: "" },
    { id: "r-3", text: "y".repeat(20_000) },
    { id: "mine-4", text: "Battery died" },
  ];

  it("sends the usable texts and lists the others by id, one line each, then the count, never quoting a text", () => {
    const screened = screenTexts(texts, 5_000, "mine.jsonl");
    expect(screened.send.map((t) => t.id)).toEqual(["mine-1", "mine-4"]);
    expect(skippedLines(screened, "sending")).toEqual([
      "mine-2: TEXT_EMPTY: the text is empty",
      "r-3: TEXT_TOO_LONG: the text is 20000 characters; the limit is 5000 (LABELQ_MAX_TEXT_CHARS)",
      "2 of 4 texts left out (TEXT_EMPTY 1, TEXT_TOO_LONG 1); the worker would answer each with that item error; sending the other 2",
    ]);
  });

  it("says nothing when every text can be sent", () => {
    expect(skippedLines(screenTexts([texts[0]!], 5_000, "f"), "sending")).toEqual([]);
  });

  it("refuses a file none of whose texts can be sent", () => {
    const error = caught(() => screenTexts([texts[1]!], 5_000, "mine.jsonl"));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toBe("mine.jsonl: none of its 1 texts can be labelled (TEXT_EMPTY 1): nothing to send");
  });
});
