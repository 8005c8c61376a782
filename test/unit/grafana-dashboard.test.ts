import { readFileSync } from "node:fs";
import { Histogram, Summary } from "prom-client";
import { beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../src/core/observability/metrics.ts";

/**
 * The Grafana dashboard (deploy/grafana/dashboards/labelq.json) must not drift from the
 * metrics the code exports: every metric it queries exists in src/core/observability/metrics.ts,
 * and every label it filters or groups on exists on that metric. A small PromQL scanner
 * finds selectors, label matchers and `by`/`without` lists; it throws on syntax it does not
 * know, so new kinds of expressions extend it rather than slip past it.
 */

const DASHBOARD_URL = new URL("../../deploy/grafana/dashboards/labelq.json", import.meta.url);

/** Labels Prometheus adds to every scraped series (the target's labels). */
const TARGET_LABELS = ["job", "instance"];

/** Functions and aggregation operators the dashboard may call; an unknown name fails the test. */
const FUNCTIONS = new Set([
  "abs", "absent", "avg", "avg_over_time", "bottomk", "ceil", "clamp_max", "clamp_min", "count",
  "count_over_time", "delta", "deriv", "floor", "group", "histogram_quantile", "idelta", "increase",
  "irate", "label_replace", "max", "max_over_time", "min", "min_over_time", "quantile", "rate",
  "resets", "round", "scalar", "sort", "sort_desc", "stddev", "sum", "sum_over_time", "time",
  "topk", "vector",
]);
const AGGREGATIONS = new Set(["avg", "bottomk", "count", "group", "max", "min", "quantile", "stddev", "sum", "topk"]);
const SET_OPERATORS = new Set(["and", "or", "unless"]);
const UNSUPPORTED = new Set(["on", "ignoring", "group_left", "group_right", "offset", "bool", "atan2"]);

/** The range selectors the dashboard may use: Grafana's rate interval, or the whole range for stats. */
const RANGES = new Set(["[$__rate_interval]", "[$__range]"]);

type TokenKind = "ident" | "number" | "string" | "range" | "op" | "(" | ")" | "{" | "}" | ",";
interface Token {
  kind: TokenKind;
  text: string;
}

function tokenize(expr: string): Token[] {
  const rules: [TokenKind | null, RegExp][] = [
    [null, /^\s+/],
    ["string", /^"(?:[^"\\]|\\.)*"|^'(?:[^'\\]|\\.)*'|^`[^`]*`/],
    ["range", /^\[[^\]]*\]/],
    ["ident", /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
    ["number", /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/],
    ["op", /^(?:=~|!~|!=|==|>=|<=|[=<>+\-*/%^])/],
    ["(", /^\(/],
    [")", /^\)/],
    ["{", /^\{/],
    ["}", /^\}/],
    [",", /^,/],
  ];
  const tokens: Token[] = [];
  let rest = expr;
  outer: while (rest.length > 0) {
    for (const [kind, pattern] of rules) {
      const match = pattern.exec(rest);
      if (!match) continue;
      if (kind) tokens.push({ kind, text: match[0] });
      rest = rest.slice(match[0].length);
      continue outer;
    }
    throw new Error(`cannot read PromQL at "${rest}" in: ${expr}`);
  }
  return tokens;
}

interface Selector {
  metric: string;
  /** Label names used in the selector's matchers, `{name="value"}`. */
  matchers: string[];
}
interface Grouping {
  clause: "by" | "without";
  labels: string[];
  /** Metrics selected inside the aggregation the clause belongs to. */
  metrics: string[];
}
interface Analysis {
  selectors: Selector[];
  groupings: Grouping[];
  ranges: string[];
}

