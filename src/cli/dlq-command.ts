import type { SQSClient } from "@aws-sdk/client-sqs";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { type Config, requireQueue } from "../core/config/config.ts";
import { InvalidRequestError, LabelqError, QueueError } from "../core/errors/errors.ts";
import { dlqDepth, findDlqEntry, listDlq } from "../app/dlq/dlq-inspect.ts";
import { checkFilter, parseCodes, parseDuration, type ReplayFilter, type ReplayReport, replayDlq, startMoveTask } from "../app/dlq/dlq-replay.ts";
import { entrySummary, formatEntry, formatTable, listSummary, outcomeLine } from "./dlq-format.ts";
import { integerArg, positiveNumberArg } from "./numeric-flags.ts";

/** What `labelq dlq` needs from the CLI: config with flag overrides, and SQS clients made in the one place that makes them. */
export interface DlqCommandDeps {
  /** Validated config; each entry (variable name to flag value, undefined when not given) overrides the environment. */
  config: (overrides: Record<string, string | undefined>) => Config;
  /** Clients for that config (createAwsClients); destroyed when the command ends. */
  clients: (config: Config) => { sqs: SQSClient; destroy(): void };
  /** Results (tables, JSON lines, replay report); default stdout. */
  write?: (s: string) => void;
  /** Notes about the run; default stderr. */
  note?: (s: string) => void;
  /** Where a progress bar goes; default stderr when it is a terminal, else no bar. */
  progress?: NodeJS.WritableStream;
  now?: () => number;
  /**
   * Call `stop` when the user interrupts; returns a function that stops listening. Default: the
   * first SIGINT or SIGTERM stops the replay (summary printed, what was read released), a second
   * one exits at once.
   */
  onInterrupt?: (stop: () => void) => () => void;
}

/** The first SIGINT/SIGTERM calls `stop`; a second exits at once (its messages reappear after their visibility timeout). */
function onSignals(stop: () => void): () => void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write("interrupted: stopping after the current message and making what was read visible again (again to exit at once)\n");
    stop();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

const DEFAULT_VISIBILITY_S = 30;
/** SQS allows a visibility timeout of up to 12 hours. */
const visibilityArg = integerArg(1, 43_200);

/** Help texts of the options the dlq subcommands share; an option without help is not added. */
interface SharedOptionHelp {
  limit: string;
  limitMax: number;
  limitDefault?: number;
  json?: string;
  visibility: string;
}

/** Add --limit, --json, --visibility-timeout and --dlq, with the same parsing and defaults for every subcommand. */
function withSharedOptions(command: Command, help: SharedOptionHelp): Command {
  command.option("--limit <n>", help.limit, integerArg(1, help.limitMax), help.limitDefault);
  if (help.json) command.option("--json", help.json);
  return command
    .option("--visibility-timeout <s>", help.visibility, visibilityArg, DEFAULT_VISIBILITY_S)
    .option("--dlq <url>", "dead-letter queue URL (LABELQ_DLQ_URL)");
}

/** Where `labelq dlq` writes, what it reads the time and interrupts from, and how it reaches the DLQ: the deps with their defaults. */
interface DlqIo {
  /** Lines of results, each ended with a newline. */
  out: (lines: readonly string[]) => void;
  note: (s: string) => void;
  progress: NodeJS.WritableStream | undefined;
  now: () => number;
  onInterrupt: (stop: () => void) => () => void;
  /** Read config with the queue flags, require the DLQ, and run `body` with an SQS client, destroying the clients afterwards. */
  withDlq: <T>(flags: { dlq?: string; queue?: string }, body: (sqs: SQSClient, dlqUrl: string, config: Config) => Promise<T>) => Promise<T>;
}

/** Fill in the defaults of DlqCommandDeps: stdout, stderr, a bar only on a terminal, the clock, SIGINT/SIGTERM. */
function dlqIo(deps: DlqCommandDeps): DlqIo {
  const write = deps.write ?? ((s: string) => void process.stdout.write(s));
  return {
    out: (lines) => write(lines.map((l) => `${l}\n`).join("")),
    note: deps.note ?? ((s: string) => void process.stderr.write(s)),
    progress: "progress" in deps ? deps.progress : process.stderr.isTTY ? process.stderr : undefined,
    now: deps.now ?? Date.now,
    onInterrupt: deps.onInterrupt ?? onSignals,
    withDlq: async (flags, body) => {
      const config = deps.config({ LABELQ_DLQ_URL: flags.dlq, LABELQ_REQUESTS_QUEUE_URL: flags.queue });
      const dlqUrl = requireQueue(config, "dlq");
      const clients = deps.clients(config);
      try {
        return await body(clients.sqs, dlqUrl, config);
      } finally {
        clients.destroy();
      }
    },
  };
}

