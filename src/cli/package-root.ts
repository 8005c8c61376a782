import path from "node:path";
import { fileURLToPath } from "node:url";

/** The installed package's root (where schemas/, samples/ and prompts/ are), wherever it is run from. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
