import { LabelqError } from "../core/errors/errors.ts";
import { controlBodySchema, type ControlBody } from "@labelq/bedrock-emulator/settings";

export const EMULATOR_HELP =
  'Bedrock emulator settings as JSON, e.g. \'{"latency":{"fixedMs":800,"perOutputTokenMs":2},"quota":{"rpm":60},"faults":[{"kind":"truncate","probability":0.2}]}\'';

/** The emulator's defaults for `local` and `demo`: a hosted 70B model's pace, scaled down. */
export const DEFAULT_EMULATOR_LATENCY = { fixedMs: 150, perOutputTokenMs: 0.3 };

/** Parse --emulator JSON with the emulator's own schema, so a typo fails loudly. */
export function emulatorSettings(json: string | undefined): ControlBody {
  if (json === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new LabelqError("CONFIG_INVALID", `--emulator: not JSON (${(error as Error).message})`, false);
  }
  const parsed = controlBodySchema.safeParse(value);
  if (!parsed.success) {
    throw new LabelqError("CONFIG_INVALID", `--emulator: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`, false);
  }
  return parsed.data;
}
