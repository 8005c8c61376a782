import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/fakes.ts";
import { runCli } from "../support/run-cli.ts";

// The HTML report opened in a real browser: Debian's Chromium, headless, no network.
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

describe("labelq eval --html in headless Chromium", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-eval-html-"));
  const html = path.join(tmp, "report.html");
  let browser: Browser;

  beforeAll(async () => {
    const gold = path.join(tmp, "gold.jsonl");
    const lines = fs.readFileSync(path.join(REPO_ROOT, "eval", "gold", "product-feedback.jsonl"), "utf8").split("\n").slice(0, 40);
    fs.writeFileSync(gold, lines.join("\n") + "\n");
    const run = await runCli(["eval", "--gold", gold, "--against", "v2", "--emulator", JSON.stringify({ latency: { fixedMs: 0, perOutputTokenMs: 0 } }), "--html", html]);
    expect(run.code).toBe(0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renders the bar charts with visible bars, requests nothing and logs no error", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`file://${html}`);

    await expect(page.title()).resolves.toMatch(/^labelq eval: product-feedback/);
    await expect(page.locator(".warning").textContent()).resolves.toContain("test double");
    // The overview plus one chart per dimension.
    await expect(page.locator("svg.chart").count()).resolves.toBe(26);
    // Overview: two series (the other run and this one) per dimension, each bar laid out with a width.
    const overview = page.locator("svg.chart").first();
    const box = await overview.boundingBox();
    expect(box!.width).toBeGreaterThan(500);
    const widths = await overview
      .locator("rect[data-value]")
      .evaluateAll((rects: { getBBox(): { width: number } }[]) => rects.map((r) => r.getBBox().width));
    expect(widths.length).toBeGreaterThan(40);
    expect(widths.filter((w) => w > 1).length).toBeGreaterThan(20);
    expect(requests).toEqual([`file://${html}`]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
