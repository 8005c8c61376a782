// Scaling simulation: how long a fleet of 1-64 workers takes to drain a backlog under a
// Bedrock quota and a model latency, and where adding workers stops helping.
//
//   npm run bench:scaling -- --backlog 2000 --rpm 200 --tpm 600000 --tokens 12000 --call-latency 40
//   npm run bench:scaling -- --output-tokens 3000 --burn-down 5 --reserved 73000 --quota-share 0.5 --chart out/claude.svg
//
// A discrete-event model, not a measurement: every worker runs --concurrency batches at once;
// a batch makes --calls model calls one after the other, each admitted by one fleet-wide
// limiter and then taking --call-latency seconds. The limiter spaces calls to the RPM and to
// the TPM quota at each call's settled cost (--tokens, with its --output-tokens weighed by the
// model's --burn-down: Claude 4.x 5), and with --reserved keeps no more calls running than
// their reservations (input + maxTokens) fit in TPM; --quota-share is the part of the quota
// labelq may use. The knee it finds is compared with the closed form in
// src/app/ops/fleet-size.ts, which the CDK app, the manifests and `labelq estimate` use.
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fleetCapacity } from "../src/app/ops/fleet-size.ts";
import { lineChartSvg } from "./quota-chart.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    backlog: { type: "string", default: "2000" },
    rpm: { type: "string", default: "200" },
    tpm: { type: "string", default: "600000" },
    calls: { type: "string", default: "1" },
    tokens: { type: "string", default: "12000" },
    "output-tokens": { type: "string", default: "0" },
    "burn-down": { type: "string", default: "1" },
    reserved: { type: "string", default: "0" },
    "quota-share": { type: "string", default: "1" },
    "call-latency": { type: "string", default: "40" },
    concurrency: { type: "string", default: "8" },
    "max-workers": { type: "string", default: "64" },
    chart: { type: "string", default: "docs/scaling-drain-time.svg" },
  },
});
const P = {
  backlog: Number(args.backlog),
  rpm: Number(args.rpm),
  tpm: Number(args.tpm),
  calls: Number(args.calls),
  tokens: Number(args.tokens),
  outputTokens: Number(args["output-tokens"]),
  burnDown: Number(args["burn-down"]),
  /** Tokens one call reserves while it runs (input + maxTokens); 0 = not counted. */
  reserved: Number(args.reserved),
  quotaShare: Number(args["quota-share"]),
  callLatencyS: Number(args["call-latency"]),
  concurrency: Number(args.concurrency),
  maxWorkers: Number(args["max-workers"]),
};

interface Run {
  workers: number;
  drainS: number;
  /** Mean time from t=0 (all requests waiting) to a batch's result. */
  meanLatencyS: number;
  /** Mean time a worker holds a batch, from taking it off the queue to its result: waits on the limiter included. */
  meanHoldS: number;
  /** Share of the run during which the quota admitted calls at its full rate. */
  quotaBusy: number;
}

// Calls run one after the other, so a batch holds one call's reservation at a time.
const capacity = fleetCapacity({
  quota: { rpm: P.rpm, tpm: P.tpm },
  quotaShare: P.quotaShare,
  callsPerBatch: P.calls,
  tokensPerBatch: P.tokens * P.calls,
  outputTokensPerBatch: P.outputTokens * P.calls,
  outputBurnDown: P.burnDown,
  reservedTokensPerBatch: P.reserved > 0 ? P.reserved : undefined,
  secondsPerBatch: P.calls * P.callLatencyS,
  concurrency: P.concurrency,
});
const rpm = P.rpm * P.quotaShare;
const tpm = P.tpm * P.quotaShare;
const settledPerCall = capacity.settledTokensPerBatch / P.calls;
/** Calls whose reservations fit TPM at once (at least 1: a lone call larger than the quota is still let through here). */
const maxRunning = tpm > 0 && P.reserved > 0 ? Math.max(1, Math.floor(tpm / P.reserved + 1e-9)) : Infinity;

