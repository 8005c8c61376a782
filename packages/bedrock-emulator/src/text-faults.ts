// Faults that damage the answer text after the classifier's JSON was serialised.

/** Adds `,` before every `}` closing an item and before the final `]`. */
export function addTrailingCommas(json: string): string {
  if (!json.endsWith("]}") || json.endsWith("[]}")) return json;
  // Values are codes and numbers only, so `}` here always closes an item.
  return json.replace(/\}(?=,\{|\])/g, ",}").replace(/\]\}$/, ",]}");
}

/** Drops the final `]}`, as a model that stopped one step early would. */
export function dropFinalBrackets(text: string): string {
  return text.endsWith("]}") ? text.slice(0, -2) : text.slice(0, -1);
}

/** Wraps the JSON in a Markdown code fence. */
export function wrapInCodeFence(text: string): string {
  return "```json\n" + text + "\n```";
}

/** Wraps the JSON in chatty prose. */
export function wrapInProse(text: string): string {
  return `Here are the labels:\n${text}\nLet me know if you need more.`;
}

/** Cuts the text about 60% of the way through. */
export function cutAtSixtyPercent(text: string): string {
  return text.slice(0, Math.floor(text.length * 0.6));
}
