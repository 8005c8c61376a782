#!/usr/bin/env node
// Entry point for the `labelq` command: the sources are TypeScript run by Node's type stripping (Node >= 24).
await import("../src/cli/main.ts");
