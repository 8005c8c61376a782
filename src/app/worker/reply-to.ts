import { InvalidRequestError } from "../../core/errors/errors.ts";

/**
 * Where a batch's result goes: the request's replyTo when the allow-list admits it, else the
 * default results queue. Entries are exact queue URLs or prefixes ending in "*".
 */
export function resolveReplyTo(replyTo: string | undefined, defaultQueue: string, allowlist: readonly string[]): string {
  if (replyTo === undefined || replyTo === defaultQueue) return defaultQueue;
  const allowed = allowlist.some((entry) => (entry.endsWith("*") ? replyTo.startsWith(entry.slice(0, -1)) : replyTo === entry));
  if (!allowed) {
    throw new InvalidRequestError(`replyTo ${replyTo} is not in the reply-queue allow-list (LABELQ_REPLY_TO_ALLOWLIST)`, [], "REPLY_TO_NOT_ALLOWED");
  }
  return replyTo;
}
