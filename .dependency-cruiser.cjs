/* global module */
// Layering of labelq's sources, checked by `npm run lint` (so CI fails on a violation).
//
//   src/core      the domain: contracts, taxonomy, prompts, models, classify, and the ports
//                 (interfaces) it needs. Imports no adapter and no application service.
//   src/adapters  SQS, DynamoDB, Redis/bottleneck, S3 and Bedrock, implementing core's ports.
//   src/app       application services that wire core and adapters: worker, bulk, dlq, eval,
//                 ops, producer, demo, local stack, distill, in
//                 tiers (bulk, dlq, local <- producer <- worker <- eval, ops, demo <- distill).
//   src/cli, src/lambda   entry points.
//
// A module may import its own layer and the layers below it, never one above; folders in one
// layer do not import each other, so the folder graph has no cycle either. There are no
// exceptions. The Bedrock emulator is a separate package (packages/bedrock-emulator).

/** Layers from the bottom; each entry lists folders of src/ in it. */
const layers = [
  ["core/contracts"],
  ["core/errors", "core/util"],
  ["core/config"],
  ["core/observability"],
  ["core/taxonomy"],
  ["core/prompts"],
  ["core/models"],
  ["core/quota", "core/cache", "core/idempotency", "core/bulk", "core/intake"],
  ["core/classify"],
  ["adapters"],
  ["app/bulk", "app/dlq", "app/local"],
  ["app/producer"],
  ["app/worker"],
  ["app/eval", "app/ops", "app/demo"],
  ["app/distill"],
  ["cli", "lambda"],
];

const path = (names) => `^src/(${names.join("|")})(/|$)`;

/** Folders in one layer are peers: none imports another, so the folder graph has no cycle. */
const peers = layers
  .filter((names) => names.length > 1)
  .flatMap((names) =>
    names.map((name) => ({
      name: `no-peer-import-from-${name.replaceAll("/", "-")}`,
      comment: `${name} may not import its peers (${names.filter((n) => n !== name).join(", ")}).`,
      severity: "error",
      from: { path: path([name]) },
      to: { path: path(names.filter((n) => n !== name)) },
    })),
  );

/** For each layer, a rule that forbids importing any layer above it. */
const upward = layers.slice(0, -1).map((names, k) => ({
  name: `no-upward-from-${names.join("-").replaceAll("/", "-")}`,
  comment: `${names.join(", ")} may not import a higher layer (${layers.slice(k + 1).flat().join(", ")}).`,
  severity: "error",
  from: { path: path(names) },
  to: { path: path(layers.slice(k + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: "contracts-import-nothing",
      comment: "The wire contract is the base every producer shares: it imports nothing else from src/.",
      severity: "error",
      from: { path: "^src/core/contracts/" },
      to: { path: "^src/", pathNot: "^src/core/contracts/" },
    },
    {
      name: "core-uses-no-io-library",
      comment: "The core reaches AWS and Redis only through its ports; the SDK clients belong to src/adapters and the services that wire them.",
      severity: "error",
      from: { path: "^src/core/" },
      to: { path: "node_modules/(@aws-sdk|@smithy|ioredis|bottleneck|sqs-consumer)/" },
    },
    {
      name: "emulator-only-outside-the-product-core",
      comment: "The Bedrock emulator is a test double: only the local stack, the demo and the command line start it.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(app/local|app/demo|cli)/" },
      to: { path: "(^|/)packages/bedrock-emulator/|@labelq/bedrock-emulator" },
    },
    {
      name: "emulator-stands-alone",
      comment: "The emulator package imports nothing from labelq's src/: it models Bedrock, not labelq.",
      severity: "error",
      from: { path: "^packages/bedrock-emulator/" },
      to: { path: "^src/" },
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
    {
      name: "adapters-stand-alone",
      comment: "Each adapter implements core's ports on its own service; adapters do not import one another.",
      severity: "error",
      from: { path: "^src/adapters/([^/]+)/" },
      to: { path: "^src/adapters/[^/]+/", pathNot: "^src/adapters/$1/" },
    },
    ...peers,
    ...upward,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".json"] },
  },
};
