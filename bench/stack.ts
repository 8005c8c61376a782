// Benchmark (not a test): what the embedded stack itself can serve on this machine, in a process
// of its own as bench:cache runs it. A cache-hit batch of 50 texts needs at least one BatchGet of
// 50 cache entries, one result SendMessage and one receive and delete of its request, so these
// rates bound bench:cache's hit path whatever labelq does. dynalite, fauxqs and the Bedrock
// emulator (a test double) stand in for DynamoDB, SQS and Bedrock; AWS's own services scale
// far beyond them.
//   npm run bench:stack [-- --seconds 5 --concurrency 8]
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { parseArgs } from "node:util";
import { startBenchStack } from "./support/bench-stack.ts";
import { benchCommit } from "./support/bench-commit.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, concurrency: { type: "string", default: "8" } } });
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

const stack = await startBenchStack("process", {});
const region = stack.env.AWS_REGION ?? "us-east-1";
const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB, region }));
const sqs = new SQSClient({ endpoint: stack.env.AWS_ENDPOINT_URL_SQS, region });
const table = stack.env.LABELQ_CACHE_TABLE!;
// A 25-dimension cache entry is 2-3 KB; a 50-text result message about 40 KB.
const entry = "x".repeat(2500);
const keys = Array.from({ length: 50 }, (_, k) => ({ pk: `bench-${k}` }));
for (let i = 0; i < keys.length; i += 25) {
  await db.send(new BatchWriteCommand({ RequestItems: { [table]: keys.slice(i, i + 25).map((k) => ({ PutRequest: { Item: { ...k, entry } } })) } }));
}

/** Run `op` from `concurrency` loops for the bench's seconds: operations per second, and this process's CPU per operation. */
async function rate(op: () => Promise<unknown>): Promise<{ perSecond: number; clientCpuMs: number }> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await op();
        done += 1;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { perSecond: done / seconds, clientCpuMs: (used.user + used.system) / 1000 / Math.max(1, done) };
}

const body = "y".repeat(40_000);
const rows = [
  ["DynamoDB BatchGet, 50 entries of 2.5 KB", await rate(() => db.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys } } })))],
  ["SQS SendMessage, 40 KB", await rate(() => sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.results, MessageBody: body })))],
  [
    "SQS ReceiveMessage + DeleteMessage, 40 KB",
    await rate(async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queues.results, MaxNumberOfMessages: 1 }));
      for (const m of out.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queues.results, ReceiptHandle: m.ReceiptHandle }));
    }),
  ],
] as const;
db.destroy();
sqs.destroy();
await stack.close();

const commit = benchCommit();
console.log(`commit ${commit}, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${concurrency} concurrent loops for ${seconds} s, embedded stack in a process of its own\n`);
console.log("| operation | per second | client CPU ms per operation | texts/s it allows, batches of 50 |");
console.log("|---|---|---|---|");
for (const [name, r] of rows) console.log(`| ${name} | ${r.perSecond.toFixed(0)} | ${r.clientCpuMs.toFixed(2)} | ${(r.perSecond * 50).toFixed(0)} |`);