/** Finds the metric selectors, `by`/`without` clauses and range selectors of one PromQL expression. */
function analyse(expr: string): Analysis {
  const tokens = tokenize(expr);
  const at = (i: number): Token | undefined => tokens[i];

  // Match the parentheses.
  const closeOf = new Map<number, number>();
  const openOf = new Map<number, number>();
  const stack: number[] = [];
  tokens.forEach((t, i) => {
    if (t.kind === "(") stack.push(i);
    if (t.kind === ")") {
      const open = stack.pop();
      if (open === undefined) throw new Error(`unbalanced ")" in: ${expr}`);
      closeOf.set(open, i);
      openOf.set(i, open);
    }
  });
  if (stack.length > 0) throw new Error(`unbalanced "(" in: ${expr}`);

  const selectors: (Selector & { index: number })[] = [];
  const clauses: { clause: "by" | "without"; labels: string[]; from: number; to: number }[] = [];
  const ranges: string[] = [];

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === "range") ranges.push(t.text);
    if (t.kind === "{") throw new Error(`selector without a metric name in: ${expr}`);
    if (t.kind !== "ident") continue;
    const next = at(i + 1);

    if (t.text === "by" || t.text === "without") {
      if (next?.kind !== "(") throw new Error(`"${t.text}" without a label list in: ${expr}`);
      const listEnd = closeOf.get(i + 1)!;
      const labels = tokens.slice(i + 2, listEnd).filter((x) => x.kind === "ident").map((x) => x.text);
      // `sum by (l) (expr)` or `sum (expr) by (l)`.
      let span: [number, number];
      if (at(listEnd + 1)?.kind === "(") span = [listEnd + 1, closeOf.get(listEnd + 1)!];
      else if (at(i - 1)?.kind === ")") span = [openOf.get(i - 1)!, i - 1];
      else throw new Error(`cannot tell which aggregation "${t.text}" belongs to in: ${expr}`);
      clauses.push({ clause: t.text, labels, from: span[0], to: span[1] });
      i = listEnd;
      continue;
    }
    if (UNSUPPORTED.has(t.text)) throw new Error(`the dashboard test does not read "${t.text}" yet; extend it: ${expr}`);
    if (SET_OPERATORS.has(t.text)) continue;
    const aggregationWithClause = AGGREGATIONS.has(t.text) && next?.kind === "ident" && (next.text === "by" || next.text === "without");
    if (next?.kind === "(" || aggregationWithClause) {
      if (!FUNCTIONS.has(t.text)) throw new Error(`unknown function "${t.text}" in: ${expr}`);
      continue;
    }

    // A metric name, with or without matchers.
    const matchers: string[] = [];
    if (next?.kind === "{") {
      let j = i + 2;
      while (at(j)?.kind !== "}") {
        const [name, op, value] = [at(j), at(j + 1), at(j + 2)];
        if (name?.kind !== "ident" || op?.kind !== "op" || value?.kind !== "string") {
          throw new Error(`cannot read the matchers of ${t.text} in: ${expr}`);
        }
        matchers.push(name.text);
        j += 3;
        if (at(j)?.kind === ",") j++;
      }
      selectors.push({ metric: t.text, matchers, index: i });
      i = j;
    } else {
      selectors.push({ metric: t.text, matchers, index: i });
    }
  }

  return {
    selectors: selectors.map(({ metric, matchers }) => ({ metric, matchers })),
    groupings: clauses.map(({ clause, labels, from, to }) => ({
      clause,
      labels,
      metrics: selectors.filter((s) => s.index > from && s.index < to).map((s) => s.metric),
    })),
    ranges,
  };
}

/** Series names and their labels, as Prometheus sees them when it scrapes a worker. */
type Catalog = Map<string, Set<string>>;

async function catalogOf(metrics: Metrics): Promise<Catalog> {
  const catalog: Catalog = new Map();
  for (const { name } of await metrics.registry.getMetricsAsJSON()) {
    const metric = metrics.registry.getSingleMetric(name);
    if (metric instanceof Summary) throw new Error(`${name} is a summary; teach the dashboard test its series`);
    // prom-client keeps the configured labelNames on the metric object but leaves them out of
    // its type declarations; fail loudly if that ever changes rather than check nothing.
    const labelNames = (metric as unknown as { labelNames?: unknown }).labelNames;
    if (!Array.isArray(labelNames) || !labelNames.every((l) => typeof l === "string")) {
      throw new Error(`cannot read the label names of ${name} from prom-client`);
    }
    const labels = [...labelNames, ...TARGET_LABELS];
    if (metric instanceof Histogram) {
      catalog.set(`${name}_bucket`, new Set([...labels, "le"]));
      catalog.set(`${name}_sum`, new Set(labels));
      catalog.set(`${name}_count`, new Set(labels));
    } else {
      catalog.set(name, new Set(labels));
    }
  }
  return catalog;
}

