import { type DlqEntry, failedTime } from "../app/dlq/dlq-inspect.ts";
import type { ReplayOutcome } from "../app/dlq/dlq-replay.ts";

/** "45s", "12m", "3h 5m", "2d 4h": an age for a table. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}

/** Cut a string to `max` characters on one line, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, Math.max(0, max - 1))}…`;
}

/** The entry as one JSON object for `list --json`: everything but the body. */
export function entrySummary(entry: DlqEntry, now: number) {
  const at = failedTime(entry);
  return {
    messageId: entry.messageId,
    batchId: entry.batchId ?? null,
    code: entry.code,
    reason: entry.reason ?? null,
    sourceQueue: entry.sourceQueue ?? null,
    failedAt: entry.failedAt === undefined ? null : new Date(entry.failedAt).toISOString(),
    sentAt: entry.sentAt === undefined ? null : new Date(entry.sentAt).toISOString(),
    ageSeconds: at === undefined ? null : Math.max(0, Math.round((now - at) / 1000)),
    receiveCount: entry.receiveCount ?? null,
    approximateReceiveCount: entry.approximateReceiveCount ?? null,
  };
}

/** Reasons are cut to this many characters in the table; `show` prints them whole. */
const REASON_WIDTH = 60;

/**
 * `list` as a table: one line per entry, no bodies. Ids are never cut (an operator copies them
 * into `show` and `--batch-id`), so columns are as wide as their longest cell. RECV is labelq's
 * receive count, or SQS's ApproximateReceiveCount for REDRIVE entries.
 */
export function formatTable(entries: readonly DlqEntry[], now: number): string[] {
  const rows = entries.map((e) => {
    const at = failedTime(e);
    const reason = e.reason ?? (e.redrive ? "moved by the redrive policy (maxReceiveCount reached)" : "");
    return [e.messageId, e.batchId ?? "-", e.code, truncate(reason, REASON_WIDTH), at === undefined ? "-" : formatAge(now - at), String(e.receiveCount ?? e.approximateReceiveCount ?? "-")];
  });
  const all = [["MESSAGE ID", "BATCH ID", "CODE", "REASON", "AGE", "RECV"], ...rows];
  const widths = all[0]!.map((_, k) => Math.max(...all.map((r) => r[k]?.length ?? 0)));
  return all.map((cells) => cells.map((c, k) => c.padEnd(widths[k] ?? 0)).join("  ").trimEnd());
}

/**
 * The note after `list`: how many were listed (each is still in the DLQ), or that the DLQ is
 * empty. None listed while SQS counts some means another reader holds them hidden for now.
 */
export function listSummary(listed: number, dlqUrl: string, depth: number | undefined): string {
  if (listed > 0) return `${listed} messages listed from ${dlqUrl}${depth === undefined ? "" : ` (about ${depth} in the queue)`}; all are still in the DLQ`;
  if (depth === undefined || depth === 0) return `the DLQ is empty (${dlqUrl})`;
  return `no message could be read from ${dlqUrl}, though about ${depth} are in the queue: another reader has them hidden; they reappear when its visibility timeout ends`;
}

/** `show`: every attribute, then the body, pretty-printed when it is JSON. */
export function formatEntry(entry: DlqEntry, now: number): string[] {
  const at = failedTime(entry);
  const field = (name: string, value: string | number | undefined) => `${`${name}:`.padEnd(20)}${value ?? "-"}`;
  const lines = [
    field("messageId", entry.messageId),
    field("batchId", entry.batchId),
    field("code", entry.code),
    field("reason", entry.reason ?? (entry.redrive ? "moved by the redrive policy (maxReceiveCount reached); no labelq reason" : undefined)),
    field("sourceQueue", entry.sourceQueue),
    field("failedAt", entry.failedAt === undefined ? undefined : new Date(entry.failedAt).toISOString()),
    field("sentAt", entry.sentAt === undefined ? undefined : new Date(entry.sentAt).toISOString()),
    field("age", at === undefined ? undefined : formatAge(now - at)),
    field("receiveCount", entry.receiveCount),
    field("sqsReceiveCount", entry.approximateReceiveCount),
  ];
  if (entry.groupId) lines.push(field("messageGroupId", entry.groupId));
  if (entry.deadLetterSourceArn) lines.push(field("deadLetterSource", entry.deadLetterSourceArn));
  const names = Object.keys(entry.attributes).sort();
  lines.push("", `message attributes (${names.length}):`, ...names.map((n) => `  ${n} = ${entry.attributes[n]}`));
  lines.push("", `body (${Buffer.byteLength(entry.body, "utf8")} bytes):`, prettyBody(entry.body));
  return lines;
}

function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** One replay outcome as a line: what happened, the ids whole, the code and the target. */
export function outcomeLine(m: ReplayOutcome): string {
  const action = { "would-move": "would move", moved: "moved", failed: "FAILED" }[m.action];
  // Ids whole: they are what an operator copies into `show` or `--batch-id`.
  const cells = [action.padEnd(10), m.entry.messageId, (m.entry.batchId ?? "-").padEnd(24), m.entry.code.padEnd(22), `-> ${m.target ?? "(no target)"}`];
  return `${cells.join("  ")}${m.error ? `  ${m.error}` : ""}`;
}
