#!/usr/bin/env node
/* global process */
// Entry point for the `labelq` command: the sources are TypeScript run by Node's type stripping (Node >= 24).
// Checked here, in plain JavaScript an old Node can parse, so it says so instead of failing on a ".ts" import.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(`labelq needs Node >= 24; run it with npx or install Node 24 (this is Node ${process.versions.node})\n`);
  process.exit(1);
}
await import("../src/cli/main.ts");
