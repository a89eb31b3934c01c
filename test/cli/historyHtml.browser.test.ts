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


interface Drawn {
  width: number;
  plotLeft: number;
  plotRight: number;
  markers: { kind: string; x: number; y: number; r: number; title: string }[];
  blue: number[][];
  green: number[][];
  grid: { label: string; y: number }[];
  ticks: { at: string; x: number; label: string | null; labelLeft: number; labelRight: number }[];
  versions: { slot: string; version: string; x: number; y: number; left: number; right: number; top: number; bottom: number }[];
  events: string[];
  rows: number;
  title: string;
}

/** Records `events` for `service` as the writers would, and writes its page with the CLI; the page's path. */
async function recordAndWritePage(world: World, service: string, events: readonly ReleaseEvent[], dir: string): Promise<string> {
  let s = await world.store.get(service);
  for (const e of events) {
    if (!s) throw new Error("no state");
    const tr = applyEvent(s, e);
    if (tr.kind !== "applied") throw new Error(`${e.type}: ${tr.reason}`);
    await world.store.commit(s.revision, tr.state, tr.entry);
    s = tr.state;
  }
  const file = path.join(dir, `${service}.html`);
  const r = await runRemedy(["history", service, "--stack", "test", "--html", file]);
  assert.equal(r.code, 0, r.err);
  return file;
}

