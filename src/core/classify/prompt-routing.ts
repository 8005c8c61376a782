import { createHash } from "node:crypto";
import type { AliasRoutes } from "../prompts/prompt-registry.ts";
import { normalizeText } from "../cache/cache-key.ts";

/** Which version answers a text and, for a shadow share, which other version labels it too. */
export interface TextRoute {
  version: string;
  role: "baseline" | "canary";
  shadow?: string;
}

/**
 * Route one text. `scope` (taxonomy and alias) keeps two aliases' splits independent. The
 * decision is a hash of the text normalised as the label cache normalises it, so a text meets
 * the same version in every batch, on every worker, and after a restart; and raising a share
 * from 10 % to 20 % keeps the first 10 % where they were (a text is in the share when its
 * point is below it). Canary and shadow use separate points, so the two samples are independent; a text the
 * canary answers is not shadowed (its baseline labels are not produced).
 */
export function routeText(text: string, routes: AliasRoutes, scope: string): TextRoute {
  const normalised = normalizeText(text);
  if (routes.canary && routingPoint(normalised, `${scope}:canary`) < routes.canary.share) return { version: routes.canary.version, role: "canary" };
  if (routes.shadow && routingPoint(normalised, `${scope}:shadow`) < routes.shadow.share) return { version: routes.baseline, role: "baseline", shadow: routes.shadow.version };
  return { version: routes.baseline, role: "baseline" };
}

/** A number in [0, 1) fixed by the normalised text and the salt. */
export function routingPoint(normalised: string, salt: string): number {
  const digest = createHash("sha256").update(`labelq.route.v1\u0000${salt}\u0000${normalised}`, "utf8").digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}