/** Add `labelq dlq list|show|replay`: inspect dead-lettered batches and send them back for another attempt. */
export function registerDlqCommand(program: Command, deps: DlqCommandDeps): void {
  const io = dlqIo(deps);
  const dlq = program
    .command("dlq")
    .description("Inspect the dead-letter queue and replay failed batches. Reading a message hides it briefly (SQS has no peek); every command makes what it read visible again at once.");
  addList(dlq, io);
  addShow(dlq, io);
  addReplay(dlq, io);
}

/** The flags of `list` and `show` (withSharedOptions). */
interface ReadFlags {
  limit: number;
  json?: boolean;
  visibilityTimeout: number;
  dlq?: string;
}

/** `labelq dlq list`: one line (or JSON object) per entry, without bodies. */
function addList(dlq: Command, io: DlqIo): void {
  withSharedOptions(
    dlq
      .command("list")
      .description("one line per DLQ entry: messageId, batchId, error code (REDRIVE: moved by the redrive policy), reason, age, receive count; bodies are not shown"),
    {
      limit: "read at most this many messages",
      limitMax: 100_000,
      limitDefault: 100,
      json: "print one JSON object per line instead of a table",
      visibility: "seconds a read message stays hidden; they are released at once when the list ends, so this matters only if it is interrupted",
    },
  ).action((o: ReadFlags) => listEntries(io, o));
}

/** Read up to --limit entries, print them, and note the DLQ's depth, a reached limit and what stayed hidden. */
async function listEntries(io: DlqIo, o: ReadFlags): Promise<void> {
  const { limit, visibilityTimeout: visibilityTimeoutS } = o;
  await io.withDlq(o, async (sqs, dlqUrl) => {
    const { entries, unreleased } = await listDlq(sqs, dlqUrl, { limit, visibilityTimeoutS });
    const at = io.now();
    // An empty list prints no table header: nothing but the note below.
    if (entries.length > 0) io.out(o.json ? entries.map((e) => JSON.stringify(entrySummary(e, at))) : formatTable(entries, at));
    io.note(`${listSummary(entries.length, dlqUrl, await dlqDepth(sqs, dlqUrl))}\n`);
    if (entries.length >= limit) io.note(`--limit ${limit} reached: the DLQ may hold more\n`);
    if (unreleased > 0) io.note(`${unreleased} messages could not be made visible again; they reappear within ${visibilityTimeoutS} s\n`);
  });
}

/** `labelq dlq show <messageId>`: one entry in full, body included. */
function addShow(dlq: Command, io: DlqIo): void {
  withSharedOptions(
    dlq
      .command("show <messageId>")
      .description("one DLQ entry in full: its attributes and its body, pretty-printed (bodies are user data: shown because you asked for this message)"),
    {
      limit: "look at most at this many messages to find it",
      limitMax: 100_000,
      limitDefault: 1000,
      json: "print the entry, body included, as one JSON object",
      visibility: "seconds a read message stays hidden; they are released at once when the search ends",
    },
  ).action((messageId: string, o: ReadFlags) => showEntry(io, messageId, o));
}

/** Find one entry among the first --limit messages and print it whole; not found is an error. */
async function showEntry(io: DlqIo, messageId: string, o: ReadFlags): Promise<void> {
  const { limit, visibilityTimeout: visibilityTimeoutS } = o;
  await io.withDlq(o, async (sqs, dlqUrl) => {
    const { entry, scanned } = await findDlqEntry(sqs, dlqUrl, messageId, { limit, visibilityTimeoutS });
    if (!entry) throw new InvalidRequestError(`message ${messageId} is not among the ${scanned} messages read from ${dlqUrl} (raise --limit to look further)`);
    const at = io.now();
    if (o.json) {
      io.out([JSON.stringify({ ...entrySummary(entry, at), attributes: entry.attributes, body: entry.body })]);
    } else {
      io.out(formatEntry(entry, at));
    }
  });
}

