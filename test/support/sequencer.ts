import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The integration files that take longest, as a run on a 2-core machine measured them: started
 * first, they run beside the short files instead of alone at the end of the run. Those that
 * compute (child processes: readme, eval-cli, cli-messages, cli, worker-preflight, cli-errors)
 * alternate with those that mostly wait (quota windows, long polls, model latency), so the first
 * files of a run do not all need the CPU at once. Only the order changes; a file missing here
 * runs after these.
 */
const LONGEST_FIRST = [
  "test/integration/readme.test.ts",
  "test/integration/bulk-path.test.ts",
  "test/integration/quota-fleet.test.ts",
  "test/integration/eval-cli.test.ts",
  "test/integration/model-faults.test.ts",
  "test/integration/cli-messages.test.ts",
  "test/integration/quota.test.ts",
  "test/integration/dlq.test.ts",
  "test/integration/cli.test.ts",
  "test/integration/message-visibility.test.ts",
  "test/integration/worker-preflight.test.ts",
  "test/integration/cli-errors.test.ts",
];

/**
 * Vitest's order (project by project, a file's last duration or size), with the longest
 * integration files first; with --sequence.shuffle, a shuffle by the run's seed, as vitest's own
 * (test/stress.ts replays a failing order by its seed).
 */
export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { sequence } = this.ctx.config;
    if (sequence.shuffle) return shuffled([...files].sort((a, b) => key(a).localeCompare(key(b), "en")), sequence.seed);
    const rank = (f: TestSpecification) => {
      const k = LONGEST_FIRST.findIndex((name) => f.moduleId.endsWith(name));
      return k < 0 ? LONGEST_FIRST.length : k;
    };
    // Array sort is stable: within a project, files not in the list keep vitest's order.
    const sorted = await super.sort(files);
    const projects = [...new Set(sorted.map((f) => f.project.name))];
    return sorted.sort((a, b) => projects.indexOf(a.project.name) - projects.indexOf(b.project.name) || rank(a) - rank(b));
  }
}

function key(f: TestSpecification): string {
  return `${f.project.name}\0${f.moduleId}`;
}

/** Fisher-Yates with a seeded PRNG (mulberry32): the same seed gives the same order. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  for (let k = items.length - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [items[k], items[j]] = [items[j]!, items[k]!];
  }
  return items;
}
