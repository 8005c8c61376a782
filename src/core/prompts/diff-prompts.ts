/** One line of a line diff: kept in both, only in the old text, or only in the new one. */
export interface DiffLine {
  op: " " | "-" | "+";
  text: string;
}

/**
 * Line diff by longest common subsequence. The common head and tail are cut off first:
 * two versions of a prompt share most of their text (the taxonomy part), so the quadratic
 * table only covers the part that differs.
 */
export function diffLines(before: readonly string[], after: readonly string[]): DiffLine[] {
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head++;
  let tail = 0;
  while (tail < before.length - head && tail < after.length - head && before[before.length - 1 - tail] === after[after.length - 1 - tail]) tail++;
  const a = before.slice(head, before.length - tail);
  const b = after.slice(head, after.length - tail);

  // cell(i, j) = length of the LCS of a[i..] and b[j..].
  const n = a.length;
  const m = b.length;
  const lcs = new Uint32Array((n + 1) * (m + 1));
  const cell = (i: number, j: number): number => lcs[i * (m + 1) + j] ?? 0;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? cell(i + 1, j + 1) + 1 : Math.max(cell(i + 1, j), cell(i, j + 1));
    }
  }
  const middle: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      middle.push({ op: " ", text: a[i++] ?? "" });
      j++;
    } else if (cell(i + 1, j) >= cell(i, j + 1)) {
      middle.push({ op: "-", text: a[i++] ?? "" });
    } else {
      middle.push({ op: "+", text: b[j++] ?? "" });
    }
  }
  while (i < n) middle.push({ op: "-", text: a[i++] ?? "" });
  while (j < m) middle.push({ op: "+", text: b[j++] ?? "" });

  const same = (text: string): DiffLine => ({ op: " ", text });
  return [...before.slice(0, head).map(same), ...middle, ...before.slice(before.length - tail).map(same)];
}

/** Render a line diff in unified format (`---`/`+++` headers, `@@` hunks with `context` lines around changes); empty when nothing differs. */
export function unifiedDiff(diff: readonly DiffLine[], fromLabel: string, toLabel: string, context = 3): string[] {
  // Old and new line numbers (1-based) at each diff line, for the hunk headers.
  const oldNo: number[] = [];
  const newNo: number[] = [];
  let o = 1;
  let n = 1;
  for (const d of diff) {
    oldNo.push(o);
    newNo.push(n);
    if (d.op !== "+") o++;
    if (d.op !== "-") n++;
  }
  const changed = diff.flatMap((d, k) => (d.op === " " ? [] : [k]));
  if (changed.length === 0) return [];

  // Group changes whose context windows touch into one hunk.
  const hunks: { start: number; end: number }[] = [];
  for (const k of changed) {
    const start = Math.max(0, k - context);
    const end = Math.min(diff.length, k + context + 1);
    const last = hunks.at(-1);
    if (last && start <= last.end) last.end = end;
    else hunks.push({ start, end });
  }
  const out = [`--- ${fromLabel}`, `+++ ${toLabel}`];
  for (const { start, end } of hunks) {
    const lines = diff.slice(start, end);
    const oldCount = lines.filter((d) => d.op !== "+").length;
    const newCount = lines.filter((d) => d.op !== "-").length;
    // Unified format numbers an empty side by the line before it.
    const oldStart = oldCount === 0 ? (oldNo[start] ?? 1) - 1 : (oldNo[start] ?? 1);
    const newStart = newCount === 0 ? (newNo[start] ?? 1) - 1 : (newNo[start] ?? 1);
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
    for (const d of lines) out.push(`${d.op}${d.text}`);
  }
  return out;
}

/** Count of removed and added lines in a line diff. */
export function diffStats(diff: readonly DiffLine[]): { removed: number; added: number } {
  return { removed: diff.filter((d) => d.op === "-").length, added: diff.filter((d) => d.op === "+").length };
}
