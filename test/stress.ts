/**
 * `npm run test:stress`: the suite as CI's busy 2-core machine runs it, several times, to find the
 * tests that wait on the clock instead of on the system.
 *
 *   npm run test:stress -- [--runs 3] [--busy 1] [vitest filters, e.g. test/integration/bulk-path.test.ts]
 *
 * Each run shuffles the test order (a fresh seed, printed so a failure can be replayed with
 * `npx vitest run --sequence.shuffle --sequence.seed=<seed>`) while `--busy` processes spin one
 * core each. Every run's output goes to out/stress/run-<n>.log; the tally of each run and every
 * failing test are printed, and the exit code is 1 if any test failed even once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: { runs: { type: "string", default: "3" }, busy: { type: "string", default: "1" } },
  allowPositionals: true,
});
const runs = positiveInt(values.runs, "--runs");
const busy = positiveInt(values.busy, "--busy", 0);
const report = "out/vitest-report.json";
mkdirSync("out/stress", { recursive: true });

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
}

const spinners: ChildProcess[] = Array.from({ length: busy }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
const stopSpinners = () => spinners.forEach((s) => s.kill("SIGKILL"));
process.on("exit", stopSpinners);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

const failures = new Map<string, number>();
let failedRuns = 0;
try {
  for (let run = 1; run <= runs; run++) {
    const seed = Math.floor(Math.random() * 1_000_000);
    const log = `out/stress/run-${run}.log`;
    rmSync(report, { force: true });
    const started = performance.now();
    const code = await vitest(["run", "--sequence.shuffle", `--sequence.seed=${seed}`, ...positionals], log);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    const r = readReport();
    if (r === undefined) {
      failedRuns += 1;
      console.log(`run ${run}/${runs}: seed ${seed}, vitest exited ${code} with no report (${seconds} s); see ${log}`);
      continue;
    }
    const failed = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed").map((a) => `${f.name.replace(`${process.cwd()}/`, "")} > ${a.fullName}`));
    for (const name of failed) failures.set(name, (failures.get(name) ?? 0) + 1);
    if (code !== 0) failedRuns += 1;
    console.log(`run ${run}/${runs}: seed ${seed}, ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped (${seconds} s, ${busy} core(s) busy)${code !== 0 && failed.length === 0 ? `; vitest exited ${code}, see ${log}` : ""}`);
    for (const name of failed) console.log(`  failed: ${name}`);
  }
} finally {
  stopSpinners();
}

if (failures.size > 0) {
  console.log(`\n${failures.size} test(s) failed at least once:`);
  for (const [name, count] of [...failures].sort((a, b) => b[1] - a[1])) console.log(`  ${count}/${runs}  ${name}`);
}
console.log(failedRuns === 0 ? `\nall ${runs} run(s) passed` : `\n${failedRuns} of ${runs} run(s) failed`);
process.exitCode = failedRuns === 0 ? 0 : 1;

/** Runs vitest under this Node, its output to `log`; resolves with its exit code. */
function vitest(args: string[], log: string): Promise<number> {
  const out = createWriteStream(log);
  const child = spawn(process.execPath, ["node_modules/vitest/vitest.mjs", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  return new Promise((resolve) => child.on("close", (code) => resolve(code ?? 1)));
}

function readReport(): Report | undefined {
  try {
    return JSON.parse(readFileSync(report, "utf8")) as Report;
  } catch {
    return undefined;
  }
}

function positiveInt(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${flag} must be an integer >= ${min}, not ${text}`);
    process.exit(2);
  }
  return n;
}
