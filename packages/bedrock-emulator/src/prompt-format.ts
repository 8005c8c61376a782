/** One output key as the system prompt's "## Output format" section declares it. */
export type OutputKey =
  | { kind: "single"; code: string; name: string; labels: string[] }
  | { kind: "multi"; code: string; name: string; labels: string[]; min: number; max: number }
  | { kind: "scale"; code: string; name: string; min: number; max: number; nullable: boolean }
  | { kind: "boolean"; code: string; name: string; nullable: boolean }
  /** A line in the key grammar whose value spec the emulator does not know: answered with null. */
  | { kind: "unknown"; code: string; name: string };

/** One text to label, from a `{"i":..,"t":..}` line of the user message. */
export interface InputText {
  i: number;
  t: string;
}

const KEY_LINE = /^- ([a-z][a-z0-9]*) \(([a-z][a-z0-9_]*)\): (.*)$/;
const NULLABLE = /, or null when unknown$/;
const QUOTED = /"([^"]*)"/g;

function quoted(list: string): string[] {
  return [...list.matchAll(QUOTED)].map((m) => m[1] ?? "");
}

function parseSpec(code: string, name: string, spec: string): OutputKey {
  const nullable = NULLABLE.test(spec);
  const core = spec.replace(NULLABLE, "");
  const single = /^one of (".*")$/.exec(core);
  if (single?.[1] !== undefined) return { kind: "single", code, name, labels: quoted(single[1]) };
  const multi = /^list of (\d+) to (\d+) of (".*")$/.exec(core);
  if (multi?.[3] !== undefined) {
    return { kind: "multi", code, name, labels: quoted(multi[3]), min: Number(multi[1]), max: Number(multi[2]) };
  }
  const scale = /^integer from (-?\d+) to (-?\d+)$/.exec(core);
  if (scale) return { kind: "scale", code, name, min: Number(scale[1]), max: Number(scale[2]), nullable };
  if (core === "1 for yes, 0 for no") return { kind: "boolean", code, name, nullable };
  return { kind: "unknown", code, name };
}

/** Output keys of the system prompt's "## Output format" section; empty when there is none. */
export function parseOutputFormat(systemText: string): OutputKey[] {
  const lines = systemText.split(/\r?\n/);
  const start = lines.findIndex((l) => l.trim() === "## Output format");
  if (start < 0) return [];
  const keys: OutputKey[] = [];
  for (const line of lines.slice(start + 1)) {
    // The section ends at the next heading of the same or a higher level.
    if (/^#{1,2} /.test(line)) break;
    const m = KEY_LINE.exec(line.trimEnd());
    if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined) keys.push(parseSpec(m[1], m[2], m[3]));
  }
  return keys;
}

/**
 * The texts to label: lines of the user message that are `{"i":<number>,"t":"<text>"}` objects
 * (JSON format) or `<number>: "<text>"` (lines format).
 */
export function parseInputTexts(userText: string): InputText[] {
  const texts: InputText[] = [];
  for (const raw of userText.split(/\r?\n/)) {
    const line = raw.trim();
    const numbered = /^(\d+): (".*")$/.exec(line);
    if (numbered?.[1] !== undefined && numbered[2] !== undefined) {
      try {
        const t: unknown = JSON.parse(numbered[2]);
        if (typeof t === "string") texts.push({ i: Number(numbered[1]), t });
      } catch {
        // Not a JSON string: an instruction, as a model would read it.
      }
      continue;
    }
    if (!line.startsWith('{"i":')) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === "object" && value !== null && "i" in value && "t" in value) {
        const { i, t } = value;
        if (typeof i === "number" && typeof t === "string") texts.push({ i, t });
      }
    } catch {
      // A line that only looks like an item is an instruction, as a model would read it.
    }
  }
  return texts;
}
