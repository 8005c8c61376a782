import { type Message, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { Command } from "commander";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { InvalidRequestError, ModelCallError, QueueError } from "../../src/core/errors/errors.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { listDlq } from "../../src/app/dlq/dlq-inspect.ts";
import { registerDlqCommand } from "../../src/cli/dlq-command.ts";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";
import { DLQ_ATTRIBUTES, sendToDlq } from "../../src/adapters/sqs/sqs-messages.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { until } from "../support/until.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

const llama = findModel("llama3.3-70b")!.modelId;

/** Run `labelq dlq ...args` in this process against the pipeline's queues, as cli.ts wires it. */
async function dlq(
  p: Pipeline,
  args: string[],
  options: { onWrite?: (s: string, interrupt: () => void) => void } = {},
): Promise<{ stdout: string; stderr: string; error?: unknown }> {
  let stdout = "";
  let stderr = "";
  let interrupt = () => {};
  const program = new Command().exitOverride().configureOutput({ writeErr: (s) => (stderr += s), writeOut: (s) => (stdout += s) });
  registerDlqCommand(program, {
    config: (flags) => loadConfig({ ...p.env, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) }),
    clients: createAwsClients,
    write: (s) => {
      stdout += s;
      options.onWrite?.(s, interrupt);
    },
    note: (s) => (stderr += s),
    progress: undefined,
    // Stands in for SIGINT: the test interrupts from inside the run, at a point it chooses.
    onInterrupt: (stop) => {
      interrupt = stop;
      return () => {};
    },
  });
  try {
    await program.parseAsync(["dlq", ...args], { from: "user" });
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error };
  }
}

/** Dead-letter a request the way the worker does (sendToDlq), with a model error of `code`. */
async function deadLetter(p: Pipeline, body: string, code: "MODEL_UNAVAILABLE" | "MODEL_REJECTED_REQUEST", batchId?: string, sourceQueue = p.queues.requests) {
  const error = new ModelCallError(code, llama, code === "MODEL_UNAVAILABLE" ? "Bedrock answered ServiceUnavailableException after 1 attempt" : "The model rejected every text: ValidationException");
  await sendToDlq(p.sqs, p.queues.dlq, { MessageId: `orig-${Math.random()}`, Body: body }, { error, receiveCount: 3, sourceQueue, batchId });
}

/** One long poll of a queue; what it receives stays invisible for a minute and is not deleted (the queue is the test's own). */
async function receive(p: Pipeline, queueUrl: string): Promise<Message[]> {
  const res = await p.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60, MessageAttributeNames: ["All"] }),
  );
  return res.Messages ?? [];
}

/** Receive from a queue until `expected` messages have come, and return them. */
async function visible(p: Pipeline, queueUrl: string, expected: number): Promise<Message[]> {
  const out = new Map<string, Message>();
  await until(async () => {
    for (const m of await receive(p, queueUrl)) out.set(m.MessageId ?? "", m);
    return out.size >= expected;
  });
  return [...out.values()];
}

/** The messages on a queue when it should hold `expected`: those, plus whatever one further long poll finds. */
async function exactly(p: Pipeline, queueUrl: string, expected: number): Promise<Message[]> {
  const seen = await visible(p, queueUrl, expected);
  return [...seen, ...(await receive(p, queueUrl))];
}

/** Three DLQ entries: two labelq ones with different codes and one as the redrive policy leaves it (no attributes). */
async function seedDlq(p: Pipeline) {
  const unavailable = makeRequest(2);
  const rejected = makeRequest(3);
  const redriven = makeRequest(1);
  await deadLetter(p, toSqsJson(unavailable), "MODEL_UNAVAILABLE", unavailable.batchId);
  await deadLetter(p, toSqsJson(rejected), "MODEL_REJECTED_REQUEST", rejected.batchId);
  await p.sqs.send(new SendMessageCommand({ QueueUrl: p.queues.dlq, MessageBody: toSqsJson(redriven) }));
  return { unavailable, rejected, redriven };
}