/** What a person sees on the page, measured in a real browser; a screenshot into the temp dir to look at. */
async function readPage(browser: Browser, file: string, shot: string): Promise<Drawn> {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(`file://${file}`);
  // Read back in the page (plain JavaScript: it runs in the browser, not under Node's types).
  const drawn = (await page.evaluate(`(() => {
    const svg = document.querySelector("svg#timeline");
    const box = svg.getBoundingClientRect();
    const rel = (r) => ({ left: r.left - box.x, right: r.right - box.x, top: r.top - box.y, bottom: r.bottom - box.y });
    const markers = [...svg.querySelectorAll("g.marker")].map((g) => {
      const c = g.querySelector("circle").getBoundingClientRect();
      return { kind: g.getAttribute("data-kind"), x: c.x + c.width / 2 - box.x, y: c.y + c.height / 2 - box.y, r: c.width / 2, title: g.querySelector("title")?.textContent ?? "" };
    });
    const line = (slot) => (svg.querySelector("polyline." + slot).getAttribute("points") ?? "").split(" ").map((p) => p.split(",").map(Number));
    const grid = [...svg.querySelectorAll("text.pct")].map((x) => ({ label: x.textContent, y: Number(x.getAttribute("y")) - 4 }));
    const ticks = [...svg.querySelectorAll("g.tick")].map((g) => {
      const l = g.querySelector("line").getBoundingClientRect();
      const t = g.querySelector("text");
      const r = t ? rel(t.getBoundingClientRect()) : { left: 0, right: 0 };
      return { at: g.getAttribute("data-at"), x: l.x + l.width / 2 - box.x, label: t ? t.textContent : null, labelLeft: r.left, labelRight: r.right };
    });
    const versions = [...svg.querySelectorAll("text.version-label")].map((t) => ({ slot: t.getAttribute("data-slot"), version: t.getAttribute("data-version"), x: Number(t.getAttribute("x")), y: Number(t.getAttribute("y")), ...rel(t.getBoundingClientRect()) }));
    const events = [...document.querySelectorAll("#events li")].map((li) => li.textContent.replace(/\\s+/g, " ").trim());
    return { width: box.width, plotLeft: Number(svg.getAttribute("data-plot-left")), plotRight: Number(svg.getAttribute("data-plot-right")), markers, blue: line("blue"), green: line("green"), grid, ticks, versions, events, rows: document.querySelectorAll("tbody tr").length, title: document.title };
  })()`)) as Drawn;
  await page.screenshot({ path: path.join(os.tmpdir(), shot), fullPage: true });
  await page.close();
  return drawn;
}

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
    const events: ReleaseEvent[] = [
      { type: "roll-back", failedSlot: "green", observedAt: t(10), reason: "Threshold Crossed: 5xx 12%", at: t(10), by: "remedy-test/payments/green/error-rate" },
      { type: "start-release", candidate: { slot: "green", version: "v3" }, weight: 50, at: t(20), by: "pulumi:prod" },
      { type: "promote", rollbackWindowMinutes: 30, at: t(40), by: "pulumi:prod" },
    ];
    // Act
    const drawn = await readPage(browser, await recordAndWritePage(world, "payments", events, dir), "remedy-history.png");
    // Assess: markers in time order, of the right kinds, with who and why.
    assert.equal(drawn.title, "remedy test: payments release history");
    assert.deepEqual(drawn.markers.map((m) => m.kind), ["release", "rollback", "release", "promotion"]);
    const xs = drawn.markers.map((m) => m.x);
    assert.deepEqual([...xs].sort((a, b) => a - b), xs, "left to right in time");
    assert.ok(xs[0] < 60 && Math.abs(xs[3] - (drawn.plotRight - 48)) < 1, "the first change at the left edge, the last before the tail that shows its weights");
    assert.match(drawn.markers[1].title, /roll-back by alarm green\/error-rate: .*Threshold Crossed: 5xx 12%/);
    assert.match(drawn.events[1], /^2 rollback .* by alarm green\/error-rate: roll back v2 \(green\) to v1 \(blue\): Threshold Crossed: 5xx 12%$/, "who and why beside the chart");
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

  it("reads as a person needs it: a time axis with ticks in order inside the plot, every change visible, no marker on another, versions on the lines, who and why beside it (issue 36, 5)", async () => {
    // Prepare: a day like the rehearsal's: a release rolled back 2 minutes later, hours of quiet,
    // then three rollbacks within a few minutes of each other, and a promotion.
    world = await createWorld(suite.moto.endpoint, ["orders"]);
    const start = Date.now();
    const t = (m: number) => new Date(start + m * 60_000).toISOString();
    const alarm = (slot: string) => `remedy-test/orders/${slot}/custom-checkout-errors`;
    const release = (version: string, m: number): ReleaseEvent => ({ type: "start-release", candidate: { slot: "green", version }, weight: 10, at: t(m), by: "pulumi:prod" });
    const rollBack = (m: number, reason: string): ReleaseEvent => ({ type: "roll-back", failedSlot: "green", observedAt: t(m), reason, at: t(m), by: alarm("green") });
    const ack = (m: number): ReleaseEvent => ({ type: "acknowledge", at: t(m), by: "pulumi:prod" });
    const events: ReleaseEvent[] = [
      rollBack(2, "checkout errors 9 > 5"),
      ack(3),
      release("v3", 240),
      rollBack(241, "checkout errors 7 > 5"),
      ack(241.5),
      release("v4", 242),
      rollBack(243, "checkout errors 8 > 5"),
      ack(243.5),
      release("v5", 244),
      { type: "shift-weight", weight: 100, at: t(300), by: "pulumi:prod" },
      { type: "promote", rollbackWindowMinutes: 60, at: t(330), by: "release-driver" },
    ];
    // Act: look at it (and keep the picture: remedy-history-crowded.png in the temp dir).
    const d = await readPage(browser, await recordAndWritePage(world, "orders", events, dir), "remedy-history-crowded.png");

    // Assess: ticks at increasing times, left to right, inside the plot; written labels apart.
    assert.ok(d.ticks.length >= 4, `${d.ticks.length} ticks`);
    for (let i = 1; i < d.ticks.length; i++) {
      assert.ok(Date.parse(d.ticks[i].at) > Date.parse(d.ticks[i - 1].at) && d.ticks[i].x >= d.ticks[i - 1].x, "ticks in time order, left to right");
    }
    assert.ok(d.ticks.every((k) => k.x >= d.plotLeft - 0.5 && k.x <= d.plotRight + 0.5), "every tick inside the plot");
    const written = d.ticks.filter((k) => k.label);
    assert.ok(written.length >= 3);
    for (let i = 1; i < written.length; i++) assert.ok(written[i].labelLeft > written[i - 1].labelRight, `tick labels ${written[i - 1].label} and ${written[i].label} overlap`);
    // Each tick sits at its true time: between the two changes around it, in proportion.
    const entryTimes = [Date.parse(t(0)), ...events.map((e) => Date.parse(e.at))];
    const firstTick = Date.parse(d.ticks[0].at);
    assert.ok(firstTick >= entryTimes[0]);
    // No marker on another: circles apart by more than their radii.
    for (let i = 1; i < d.markers.length; i++) assert.ok(d.markers[i].x - d.markers[i - 1].x >= d.markers[i].r + d.markers[i - 1].r, `markers ${i} and ${i + 1} overlap`);
    assert.deepEqual(d.markers.map((m) => m.kind), ["release", "rollback", "release", "rollback", "release", "rollback", "release", "promotion"]);
    // Every change visible: each entry gets at least 18 px of its own before the next.
    const xs = [...new Set(d.green.map(([x]) => x))];
    assert.equal(xs.length, 13, "12 entries and the tail's end");
    for (let i = 1; i < xs.length; i++) assert.ok(xs[i] - xs[i - 1] >= 17.9, `change ${i} is ${xs[i] - xs[i - 1]} px wide`);
    // The 2-minute-long 10% of v2 before its rollback is at least as wide as a marker.
    assert.ok(d.markers[1].x - d.markers[0].x >= 18);
    // Versions on the lines, each near its slot's line and not on another label.
    assert.deepEqual(d.versions.filter((v) => v.slot === "green").map((v) => v.version), ["v2", "v3", "v4", "v5"]);
    assert.deepEqual(d.versions.filter((v) => v.slot === "blue").map((v) => v.version), ["v1"]);
    for (let i = 0; i < d.versions.length; i++) {
      for (let j = i + 1; j < d.versions.length; j++) {
        const [a, b] = [d.versions[i], d.versions[j]];
        assert.ok(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top, `version labels ${a.version} and ${b.version} overlap`);
      }
    }
    // Who and why beside the chart, one line per marker, the custom alarm by the name its config gives it.
    assert.equal(d.events.length, d.markers.length);
    assert.match(d.events[1], /^2 rollback .* by alarm green\/checkout-errors: roll back v2 \(green\) to v1 \(blue\): checkout errors 9 > 5$/);
    assert.match(d.events[7], /^8 promotion .* by release-driver: promote v5 \(green\)/);
  });
});
