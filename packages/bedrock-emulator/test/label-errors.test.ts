import { describe, expect, it } from "vitest";
import type { LabelItem } from "../src/classifier.ts";
import { applyLabelErrors } from "../src/label-errors.ts";
import type { OutputKey } from "../src/prompt-format.ts";

const keys: OutputKey[] = [
  { kind: "single", code: "sp", name: "sentiment", labels: ["pos", "neg", "neu"] },
  { kind: "boolean", code: "sar", name: "sarcasm", nullable: false },
  { kind: "scale", code: "q", name: "quality", min: 1, max: 5, nullable: true },
  { kind: "multi", code: "top", name: "topics", labels: ["pri", "qua", "del"], min: 0, max: 2 },
];
const texts = Array.from({ length: 300 }, (_, k) => ({ i: k + 1, t: `text ${k}` }));
const items: LabelItem[] = texts.map(({ i }) => ({ i, sp: "pos", sar: 0, q: i % 3 === 0 ? null : ((i % 5) + 1), top: i % 2 ? ["pri"] : ["pri", "qua"] }));

describe("the emulator's error model", () => {
  it("changes nothing at rate 0 or without settings", () => {
    expect(applyLabelErrors(items, texts, keys, {}, 0)).toEqual(items);
    expect(applyLabelErrors(items, texts, keys, { flip: 0, drift: 0 }, 0)).toEqual(items);
  });

  it("at rate 1 always flips to another label, negates yes/no and moves scales one step inward at the ends; null stays", () => {
    const out = applyLabelErrors(items, texts, keys, { flip: 1, drift: 1 }, 0);
    out.forEach((o, k) => {
      const before = items[k]!;
      expect(["neg", "neu"]).toContain(o.sp);
      expect(o.sar).toBe(1);
      if (before.q === null) expect(o.q).toBeNull();
      else {
        expect(Math.abs((o.q as number) - (before.q as number))).toBe(1);
        if (before.q === 1) expect(o.q).toBe(2);
        if (before.q === 5) expect(o.q).toBe(4);
      }
      const top = o.top as string[];
      expect(top.length).toBeLessThanOrEqual(2);
      // One label added or removed, or nothing where the count would leave 0..2.
      const diff = new Set([...top, ...(before.top as string[])]).size - Math.min(top.length, (before.top as string[]).length);
      expect(diff).toBeLessThanOrEqual(1);
    });
  });

  it("applies each rate per dimension key, is fixed per text, and hits about the share asked for", () => {
    const out = applyLabelErrors(items, texts, keys, { flip: { sentiment: 0.3 } }, 7);
    expect(applyLabelErrors(items, texts, keys, { flip: { sentiment: 0.3 } }, 7)).toEqual(out);
    expect(out.every((o) => o.sar === 0)).toBe(true);
    const flipped = out.filter((o) => o.sp !== "pos").length / out.length;
    // 300 texts: one standard error is 2.6 points.
    expect(flipped).toBeGreaterThan(0.22);
    expect(flipped).toBeLessThan(0.38);
  });
});
