import { strict as assert } from "node:assert";
import {
  canonicalLiteral,
  dollarQuote,
  isLosslessWidening,
  objectName,
  parseConversion,
  parseExpression,
  parsePlan,
  phaseSteps,
  suggestConversion,
  syncTriggerName,
  clipBytes,
  legacyTriggerName,
  type VersionUsage,
} from "../../database/plan";
import { checkContract, checkRelease, columnChanges } from "../../database/gates";

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

describe("database/plan: expand/contract plans", () => {
  it("puts only additive DDL in expand, batched copies in backfill and removals in contract", () => {
    const expand = phaseSteps(plan, "expand");
    assert.deepEqual(expand.map((s) => s.description), [
      "add payments.note",
      "add payments.amount_minor beside amount, dual-write amount <-> amount_minor",
      "default payments.currency to 'EUR'",
      "build index payments_currency_idx concurrently",
    ]);
    assert.ok(expand.every((s) => s.kind === "ddl" && !/DROP COLUMN/.test(s.sql)));
    const index = expand[3];
    assert.ok(index.kind === "ddl" && index.concurrently && index.sql === 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "payments_currency_idx" ON "payments" ("currency")');
    const backfill = phaseSteps(plan, "backfill");
    assert.deepEqual(backfill.map((s) => (s.kind === "backfill" ? [s.table, s.key, s.set, s.where] : [])), [
      ["payments", "id", '"amount_minor" = "amount"', '"amount_minor" IS NULL AND "amount" IS NOT NULL'],
      ["payments", "id", `"currency" = 'EUR'`, '"currency" IS NULL'],
    ]);
    const contract = phaseSteps(plan, "contract").map((s) => s.description);
    assert.deepEqual(contract, [
      "check payments.amount_minor IS NOT NULL (not valid)",
      "NULLs in payments.amount_minor",
      `validate ${objectName("nn", "payments", "amount_minor")}`,
      "set payments.amount_minor NOT NULL",
      "stop dual-writing amount <-> amount_minor, drop payments.amount, give amount_minor its default",
      "check payments.currency IS NOT NULL (not valid)",
      "NULLs in payments.currency written since the backfill",
      `validate ${objectName("nn", "payments", "currency")}`,
      "set payments.currency NOT NULL",
      "drop payments.legacy",
    ]);
    assert.deepEqual(columnChanges(plan, "expand"), { added: ["payments.note", "payments.amount_minor"], removed: [], notNull: [] });
    assert.deepEqual(columnChanges(plan, "contract"), { added: [], removed: ["payments.amount", "payments.legacy"], notNull: [{ column: "payments.amount_minor" }, { column: "payments.amount_minor", via: "payments.amount" }, { column: "payments.currency" }] });
  });

  it("derives unique object names within PostgreSQL's 63 characters, however long the identifiers", () => {
    const long = "a".repeat(60);
    const a = syncTriggerName(long, `${long}1`, `${long}2`);
    const b = syncTriggerName(long, `${long}1`, `${long}3`);
    assert.ok(a.length <= 63 && b.length <= 63, `${a} / ${b}`);
    assert.notEqual(a, b, "truncation used to make these collide");
    assert.match(syncTriggerName("payments", "amount", "amount_minor"), /^remedy_sync_payments_amount_amount_minor_[0-9a-f]{10}$/);
  });

  it("counts bytes, not characters: multibyte names keep their whole hash within 63 bytes, cut at a character boundary (issue 34, 17)", () => {
    const t = "ü".repeat(20);
    const n = syncTriggerName(t, `${"ä".repeat(10)}a`, `${"ä".repeat(10)}b`);
    assert.ok(Buffer.byteLength(n, "utf8") <= 63, n);
    assert.match(n, /_[0-9a-f]{10}$/);
    assert.equal(clipBytes("aü", 2), "a", "never half a character");
    assert.equal(clipBytes("abc", 63), "abc");
    // The legacy name as PostgreSQL stored it: cut to 63 bytes.
    assert.equal(Buffer.byteLength(legacyTriggerName(t, "ä".repeat(10), "y"), "utf8"), 63);
    // The same operation twice would derive one trigger for both: refused, naming both.
    assert.throws(
      () => parsePlan({ id: "0003-twice", description: "x", operations: [{ op: "renameColumn", table: "p", from: "a", to: "b", type: "text" }, { op: "renameColumn", table: "p", from: "a", to: "b", type: "text" }] }),
      /operations\[1\] \(renameColumn\) derives the object name remedy_sync_p_a_b_[0-9a-f]{10}, as operations\[0\] does/,
    );
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
      () => parsePlan({ id: "rename", description: "x", operations: [{ op: "renameColumn", table: "public.payments", from: "a", to: "b", type: "bigint" }] }, "migrations/x.json"),
      /invalid migration migrations\/x\.json: id: must be "<sortable number>-<name>".*; operations\.0\.table: must be a name of 1 to 63 bytes without ", \\, \., control characters/,
    );
    assert.throws(() => parsePlan({ id: "0001-x", description: "x", operations: [{ op: "truncate", table: "t" }] }), /operations\.0\.op/);
  });

  it("refuses a contract while a version in the rollback window uses what it drops, naming column and versions", () => {
    const window: VersionUsage[] = [
      { service: "payments", version: "v2.4.0", role: "stable", columns: ["payments.amount_minor"], writesNull: [] },
      { service: "payments", version: "v2.3.0", role: "previous", columns: ["payments.amount"], writesNull: [] },
      { service: "reports", version: "r9", role: "stable", columns: ["payments.legacy", "payments.amount"], writesNull: [] },
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
      { service: "payments", version: "v2.4.0", role: "stable", columns: ["payments.amount_minor", "payments.currency"], writesNull: [] },
      { service: "payments", version: "v2.3.9", role: "candidate", columns: ["payments.amount_minor", "payments.currency"], writesNull: ["payments.currency"] },
    ];
    assert.deepEqual(checkContract(plan, window), [
      "contract of 0007-payments-refactor makes payments.currency NOT NULL, but payments v2.3.9 (candidate) may write NULL to it and would fail on every such write after a rollback; wait until no version in the rollback window writes NULL there (database.writesNull)",
    ]);
    // Writing NULL into the old column of a NOT NULL rename counts too: the trigger copies it across.
    const old: VersionUsage = { service: "payments", version: "v2.3.0", role: "previous", columns: [], writesNull: ["payments.amount"] };
    // The message names the column made NOT NULL and the one the version writes (issue 36, 9).
    assert.match(checkContract(plan, [old])[0] ?? "", /makes payments\.amount_minor NOT NULL, but payments v2\.3\.0 \(previous\) may write NULL to payments\.amount \(the dual-write trigger copies it into payments\.amount_minor\) and would fail/);
    assert.deepEqual(checkContract(plan, [window[0]]), []);
    assert.deepEqual(columnChanges(plan, "contract").notNull, [{ column: "payments.amount_minor" }, { column: "payments.amount_minor", via: "payments.amount" }, { column: "payments.currency" }]);
  });

  it("refuses a release whose candidate or rollback target needs a column the live schema lacks", () => {
    const live = new Set(["payments.id", "payments.amount"]);
    assert.deepEqual(
      checkRelease(live, [{ service: "payments", version: "v2.4.0", role: "candidate", columns: ["payments.id", "payments.amount_minor"] }], [plan]),
      ["payments v2.4.0 (candidate) uses payments.amount_minor, which the live schema does not have; apply the expand phase of 0007-payments-refactor first"],
    );
  });

  it("fails closed on NOT NULL: a version that uses the column must say whether it writes NULL there", () => {
    const silent: VersionUsage = { service: "payments", version: "v2.3.9", role: "previous", columns: ["payments.currency"] };
    assert.deepEqual(checkContract(plan, [silent]), [
      'contract of 0007-payments-refactor makes payments.currency NOT NULL, but payments v2.3.9 (previous) uses it without saying whether it writes NULL there; set database.writesNull for "v2.3.9" (the columns that version may write NULL to, [] if none; in a --window file: writesNull) and run the contract again',
    ]);
    assert.deepEqual(checkContract(plan, [{ ...silent, writesNull: [] }]), [], "declared: writes no NULL");
    assert.deepEqual(checkContract(plan, [{ ...silent, columns: ["payments.note"] }]), [], "does not use it: nothing to say");
    // The old column of a NOT NULL rename counts: the trigger copies its NULLs across.
    assert.match(checkContract(plan, [{ ...silent, columns: ["payments.amount"] }]).join("\n"), /makes payments\.amount_minor NOT NULL, but payments v2\.3\.9 \(previous\) uses payments\.amount \(the dual-write trigger copies it into payments\.amount_minor\) without saying/);
  });

  it("reads every PostgreSQL string constant form exactly and renders it so no quoting around it can be ended", () => {
    const render = (expr: string) => {
      const r = parseExpression(expr, ["note"], false);
      assert.equal(typeof r, "function", `${expr}: ${String(r)}`);
      return (r as (ref: (c: string) => string) => string)((c) => `NEW."${c}"`);
    };
    // Each form, with the texts that broke the trigger: $do$, $fn$, %s, quotes and backslashes.
    assert.equal(render("note || '$do$ %s $fn$'"), `NEW."note" || '$do$ %s $fn$'`);
    assert.equal(render("note || 'it''s'"), `NEW."note" || 'it''s'`);
    assert.equal(render(String.raw`note || E'a\'b\\c\n\x41\101\u00e9'`), String.raw`NEW."note" || E'a''b\\c` + "\n" + String.raw`AAé'`);
    assert.equal(render("note || $tag$ it's $do$ $$ %s $tag$"), `NEW."note" || ' it''s $do$ $$ %s '`);
    assert.equal(render("note || $$x$$"), `NEW."note" || 'x'`);
    assert.equal(render(String.raw`note || U&'d\0061t\+000061 \\'`), String.raw`NEW."note" || E'data \\'`);
    assert.equal(render("note % 7 = 0"), `NEW."note" % 7 = 0`);
    assert.equal(render(String.raw`note || 'C:\dir'`), String.raw`NEW."note" || E'C:\\dir'`, "a backslash reads the same whatever standard_conforming_strings is");
    // Forms it cannot read exactly are refused, not passed through.
    for (const [expr, why] of [
      ["note || $x$ open", /unterminated dollar-quoted string \$x\$/],
      ["note || 'open", /unterminated string constant/],
      [String.raw`note || E'\xff'`, /raw byte above 0x7f/],
      [String.raw`note || U&'!0061' UESCAPE '!'`, /UESCAPE is not supported/],
      ["note || B'101'", /bit-string constants/],
      ["note || 'a' 'b'", /two string constants in a row/],
      [String.raw`note || E'\000'`, /NUL/],
      ["note || $1", /unexpected "\$1"/],
    ] as const) {
      const r = parseExpression(expr, ["note"], false);
      assert.ok(typeof r === "string" && why.test(r), `${expr}: ${String(r)}`);
    }
    assert.equal(canonicalLiteral("a'b"), "'a''b'");
    assert.equal(canonicalLiteral("a\\'b"), "E'a\\\\''b'");
  });

  it("quotes with a dollar tag the text does not contain, even when the text ends like the tag", () => {
    assert.equal(dollarQuote("x", "do"), "$do$x$do$");
    assert.equal(dollarQuote("a $do$ b", "do"), "$do1$a $do$ b$do1$");
    assert.equal(dollarQuote("a $do$ $do1$", "do"), "$do2$a $do$ $do1$$do2$");
    // "x$do" + "$do$" would close early at "x$do$": the tag must not appear in text + tag before the end.
    assert.equal(dollarQuote("x$do", "do"), "$do1$x$do$do1$");
  });

  it("keeps quoted mixed-case names, spaces and reserved words; refuses names PostgreSQL would truncate or that break quoting", () => {
    const rename = (table: string, from: string, to: string) =>
      parsePlan({ id: "0003-x", description: "x", operations: [{ op: "renameColumn", table, from, to, type: "bigint", up: `"${from}" * 100`, down: `"${to}" / 100` }] });
    const p = rename("Order Items", "unitPrice", "unit price minor");
    const steps = phaseSteps(p, "backfill");
    assert.ok(steps[0].kind === "backfill" && steps[0].set === '"unit price minor" = "unitPrice" * 100', JSON.stringify(steps[0]));
    assert.doesNotThrow(() => rename("user", "order", "select"));
    assert.doesNotThrow(() => rename("t".repeat(63), "c".repeat(63), "d".repeat(63)));
    assert.throws(() => rename("t".repeat(64), "a", "b"), /operations\.0\.table: must be a name of 1 to 63 bytes/);
    assert.throws(() => rename("é".repeat(32), "a", "b"), /operations\.0\.table: must be a name of 1 to 63 bytes/, "64 bytes in UTF-8");
    for (const bad of ['a"b', "a.b", "a\\b", " a", "a\nb", ""]) assert.throws(() => rename(bad, "a", "b"), /operations\.0\.table: must be a name/, JSON.stringify(bad));
    // Unquoted words fold to lower case, as in PostgreSQL: a capitalised column must be quoted.
    assert.match(String(parseExpression("unitPrice * 100", ["unitPrice"], false)), /write the column as "unitPrice"/);
  });

  it("knows which type changes keep every value, and suggests conversions that fit the others", () => {
    const widen: [string, string][] = [
      ["smallint", "integer"], ["integer", "bigint"], ["integer", "numeric"], ["integer", "numeric(12,2)"], ["bigint", "numeric(19,0)"],
      ["character varying(10)", "character varying(20)"], ["character varying(10)", "text"], ["character varying(10)", "character varying"], ["text", "character varying"],
      ["numeric(10,2)", "numeric(14,2)"], ["numeric(10,2)", "numeric(12,4)"], ["numeric(10,2)", "numeric"], ["real", "double precision"], ["integer[]", "bigint[]"],
    ];
    const narrow: [string, string][] = [
      ["bigint", "integer"], ["integer", "numeric(11,2)"], ["bigint", "numeric(18,0)"], ["character varying(20)", "character varying(10)"], ["text", "character varying(255)"],
      ["numeric(14,2)", "numeric(10,2)"], ["numeric(10,4)", "numeric(12,2)"], ["numeric", "numeric(30,10)"], ["double precision", "real"], ["numeric(12,2)", "bigint"],
      ["text", "integer"], ["integer", "text"], ["timestamp without time zone", "timestamp with time zone"], ["integer[]", "integer"],
    ];
    for (const [a, b] of widen) assert.equal(isLosslessWidening(a, b), true, `${a} -> ${b}`);
    for (const [a, b] of narrow) assert.equal(isLosslessWidening(a, b), false, `${a} -> ${b}`);
    assert.deepEqual(suggestConversion("numeric(12,2)", "bigint", "amount", "amount_minor"), { up: "round(amount)::bigint", down: "amount_minor::numeric(12,2)" });
    assert.deepEqual(suggestConversion("text", "integer", "qty", "quantity"), { up: "nullif(trim(qty), '')::integer", down: "quantity::text" });
    assert.deepEqual(suggestConversion("integer", "character varying(32)", "code", "Code"), { up: "code::text", down: `nullif(trim("Code"), '')::integer` });
    // Every suggestion is a conversion the plan grammar accepts (they run on PostgreSQL in test/db).
    for (const [a, b] of [...narrow.filter(([x, y]) => !x.endsWith("[]") || y.endsWith("[]")), ["time without time zone", "text"] as [string, string]]) {
      const s = suggestConversion(a, b, "old", "new");
      assert.equal(typeof parseConversion(s.up, "old"), "function", `${a} -> ${b} up ${s.up}: ${String(parseConversion(s.up, "old"))}`);
      assert.equal(typeof parseConversion(s.down, "new"), "function", `${a} -> ${b} down ${s.down}`);
    }
  });
});
