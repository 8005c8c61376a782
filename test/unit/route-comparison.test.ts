import { describe, expect, it } from "vitest";
import { formatRouteFigures, routeFigures } from "../../src/app/distill/route-comparison.ts";
import { summaryLine } from "../../src/app/distill/run-distill-demo.ts";

const reference = [
  { id: "a", text: "x", labels: { s: "pos", t: ["p", "q"] }, tags: [] },
  { id: "b", text: "y", labels: { s: "neg", t: [] }, tags: [] },
  { id: "c", text: "z", labels: { s: "neu", t: ["q"] }, tags: [] },
];

describe("routeFigures", () => {
  it("counts label agreement over texts the route labelled (multi choice as sets) and prices per 1,000 texts asked", () => {
    const labels = new Map([
      ["a", { s: "pos", t: ["q", "p"] }],
      ["b", { s: "pos", t: [] }],
      ["c", null],
    ]);
    const f = routeFigures("student", reference, { labels, usage: { modelCalls: 2, inputTokens: 0, outputTokens: 0, costUsd: 0.003 } });
    expect(f).toEqual({ route: "student", texts: 3, labelled: 2, agreement: 3 / 4, modelCalls: 2, costUsd: 0.003, costPer1k: 1 });
    expect(routeFigures("none", reference, { labels: new Map(), usage: { modelCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 } }).agreement).toBeNull();
    expect(formatRouteFigures([f])).toMatch(/^route\s+labelled\s+agreement with teacher\s+model calls\s+\$ per 1,000 texts\nstudent\s+2\/3\s+75\.0 %\s+2\s+\$1\.0000$/);
  });

  it("says the demo in one line", () => {
    const row = (agreement: number, costPer1k: number) => ({ route: "", texts: 10, labelled: 10, agreement, modelCalls: 1, costUsd: 0, costPer1k });
    const line = summaryLine({ student: "s", teacher: "t", promoted: ["a"], held: ["b", "c"], canary: { texts: 250, byStudent: 24 }, figures: { teacher: row(1, 0.2), student: row(0.95, 0.01), cascade: row(1, 0.08) } });
    expect(line).toBe("distill demo (emulator): gate promoted 1/3 dimensions of s; canary 24/250 texts; agreement with t and cost: teacher 100.0 % at $0.2000/1k, student 95.0 % at $0.0100/1k, cascade 100.0 % at $0.0800/1k");
  });
});
