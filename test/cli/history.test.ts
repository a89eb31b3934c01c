/**
 * remedy history against moto (the rollback world: stack "test", payments and orders releasing
 * v2 at 10%), after real changes made through the CLI and the rollback handler.
 */
import { strict as assert } from "node:assert";
import type { HistoryEntry } from "../../core/releaseState";
import { formatHistory, wrap } from "../../cli/commands/history";
import { runRemedy } from "../helpers/cli";
import { useMoto } from "../helpers/moto";
import { PREFIX, TABLE, clientConfig, clients, createWorld, putBareAlarm } from "../helpers/rollbackWorld";
import { SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { applyEvent } from "../../core/releaseState";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

describe("cli: remedy history", function () {
  this.timeout(60_000);
  const suite = useMoto();

  beforeEach(async () => {
    await createWorld(suite.moto.endpoint, ["payments", "orders"]);
  });

  it("shows who changed what, when and why, with the weights after each change, as JSON and as a table within 100 columns", async () => {
    // Prepare: an operator rolls payments back with a long reason.
    const reason = "checkout errors after v2 (INC-4711): card tokens rejected by the new vault client; rolling back until the vault team confirms the fix";
    const rb = await runRemedy(["rollback", "payments", "--reason", reason, "--stack", "test"]);
    assert.equal(rb.code, 0, rb.err);
    // Act
    const j = await runRemedy(["history", "payments", "--stack", "test", "--json"]);
    const t = await runRemedy(["history", "payments", "--stack", "test"]);
    // Assess: JSON
    assert.equal(j.code, 0, j.err);
    const h = JSON.parse(j.out) as { service: string; entries: HistoryEntry[] };
    const last = h.entries[h.entries.length - 1];
    assert.equal(h.service, "payments");
    assert.deepEqual([last.action, last.weights], ["roll-back", { blue: 100, green: 0 }]);
    assert.match(last.by, /^operator:/);
    assert.ok(last.summary.includes("INC-4711"), last.summary);
    assert.deepEqual(h.entries.map((e) => e.revision), [...h.entries.map((e) => e.revision)].sort((a, b) => a - b), "oldest first");
    // Assess: table
    assert.equal(t.code, 0, t.err);
    const lines = t.out.split("\n");
    assert.match(lines[0], /^payments: \d+ changes?, oldest first$/);
    for (const l of lines) assert.ok(l.length <= 100, `${l.length} columns: ${l}`);
    const header = lines[1];
    const row = lines.find((l) => l.includes("roll-back")) as string;
    assert.ok(row, t.out);
    assert.equal(row.indexOf("100/0") + "100/0".length, header.indexOf("BLUE/GREEN") + "BLUE/GREEN".length, "weights right-aligned under their header");
    assert.equal(row.indexOf("roll-back"), header.indexOf("ACTION"));
    // The reason wraps under WHAT, every word kept.
    const what = header.indexOf("WHAT");
    assert.ok(lines.slice(lines.indexOf(row) + 1).every((l) => l.slice(0, what).trim() === ""), `continuation lines start under WHAT:\n${t.out}`);
    const text = lines.slice(lines.indexOf(row)).map((l) => l.slice(what)).join(" ").replace(/\s+/g, " ");
    assert.ok(text.includes(reason), `${reason}\n${text}`);
  });

  it("names a custom alarm the same in history, status (overview and detail) and the page: blue/green slot and the name its config gives it (issue 36, 10)", async () => {
    // Prepare: payments' custom alarm `checkout-errors` (CloudWatch name remedy-test/payments/green/custom-checkout-errors) fires, and its rollback is recorded as the function records it.
    const name = `${PREFIX}/payments/green/custom-checkout-errors`;
    const c = clients(suite.moto.endpoint);
    await putBareAlarm(c.cw, name);
    await c.cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: "ALARM", StateReason: "Threshold Crossed: checkout errors 9 > 5" }));
    const store = new ReleaseStore(new DynamoDBClient(clientConfig(suite.moto.endpoint)), TABLE);
    const before = await store.get("payments");
    if (!before) throw new Error("no state");
    const at = new Date(Date.parse(before.updatedAt) + 60_000).toISOString();
    const t = applyEvent(before, { type: "roll-back", failedSlot: "green", observedAt: at, reason: "Threshold Crossed: checkout errors 9 > 5", at, by: name });
    if (t.kind !== "applied") throw new Error(t.reason);
    await store.commit(before.revision, t.state, t.entry);
    const html = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "remedy-names-")), "p.html");
    // Act
    const shown = [
      (await runRemedy(["history", "payments", "--stack", "test"])).out,
      (await runRemedy(["status", "--stack", "test"])).out,
      (await runRemedy(["status", "payments", "--stack", "test"])).out,
      ((await runRemedy(["history", "payments", "--stack", "test", "--html", html])).code, fs.readFileSync(html, "utf8")),
    ];
    // Assess: each says green/checkout-errors (an actor: "alarm green/checkout-errors"), none custom-checkout-errors.
    const [history, overview, detail, page] = shown;
    assert.match(history, /alarm green\/checkout-errors/);
    assert.match(overview, /ALARM green\/checkout-errors/);
    assert.match(overview.replace(/\s+/g, " "), /\(alarm green\/checkout-errors, /);
    assert.match(detail, /^ {16}green\/checkout-errors +ALARM +Threshold Crossed: checkout errors 9 > 5$/m);
    assert.match(detail, /by alarm green\/checkout-errors: Threshold Crossed/);
    assert.match(page, /by <strong>alarm green\/checkout-errors<\/strong>/);
    for (const text of shown) assert.doesNotMatch(text, /custom-checkout-errors/);
  });

  it("keeps the newest --limit changes and says how many there are", async () => {
    await runRemedy(["rollback", "payments", "--reason", "first rollback of v2", "--stack", "test"]);
    const all = JSON.parse((await runRemedy(["history", "payments", "--stack", "test", "--json"])).out) as { entries: HistoryEntry[] };
    assert.ok(all.entries.length >= 2, String(all.entries.length));
    // Act
    const one = await runRemedy(["history", "payments", "--stack", "test", "--limit", "1"]);
    // Assess
    assert.equal(one.code, 0, one.err);
    assert.match(one.out.split("\n")[0], new RegExp(`^payments: 1 change \\(the newest of ${all.entries[all.entries.length - 1].revision}; --limit for more\\), oldest first$`));
    assert.equal(one.out.split("\n").filter((l) => /^\s*\d+ {2}20\d\d-/.test(l)).length, 1);
  });

  it("shows a history item not written by remedy as such, never its text: no markup reaches the HTML page or the terminal (issue 35, 11)", async () => {
    // Prepare: a raw item whose revision and weights carry markup, written by a table writer.
    const ddb = new DynamoDBClient(clientConfig(suite.moto.endpoint));
    await ddb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { pk: { S: "payments" }, sk: { S: "history#9999999999" }, service: { S: "payments" }, revision: { S: "<script>alert(1)</script>" }, at: { S: "2026-12-01T10:00:00Z" }, by: { S: "x" }, action: { S: "shift-weight" }, releaseId: { NULL: true }, summary: { S: "<img src=x onerror=alert(2)>" }, weights: { M: { blue: { S: "<b>" }, green: { N: "0" } } } },
      }),
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "history-"));
    const file = path.join(dir, "h.html");
    // Act
    const html = await runRemedy(["history", "payments", "--stack", "test", "--html", file]);
    const text = await runRemedy(["history", "payments", "--stack", "test"]);
    // Assess
    assert.equal(html.code, 0, html.err);
    const page = fs.readFileSync(file, "utf8");
    assert.doesNotMatch(page, /<script>alert|<img src=x|<b>/);
    assert.match(page, /history item not written by remedy; not shown: revision, weights\.blue/);
    assert.equal(text.code, 0, text.err);
    assert.doesNotMatch(text.out, /<script>|<img/);
    assert.match(text.out, /history item not written by remedy/);
  });

  it("names an unknown service or stack, and a bad --limit, without a stack trace", async () => {
    const unknown = await runRemedy(["history", "billing", "--stack", "test"]);
    assert.deepEqual([unknown.code, unknown.err], [2, "remedy history: unknown service billing in stack test (known: orders, payments)"]);
    const noStack = await runRemedy(["history", "payments", "--stack", "nope"]);
    assert.deepEqual([noStack.code, noStack.err], [2, "remedy history: unknown stack nope: no release table remedy-nope-releases (run `pulumi up` on nope, or pass --stack)"]);
    const limit = await runRemedy(["history", "payments", "--limit", "0"]);
    assert.deepEqual([limit.code, limit.err], [2, 'remedy history: --limit must be an integer 1..1000, got "0"; see `remedy history --help`']);
  });

  it("wraps text by words within the width, cutting only a word longer than it", () => {
    assert.deepEqual(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
    assert.deepEqual(wrap("x".repeat(13), 5), ["xxxxx", "xxxxx", "xxx"]);
    assert.deepEqual(wrap("", 5), [""]);
    const entry: HistoryEntry = { service: "s", revision: 7, at: "2026-12-01T10:03:07.123Z", by: "operator:alice as arn:aws:sts::123456789012:assumed-role/oncall/alice", action: "roll-back", releaseId: null, summary: "why ".repeat(40).trim(), weights: { blue: 100, green: 0 } };
    const text = formatHistory("s", [entry], 7, 100);
    assert.match(text, /^ {2}7 {2}2026-12-01 10:03:07 {2}roll-back +100\/0 {2}alice \(oncall\) {2}why why/m);
    for (const l of text.split("\n")) assert.ok(l.length <= 100, l);
  });

  it("names an alarm by slot and kind, a custom one by its own name, cutting a long one with an ellipsis", () => {
    const by = (who: string) => {
      const entry: HistoryEntry = { service: "s", revision: 1, at: "2026-12-01T10:03:07.123Z", by: who, action: "roll-back", releaseId: null, summary: "x", weights: { blue: 100, green: 0 } };
      // The row, and WHAT under it when beside it would be thinner than 25 columns (issue 36, 6).
      return formatHistory("s", [entry], 1, 100).split("\n").slice(2).join(" / ");
    };
    assert.match(by("remedy-prod/payments/green/error-rate"), /roll-back +100\/0 {2}alarm green\/error-rate( {2}x| \/ {5}x)$/);
    assert.match(by("remedy-prod/payments/blue/custom-checkout-errors"), /100\/0 {2}alarm blue\/checkout-errors( {2}x| \/ {5}x)$/);
    assert.match(by("remedy-prod/payments/blue/error-rate-vs-stable"), /100\/0 {2}alarm blue\/error-rate-vs-stable( {2}x| \/ {5}x)$/);
    assert.match(by(`remedy-prod/payments/blue/custom-${"a".repeat(40)}`), /100\/0 {2}alarm blue\/a{20}…( {2}x| \/ {5}x)$/);
  });
});
