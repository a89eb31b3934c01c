/**
 * `remedy history --html` opened in a real headless browser (the Chromium npm ci brings, or
 * CHROMIUM; driven by playwright-core): what is drawn where, not only that it loads.
 * The history comes from real transitions recorded in moto and read back by the CLI.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { type ReleaseEvent, applyEvent } from "../../core/releaseState";
import { runRemedy } from "../helpers/cli";
import { useMoto } from "../helpers/moto";
import { createWorld, type World } from "../helpers/rollbackWorld";

describe("cli: remedy history --html in a headless browser", function () {
  this.timeout(120_000);
  const suite = useMoto();
  let world: World;
  let browser: Browser;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-html-"));
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("draws the weights as step lines and marks releases, the rollback and the promotion at their times", async () => {
    // Prepare: payments releases v2 at 10% (the world), is rolled back, releases v3, which is promoted.
    world = await createWorld(suite.moto.endpoint, ["payments"]);
    const start = Date.now();
    const t = (m: number) => new Date(start + m * 60_000).toISOString();
    let s = await world.store.get("payments");
    const events: ReleaseEvent[] = [
      { type: "roll-back", failedSlot: "green", observedAt: t(10), reason: "Threshold Crossed: 5xx 12%", at: t(10), by: "remedy-test/payments/green/error-rate" },
      { type: "start-release", candidate: { slot: "green", version: "v3" }, weight: 50, at: t(20), by: "pulumi:prod" },
      { type: "promote", rollbackWindowMinutes: 30, at: t(40), by: "pulumi:prod" },
    ];
    for (const e of events) {
      if (!s) throw new Error("no state");
      const tr = applyEvent(s, e);
      if (tr.kind !== "applied") throw new Error(`${e.type}: ${tr.reason}`);
      await world.store.commit(s.revision, tr.state, tr.entry);
      s = tr.state;
    }
    const file = path.join(dir, "payments.html");
    // Act
    const r = await runRemedy(["history", "payments", "--stack", "test", "--html", file]);
    assert.equal(r.code, 0, r.err);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`file://${file}`);
    // Read back in the page (plain JavaScript: it runs in the browser, not under Node's types).
    const drawn = (await page.evaluate(`(() => {
      const svg = document.querySelector("svg#timeline");
      const box = svg.getBoundingClientRect();
      const markers = [...svg.querySelectorAll("g.marker")].map((g) => {
        const c = g.querySelector("circle").getBoundingClientRect();
        return { kind: g.getAttribute("data-kind"), x: c.x + c.width / 2 - box.x, title: g.querySelector("title")?.textContent ?? "" };
      });
      const line = (slot) => (svg.querySelector("polyline." + slot).getAttribute("points") ?? "").split(" ").map((p) => p.split(",").map(Number));
      const grid = [...svg.querySelectorAll("text")].filter((x) => /%$/.test(x.textContent ?? "")).map((x) => ({ label: x.textContent, y: Number(x.getAttribute("y")) - 4 }));
      return { width: box.width, markers, blue: line("blue"), green: line("green"), grid, rows: document.querySelectorAll("tbody tr").length, title: document.title };
    })()`)) as {
      width: number;
      markers: { kind: string; x: number; title: string }[];
      blue: number[][];
      green: number[][];
      grid: { label: string; y: number }[];
      rows: number;
      title: string;
    };
    await page.screenshot({ path: path.join(os.tmpdir(), "remedy-history.png") });
    await page.close();

    // Assess: markers in time order, of the right kinds, with who and why.
    assert.equal(drawn.title, "remedy test: payments release history");
    assert.deepEqual(drawn.markers.map((m) => m.kind), ["release", "rollback", "release", "promotion"]);
    const xs = drawn.markers.map((m) => m.x);
    assert.deepEqual([...xs].sort((a, b) => a - b), xs, "left to right in time");
    assert.ok(xs[0] < 60 && xs[3] > drawn.width - 30, "the first change at the left edge, the last at the right");
    assert.match(drawn.markers[1].title, /roll-back by remedy-test\/payments\/green\/error-rate: .*Threshold Crossed: 5xx 12%/);
    // The green line is at 10% until the rollback, 0% after it, 50% after the new release, then 100%.
    const yOf = (pct: number) => (drawn.grid.find((g) => g.label === `${pct}%`) as { y: number }).y;
    const greenAt = (x: number) => drawn.green.filter(([px]) => Math.abs(px - x) < 0.6).map(([, py]) => py);
    assert.deepEqual(greenAt(xs[1]), [yOf(0) - (yOf(0) - yOf(25)) * 0.4, yOf(0)], "a vertical step from 10% to 0% at the rollback");
    assert.deepEqual(greenAt(xs[2]), [yOf(0), yOf(50)]);
    assert.deepEqual(greenAt(xs[3]), [yOf(50), yOf(100)]);
    // Blue mirrors it.
    assert.equal(drawn.blue.at(-1)?.[1], yOf(0));
    assert.equal(drawn.rows, 4);
  });
});
