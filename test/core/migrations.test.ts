import { strict as assert } from "node:assert";
import { checkContract, checkRelease, columnChanges, objectName, parseConversion, parsePlan, phaseSteps, syncTriggerName, type VersionUsage } from "../../core/migrations";

const plan = parsePlan({
  id: "0007-payments-refactor",
  description: "several operations",
  operations: [
    { op: "addColumn", table: "payments", column: "note", type: "text", default: "''" },
    { op: "renameColumn", table: "payments", from: "amount", to: "amount_minor", type: "bigint", notNull: true },
    { op: "setNotNull", table: "payments", column: "currency", default: "'EUR'" },
    { op: "dropColumn", table: "payments", column: "legacy" },
    { op: "addIndex", table: "payments", name: "payments_currency_idx", columns: ["currency"] },
  ],
});

describe("core/migrations: expand/contract plans", () => {
  it("puts only additive DDL in expand, batched copies in backfill and removals in contract", () => {
    const expand = phaseSteps(plan, "expand");
    assert.deepEqual(expand.map((s) => s.description), [
      "add payments.note",
      "add payments.amount_minor beside amount",
      "dual-write amount <-> amount_minor",
      "default payments.currency to 'EUR'",
      "build index payments_currency_idx concurrently",
    ]);
    assert.ok(expand.every((s) => s.kind === "ddl" && !/DROP COLUMN/.test(s.sql)));
    const index = expand[4];
    assert.ok(index.kind === "ddl" && index.concurrently && index.sql === 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "payments_currency_idx" ON "payments" ("currency")');
    const backfill = phaseSteps(plan, "backfill");
    assert.deepEqual(backfill.map((s) => (s.kind === "backfill" ? [s.table, s.key, s.set, s.where] : [])), [
      ["payments", "id", '"amount_minor" = "amount"', '"amount_minor" IS NULL AND "amount" IS NOT NULL'],
      ["payments", "id", `"currency" = 'EUR'`, '"currency" IS NULL'],
    ]);
    const contract = phaseSteps(plan, "contract").map((s) => s.description);
    assert.deepEqual(contract, [
      "check payments.amount_minor IS NOT NULL (not valid)",
      `validate ${objectName("nn", "payments", "amount_minor")}`,
      "set payments.amount_minor NOT NULL",
      "stop dual-writing amount <-> amount_minor, drop payments.amount, give amount_minor its default",
      "fill NULL payments.currency written since the backfill",
      "check payments.currency IS NOT NULL (not valid)",
      `validate ${objectName("nn", "payments", "currency")}`,
      "set payments.currency NOT NULL",
      "drop payments.legacy",
    ]);
    assert.deepEqual(columnChanges(plan, "expand"), { added: ["payments.note", "payments.amount_minor"], removed: [], notNull: [] });
    assert.deepEqual(columnChanges(plan, "contract"), { added: [], removed: ["payments.amount", "payments.legacy"], notNull: ["payments.amount_minor", "payments.amount", "payments.currency"] });
  });

  it("derives unique object names within PostgreSQL's 63 characters, however long the identifiers", () => {
    const long = "a".repeat(60);
    const a = syncTriggerName(long, `${long}1`, `${long}2`);
    const b = syncTriggerName(long, `${long}1`, `${long}3`);
    assert.ok(a.length <= 63 && b.length <= 63, `${a} / ${b}`);
    assert.notEqual(a, b, "truncation used to make these collide");
    assert.match(syncTriggerName("payments", "amount", "amount_minor"), /^remedy_sync_payments_amount_amount_minor_[0-9a-f]{10}$/);
  });

  it("refuses SQL hidden in a type or a default, a rename onto itself, before anything runs", () => {
    const op = (o: Record<string, unknown>) => () => parsePlan({ id: "0002-x", description: "x", operations: [{ table: "payments", ...o }] });
    assert.throws(op({ op: "addColumn", column: "c", type: "text; DROP TABLE payments" }), /operations\.0\.type: must be a PostgreSQL type such as "bigint"/);
    assert.throws(op({ op: "addColumn", column: "c", type: "text", default: "0); DROP TABLE payments; --" }), /operations\.0\.default: must be a SQL literal/);
    assert.throws(op({ op: "setNotNull", column: "c", default: "(SELECT 1)" }), /operations\.0\.default: must be a SQL literal/);
    assert.throws(op({ op: "renameColumn", from: "amount", to: "amount", type: "bigint" }), /operations\.0\.to: must differ from `from`/);
    // What a plan may say.
    for (const [type, def] of [["numeric(12,2)", "0"], ["varchar(64)", "'it''s'"], ["timestamptz", "now()"], ["uuid", "gen_random_uuid()"], ["text[]", "'{}'::text[]"], ["double precision", "-4.5"]]) {
      assert.doesNotThrow(op({ op: "addColumn", column: "c", type, default: def }), `${type} default ${def}`);
    }
  });

  it("accepts conversions over the one column only, refusing other columns, subqueries and statements", () => {
    const ok = parseConversion("round(amount * 100)::bigint", "amount");
    assert.equal(typeof ok === "function" && ok('NEW."amount"'), 'round ( NEW."amount" * 100 ) ::bigint');
    for (const [expr, why] of [
      ["amount * rate", /"rate" is neither amount nor an allowed function/],
      ["(SELECT max(amount) FROM payments)", /"SELECT" is neither amount nor an allowed function/],
      ["amount; DROP TABLE payments", /unexpected ";/],
      ["round(amount", /unbalanced parentheses/],
      ["42", /must use amount/],
    ] as const) {
      const r = parseConversion(expr, "amount");
      assert.ok(typeof r === "string" && why.test(r), `${expr}: ${String(r)}`);
    }
    assert.throws(
      () => parsePlan({ id: "0002-x", description: "x", operations: [{ op: "renameColumn", table: "t", from: "a", to: "b", type: "bigint", up: "a * 100" }] }),
      /operations\.0\.up: up and down go together/,
    );
    assert.throws(
      () => parsePlan({ id: "0002-x", description: "x", operations: [{ op: "renameColumn", table: "t", from: "a", to: "b", type: "bigint", up: "a * rate", down: "b / 100" }] }),
      /operations\.0\.up: must be an expression over a: "rate" is neither a nor an allowed function/,
    );
  });

  it("names the bad field of an invalid plan", () => {
    assert.throws(
      () => parsePlan({ id: "rename", description: "x", operations: [{ op: "renameColumn", table: "Payments", from: "a", to: "b", type: "bigint" }] }, "migrations/x.json"),
      /invalid migration migrations\/x\.json: id: must be "<sortable number>-<name>".*; operations\.0\.table: must be a lowercase SQL identifier/,
    );
    assert.throws(() => parsePlan({ id: "0001-x", description: "x", operations: [{ op: "truncate", table: "t" }] }), /operations\.0\.op/);
  });

  it("refuses a contract while a version in the rollback window uses what it drops, naming column and versions", () => {
    const window: VersionUsage[] = [
      { service: "payments", version: "v2.4.0", role: "stable", columns: ["payments.amount_minor"] },
      { service: "payments", version: "v2.3.0", role: "previous", columns: ["payments.amount"] },
      { service: "reports", version: "r9", role: "stable", columns: ["payments.legacy", "payments.amount"] },
    ];
    assert.deepEqual(checkContract(plan, window), [
      "contract of 0007-payments-refactor drops payments.amount, still used by payments v2.3.0 (previous), reports r9 (stable); wait until no version in the rollback window uses it (promote past it and let the rollback window end)",
      "contract of 0007-payments-refactor drops payments.legacy, still used by reports r9 (stable); wait until no version in the rollback window uses it (promote past it and let the rollback window end)",
    ]);
    assert.deepEqual(checkContract(plan, [window[0]]), []);
  });

  it("refuses a NOT NULL contract while a version in the rollback window may write NULL there", () => {
    // plan: renameColumn amount -> amount_minor with notNull, and setNotNull on payments.currency.
    const window: VersionUsage[] = [
      { service: "payments", version: "v2.4.0", role: "stable", columns: ["payments.amount_minor", "payments.currency"] },
      { service: "payments", version: "v2.3.9", role: "candidate", columns: ["payments.amount_minor", "payments.currency"], writesNull: ["payments.currency"] },
    ];
    assert.deepEqual(checkContract(plan, window), [
      "contract of 0007-payments-refactor makes payments.currency NOT NULL, but payments v2.3.9 (candidate) may write NULL to it and would fail on every such write after a rollback; wait until no version in the rollback window writes NULL there (database.writesNull)",
    ]);
    // Writing NULL into the old column of a NOT NULL rename counts too: the trigger copies it across.
    const old: VersionUsage = { service: "payments", version: "v2.3.0", role: "previous", columns: [], writesNull: ["payments.amount"] };
    assert.match(checkContract(plan, [old])[0] ?? "", /makes payments\.amount NOT NULL, but payments v2\.3\.0 \(previous\) may write NULL/);
    assert.deepEqual(checkContract(plan, [window[0]]), []);
    assert.deepEqual(columnChanges(plan, "contract").notNull, ["payments.amount_minor", "payments.amount", "payments.currency"]);
  });

  it("refuses a release whose candidate or rollback target needs a column the live schema lacks", () => {
    const live = new Set(["payments.id", "payments.amount"]);
    assert.deepEqual(
      checkRelease(live, [{ service: "payments", version: "v2.4.0", role: "candidate", columns: ["payments.id", "payments.amount_minor"] }], [plan]),
      ["payments v2.4.0 (candidate) uses payments.amount_minor, which the live schema does not have; apply the expand phase of 0007-payments-refactor first"],
    );
  });
});
