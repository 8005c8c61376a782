import { describe, expect, it } from "vitest";
import { formatStatus } from "../../src/cli/status-command.ts";
import { parsePrometheusText } from "../../src/app/ops/prometheus-text.ts";

const depths = [
  { name: "requests", url: "http://q/requests", visible: 3, inFlight: 1, delayed: 0 },
  { name: "results", url: "http://q/results", visible: 0, inFlight: 0, delayed: 0 },
];
const totals = parsePrometheusText(
  ['labelq_batches_total{outcome="published"} 4', 'labelq_texts_total{result="ok"} 200', "labelq_inflight_batches 2", "labelq_cost_usd_total 0.5"].join("\n"),
);

describe("formatStatus", () => {
  it("says which queue is not configured instead of dropping its row", () => {
    expect(formatStatus(depths, undefined, "http://127.0.0.1:9400/metrics", undefined)).toMatch(/^dlq\s+not configured \(LABELQ_DLQ_URL\)$/m);
  });

  it("shows in flight and the totals from a single scrape, before any rate can be computed", () => {
    const text = formatStatus(depths, undefined, "http://127.0.0.1:9400/metrics", totals);
    expect(text).toMatch(/^worker http:\/\/127\.0\.0\.1:9400\/metrics: in flight 2 {2}\(rates with --watch\)$/m);
    expect(text).toMatch(/^since start: batches 4 {2}texts 200 {2}cost \$0\.5000$/m);
    expect(formatStatus(depths, undefined, "u", totals, 5)).toMatch(/in flight 2 {2}\(rates in 5 s\)/);
  });

  it("says when the metrics endpoint did not answer", () => {
    expect(formatStatus(depths, undefined, "http://x/metrics", undefined)).toMatch(/metrics: http:\/\/x\/metrics did not answer/);
  });
});