/** `labelq dlq replay`: send matching entries back (a dry run unless --execute), or start SQS's move task. */
function addReplay(dlq: Command, io: DlqIo): void {
  withSharedOptions(
    dlq
      .command("replay")
      .description(
        "send DLQ entries back to their source queue (labelq-source-queue, else LABELQ_REQUESTS_QUEUE_URL) with their body unchanged, deleting each from the DLQ only after it was sent. A DRY RUN unless --execute.",
      ),
    {
      limit: "replay at most this many matching entries",
      limitMax: 10_000_000,
      visibility: "seconds a read message stays hidden; skipped ones are released at once when the scan ends (raise it for scans of many thousands)",
    },
  )
    .option("--code <code>", "only entries with this error code (repeat, or a comma list; REDRIVE: moved by the redrive policy)", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option("--batch-id <id>", "only entries of this batch")
    .option("--older-than <duration>", "only entries that failed at least this long ago (e.g. 10m, 2h, 1d)")
    .option("--newer-than <duration>", "only entries that failed less than this long ago")
    .option("--execute", "really move them (without it, only print what would move)")
    .option("--rate <per-second>", "send at most this many messages a second", positiveNumberArg("messages a second"), 50)
    .option(
      "--move-task",
      "unfiltered only, AWS only: start SQS's own redrive (StartMessageMoveTask) to LABELQ_REQUESTS_QUEUE_URL, or without one to each message's original source queue. The embedded SQS (fauxqs, `labelq local`) lacks it; the default receive-and-send replay works everywhere",
    )
    .option("--queue <url>", "requests queue URL (LABELQ_REQUESTS_QUEUE_URL): the target of entries without labelq-source-queue, and of --move-task")
    .action((o: ReplayFlags) => runReplay(io, o));
}

/** Check the replay flags (before any config or queue is touched), then replay or start a move task. */
async function runReplay(io: DlqIo, o: ReplayFlags): Promise<void> {
  // Refused first, before any config or queue is touched: a move task moves everything, not what the filters name.
  if (o.moveTask) refuseMoveTaskFilters(o);
  const filter = replayFilterOf(o);
  const { limit, rate, visibilityTimeout: visibilityTimeoutS } = o;
  if (o.moveTask && (!Number.isInteger(rate) || rate > 500)) throw new InvalidRequestError("--rate with --move-task must be an integer from 1 to 500 (the SQS limit)");
  await io.withDlq(o, (sqs, dlqUrl, config) => {
    const target = config.queues.requests;
    return o.moveTask
      ? moveTask(io, sqs, dlqUrl, target, rate, o.execute ?? false)
      : replay(io, sqs, { dlqUrl, target, filter, limit, rate, visibilityTimeoutS, execute: o.execute ?? false });
  });
}

/** --move-task moves every message in the DLQ: refuse it with any flag that would narrow the replay. */
function refuseMoveTaskFilters(o: ReplayFlags): void {
  const given = [o.code.length > 0 && "--code", o.batchId !== undefined && "--batch-id", o.olderThan !== undefined && "--older-than", o.newerThan !== undefined && "--newer-than", o.limit !== undefined && "--limit"].filter(
    (f): f is string => typeof f === "string",
  );
  if (given.length > 0) {
    throw new InvalidRequestError(
      `--move-task cannot be combined with ${given.join(", ")}: SQS's move task moves every message in the DLQ. Drop --move-task to replay only the matching messages (receive and send).`,
    );
  }
}

/** The replay filter the flags name, checked. */
function replayFilterOf(o: ReplayFlags): ReplayFilter {
  const filter: ReplayFilter = {
    codes: o.code.length > 0 ? parseCodes(o.code) : undefined,
    batchId: o.batchId,
    olderThanMs: o.olderThan === undefined ? undefined : parseDuration(o.olderThan),
    newerThanMs: o.newerThan === undefined ? undefined : parseDuration(o.newerThan),
  };
  checkFilter(filter);
  return filter;
}

/** Start SQS's own redrive (or, without --execute, say what it would start). */
async function moveTask(io: DlqIo, sqs: SQSClient, dlqUrl: string, destinationUrl: string | undefined, rate: number, execute: boolean): Promise<void> {
  const to = destinationUrl ?? "each message's original source queue (works only for messages the redrive policy moved)";
  if (!execute) {
    io.out([`dry run: would start an SQS message move task from ${dlqUrl} to ${to} at up to ${rate} messages/s. Pass --execute to start it.`]);
    return;
  }
  const task = await startMoveTask(sqs, { dlqUrl, destinationUrl, ratePerSecond: rate });
  io.out([
    `started message move task ${task.taskHandle}`,
    `  from ${task.sourceArn} to ${task.destinationArn ?? to}`,
    `  follow it with: aws sqs list-message-move-tasks --source-arn ${task.sourceArn}; cancel with: aws sqs cancel-message-move-task --task-handle '${task.taskHandle}'`,
  ]);
}

/** What a receive-and-send replay was asked to do. */
interface ReplayRun {
  dlqUrl: string;
  target: string | undefined;
  filter: ReplayFilter;
  limit: number | undefined;
  rate: number;
  visibilityTimeoutS: number;
  execute: boolean;
}

/** Replay the matching entries with a line per match (and a bar on a terminal), then report; stop on an interrupt. */
async function replay(io: DlqIo, sqs: SQSClient, r: ReplayRun): Promise<void> {
  const bar = progressBar(io, r.execute);
  bar?.start((await dlqDepth(sqs, r.dlqUrl)) ?? 0, 0, { matched: 0, skipped: 0, failed: 0 });
  // With a bar on the terminal, lines wait until it is gone so the two do not interleave.
  const lines: string[] = [];
  const line = (l: string) => (bar ? lines.push(l) : io.out([l]));
  let report;
  const interrupt = new AbortController();
  const stopListening = io.onInterrupt(() => interrupt.abort());
  try {
    report = await replayDlq(sqs, {
      dlqUrl: r.dlqUrl,
      defaultTarget: r.target,
      filter: r.filter,
      limit: r.limit,
      execute: r.execute,
      ratePerSecond: r.rate,
      visibilityTimeoutS: r.visibilityTimeoutS,
      now: io.now,
      signal: interrupt.signal,
      onMatch: (m) => line(outcomeLine(m)),
      onProgress: (c) => {
        if (bar && c.scanned > bar.getTotal()) bar.setTotal(c.scanned);
        bar?.update(c.scanned, { matched: c.moved + c.wouldMove, skipped: c.skipped, failed: c.failed });
      },
    });
  } finally {
    stopListening();
    bar?.stop();
    io.out(lines);
  }
  reportReplay(io, r, report);
}

/** A progress bar on `io.progress`, when there is one. */
function progressBar(io: DlqIo, execute: boolean): cliProgress.SingleBar | undefined {
  if (!io.progress) return undefined;
  return new cliProgress.SingleBar(
    { format: `${execute ? "replay" : "dry run"} [{bar}] {value}/{total} read | ${execute ? "moved" : "would move"} {matched} skipped {skipped} failed {failed}`, stream: io.progress },
    cliProgress.Presets.shades_classic,
  );
}

/** Print a replay's summary and notes; failed or interrupted replays end in an error (a non-zero exit). */
function reportReplay(io: DlqIo, r: ReplayRun, report: ReplayReport): void {
  const summary = r.execute
    ? `replay${report.interrupted ? " interrupted" : ""}: moved ${report.moved}, skipped ${report.skipped}, failed ${report.failed} (${report.scanned} read from the DLQ)`
    : `dry run${report.interrupted ? " interrupted" : ""}: ${report.wouldMove} would move, ${report.skipped} skipped (${report.scanned} read from the DLQ); nothing was sent or deleted. Pass --execute to move them.`;
  io.out([summary]);
  if (report.returned > 0) {
    io.note(`${report.returned} messages moved by this run failed again and came back to the DLQ; they were left there (each entry moves at most once per run): see \`labelq dlq list\` for why\n`);
  }
  if (report.limitReached) io.note(`stopped at --limit ${r.limit}: more matching entries may remain\n`);
  if (report.unreleased > 0) io.note(`${report.unreleased} messages could not be made visible again; they reappear within ${r.visibilityTimeoutS} s\n`);
  if (report.failed > 0) throw new QueueError(`${report.failed} matching messages were not replayed; they are still in the DLQ`);
  if (report.interrupted) throw new LabelqError("SHUTTING_DOWN", "interrupted before the whole DLQ was read; what was not moved is still in the DLQ, visible again", false);
}

/** The flags of `replay`. */
interface ReplayFlags {
  code: string[];
  batchId?: string;
  olderThan?: string;
  newerThan?: string;
  limit?: number;
  execute?: boolean;
  rate: number;
  moveTask?: boolean;
  visibilityTimeout: number;
  queue?: string;
  dlq?: string;
}
