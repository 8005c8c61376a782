import { ERROR_FAULT_KINDS, type ErrorFaultKind, type FaultKind, type FaultRule, type OutputFaultKind } from "./types.ts";
import { seededRandom } from "./random.ts";

interface RuleState {
  rule: FaultRule;
  /** Calls the rule may still fire on. */
  remaining: number;
}

/** The faults drawn for one call; nothing is used up until commit. */
export interface FaultDraw {
  /** The first error fault that fired: the call fails with it. */
  error: ErrorFaultKind | undefined;
  /** Output faults that fired (empty when an error fault fired). */
  output: OutputFaultKind[];
  /** Uses up `times` of the rules whose fault was applied; returns the applied kinds, for stats. */
  commit(applied: Iterable<FaultKind>): FaultKind[];
}

function isErrorKind(kind: FaultKind): kind is ErrorFaultKind {
  return (ERROR_FAULT_KINDS as readonly string[]).includes(kind);
}

/** Evaluates fault rules in order for each call, with a seeded PRNG so runs repeat. */
export class FaultInjector {
  readonly #states: RuleState[];
  readonly #random: () => number;

  constructor(rules: FaultRule[], seed: number) {
    this.#states = rules.map((rule) => ({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY }));
    this.#random = seededRandom(seed);
  }

  /** The same PRNG stream, for faults that choose which items to damage. */
  get random(): () => number {
    return this.#random;
  }

  /** Draws the faults for a call to modelId. */
  draw(modelId: string): FaultDraw {
    const fired: RuleState[] = [];
    let error: ErrorFaultKind | undefined;
    for (const state of this.#states) {
      const { rule } = state;
      if (state.remaining <= 0) continue;
      if (rule.models !== undefined && !rule.models.includes(modelId)) continue;
      if (this.#random() >= (rule.probability ?? 1)) continue;
      if (isErrorKind(rule.kind)) {
        // The call fails here: output faults drawn before it are not used up.
        error = rule.kind;
        fired.length = 0;
        fired.push(state);
        break;
      }
      fired.push(state);
    }
    return {
      error,
      output: error === undefined ? fired.map((s) => s.rule.kind as OutputFaultKind) : [],
      commit: (applied) => {
        const kinds = new Set(applied);
        for (const state of fired) if (kinds.has(state.rule.kind)) state.remaining -= 1;
        return [...kinds];
      },
    };
  }
}
