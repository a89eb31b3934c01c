import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { runRemedy } from "../helpers/cli";

const ROOT = path.resolve(__dirname, "..", "..");
const FIX = "test/fixtures/graphql";

describe("cli: remedy check-api", () => {
  const live = "api/payments/v2.3.0.graphql";
  const ops = ["--operations", "api/payments/operations", "--operations", `${FIX}/ops`];

  it("exits 0 for a compatible candidate (breaking change unused by the known operations)", async () => {
    const r = await runRemedy(["check-api", "--live", live, "--candidate", `${FIX}/candidate-unused-break.graphql`, ...ops]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^unused {5}Payment\.note {2}Field 'Payment\.note' changed type from 'String' to 'Int' \(breaking, but no known operation uses it\)$/m);
    assert.match(r.out, /^compatible: 0 breaking, 0 dangerous, 1 unused breaking, 1 safe, 0 broken operations$/m);
  });

  it("exits 1 for a breaking candidate and prints the report as JSON with --json", async () => {
    const r = await runRemedy(["check-api", "--live", live, "--candidate", `${FIX}/candidate-used-break.graphql`, ...ops, "--json"]);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out) as { compatible: boolean; summary: Record<string, number>; changes: { category: string; coordinate: string; type: string; message: string }[]; brokenOperations: { operation: string; file: string }[] };
    assert.equal(report.compatible, false);
    // Payment.amount (used) and Query.legacyTotal (deprecated, but no deletion date recorded) may not go.
    assert.deepEqual(report.summary, { breaking: 2, dangerous: 1, safe: 1, "safe-by-usage": 0 });
    const amount = report.changes.find((c) => c.coordinate === "Payment.amount");
    assert.deepEqual(Object.keys(amount ?? {}).sort(), ["category", "coordinate", "message", "retirement", "type", "usedBy"]);
    assert.deepEqual(report.brokenOperations.map((b) => b.operation), ["PaymentStatus", "Totals"]);
  });

  it("counts an added required argument against every operation that selects its field, never as unused (issue 36, 8)", async () => {
    const r = await runRemedy(["check-api", "--live", live, "--candidate", `${FIX}/candidate-required-arg.graphql`, ...ops]);
    assert.equal(r.code, 1);
    assert.match(r.out, /^BREAKING {3}Query\.payment\(region:\) {2}Argument 'region: String!' added to field 'Query\.payment' \(used by PaymentStatus \(api\/payments\/operations\/checkout\.graphql\), d4e5f6 /m);
    assert.doesNotMatch(r.out, /^unused/m, "the change that broke PaymentStatus is not called unused");
    assert.match(r.out, /^BROKEN {5}operation PaymentStatus \(api\/payments\/operations\/checkout\.graphql\): .*region/m);
  });

  it("exits 2 on bad input, naming file, line and column; and on usage errors", async () => {
    const bad = await runRemedy(["check-api", "--live", live, "--candidate", `${FIX}/invalid.graphql`, "--json"]);
    assert.equal(bad.code, 2);
    assert.deepEqual(JSON.parse(bad.err), {
      error: "ApiInputError",
      message: `${FIX}/invalid.graphql:7:10: Syntax Error: Expected ":", found Name "Int".`,
      file: `${FIX}/invalid.graphql`,
      line: 7,
      column: 10,
    });
    const missing = await runRemedy(["check-api", "--live", "nope.graphql", "--candidate", live]);
    assert.equal(missing.code, 2);
    assert.equal(missing.err, "remedy check-api: nope.graphql: cannot read the live schema: ENOENT");
    assert.equal((await runRemedy(["check-api", "--live", live])).code, 2);
    assert.match((await runRemedy(["check-api", "--live", live, "--candidate", live, "--deprecated-removal", "never"])).err, /--deprecated-removal must be "breaking" or "dangerous", got "never"/);
    assert.equal((await runRemedy(["no-such-command"])).code, 2);
  });

  it("runs as `remedy` from the shell with the contract's exit codes", function () {
    // Process starts: no limit a loaded machine could trip (a hang still ends at 5 minutes).
    this.timeout(300_000);
    const run = (...args: string[]) => {
      try {
        execFileSync(process.execPath, [path.join(ROOT, "cli", "remedy.js"), ...args], { cwd: ROOT, stdio: "pipe" });
        return 0;
      } catch (err) {
        return (err as { status: number }).status;
      }
    };
    assert.equal(run("check-api", "--live", live, "--candidate", live), 0);
    assert.equal(run("check-api", "--live", live, "--candidate", `${FIX}/candidate-used-break.graphql`), 1);
    assert.equal(run("check-api", "--live", live, "--candidate", `${FIX}/invalid.graphql`), 2);
  });
});
