/**
 * check-api learns client versions and field retirement (issue 37, 1): operations laid out as
 * `<dir>/<client>/<version>/*.graphql` are that client version's; a `retired.json` there retires
 * it; a removed field goes only when @deprecated, past its recorded deletion date, and unused by
 * every active client version. Real files in a temp dir, through the same loaders the CLI and
 * `pulumi preview` use.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ApiInputError, CHOICES, Category, checkCompatibility, formatReport, loadSchema } from "../../core/apiCompat";
import { loadFieldRetirements, loadOperations } from "../../core/apiFiles";
import { runRemedy } from "../helpers/cli";

const LIVE = `type Query { payment(id: ID!): Payment }
type Payment {
  id: ID!
  amount: Int! @deprecated(reason: "use amountMinor")
  amountMinor: Int!
  note: String @deprecated(reason: "nobody reads it")
  currency: String!
}`;
/** amount, note and currency removed. */
const CANDIDATE = `type Query { payment(id: ID!): Payment }
type Payment { id: ID! amountMinor: Int! }`;

describe("core/apiCompat: client versions and field retirement (issue 37, 1)", () => {
  let dir: string;
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-clients-"));
    // web 4.1 reads amountMinor; web 4.0 still reads amount (active); ios 2.0 reads amount but is retired.
    write("ops/web/4.1/checkout.graphql", "query Checkout($id: ID!) { payment(id: $id) { id amountMinor } }");
    write("ops/web/4.0/checkout.graphql", "query CheckoutOld($id: ID!) { payment(id: $id) { id amount } }");
    write("ops/ios/2.0/pay.graphql", "query Pay($id: ID!) { payment(id: $id) { amount currency } }");
    write("ops/ios/2.0/retired.json", JSON.stringify({ since: "2026-11-30", reason: "ios 2.0 forced upgrade; no calls since (CloudWatch Insights, 14 days)" }));
    write("retirements.json", JSON.stringify({ "Payment.amount": { after: "2026-12-01" }, "Payment.note": { after: "2026-12-01" }, "Payment.currency": { after: "2026-12-01" } }));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const check = (today: string, retirements = true) =>
    checkCompatibility(loadSchema(LIVE, "live"), loadSchema(CANDIDATE, "candidate"), {
      operations: loadOperations([path.join(dir, "ops")]),
      ...(retirements ? { fieldRetirements: loadFieldRetirements(path.join(dir, "retirements.json")) } : {}),
      today,
    });

  it("says which client versions a candidate breaks, leaves retired ones unchecked, and lists the choices", async () => {
    const r = await check("2026-12-07");
    assert.deepEqual(r.clientVersions, [
      { client: "ios", version: "2.0", status: "retired", breaks: [], retired: { since: "2026-11-30", reason: "ios 2.0 forced upgrade; no calls since (CloudWatch Insights, 14 days)" } },
      { client: "web", version: "4.0", status: "broken", breaks: ["Payment.amount", "operation CheckoutOld"] },
      { client: "web", version: "4.1", status: "ok", breaks: [] },
    ]);
    assert.equal(r.compatible, false);
    assert.deepEqual(r.brokenOperations.map((b) => b.operation), ["CheckoutOld"], "the retired version's Pay is not checked");
    const text = formatReport(r);
    assert.match(text, /^client {5}web 4\.0: BROKEN by Payment\.amount, operation CheckoutOld$/m);
    assert.match(text, /^client {5}ios 2\.0: retired since 2026-11-30 \(ios 2\.0 forced upgrade.*\): not checked$/m);
    assert.match(text, /^client {5}web 4\.1: ok$/m);
    assert.ok(text.includes(`choices, in this order:\n  1. ${CHOICES[0]}\n  2. ${CHOICES[1]}\n  3. ${CHOICES[2]}`));
  });

  it("removes a field only when deprecated, past its deletion date and unused by every active client version", async () => {
    const after = await check("2026-12-07");
    const verdict = (coord: string) => after.changes.find((c) => c.coordinate === coord);
    // currency: used only by the retired ios 2.0: retired after its date.
    assert.equal(verdict("Payment.currency")?.category, Category.Breaking, "currency was never @deprecated");
    assert.match(verdict("Payment.currency")?.retirement ?? "", /^never @deprecated/);
    assert.deepEqual([verdict("Payment.note")?.category, verdict("Payment.note")?.retirement], [Category.Safe, "retired: @deprecated, past its deletion date 2026-12-01, and no active client version uses it"]);
    assert.equal(verdict("Payment.amount")?.category, Category.Breaking);
    assert.match(verdict("Payment.amount")?.retirement ?? "", /past its deletion date 2026-12-01, but active client versions still use it/);
    // Before the date: not yet, used or not.
    const before = await check("2026-11-30");
    assert.match(before.changes.find((c) => c.coordinate === "Payment.note")?.retirement ?? "", /may be removed after 2026-12-01 \(its recorded deletion date\), not before/);
    // No date recorded: deprecation alone does not allow it.
    const undated = await check("2026-12-07", false);
    assert.match(undated.changes.find((c) => c.coordinate === "Payment.note")?.retirement ?? "", /@deprecated, but no deletion date is recorded for Payment\.note/);
  });

  it("refuses a malformed retirement record or client retirement, naming the entry and the fix", () => {
    write("bad.json", JSON.stringify({ "Payment.amount": { after: "next week" } }));
    assert.throws(() => loadFieldRetirements(path.join(dir, "bad.json")), (e: Error) => e instanceof ApiInputError && /Payment\.amount\.after: the deletion date, YYYY-MM-DD/.test(e.message));
    write("bad2.json", JSON.stringify({ amount: { after: "2026-12-01" } }));
    assert.throws(() => loadFieldRetirements(path.join(dir, "bad2.json")), /"amount": a key is a field's coordinate, Type\.field/);
    write("ops/web/4.0/retired.json", JSON.stringify({ since: "soon" }));
    assert.throws(() => loadOperations([path.join(dir, "ops")]), /retired\.json: must be \{ "since": "YYYY-MM-DD", "reason"/);
  });

  it("runs through remedy check-api with --field-retirements, exit 1 naming the broken client version", async () => {
    fs.writeFileSync(path.join(dir, "live.graphql"), LIVE);
    fs.writeFileSync(path.join(dir, "candidate.graphql"), CANDIDATE);
    const r = await runRemedy(["check-api", "--live", path.join(dir, "live.graphql"), "--candidate", path.join(dir, "candidate.graphql"), "--operations", path.join(dir, "ops"), "--field-retirements", path.join(dir, "retirements.json"), "--json"]);
    assert.equal(r.code, 1, r.err);
    const report = JSON.parse(r.out) as { clientVersions: { client: string; version: string; status: string }[] };
    assert.deepEqual(report.clientVersions.map((v) => `${v.client} ${v.version} ${v.status}`), ["ios 2.0 retired", "web 4.0 broken", "web 4.1 ok"]);
  });
});