describe("labelq dlq, over the wire", () => {
  it("list shows code, reason and batchId (REDRIVE without labelq attributes) and leaves every message in the DLQ, visible", async () => {
    pipeline = await startPipeline();
    const { unavailable, rejected, redriven } = await seedDlq(pipeline);

    const table = await dlq(pipeline, ["list"]);
    expect(table.error).toBeUndefined();
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^MESSAGE ID\s+BATCH ID\s+CODE\s+REASON\s+AGE\s+RECV$/);
    expect(lines).toHaveLength(4);
    const row = (batchId: string) => lines.find((l) => l.includes(batchId)) ?? "";
    expect(row(unavailable.batchId)).toMatch(/MODEL_UNAVAILABLE\s+Bedrock answered ServiceUnavailableException after 1 attempt\s+\d+s\s+3$/);
    expect(row(rejected.batchId)).toMatch(/MODEL_REJECTED_REQUEST\s+The model rejected every text: ValidationException/);
    // The batchId of a redrive entry is read from its body.
    expect(row(redriven.batchId)).toMatch(/REDRIVE\s+moved by the redrive policy/);
    // Bodies are user data: list never prints them.
    expect(table.stdout).not.toContain(unavailable.items[0]!.text);
    expect(table.stderr).toMatch(/3 messages listed from .*; all are still in the DLQ/);

    const json = await dlq(pipeline, ["list", "--json"]);
    const entries = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { messageId: string; batchId: string; code: string; reason: string | null; sourceQueue: string | null; receiveCount: number | null });
    expect(entries.map((e) => e.code).sort()).toEqual(["MODEL_REJECTED_REQUEST", "MODEL_UNAVAILABLE", "REDRIVE"]);
    expect(entries.find((e) => e.code === "MODEL_UNAVAILABLE")).toMatchObject({ batchId: unavailable.batchId, sourceQueue: pipeline.queues.requests, receiveCount: 3 });
    expect(entries.find((e) => e.code === "REDRIVE")).toMatchObject({ batchId: redriven.batchId, reason: null, sourceQueue: null });

    // Visible again at once, not after the 30 s visibility timeout: all three can be received now.
    expect(await visible(pipeline, pipeline.queues.dlq, 3)).toHaveLength(3);
  });

  it("show prints one entry in full, with its attributes and its body pretty-printed, and leaves it in the DLQ", async () => {
    pipeline = await startPipeline();
    const { rejected } = await seedDlq(pipeline);
    const listed = await dlq(pipeline, ["list", "--json"]);
    const id = listed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { messageId: string; code: string })
      .find((e) => e.code === "MODEL_REJECTED_REQUEST")!.messageId;

    const shown = await dlq(pipeline, ["show", id]);
    expect(shown.error).toBeUndefined();
    expect(shown.stdout).toMatch(new RegExp(`messageId:\\s+${id}`));
    expect(shown.stdout).toMatch(new RegExp(`batchId:\\s+${rejected.batchId}`));
    expect(shown.stdout).toContain(`${DLQ_ATTRIBUTES.code} = MODEL_REJECTED_REQUEST`);
    expect(shown.stdout).toContain(`${DLQ_ATTRIBUTES.sourceQueue} = ${pipeline.queues.requests}`);
    expect(shown.stdout).toContain(JSON.stringify(JSON.parse(toSqsJson(rejected)), null, 2));

    const missing = await dlq(pipeline, ["show", "no-such-message"]);
    expect(missing.error).toBeInstanceOf(InvalidRequestError);
    expect((missing.error as Error).message).toMatch(/not among the 3 messages read/);
    expect(await visible(pipeline, pipeline.queues.dlq, 3)).toHaveLength(3);
  });

  it("replay is a dry run by default: it prints what would move and moves nothing", async () => {
    pipeline = await startPipeline();
    const { unavailable } = await seedDlq(pipeline);

    const dry = await dlq(pipeline, ["replay", "--code", "model_unavailable"]);
    expect(dry.error).toBeUndefined();
    expect(dry.stdout).toMatch(new RegExp(`^would move\\s+\\S+\\s+${unavailable.batchId}\\s+MODEL_UNAVAILABLE\\s+-> ${pipeline.queues.requests}$`, "m"));
    expect(dry.stdout).toMatch(/dry run: 1 would move, 2 skipped \(3 read from the DLQ\); nothing was sent or deleted\. Pass --execute to move them\./);
    const all = await dlq(pipeline, ["replay", "--newer-than", "1h"]);
    expect(all.stdout).toMatch(/dry run: 3 would move, 0 skipped/);
    const none = await dlq(pipeline, ["replay", "--older-than", "1h"]);
    expect(none.stdout).toMatch(/dry run: 0 would move, 3 skipped/);

    expect(await exactly(pipeline, pipeline.queues.requests, 0)).toHaveLength(0);
    expect(await visible(pipeline, pipeline.queues.dlq, 3)).toHaveLength(3);
  });

  it("replay --execute with --code moves only the matching entries, with identical bodies and no labelq attributes", async () => {
    pipeline = await startPipeline();
    const { unavailable, redriven } = await seedDlq(pipeline);

    const run = await dlq(pipeline, ["replay", "--code", "MODEL_UNAVAILABLE", "--code", "REDRIVE", "--execute", "--rate", "20"]);
    expect(run.error).toBeUndefined();
    expect(run.stdout.match(/^moved\s/gm)).toHaveLength(2);
    expect(run.stdout).toMatch(/replay: moved 2, skipped 1, failed 0 \(3 read from the DLQ\)/);

    const moved = await visible(pipeline, pipeline.queues.requests, 2);
    expect(moved.map((m) => m.Body).sort()).toEqual([toSqsJson(unavailable), toSqsJson(redriven)].sort());
    // A fresh attempt: none of the DLQ attributes travel with it.
    expect(moved.every((m) => Object.keys(m.MessageAttributes ?? {}).length === 0)).toBe(true);
    const left = await exactly(pipeline, pipeline.queues.dlq, 1);
    expect(left.map((m) => m.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue)).toEqual(["MODEL_REJECTED_REQUEST"]);
  });

  it("replay --execute honours --batch-id and --limit", async () => {
    pipeline = await startPipeline();
    const { rejected } = await seedDlq(pipeline);
    const one = await dlq(pipeline, ["replay", "--batch-id", rejected.batchId, "--execute"]);
    expect(one.stdout).toMatch(/replay: moved 1, skipped \d, failed 0/);
    const moved = await visible(pipeline, pipeline.queues.requests, 1);
    expect(moved.map((m) => m.Body)).toEqual([toSqsJson(rejected)]);

    const limited = await dlq(pipeline, ["replay", "--limit", "1", "--execute"]);
    expect(limited.stdout).toMatch(/replay: moved 1,/);
    expect(limited.stderr).toMatch(/stopped at --limit 1/);
    expect(await visible(pipeline, pipeline.queues.dlq, 1)).toHaveLength(1);
  });

  it("replay --execute moves each entry once and ends when the replayed messages fail again", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    // Requests the worker dead-letters again at once: their taxonomy does not exist.
    const bad = [makeRequest(1, { taxonomy: "no-such-taxonomy" }), makeRequest(1, { taxonomy: "no-such-taxonomy" })];
    for (const r of bad) await deadLetter(pipeline, toSqsJson(r), "MODEL_REJECTED_REQUEST", r.batchId);

    // --limit only keeps a looping replay from running for ever; this one must end well before it.
    const run = await dlq(pipeline, ["replay", "--execute", "--limit", "20"]);
    expect(run.error).toBeUndefined();
    expect(run.stdout.match(/^moved\s/gm)).toHaveLength(2);
    expect(run.stdout).toMatch(/replay: moved 2, skipped 0, failed 0/);
    expect(run.stderr).not.toMatch(/stopped at --limit/);

    // Both came back (the cause is not fixed), once each, visible, with the worker's reason.
    const back = await exactly(pipeline, pipeline.queues.dlq, 2);
    expect(back.map((m) => m.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue)).toEqual(["TAXONOMY_NOT_FOUND", "TAXONOMY_NOT_FOUND"]);
    expect(back.map((m) => m.Body).sort()).toEqual(bad.map((r) => toSqsJson(r)).sort());
  });

  it("an interrupted replay prints its summary and leaves what it did not move in the DLQ, visible at once", async () => {
    pipeline = await startPipeline();
    for (let k = 0; k < 5; k++) {
      const r = makeRequest(1);
      await deadLetter(pipeline, toSqsJson(r), "MODEL_UNAVAILABLE", r.batchId);
    }
    // Interrupted as soon as the first entry has moved.
    const run = await dlq(pipeline, ["replay", "--execute", "--visibility-timeout", "600"], {
      onWrite: (s, interrupt) => {
        if (/^moved\s/m.test(s)) interrupt();
      },
    });
    expect((run.error as { code?: string } | undefined)?.code).toBe("SHUTTING_DOWN");
    expect(run.stdout).toMatch(/^replay interrupted: moved 1, skipped 0, failed 0 \(\d+ read from the DLQ\)$/m);
    expect(await visible(pipeline, pipeline.queues.requests, 1)).toHaveLength(1);
    // Released at once, not after the 600 s visibility timeout.
    expect(await visible(pipeline, pipeline.queues.dlq, 4)).toHaveLength(4);
  });

  it("a message whose send fails stays in the DLQ and the replay reports it as failed", async () => {
    pipeline = await startPipeline();
    const request = makeRequest(1);
    const gone = pipeline.queues.requests.replace(/requests$/, "no-such-queue");
    await deadLetter(pipeline, toSqsJson(request), "MODEL_UNAVAILABLE", request.batchId, gone);

    const run = await dlq(pipeline, ["replay", "--execute"]);
    expect(run.error).toBeInstanceOf(QueueError);
    expect(run.stdout).toMatch(new RegExp(`^FAILED\\s+\\S+\\s+${request.batchId}\\s+MODEL_UNAVAILABLE\\s+-> ${gone}\\s+send failed`, "m"));
    expect(run.stdout).toMatch(/replay: moved 0, skipped 0, failed 1/);
    const left = await visible(pipeline, pipeline.queues.dlq, 1);
    expect(left.map((m) => m.Body)).toEqual([toSqsJson(request)]);
  });

  it("replays to a FIFO requests queue with a deduplication id that differs from the producer's", async () => {
    pipeline = await startPipeline({ fifo: true });
    const request = makeRequest(2);
    const body = toSqsJson(request);
    // The producer's send, consumed: its deduplication id (the body's hash) stays live for 5 minutes
    // and would silently swallow a replay that reused it.
    await pipeline.send(body);
    expect(await pipeline.drain(pipeline.queues.requests, 1)).toHaveLength(1);
    await deadLetter(pipeline, body, "MODEL_UNAVAILABLE", request.batchId);

    const run = await dlq(pipeline, ["replay", "--execute"]);
    expect(run.error).toBeUndefined();
    expect(run.stdout).toMatch(/replay: moved 1, skipped 0, failed 0/);
    const replayed = await pipeline.drain(pipeline.queues.requests, 1);
    expect(replayed.map((m) => m.Body)).toEqual([body]);
    expect(replayed[0]?.Attributes?.MessageGroupId).toBe(request.batchId);
  });

  it("end to end: a batch that failed because the model was down lands in the DLQ by redrive and succeeds on replay", async () => {
    pipeline = await startPipeline({
      emulator: { unavailableModels: [llama] },
      env: { LABELQ_FALLBACK_MODELS: "none", LABELQ_MODEL_MAX_ATTEMPTS: "1" },
      maxReceiveCount: 1,
    });
    pipeline.startWorker();
    const request = makeRequest(4);
    await pipeline.send(request);

    // The worker's retry makes it visible again; the second receive trips maxReceiveCount 1.
    const p = pipeline;
    let listed: Awaited<ReturnType<typeof listDlq>>["entries"] = [];
    await until(async () => (listed = (await listDlq(p.sqs, p.queues.dlq, { limit: 10, visibilityTimeoutS: 5 })).entries).length > 0);
    expect(listed.map((e) => [e.code, e.batchId])).toEqual([["REDRIVE", request.batchId]]);
    expect(pipeline.emulator.stats().calls).toBeGreaterThanOrEqual(1);

    pipeline.emulator.setUnavailableModels([]);
    const run = await dlq(pipeline, ["replay", "--code", "REDRIVE", "--execute"]);
    expect(run.error).toBeUndefined();
    expect(run.stdout).toMatch(/replay: moved 1, skipped 0, failed 0/);

    const [result] = await pipeline.results(1);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("completed");
    expect(result?.items.map((i) => i.id)).toEqual(request.items.map((i) => i.id));
    expect((await listDlq(p.sqs, p.queues.dlq, { limit: 10, visibilityTimeoutS: 5 })).entries).toHaveLength(0);
  });

  it("refuses --move-task together with filters, and moves nothing", async () => {
    pipeline = await startPipeline();
    await seedDlq(pipeline);
    const run = await dlq(pipeline, ["replay", "--move-task", "--code", "MODEL_UNAVAILABLE", "--execute"]);
    expect(run.error).toBeInstanceOf(InvalidRequestError);
    expect((run.error as Error).message).toMatch(/--move-task cannot be combined with --code: SQS's move task moves every message in the DLQ/);
    expect(await visible(pipeline, pipeline.queues.dlq, 3)).toHaveLength(3);
    expect(await exactly(pipeline, pipeline.queues.requests, 0)).toHaveLength(0);
  });

  it("starts SQS's move task where the SQS has one, and explains that the embedded SQS has none", async () => {
    pipeline = await startPipeline();
    await seedDlq(pipeline);
    const dry = await dlq(pipeline, ["replay", "--move-task"]);
    expect(dry.stdout).toMatch(/dry run: would start an SQS message move task from .* to .*requests/);
    const run = await dlq(pipeline, ["replay", "--move-task", "--execute"]);
    if (inject("awsTarget").kind === "embedded") {
      expect(run.error).toBeInstanceOf(QueueError);
      expect((run.error as Error).message).toMatch(/does not implement StartMessageMoveTask .*replay without --move-task/);
      expect(await visible(pipeline, pipeline.queues.dlq, 3)).toHaveLength(3);
    } else {
      // LocalStack and AWS implement StartMessageMoveTask: SQS itself moves the three entries to the requests queue.
      expect(run.error).toBeUndefined();
      expect(run.stdout).toMatch(/started message move task \S+/);
      expect(await visible(pipeline, pipeline.queues.requests, 3)).toHaveLength(3);
      expect(await exactly(pipeline, pipeline.queues.dlq, 0)).toHaveLength(0);
    }
  });
});