/** What is wrong with one expression against the catalog; empty when nothing is. */
function problemsIn(expr: string, catalog: Catalog): string[] {
  const problems: string[] = [];
  const { selectors, groupings, ranges } = analyse(expr);
  if (selectors.length === 0) problems.push(`no metric in: ${expr}`);
  for (const { metric, matchers } of selectors) {
    const labels = catalog.get(metric);
    if (!labels) {
      problems.push(`unknown metric ${metric}`);
      continue;
    }
    for (const label of matchers) if (!labels.has(label)) problems.push(`${metric} has no label "${label}" (matcher)`);
  }
  for (const { clause, labels, metrics } of groupings) {
    if (metrics.length === 0) problems.push(`"${clause} (${labels.join(", ")})" aggregates no metric in: ${expr}`);
    for (const metric of metrics) {
      const known = catalog.get(metric);
      if (!known) continue; // reported above
      for (const label of labels) if (!known.has(label)) problems.push(`${metric} has no label "${label}" (${clause})`);
    }
  }
  for (const range of ranges) if (!RANGES.has(range)) problems.push(`range ${range} is not one of ${[...RANGES].join(", ")}`);
  return problems;
}

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  definition?: string;
  query?: string | { query?: string };
  datasource?: { uid?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

function variableQuery(v: Variable): string {
  return typeof v.query === "string" ? v.query : (v.query?.query ?? v.definition ?? "");
}

describe("the PromQL scanner", () => {
  it("finds selectors, matchers, grouping labels and ranges", () => {
    const a = analyse(
      'histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{job=~"$job", model=~"a|b"}[$__rate_interval]))) / sum(y) without (code) * 60',
    );
    expect(a.selectors).toEqual([
      { metric: "x_bucket", matchers: ["job", "model"] },
      { metric: "y", matchers: [] },
    ]);
    expect(a.groupings).toEqual([
      { clause: "by", labels: ["le", "model"], metrics: ["x_bucket"] },
      { clause: "without", labels: ["code"], metrics: ["y"] },
    ]);
    expect(a.ranges).toEqual(["[$__rate_interval]"]);
  });

  it("reports unknown metrics, labels and ranges, and refuses what it cannot read", async () => {
    const catalog = await catalogOf(new Metrics({ defaultMetrics: false }));
    expect(problemsIn("sum by (outcome) (rate(labelq_batches_total[$__rate_interval]))", catalog)).toEqual([]);
    expect(problemsIn("sum by (colour) (rate(labelq_batches_total[$__rate_interval]))", catalog)).toEqual([
      'labelq_batches_total has no label "colour" (by)',
    ]);
    expect(problemsIn('rate(labelq_batches_total{code="x"}[5m])', catalog)).toEqual([
      'labelq_batches_total has no label "code" (matcher)',
      "range [5m] is not one of [$__rate_interval], [$__range]",
    ]);
    expect(problemsIn("rate(labelq_nope_total[$__rate_interval])", catalog)).toEqual(["unknown metric labelq_nope_total"]);
    expect(problemsIn("labelq_batch_duration_seconds_bucket", catalog)).toEqual([]);
    expect(problemsIn("labelq_batches_total_bucket", catalog)).toEqual(["unknown metric labelq_batches_total_bucket"]);
    expect(() => analyse("a / on (model) b")).toThrow(/extend it/);
    expect(() => analyse("rat(a[1m])")).toThrow(/unknown function/);
  });
});

describe("the Grafana dashboard", () => {
  let dashboard: Dashboard;
  let catalog: Catalog;
  beforeAll(async () => {
    dashboard = JSON.parse(readFileSync(DASHBOARD_URL, "utf8")) as Dashboard;
    catalog = await catalogOf(new Metrics({ defaultMetrics: false }));
  });

  it("is the labelq dashboard on the provisioned Prometheus datasource", () => {
    expect(dashboard.uid).toBe("labelq");
    expect(dashboard.title).toBe("labelq");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    for (const panel of allPanels(dashboard.panels)) {
      if (panel.type === "row") continue;
      expect(panel.datasource?.uid, panel.title).toBe("prometheus");
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid ?? "prometheus", panel.title).toBe("prometheus");
    }
  });

  it("has the rows in order, unique panel ids and no overlapping panels", () => {
    const panels = allPanels(dashboard.panels);
    expect(panels.filter((p) => p.type === "row").map((p) => p.title)).toEqual(["Flow", "Quality", "Model", "Cost", "Cache", "Batch latency"]);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, string>();
    for (const { title, gridPos: g } of panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const key = `${x},${y}`;
          expect(cells.get(key), `${title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, title);
        }
      }
    }
  });

  it("queries only metrics and labels that src/core/observability/metrics.ts exports", () => {
    const problems: string[] = [];
    let expressions = 0;
    for (const panel of allPanels(dashboard.panels)) {
      for (const target of panel.targets ?? []) {
        expressions++;
        for (const problem of problemsIn(target.expr ?? "", catalog)) problems.push(`${panel.title} [${target.refId}]: ${problem}`);
      }
    }
    expect(expressions).toBeGreaterThan(20);
    expect(problems).toEqual([]);
  });

  it("takes its template variables from exported metrics and labels", () => {
    const variables = dashboard.templating.list;
    expect(variables.map((v) => v.name).sort()).toEqual(["job", "model"]);
    for (const v of variables) {
      expect(v.datasource?.uid, v.name).toBe("prometheus");
      const match = /^label_values\((.+),\s*(\w+)\)$/.exec(variableQuery(v));
      expect(match, `${v.name}: ${variableQuery(v)}`).not.toBeNull();
      const [, selector, label] = match!;
      expect(label).toBe(v.name);
      const problems = problemsIn(selector!, catalog);
      const metric = analyse(selector!).selectors[0]?.metric ?? "";
      if (!catalog.get(metric)?.has(label!)) problems.push(`${metric} has no label "${label}"`);
      expect(problems, v.name).toEqual([]);
    }
  });
});
