/**
 * JSON for an SQS message body. Characters outside the Basic Multilingual Plane (emoji) are
 * written as \u escapes: the JSON means the same, and the body stays within the character
 * set every SQS implementation accepts (some emulators reject #x10000-#x10FFFF, which AWS
 * allows). U+FFFE and U+FFFF, which SQS forbids, are escaped too.
 */
export function toSqsJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u{10000}-\u{10FFFF}\uFFFE\uFFFF]/gu, (c) =>
    [...Array(c.length).keys()].map((k) => `\\u${c.charCodeAt(k).toString(16).padStart(4, "0")}`).join(""),
  );
}
