/**
 * Edge cases of expand/contract found by using the runner as an outsider would, each on a real
 * PostgreSQL 15 cluster and each a test that failed before its fix: string constants that used
 * to break out of the trigger's quoting, expand all-or-nothing per operation, objects remedy did
 * not create, an abort stopped by a failing step, lock waits without end, lossless type
 * widenings, names PostgreSQL keeps as written, a foreign key over rows that break it, a runner
 * killed mid-backfill, and two runners at once. Data is compared row by row.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client, Pool } from "pg";
import { LockTimeoutError, MigrationLockedError, MigrationRunner, PlanRefusedError } from "../../database/runner";
import { parsePlan, suggestConversion, syncTriggerName, type VersionUsage } from "../../database/plan";
import { runRemedy } from "../helpers/cli";
import { postgresSuite, type PostgresServer } from "../helpers/postgres";

/** The value up/down below give: every quoting form PostgreSQL has, around the text. */
const wrap = (body: string) => `$do$${body}%s'\\ $$ $fn$`;

describe("migrations on real PostgreSQL: edge cases", function () {
  this.timeout(120_000);
  const suite = postgresSuite(12);
  let pg: PostgresServer;
  let db: Pool;
  before(() => ({ pg, db } = suite));

  const window = (service: string, columns: string[]): VersionUsage[] => [{ service, version: "v2", role: "stable", columns, writesNull: [] }];
  const columnExists = async (table: string, column: string) =>
    ((await db.query("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped", [`"${table}"`, column])).rowCount ?? 0) > 0;
  const triggers = async (table: string) =>
    (await db.query<{ tgname: string }>("SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal ORDER BY tgname", [`"${table}"`])).rows.map((r) => r.tgname);

  it("keeps two renames on one table apart when multibyte names pass 63 bytes: each its own trigger, both dual-writes kept (issue 34, 17)", async () => {
    // Prepare: a 40-byte table name, 21-byte column names (two bytes a character): the derived
    // names' first 63 bytes are the same for both renames, as PostgreSQL cuts names by bytes.
    const table = "ü".repeat(20);
    const col = (c: string) => `${"ä".repeat(10)}${c}`;
    await db.query(`CREATE TABLE "${table}" (id bigserial PRIMARY KEY, "${col("a")}" text, "${col("c")}" text)`);
    const plan = parsePlan({
      id: "2100-multibyte-renames",
      description: "two renames, multibyte names",
      operations: [
        { op: "renameColumn", table, from: col("a"), to: col("b"), type: "text" },
        { op: "renameColumn", table, from: col("c"), to: col("d"), type: "text" },
      ],
    });
    const names = [syncTriggerName(table, col("a"), col("b")), syncTriggerName(table, col("c"), col("d"))];
    for (const n of names) assert.ok(Buffer.byteLength(n, "utf8") <= 63, `${n} is ${Buffer.byteLength(n, "utf8")} bytes`);
    assert.notEqual(names[0], names[1]);
    // Act: expand, then the old version writes its columns.
    await new MigrationRunner(db, [plan], { throttle: 0 }).apply(plan.id, "expand");
    await db.query(`INSERT INTO "${table}" ("${col("a")}", "${col("c")}") VALUES ('first', 'second')`);
    // Assess: two triggers, as named (not cut by PostgreSQL), and both new columns written.
    assert.deepEqual(await triggers(table), [...names].sort());
    const row = (await db.query(`SELECT "${col("b")}" AS b, "${col("d")}" AS d FROM "${table}"`)).rows[0] as { b: string; d: string };
    assert.deepEqual(row, { b: "first", d: "second" });
  });

  it("dual-writes through conversions and checks whose string constants hold $do$, $fn$, %s, quotes and backslashes, in every quoting form", async () => {
    // Plain '...' constants holding the trigger's old quote tags and a format() placeholder:
    // these passed validation, then broke out of the quoting at expand, leaving a column without its trigger.
    await db.query("CREATE TABLE memos (id bigserial PRIMARY KEY, body text)");
    await db.query("INSERT INTO memos (body) SELECT 'm' || g FROM generate_series(1, 50) g");
    const plain = parsePlan({
      id: "2000-memos-label",
      description: "plain quotes",
      operations: [{ op: "renameColumn", table: "memos", from: "body", to: "label", type: "text", up: "'$do$' || body || '%s; $fn$'", down: "substr(label, 5, length(label) - 12)" }],
    });
    const plainRunner = new MigrationRunner(db, [plain], { throttle: 0 });
    await plainRunner.apply(plain.id, "expand");
    assert.deepEqual(await triggers("memos"), [syncTriggerName("memos", "body", "label")]);
    await db.query("INSERT INTO memos (body) VALUES ('v1')");
    await db.query("INSERT INTO memos (label) VALUES ('$do$v2%s; $fn$')");
    await plainRunner.apply(plain.id, "backfill");
    const memos = (await db.query<{ body: string; label: string }>("SELECT body, label FROM memos ORDER BY id")).rows;
    assert.deepEqual(memos.filter((r) => r.label !== `$do$${r.body}%s; $fn$`), []);
    assert.deepEqual(memos.slice(-2).map((r) => r.body), ["v1", "v2"]);

    await db.query("CREATE TABLE notes (id bigserial PRIMARY KEY, body text)");
    await db.query("INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 200) g");
    // up: '$do$' || body || E'%s\'\\' || $fn$ $$ $fn$ || U&'\0024fn\0024'  (prefix 4 characters, suffix 12)
    const plan = parsePlan({
      id: "2001-notes-label",
      description: "quoting",
      operations: [
        {
          op: "renameColumn",
          table: "notes",
          from: "body",
          to: "label",
          type: "text",
          up: "'$do$' || body || E'%s\\'\\\\' || $fn$ $$ $fn$ || U&'\\0024fn\\0024'",
          down: "substr(label, 5, length(label) - 16)",
        },
        { op: "addCheck", table: "notes", name: "notes_body_not_marker", columns: ["body"], condition: "body <> '$do$' AND body <> $fn$%s$fn$ AND body <> E'\\'' AND body <> U&'\\0025s'" },
      ],
    });
    const runner = new MigrationRunner(db, [plan], { batchSize: 50, throttle: 0 });
    await runner.apply(plan.id, "expand");
    const v1 = (await db.query<{ id: string }>("INSERT INTO notes (body) VALUES ('old') RETURNING id")).rows[0].id;
    const v2 = (await db.query<{ id: string }>("INSERT INTO notes (label) VALUES ($1) RETURNING id", [wrap("new")])).rows[0].id;
    await db.query("UPDATE notes SET label = $1 WHERE id = 7", [wrap("seven")]);
    await db.query("UPDATE notes SET body = 'eight' WHERE id = 8");
    await runner.apply(plan.id, "backfill");
    const rows = (await db.query<{ id: string; body: string; label: string }>("SELECT id::text, body, label FROM notes ORDER BY notes.id")).rows;
    assert.equal(rows.length, 202);
    assert.deepEqual(rows.filter((r) => r.label !== wrap(r.body)), [], "label = wrap(body) on every row");
    const byId = new Map(rows.map((r) => [r.id, r.body]));
    assert.deepEqual([byId.get(v1), byId.get(v2), byId.get("7"), byId.get("8"), byId.get("100")], ["old", "new", "seven", "eight", "n100"]);
    for (const marker of ["$do$", "%s", "'", "%s"]) {
      await assert.rejects(db.query("INSERT INTO notes (body) VALUES ($1)", [marker]), /violates check constraint "notes_body_not_marker"/, marker);
    }
  });

  it("applies expand all or nothing per operation: a failing operation leaves the earlier ones whole, and abort or apply completes it", async () => {
    await db.query("CREATE TABLE parcels (id bigserial PRIMARY KEY, weight bigint)");
    await db.query("INSERT INTO parcels (weight) SELECT g FROM generate_series(1, 50) g");
    const ops = [
      { op: "renameColumn", table: "parcels", from: "weight", to: "weight_g", type: "bigint" },
      { op: "addForeignKey", table: "parcels", name: "parcels_weight_fk", columns: ["weight_g"], references: { table: "weights", columns: ["id"] } },
    ];
    const plan = parsePlan({ id: "2002-parcels", description: "x", operations: ops });
    const runner = new MigrationRunner(db, [plan], { throttle: 0 });
    await assert.rejects(runner.apply(plan.id, "expand"), /relation "weights" does not exist/);
    // The rename is whole (column and trigger), not half; the ledger does not claim the phase.
    assert.ok(await columnExists("parcels", "weight_g"));
    assert.deepEqual(await triggers("parcels"), [syncTriggerName("parcels", "weight", "weight_g")]);
    assert.equal((await db.query<{ w: string }>("INSERT INTO parcels (weight) VALUES (9) RETURNING weight_g::text AS w")).rows[0].w, "9");
    assert.deepEqual((await runner.status()).interrupted, [`${plan.id}:expand: started but not finished; run remedy migrate apply ${plan.id} expand again (it resumes), or abort ${plan.id}`]);
    // abort completes it: nothing of the plan is left.
    assert.deepEqual(await runner.abort(plan.id, []), [`${plan.id}:expand`]);
    assert.ok(!(await columnExists("parcels", "weight_g")));
    assert.deepEqual(await triggers("parcels"), []);
    // Once the referenced table exists, apply completes it.
    await db.query("CREATE TABLE weights (id bigint PRIMARY KEY); INSERT INTO weights SELECT g FROM generate_series(1, 100) g");
    await runner.apply(plan.id, "expand");
    assert.deepEqual((await runner.status()).applied, [`${plan.id}:expand`]);
  });

  it("refuses a constraint or index name that already exists, never weakens or drops it, and abort leaves what remedy did not create", async () => {
    await db.query("CREATE TABLE customers (id bigint PRIMARY KEY)");
    await db.query("CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint, amount bigint CONSTRAINT orders_amount_check CHECK (amount >= 0), note text)");
    await db.query("CREATE INDEX orders_note_idx ON orders (note)");
    await db.query("INSERT INTO customers SELECT g FROM generate_series(1, 10) g");
    await db.query("INSERT INTO orders (customer_id, amount, note) SELECT g % 10 + 1, g, 'n' || g FROM generate_series(1, 100) g");
    const constraints = async () =>
      (await db.query<{ c: string }>("SELECT conname || ':' || convalidated || ':' || pg_get_constraintdef(oid) AS c FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype <> 'n' ORDER BY conname")).rows.map((r) => r.c);
    const before = await constraints();
    for (const op of [
      { op: "addCheck", table: "orders", name: "orders_amount_check", columns: ["amount"], condition: "amount > 0" },
      { op: "addForeignKey", table: "orders", name: "orders_amount_check", columns: ["customer_id"], references: { table: "customers", columns: ["id"] } },
      { op: "addIndex", table: "orders", name: "orders_note_idx", columns: ["amount"] },
    ]) {
      const plan = parsePlan({ id: "2003-orders", description: "x", operations: [op] });
      await assert.rejects(new MigrationRunner(db, [plan]).apply(plan.id, "expand"), (e: Error) => {
        assert.ok(e instanceof PlanRefusedError, String(e));
        assert.match(e.message, /operations\[0\]\.name: .* already exists and remedy did not create it; remedy will not replace, weaken or drop it/);
        return true;
      });
    }
    assert.deepEqual(await constraints(), before, "the existing check is still there, validated, unchanged");
    assert.equal((await db.query("SELECT pg_get_indexdef('orders_note_idx'::regclass) AS d")).rows[0].d, "CREATE INDEX orders_note_idx ON public.orders USING btree (note)");
    // A plan that adopts an existing column (same type) and adds its own objects: abort drops only its own.
    const plan = parsePlan({
      id: "2004-orders",
      description: "x",
      operations: [
        { op: "addColumn", table: "orders", column: "note", type: "text" },
        { op: "addColumn", table: "orders", column: "channel", type: "text" },
        { op: "addForeignKey", table: "orders", name: "orders_customer_fk", columns: ["customer_id"], references: { table: "customers", columns: ["id"] } },
        { op: "addIndex", table: "orders", name: "orders_channel_idx", columns: ["channel"] },
      ],
    });
    const notes: string[] = [];
    const runner = new MigrationRunner(db, [plan], { onNote: (m) => notes.push(m) });
    await runner.apply(plan.id, "expand");
    const owned = (await db.query<{ o: string }>("SELECT kind || ' ' || table_name || '.' || name || ' ' || plan AS o FROM remedy_owned_objects WHERE plan = $1 ORDER BY 1", [plan.id])).rows.map((r) => r.o);
    assert.deepEqual(owned, ["column orders.channel 2004-orders", "constraint orders.orders_customer_fk 2004-orders", "index orders.orders_channel_idx 2004-orders"], "the adopted column is not claimed");
    await runner.abort(plan.id, []);
    assert.ok(await columnExists("orders", "note"), "the column remedy did not create stays");
    assert.equal((await db.query("SELECT count(*)::int AS n FROM orders WHERE note = 'n' || id")).rows[0].n, 100, "with its data");
    assert.ok(!(await columnExists("orders", "channel")));
    assert.deepEqual(await constraints(), before);
    assert.equal((await db.query("SELECT to_regclass('orders_channel_idx') AS r")).rows[0].r, null);
    assert.deepEqual(notes, ["left column orders.note in place: remedy did not create it"]);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM remedy_owned_objects WHERE plan = $1", [plan.id])).rows[0].n, 0, "the ownership ledger forgets what abort dropped");
  });

  it("records an abort step by step: a failing undo leaves the ledger truthful, a rerun resumes after the done steps, and apply can complete instead", async () => {
    await db.query("CREATE TABLE boxes (id bigserial PRIMARY KEY, size bigint)");
    await db.query("INSERT INTO boxes (size) SELECT g FROM generate_series(1, 20) g");
    const plan = parsePlan({
      id: "2005-boxes",
      description: "x",
      operations: [
        { op: "addColumn", table: "boxes", column: "a", type: "bigint" },
        // Its down fails until the table abort_gate exists (as an operator's broken down would).
        // Like every step, up and down can run again: a resumed apply or abort reruns them.
        { op: "sql", description: "add b", table: "boxes", phase: "expand", up: "ALTER TABLE boxes ADD COLUMN IF NOT EXISTS b bigint", down: "ALTER TABLE boxes DROP COLUMN IF EXISTS b; DROP TABLE abort_gate" },
        { op: "addColumn", table: "boxes", column: "c", type: "bigint" },
      ],
    });
    const runner = new MigrationRunner(db, [plan], { throttle: 0 });
    await runner.apply(plan.id, "expand");
    await assert.rejects(runner.abort(plan.id, []), (e: Error) => {
      assert.match(e.message, /undo: add b: table "abort_gate" does not exist\nabort of 2005-boxes:expand stopped after 1 of 3 undo steps \(the ledger no longer lists 2005-boxes:expand/);
      return true;
    });
    const shape = async () => (await Promise.all(["a", "b", "c"].map(async (c) => ((await columnExists("boxes", c)) ? c : "")))).join("");
    assert.equal(await shape(), "ab", "c undone; b's failed down rolled back whole; a not reached");
    const status = await runner.status();
    assert.deepEqual(status.applied, [], "the ledger does not claim a half-undone expand");
    assert.deepEqual(status.interrupted, [`${plan.id}:expand: abort stopped after 1 of 3 undo steps; run remedy migrate abort ${plan.id} again (it resumes), or apply expand again`]);
    // apply completes it instead: all three columns, the ledger lists it, the abort's marks are gone.
    await runner.apply(plan.id, "expand");
    assert.equal(await shape(), "abc");
    assert.deepEqual(await runner.status(), { applied: [`${plan.id}:expand`], pending: [`${plan.id}:backfill`, `${plan.id}:contract`], interrupted: [] });
    // Abort again: stops at the same step; once the cause is fixed, the rerun resumes and finishes.
    await assert.rejects(runner.abort(plan.id, []), /stopped after 1 of 3 undo steps/);
    await db.query("CREATE TABLE abort_gate ()");
    // A c that the ledger says is the plan's: a resumed abort that redid its done step 0 would drop it.
    await db.query("ALTER TABLE boxes ADD COLUMN c bigint");
    await db.query("INSERT INTO remedy_owned_objects (kind, table_name, name, plan) VALUES ('column', 'boxes', 'c', $1)", [plan.id]);
    assert.deepEqual(await runner.abort(plan.id, []), [`${plan.id}:expand`]);
    assert.equal(await shape(), "c", "step 0 (drop c) was not repeated; b and a undone");
    assert.deepEqual(await runner.status(), { applied: [], pending: [`${plan.id}:expand`, `${plan.id}:backfill`, `${plan.id}:contract`], interrupted: [] });
  });

  it("bounds lock waits: a backfill behind an idle transaction's row lock, and a contract behind its table lock, stop naming the session; both resume once it ends", async () => {
    await db.query("CREATE TABLE stock (id bigserial PRIMARY KEY, qty bigint)");
    await db.query("INSERT INTO stock (qty) SELECT g FROM generate_series(1, 1000) g");
    const plan = parsePlan({ id: "2006-stock", description: "x", operations: [{ op: "renameColumn", table: "stock", from: "qty", to: "quantity", type: "bigint" }] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-plans-"));
    fs.writeFileSync(path.join(dir, "2006-stock.json"), JSON.stringify(plan));
    const runner = new MigrationRunner(db, [plan], { throttle: 0 });
    await runner.apply(plan.id, "expand");
    const holder = new Client({ connectionString: pg.url });
    await holder.connect();
    try {
      // An application session locks row 500 and goes idle inside its transaction.
      const pid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      await holder.query("BEGIN");
      await holder.query("SELECT * FROM stock WHERE id = 500 FOR UPDATE");
      const stuck = await runRemedy(["migrate", "apply", plan.id, "backfill", "--dir", dir, "--batch-size", "100", "--lock-timeout", "100", "--max-lock-wait", "1500"]);
      assert.equal(stuck.code, 1, stuck.err);
      assert.match(stuck.err, new RegExp(`copy stock\\.qty into quantity: could not lock stock: waited \\d+ ms over \\d+ attempts; blocked by pid ${pid} \\(idle in transaction, transaction open since \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\): "SELECT \\* FROM stock WHERE id = 500 FOR UPDATE"`));
      assert.match(stuck.err, new RegExp(`Fix: finish or end that session \\(SELECT pg_terminate_backend\\(${pid}\\)\\) and run the same command again; the backfill resumes after the last committed batch \\(400 rows done\\)`));
      assert.equal((await db.query("SELECT count(*)::int AS n FROM stock WHERE quantity IS NOT NULL")).rows[0].n, 400, "batches before the locked row committed");
      assert.deepEqual((await runner.status()).applied, [`${plan.id}:expand`]);
      await holder.query("COMMIT");
      await runner.apply(plan.id, "backfill");
      assert.equal((await db.query("SELECT count(*)::int AS n FROM stock WHERE quantity = qty")).rows[0].n, 1000);
      // The contract needs ACCESS EXCLUSIVE; an idle transaction that read the table holds it off.
      await holder.query("BEGIN");
      await holder.query("SELECT count(*) FROM stock");
      const contract = new MigrationRunner(db, [plan], { lockTimeoutMs: 100, attempts: 100, maxLockWaitMs: 1500 });
      await assert.rejects(contract.apply(plan.id, "contract", window("stock", ["stock.quantity"])), (e: Error) => {
        assert.ok(e instanceof LockTimeoutError, String(e));
        assert.ok(e.attempts < 100, `stopped by the total wait, after ${e.attempts} attempts`);
        assert.deepEqual(e.blockers.map((b) => [b.pid, b.state, b.query]), [[pid, "idle in transaction", "SELECT count(*) FROM stock"]]);
        assert.match(e.message, /nothing of this step was applied/);
        return true;
      });
      assert.ok(await columnExists("stock", "qty"), "nothing dropped");
      await holder.query("COMMIT");
      await contract.apply(plan.id, "contract", window("stock", ["stock.quantity"]));
      assert.ok(!(await columnExists("stock", "qty")));
    } finally {
      await holder.end();
    }
  });

  it("waits no longer than --max-lock-wait when it is under one attempt's lock timeout, and names the blocker even after one attempt (issue 34, 19)", async () => {
    await db.query("CREATE TABLE crates (id bigserial PRIMARY KEY, n int)");
    const plan = parsePlan({ id: "2020-crates", description: "x", operations: [{ op: "addColumn", table: "crates", column: "label", type: "text" }] });
    const holder = new Client({ connectionString: pg.url });
    await holder.connect();
    try {
      const pid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      await holder.query("BEGIN");
      await holder.query("SELECT count(*) FROM crates");
      // Each attempt may wait 5 s, the whole step 1 s.
      const runner = new MigrationRunner(db, [plan], { lockTimeoutMs: 5_000, maxLockWaitMs: 1_000 });
      await assert.rejects(runner.apply(plan.id, "expand"), (e: Error) => {
        assert.ok(e instanceof LockTimeoutError, String(e));
        assert.equal(e.attempts, 1);
        assert.ok(e.waitedMs < 5_000, `waited ${e.waitedMs} ms: an attempt's full lock timeout, past the total`);
        assert.deepEqual(e.blockers.map((b) => [b.pid, b.state, b.query]), [[pid, "idle in transaction", "SELECT count(*) FROM crates"]]);
        return true;
      });
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.end();
    }
  });

  it("widens int to bigint, varchar(n) to text and numeric precision without conversions, keeping every row; narrowing is refused with conversions that run", async () => {
    await db.query("CREATE TABLE items (id bigserial PRIMARY KEY, qty integer, code varchar(10), price numeric(10,2))");
    await db.query("INSERT INTO items (qty, code, price) SELECT g, 'c' || g, g / 100.0 FROM generate_series(1, 300) g");
    const plan = parsePlan({
      id: "2007-items",
      description: "widen",
      operations: [
        { op: "renameColumn", table: "items", from: "qty", to: "quantity", type: "bigint" },
        { op: "renameColumn", table: "items", from: "code", to: "sku", type: "text" },
        { op: "renameColumn", table: "items", from: "price", to: "unit_price", type: "numeric(14,4)" },
      ],
    });
    const runner = new MigrationRunner(db, [plan], { batchSize: 64, throttle: 0 });
    await runner.apply(plan.id, "expand");
    const old = (await db.query<{ id: string }>("INSERT INTO items (qty, code, price) VALUES (2147483647, 'abcdefghij', 12345678.91) RETURNING id")).rows[0].id;
    const fresh = (await db.query<{ id: string }>("INSERT INTO items (quantity, sku, unit_price) VALUES (42, 'short', 1.5) RETURNING id")).rows[0].id;
    // New code writing what the old type cannot hold fails loudly; it is never truncated.
    await assert.rejects(db.query("INSERT INTO items (sku) VALUES ('eleven chars')"), /value too long for type character varying\(10\)/);
    await assert.rejects(db.query("INSERT INTO items (quantity) VALUES (3000000000)"), /integer out of range/);
    await runner.apply(plan.id, "backfill");
    const rows = (await db.query<{ id: string; qty: string; quantity: string; code: string; sku: string; price: string; unit_price: string }>(
      "SELECT id::text, qty::text, quantity::text, code, sku, price::text, unit_price::text FROM items ORDER BY items.id",
    )).rows;
    assert.equal(rows.length, 302);
    assert.deepEqual(rows.filter((r) => r.qty !== r.quantity || r.code !== r.sku || Number(r.price) !== Number(r.unit_price)), [], "both names agree on every row");
    const byId = new Map(rows.map((r) => [r.id, [r.quantity, r.sku, r.unit_price]]));
    assert.deepEqual(byId.get(old), ["2147483647", "abcdefghij", "12345678.9100"]);
    assert.deepEqual(byId.get(fresh), ["42", "short", "1.5000"]);
    assert.deepEqual(byId.get("150"), ["150", "c150", "1.5000"]);
    // Narrowing and type changes: refused, with conversions that fit the types and run.
    for (const [from, to, value] of [
      ["numeric(12,2)", "bigint", "12.34"],
      ["text", "integer", " 42 "],
      ["integer", "text", "42"],
      ["bigint", "integer", "7"],
      ["character varying(20)", "character varying(5)", "abc"],
      ["text", "timestamp with time zone", "2026-12-02 10:00:00+00"],
      ["timestamp without time zone", "date", "2026-12-02 10:00:00"],
      ["text", "uuid", "6c2d1f1a-0a4e-4a43-8f65-7b8f0e2c9d11"],
    ] as const) {
      const s = suggestConversion(from, to, "old", "new");
      const up = await db.query<{ v: string }>(`SELECT (${s.up})::text AS v FROM (SELECT $1::${from} AS old) x`, [value]);
      await db.query(`SELECT (${s.down})::text AS v FROM (SELECT $1::${to} AS new) x`, [up.rows[0].v]);
    }
    await db.query("CREATE TABLE counts (id bigserial PRIMARY KEY, n text)");
    const narrow = parsePlan({ id: "2008-counts", description: "x", operations: [{ op: "renameColumn", table: "counts", from: "n", to: "total", type: "integer" }] });
    await assert.rejects(new MigrationRunner(db, [narrow]).apply(narrow.id, "expand"), /counts\.n is text but the plan says integer, which is not a widening that keeps every value; .*set up \(over n, e\.g\. "nullif\(trim\(n\), ''\)::integer"\) and down \(over total, e\.g\. "total::text"\)/);
  });

  it("keeps 63-byte names, quoted mixed-case names with spaces, and reserved words through expand, backfill and contract", async () => {
    const long = { table: "t".repeat(63), from: "f".repeat(63), to: "g".repeat(63) };
    for (const [table, from, to, extra] of [
      ["Order Items", "unitPrice", "unit price minor", { up: 'round("unitPrice" * 100)::bigint', down: '"unit price minor" / 100.0' }],
      ["user", "order", "select", {}],
      [long.table, long.from, long.to, {}],
    ] as const) {
      const fromType = "up" in extra ? "numeric(10,2)" : "bigint";
      await db.query(`CREATE TABLE "${table}" (id bigserial PRIMARY KEY, "${from}" ${fromType} DEFAULT 1)`);
      await db.query(`INSERT INTO "${table}" ("${from}") SELECT g FROM generate_series(1, 120) g`);
      const plan = parsePlan({ id: `2009-${table.length}-${from.length}`, description: "names", operations: [{ op: "renameColumn", table, from, to, type: "bigint", notNull: true, ...extra }] });
      const runner = new MigrationRunner(db, [plan], { batchSize: 50, throttle: 0 });
      await runner.apply(plan.id, "expand");
      const scale = "up" in extra ? 100 : 1;
      await db.query(`INSERT INTO "${table}" ("${from}") VALUES (500)`);
      await db.query(`INSERT INTO "${table}" ("${to}") VALUES (${600 * scale})`);
      await db.query(`INSERT INTO "${table}" DEFAULT VALUES`);
      await runner.apply(plan.id, "backfill");
      const rows = (await db.query<{ a: string; b: string }>(`SELECT "${from}"::text AS a, "${to}"::text AS b FROM "${table}" ORDER BY id`)).rows;
      assert.equal(rows.length, 123, table);
      assert.deepEqual(rows.filter((r) => Math.round(Number(r.a) * scale) !== Number(r.b)), [], `${table}: both names agree on every row`);
      assert.deepEqual(rows.slice(-3).map((r) => Number(r.b)), [500 * scale, 600 * scale, scale], `${table}: writes by either name, and the default`);
      await runner.apply(plan.id, "contract", window("names", [`${table}.${to}`]));
      assert.ok(!(await columnExists(table, from)) && (await columnExists(table, to)), table);
      assert.equal((await db.query<{ b: string }>(`INSERT INTO "${table}" DEFAULT VALUES RETURNING "${to}"::text AS b`)).rows[0].b, "1", `${table}: the new column keeps the default`);
    }
  });

  it("refuses a foreign key over rows that break it, counting them, before anything changes; a plan whose backfill fixes them first goes through", async () => {
    await db.query("CREATE TABLE accounts (id bigint PRIMARY KEY)");
    await db.query("CREATE TABLE invoices2 (id bigserial PRIMARY KEY, account_id bigint)");
    await db.query("INSERT INTO accounts SELECT g FROM generate_series(1, 5) g");
    await db.query("INSERT INTO invoices2 (account_id) VALUES (1), (2), (77), (NULL), (78), (79), (5)");
    const fk = { op: "addForeignKey", table: "invoices2", name: "invoices2_account_fk", columns: ["account_id"], references: { table: "accounts", columns: ["id"] } };
    const plan = parsePlan({ id: "2010-invoices", description: "x", operations: [fk] });
    const runner = new MigrationRunner(db, [plan]);
    await assert.rejects(runner.apply(plan.id, "expand"), (e: Error) => {
      assert.ok(e instanceof PlanRefusedError, String(e));
      assert.match(e.message, /2010-invoices: 3 rows of invoices2 have account_id values with no accounts row \(account_id: \(77\), \(78\), \(79\)\), so foreign key invoices2_account_fk could never be validated; fix or delete those rows first .*nothing was changed/);
      return true;
    });
    assert.equal((await db.query("SELECT 1 FROM pg_constraint WHERE conname = 'invoices2_account_fk'")).rowCount, 0);
    assert.deepEqual((await runner.status()).interrupted, [], "nothing half-done");
    const fixing = parsePlan({
      id: "2011-invoices",
      description: "x",
      operations: [
        // It fixes only one of the three: the validation then refuses the other two, counted.
        { op: "sql", description: "orphan 77 loses its account", table: "invoices2", phase: "backfill", up: "UPDATE invoices2 SET account_id = NULL WHERE account_id = 77", down: "SELECT 1" },
        { ...fk },
      ],
    });
    const fixer = new MigrationRunner(db, [fixing]);
    await fixer.apply(fixing.id, "expand");
    await assert.rejects(fixer.apply(fixing.id, "backfill"), /2011-invoices: 2 rows of invoices2 have account_id values with no accounts row \(account_id: \(78\), \(79\)\), so foreign key invoices2_account_fk could never be validated; .*the constraint stays NOT VALID/);
    assert.equal((await db.query("SELECT convalidated AS v FROM pg_constraint WHERE conname = 'invoices2_account_fk'")).rows[0].v, false);
    await assert.rejects(db.query("INSERT INTO invoices2 (account_id) VALUES (99)"), /violates foreign key constraint "invoices2_account_fk"/, "new writes are checked meanwhile");
    await db.query("UPDATE invoices2 SET account_id = NULL WHERE account_id IN (78, 79)");
    await fixer.apply(fixing.id, "backfill");
    assert.equal((await db.query("SELECT convalidated AS v FROM pg_constraint WHERE conname = 'invoices2_account_fk'")).rows[0].v, true);
    assert.deepEqual((await db.query<{ a: string | null }>("SELECT account_id::text AS a FROM invoices2 ORDER BY id")).rows.map((r) => r.a), ["1", "2", null, null, null, null, "5"]);
  });

  it("survives a SIGKILL of the runner mid-backfill: abort, then a fresh apply with writers on both names loses and corrupts no row", async () => {
    const rows = 200_000;
    await db.query("CREATE TABLE ledger2 (id bigserial PRIMARY KEY, amount bigint NOT NULL DEFAULT 0)");
    await db.query("INSERT INTO ledger2 (amount) SELECT g FROM generate_series(1, $1) g", [rows]);
    const plan = parsePlan({ id: "2012-ledger2", description: "x", operations: [{ op: "renameColumn", table: "ledger2", from: "amount", to: "amount_minor", type: "bigint", notNull: true }] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-plans-"));
    fs.writeFileSync(path.join(dir, `${plan.id}.json`), JSON.stringify(plan));
    const runner = new MigrationRunner(db, [plan], { batchSize: 2000, throttle: 0 });
    await runner.apply(plan.id, "expand");
    // The real CLI in its own process, killed once it has committed several batches.
    const child = spawn(process.execPath, [path.join(__dirname, "..", "..", "cli", "remedy.js"), "migrate", "apply", plan.id, "backfill", "--dir", dir, "--batch-size", "200"], {
      env: { ...process.env, DATABASE_URL: pg.url },
      stdio: "ignore",
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    let done = 0;
    while (done < 1000) {
      const r = await db.query<{ n: string }>("SELECT coalesce(max(rows_done), 0)::text AS n FROM remedy_backfill_progress WHERE migration = $1", [`${plan.id}:backfill`]);
      done = Number(r.rows[0].n);
      if (child.exitCode !== null) break;
      await new Promise((r2) => setTimeout(r2, 20));
    }
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL", "killed mid-backfill, not finished");
    assert.ok(done >= 1000 && done < rows, `${done} rows done when killed`);
    assert.deepEqual((await runner.status()).applied, [`${plan.id}:expand`]);
    // Abort: the new column, its trigger and the backfill's progress go.
    assert.deepEqual(await runner.abort(plan.id, []), [`${plan.id}:backfill`, `${plan.id}:expand`]);
    assert.ok(!(await columnExists("ledger2", "amount_minor")));
    assert.deepEqual(await triggers("ledger2"), []);
    // A fresh apply while V1 (amount) and V2 (amount_minor) write, each remembering what it wrote.
    await runner.apply(plan.id, "expand");
    const expected = new Map<string, number>();
    let stop = false;
    // Each writer updates only its own half of the ids, so the last value of each row is known.
    const writer = async (column: string, base: number, half: 0 | 1) => {
      for (let i = 0; !stop; i++) {
        const id = String(1 + half + 2 * ((i * 7919) % (rows / 2)));
        await db.query(`UPDATE ledger2 SET ${column} = $2 WHERE id = $1`, [id, base + i]);
        expected.set(id, base + i);
        const ins = await db.query<{ id: string }>(`INSERT INTO ledger2 (${column}) VALUES ($1) RETURNING id::text`, [base + i]);
        expected.set(ins.rows[0].id, base + i);
      }
    };
    const writers = [writer("amount", 10_000_000, 0), writer("amount_minor", 20_000_000, 1)];
    await runner.apply(plan.id, "backfill");
    stop = true;
    await Promise.all(writers);
    const wrong = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM ledger2 WHERE amount IS DISTINCT FROM amount_minor");
    assert.equal(wrong.rows[0].n, "0", "both names agree on every row");
    const got = new Map((await db.query<{ id: string; v: string }>("SELECT id::text, amount_minor::text AS v FROM ledger2")).rows.map((r) => [r.id, Number(r.v)]));
    assert.equal(got.size, rows + [...expected.keys()].filter((id) => Number(id) > rows).length, "no row lost");
    const mismatched = [...got].filter(([id, v]) => v !== (expected.get(id) ?? Number(id)));
    assert.deepEqual(mismatched.slice(0, 5), [], `${mismatched.length} rows wrong`);
  });

  it("lets one of two runners started at once apply a phase; the other stops at once, and the rows are right", async () => {
    await db.query("CREATE TABLE twice (id bigserial PRIMARY KEY, amount bigint)");
    await db.query("INSERT INTO twice (amount) SELECT g FROM generate_series(1, 20000) g");
    const plan = parsePlan({ id: "2013-twice", description: "x", operations: [{ op: "renameColumn", table: "twice", from: "amount", to: "amount_minor", type: "bigint" }] });
    await new MigrationRunner(db, [plan]).apply(plan.id, "expand");
    const [a, b] = [new Pool({ connectionString: pg.url, max: 4 }), new Pool({ connectionString: pg.url, max: 4 })];
    try {
      const results = await Promise.allSettled([
        new MigrationRunner(a, [plan], { batchSize: 500, throttle: 0.5 }).apply(plan.id, "backfill"),
        new MigrationRunner(b, [plan], { batchSize: 500, throttle: 0.5 }).apply(plan.id, "backfill"),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
      const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      assert.ok(refused.reason instanceof MigrationLockedError, String(refused.reason));
    } finally {
      await a.end();
      await b.end();
    }
    assert.equal((await db.query("SELECT count(*)::int AS n FROM twice WHERE amount_minor = amount")).rows[0].n, 20000);
    assert.deepEqual((await new MigrationRunner(db, [plan]).status()).applied, [`${plan.id}:expand`, `${plan.id}:backfill`]);
  });

  it("aborts a rename an earlier remedy expanded (no ownership records): its trigger marks the new column as remedy's", async () => {
    await db.query("CREATE TABLE legacy_rename (id bigserial PRIMARY KEY, amount bigint, amount_minor bigint)");
    await db.query("CREATE FUNCTION remedy_sync_legacy_rename_amount_amount_minor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$");
    await db.query("CREATE TRIGGER remedy_sync_legacy_rename_amount_amount_minor BEFORE INSERT ON legacy_rename FOR EACH ROW EXECUTE FUNCTION remedy_sync_legacy_rename_amount_amount_minor()");
    const plan = parsePlan({ id: "2014-legacy", description: "x", operations: [{ op: "renameColumn", table: "legacy_rename", from: "amount", to: "amount_minor", type: "bigint" }] });
    const runner = new MigrationRunner(db, [plan]);
    await runner.status(); // creates the ledger tables
    await db.query("INSERT INTO remedy_migrations (name) VALUES ($1)", [`${plan.id}:expand`]);
    assert.deepEqual(await runner.abort(plan.id, []), [`${plan.id}:expand`]);
    assert.ok(!(await columnExists("legacy_rename", "amount_minor")), "dropped: the legacy trigger proves remedy created it");
    assert.ok(await columnExists("legacy_rename", "amount"));
  });
});
