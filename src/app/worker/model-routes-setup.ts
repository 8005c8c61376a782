import fs from "node:fs";
import { z } from "zod";
import { type CascadeRoute, type ModelRoute, type ModelRoutes, modelRoutesSchema } from "../../core/classify/model-routes.ts";
import { ConfigError } from "../../core/errors/errors.ts";
import type { ModelCatalogue } from "../../core/models/model-catalogue.ts";
import { acceptsSampling } from "../../core/models/sampling.ts";

/** The part of a gate report (`labelq distill gate --out`) a cascade reads. */
const gateReportSchema = z.object({ student: z.string(), teacher: z.string(), taxonomy: z.string(), promptVersion: z.string(), promoted: z.array(z.string()), held: z.array(z.string()) });

/**
 * LABELQ_MODEL_ROUTES checked and resolved once at start: every alias is in the catalogue, a
 * cascade's gate report is read into the dimensions the student may answer (and must be for
 * that student and teacher), and a cascade that takes two samples has a student that accepts a
 * temperature. Any problem is a ConfigError naming the route.
 */
export function loadModelRoutes(json: string | undefined, catalogue: Pick<ModelCatalogue, "find">, readFile: (file: string) => string = (f) => fs.readFileSync(f, "utf8")): ModelRoutes | undefined {
  if (json === undefined) return undefined;
  const parsed = modelRoutesSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `LABELQ_MODEL_ROUTES ${i.path.join(".") || "(root)"}: ${i.message}`));
  const problems: string[] = [];
  const routes = new Map<string, ModelRoute>();
  for (const [teacher, input] of Object.entries(parsed.data)) {
    const where = `LABELQ_MODEL_ROUTES.${teacher}`;
    const known = (alias: string, field: string) => catalogue.find(alias) !== undefined || void problems.push(`${where}.${field}: model "${alias}" is not in the model catalogue`);
    known(teacher, "(key)");
    if (input.canary) known(input.canary.model, "canary.model");
    if (input.shadow) known(input.shadow.model, "shadow.model");
    let cascade: CascadeRoute | undefined;
    if (input.cascade) {
      const c = input.cascade;
      if (known(c.student, "cascade.student")) {
        const student = catalogue.find(c.student)!;
        if (c.samples === 2 && !acceptsSampling(student, { temperature: c.sampleTemperature })) problems.push(`${where}.cascade: "${c.student}" takes no temperature, so a second sample would be the first again; set "samples": 1`);
      }
      const gate = c.gate === undefined ? undefined : gateDimensions(c.gate, { student: c.student, teacher }, readFile, `${where}.cascade.gate`, problems);
      const dims = c.studentDimensions ?? gate?.promoted ?? [];
      const gatedOn = gate?.gatedOn ?? (c.taxonomy !== undefined && c.promptVersion !== undefined ? { taxonomy: c.taxonomy, promptVersion: c.promptVersion } : undefined);
      cascade = { student: c.student, share: c.share, studentDimensions: new Set(dims), samples: c.samples, sampleTemperature: c.sampleTemperature, ...(gatedOn ? { gatedOn } : {}) };
    }
    routes.set(teacher, { ...(input.canary ? { canary: input.canary } : {}), ...(input.shadow ? { shadow: input.shadow } : {}), ...(cascade ? { cascade } : {}) });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return routes;
}

/** The promoted dimensions of a gate report, which must be for this student and teacher, and the taxonomy and prompt version it judged them on. */
function gateDimensions(
  file: string,
  pair: { student: string; teacher: string },
  readFile: (file: string) => string,
  where: string,
  problems: string[],
): { promoted: string[]; gatedOn?: { taxonomy: string; promptVersion: string } } {
  let text: string;
  try {
    text = readFile(file);
  } catch (error) {
    problems.push(`${where}: cannot read ${file} (${(error as Error).message}); run \`labelq distill gate --out ${file}\` first`);
    return { promoted: [] };
  }
  const report = gateReportSchema.safeParse(parseOrUndefined(text));
  if (!report.success) {
    problems.push(`${where}: ${file} is not a gate report written by \`labelq distill gate\``);
    return { promoted: [] };
  }
  const { student, teacher, promoted, taxonomy, promptVersion } = report.data;
  if (student !== pair.student || teacher !== pair.teacher) problems.push(`${where}: ${file} gates student "${student}" against teacher "${teacher}", not "${pair.student}" against "${pair.teacher}"`);
  return { promoted, gatedOn: { taxonomy, promptVersion } };
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
