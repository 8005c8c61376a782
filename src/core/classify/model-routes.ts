import { z } from "zod";
import { normalizeText } from "../cache/cache-key.ts";
import { routingPoint } from "./prompt-routing.ts";

/**
 * Routes per model (LABELQ_MODEL_ROUTES): what a request for one model alias (the teacher) may
 * hand to another (a student, typically one `labelq distill` trained). Prompt routes
 * (prompts/<taxonomy>/aliases) split texts between prompt versions; these split them between
 * models, inside each prompt version.
 */

const share = z.number().min(0).max(1);
const modelShare = z.strictObject({ model: z.string().min(1), share });

const cascadeSchema = z
  .strictObject({
    student: z.string().min(1),
    /** Share of the teacher's texts that go through the cascade; default all. */
    share: share.default(1),
    /** The dimensions the student answers; every other one is asked of the teacher. */
    studentDimensions: z.array(z.string().min(1)).optional(),
    /** A gate report (`labelq distill gate --out`): its promoted dimensions are the student's. */
    gate: z.string().min(1).optional(),
    /** 2: a second student sample, and a dimension the two samples disagree on goes to the teacher. */
    samples: z.union([z.literal(1), z.literal(2)]).default(2),
    /** The second sample's temperature: at the first sample's, a disagreement would be rare. */
    sampleTemperature: z.number().min(0).max(1).default(0.9),
    /** With studentDimensions: the taxonomy and prompt version (as resolved, e.g. "v2") they were judged on; a gate report carries its own. */
    taxonomy: z.string().min(1).optional(),
    promptVersion: z.string().min(1).optional(),
  })
  .refine((c) => (c.studentDimensions === undefined) !== (c.gate === undefined), "give exactly one of studentDimensions and gate")
  .refine((c) => (c.taxonomy === undefined) === (c.promptVersion === undefined), "give taxonomy and promptVersion together")
  .refine((c) => c.gate === undefined || c.taxonomy === undefined, "a gate report names its own taxonomy and prompt version");

const modelRouteSchema = z.strictObject({ canary: modelShare.optional(), shadow: modelShare.optional(), cascade: cascadeSchema.optional() });

/** LABELQ_MODEL_ROUTES as written: teacher alias -> its routes. */
export const modelRoutesSchema = z.record(z.string().min(1), modelRouteSchema);
export type ModelRoutesInput = z.infer<typeof modelRoutesSchema>;

/** A share of a model's texts another model answers (canary) or labels alongside it for comparison (shadow). */
export interface ModelShare {
  model: string;
  share: number;
}

/** Student first, teacher only for what the student may not answer. */
export interface CascadeRoute {
  student: string;
  share: number;
  studentDimensions: ReadonlySet<string>;
  samples: 1 | 2;
  sampleTemperature: number;
  /** The taxonomy and resolved prompt version the student's dimensions were judged on; the cascade applies to those batches only. Absent: to every batch. */
  gatedOn?: { taxonomy: string; promptVersion: string };
}

/** What one model alias routes, resolved (a gate file read into studentDimensions). */
export interface ModelRoute {
  canary?: ModelShare;
  shadow?: ModelShare;
  cascade?: CascadeRoute;
}

/** Teacher alias -> its routes. */
export type ModelRoutes = ReadonlyMap<string, ModelRoute>;

/** How one text of a routed model is labelled. */
export type ModelTextRoute = { role: "teacher"; shadow?: string } | { role: "canary"; model: string } | { role: "cascade"; cascade: CascadeRoute };

/**
 * Route one text of a batch for `route`'s teacher. As routeText does for prompt versions, the
 * decision is a hash of the normalised text under `scope` (taxonomy and teacher alias), so a text
 * meets the same model on every worker and after a restart, and raising a share keeps the texts
 * already in it. Canary, cascade and shadow use separate points; canary is decided first, then
 * cascade; only a text the teacher answers is shadowed.
 */
export function routeTextToModel(text: string, route: ModelRoute, scope: string): ModelTextRoute {
  const normalised = normalizeText(text);
  if (route.canary && routingPoint(normalised, `${scope}:model-canary`) < route.canary.share) return { role: "canary", model: route.canary.model };
  if (route.cascade && routingPoint(normalised, `${scope}:model-cascade`) < route.cascade.share) return { role: "cascade", cascade: route.cascade };
  if (route.shadow && routingPoint(normalised, `${scope}:model-shadow`) < route.shadow.share) return { role: "teacher", shadow: route.shadow.model };
  return { role: "teacher" };
}

/** Every model alias LABELQ_MODEL_ROUTES names, teachers and routed models, as written (no gate file is read). */
export function routeAliases(input: ModelRoutesInput): string[] {
  return [...new Set(Object.entries(input).flatMap(([teacher, r]) => [teacher, r.canary?.model, r.shadow?.model, r.cascade?.student].filter((m): m is string => m !== undefined)))];
}

/** Every model alias a set of routes may call besides the teachers. */
export function routedModels(routes: ModelRoutes): string[] {
  const out = new Set<string>();
  for (const r of routes.values()) for (const m of [r.canary?.model, r.shadow?.model, r.cascade?.student]) if (m) out.add(m);
  return [...out];
}
