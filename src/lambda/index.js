// The Lambda runtime loads handlers from .js/.mjs/.cjs files only: this re-exports the
// TypeScript handler, which Node 24 runs by stripping its types (as bin/labelq.js does).
export { handler } from "./handler.ts";