/** Drain `backlog` batches with `workers` workers; returns the time the last batch finishes. */
function simulate(workers: number): Run {
  const slots = Array.from({ length: workers * P.concurrency }, () => ({ readyAt: 0, callsLeft: 0, takenAt: 0 }));
  const rpmGap = rpm > 0 ? 60 / rpm : 0;
  const tpmGap = tpm > 0 ? (60 * settledPerCall) / tpm : 0;
  /** End times of the calls running, ascending: their reservations hold TPM until then. */
  let running: number[] = [];
  let lastAdmitted = 0;
  let nextByRpm = 0;
  let nextByTpm = 0;
  let started = 0;
  let finished = 0;
  let latencySum = 0;
  let holdSum = 0;
  let drainS = 0;
  let admittedGapS = 0;
  while (finished < P.backlog) {
    // The slot that asks the limiter next (FIFO by the time it is ready to call).
    let slot = slots[0]!;
    for (const s of slots) if (s.readyAt < slot.readyAt) slot = s;
    if (slot.callsLeft === 0) {
      if (started === P.backlog) {
        slot.readyAt = Infinity;
        continue;
      }
      started++;
      slot.callsLeft = P.calls;
      slot.takenAt = slot.readyAt;
    }
    // The limiter is FIFO: no call goes before one that asked earlier and still waits.
    let admitted = Math.max(slot.readyAt, nextByRpm, nextByTpm, lastAdmitted);
    running = running.filter((end) => end > admitted);
    if (running.length >= maxRunning) {
      // Wait until enough running calls end for this one's reservation to fit.
      admitted = running[running.length - maxRunning]!;
      running = running.filter((end) => end > admitted);
    }
    running.push(admitted + P.callLatencyS);
    running.sort((a, b) => a - b);
    lastAdmitted = admitted;
    nextByRpm = admitted + rpmGap;
    nextByTpm = admitted + tpmGap;
    admittedGapS += Math.max(rpmGap, tpmGap, P.callLatencyS / maxRunning);
    slot.readyAt = admitted + P.callLatencyS;
    slot.callsLeft--;
    if (slot.callsLeft === 0) {
      finished++;
      latencySum += slot.readyAt;
      holdSum += slot.readyAt - slot.takenAt;
      drainS = Math.max(drainS, slot.readyAt);
    }
  }
  return { workers, drainS, meanLatencyS: latencySum / P.backlog, meanHoldS: holdSum / P.backlog, quotaBusy: Math.min(1, admittedGapS / drainS) };
}

const runs = Array.from({ length: P.maxWorkers }, (_, k) => simulate(k + 1));
// The simulated knee: the first fleet size past which one more worker saves under 2 % of the drain time.
const knee = runs.find((r, k) => k + 1 < runs.length && runs[k + 1]!.drainS > r.drainS * 0.98)?.workers ?? P.maxWorkers;
const floorS = P.backlog / capacity.quotaBatchesPerS;

const min = (s: number) => s / 60;
const lines = [
  `backlog ${P.backlog} batches; ${P.calls} call(s) of ${P.tokens} tokens (${P.outputTokens} output x ${P.burnDown} burn-down: ${settledPerCall} settled${P.reserved > 0 ? `, ${P.reserved} reserved` : ""}) and ${P.callLatencyS} s per call; ${P.concurrency} batches at once per worker; quota ${P.rpm} RPM / ${P.tpm} TPM, ${P.quotaShare * 100}% of it for labelq`,
  `closed form (src/app/ops/fleet-size.ts): ${capacity.maxUsefulTasks ?? "no"} workers max (${capacity.bindingLimit} binds); quota drains it in ${min(floorS).toFixed(1)} min at best`,
  `simulated knee: ${knee} workers`,
  "",
  "| workers | drain time (min) | mean result latency (min) | batch held by a worker (min) | quota busy |",
  "| ---: | ---: | ---: | ---: | ---: |",
];
const shown = new Set([1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, knee, knee + 1].filter((n) => n <= P.maxWorkers));
for (const r of runs.filter((r) => shown.has(r.workers))) {
  lines.push(`| ${r.workers} | ${min(r.drainS).toFixed(1)} | ${min(r.meanLatencyS).toFixed(1)} | ${min(r.meanHoldS).toFixed(1)} | ${Math.round(100 * r.quotaBusy)} % |`);
}
process.stdout.write(lines.join("\n") + "\n");

const svg = lineChartSvg({
  title: `Drain time of ${P.backlog} batches by fleet size (simulated)`,
  subtitle: `${P.rpm} RPM / ${P.tpm.toLocaleString("en-US")} TPM, ${P.tokens.toLocaleString("en-US")} tokens and ${P.callLatencyS} s per call, ${P.concurrency} batches per worker`,
  xLabel: "workers",
  yLabel: "minutes",
  xMax: P.maxWorkers,
  xStep: 8,
  band: capacity.maxUsefulTasks !== undefined ? { from: capacity.maxUsefulTasks, to: P.maxWorkers, label: "beyond the quota: more workers only wait" } : undefined,
  series: [
    { name: "drain time (simulated)", color: "#1f77b4", points: runs.map((r) => [r.workers, min(r.drainS)]) },
    { name: "workers' pace alone (no quota)", color: "#999999", dashed: true, points: runs.map((r): [number, number] => [r.workers, min(P.backlog / (r.workers * capacity.taskBatchesPerS))]).filter(([, y]) => y <= min(runs[0]!.drainS)) },
    { name: "time a batch is held (taken → result)", color: "#ff7f0e", points: runs.map((r) => [r.workers, min(r.meanHoldS)]) },
    { name: "quota floor", color: "#d62728", dashed: true, points: [[1, min(floorS)], [P.maxWorkers, min(floorS)]] },
  ],
});
await fs.writeFile(path.resolve(root, args.chart), svg);
process.stderr.write(`chart written to ${args.chart}\n`);
