/* global module */
// Layering of labelq's sources, checked by `npm run lint` (so CI fails on a violation).
// One direction: contracts <- taxonomy/prompts <- llm <- classify <- queue/store/limiter/bulk <- worker <- cli.
// errors, config and observability sit low; local/ (the embedded stack) and demo/ are outer.
// A module may import its own layer and the layers below it, never one above.

/** Layers from the bottom; each entry lists the folders (or root files) of src/ in it. */
const layers = [
  ["contracts", "errors", "lifecycle", "random"],
  ["config", "observability"],
  ["taxonomy", "prompts"],
  ["llm"],
  ["classify"],
  ["queue", "store", "limiter", "bulk"],
  ["worker\\.ts", "aws-clients\\.ts", "producer", "ops", "eval"],
  ["local", "demo"],
  // Entry points: the command line, and the Lambda handler (deploy/cdk's Lambda mode).
  ["cli", "lambda"],
];

const path = (names) => `^src/(${names.join("|")})(/|$)`;

/** For each layer, a rule that forbids importing any layer above it. */
const upward = layers.slice(0, -1).map((names, k) => ({
  name: `no-upward-from-${names.map((n) => n.replace(/\\\.ts$/, "")).join("-")}`,
  comment: `${names.join(", ")} may not import a higher layer (${layers.slice(k + 1).flat().join(", ")}).`,
  severity: "error",
  from: { path: path(names) },
  to: {
    path: path(layers.slice(k + 1).flat()),
    // classify depends on the store's and limiter's ports (interfaces, the cache key, and the
    // pure Bedrock quota arithmetic over the limiter's types), not their implementations.
    pathNot: k === layers.findIndex((l) => l.includes("classify")) ? "^src/(store/(label-cache|idempotency-store|cache-key)|limiter/(rate-limiter|bedrock-quota))\\.ts$" : undefined,
  },
}));

module.exports = {
  forbidden: [
    {
      name: "contracts-import-nothing",
      comment: "The wire contract is the base every producer shares: it imports nothing else from src/.",
      severity: "error",
      from: { path: "^src/contracts/" },
      to: { path: "^src/", pathNot: "^src/contracts/" },
    },
    {
      name: "terminal-libraries-in-cli-only",
      comment: "Argument parsing, progress bars and table printing live in src/cli/ and nowhere else.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "node_modules/(commander|cli-progress|cli-table3)/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".json"] },
  },
};
