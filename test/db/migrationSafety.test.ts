/**
 * Expand/contract defects found by using the runner as a user would, each on a real PostgreSQL
 * 15 cluster: defaults under dual-write, name collisions, plans that must be refused before
 * anything runs, keyset backfills over sparse and non-integer keys, concurrent runners, and a
 * gate that fails closed. Data is compared row by row, not only error counts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client, Pool } from "pg";
import { ADVISORY_LOCK_NAMESPACE, ContractRefusedError, MigrationLockedError, MigrationRunner, PlanRefusedError, RunnerOptionError } from "../../database/runner";
import { parsePlan, syncTriggerName, type MigrationPlan } from "../../database/plan";
import { runRemedy } from "../helpers/cli";
import { postgresSuite, type PostgresServer } from "../helpers/postgres";

const rename = (id: string, table: string, from = "amount", to = "amount_minor"): MigrationPlan =>
  parsePlan({ id, description: `rename ${table}.${from}`, operations: [{ op: "renameColumn", table, from, to, type: "bigint", notNull: true }] });

describe("migrations on real PostgreSQL: safety", function () {
  this.timeout(60_000);
  const suite = postgresSuite();
  let pg: PostgresServer;
  let db: Pool;
  before(() => ({ pg, db } = suite));

  it("dual-writes correctly whichever side writes, with a default on the old column, and never lets the backfill overwrite new writes", async () => {
    // Prepare: the old column has a default; 1,000 rows written by V1 before the migration.
    await db.query("CREATE TABLE ledger (id bigserial PRIMARY KEY, amount bigint NOT NULL DEFAULT 0, note text)");
    await db.query("INSERT INTO ledger (amount, note) SELECT g, 'before' FROM generate_series(1, 1000) g");
    const plan = rename("0101-rename-ledger-amount", "ledger");
    const runner = new MigrationRunner(db, [plan], { batchSize: 100, throttle: 0 });
    await runner.apply(plan.id, "expand");
    // Act: old and new code write side by side (explicit values, and V1 relying on the default).
    const expected = new Map<string, number>();
    const insert = async (sql: string, value: number) => expected.set((await db.query<{ id: string }>(sql)).rows[0].id, value);
    for (let i = 0; i < 50; i++) {
      await insert(`INSERT INTO ledger (amount_minor, note) VALUES (${5000 + i}, 'v2') RETURNING id`, 5000 + i);
      await insert(`INSERT INTO ledger (amount, note) VALUES (${7000 + i}, 'v1') RETURNING id`, 7000 + i);
      await insert(`INSERT INTO ledger (note) VALUES ('v1 default') RETURNING id`, 0);
    }
    await db.query("UPDATE ledger SET amount_minor = 9999 WHERE id = 3"); // V2 updates an old row
    await db.query("UPDATE ledger SET amount = 8888 WHERE id = 4"); // V1 updates another
    await runner.apply(plan.id, "backfill");
    // Assess: every row, whoever wrote it, has the same value on both sides, and the right one.
    const rows = (await db.query<{ id: string; amount: string; amount_minor: string }>("SELECT id, amount::text, amount_minor::text FROM ledger ORDER BY id")).rows;
    assert.equal(rows.length, 1150);
    const wrong = rows.filter((r) => r.amount !== r.amount_minor);
    assert.deepEqual(wrong, [], "old and new columns agree on every row");
    for (const [id, value] of expected) assert.equal(Number(rows.find((r) => r.id === id)?.amount_minor), value, `row ${id}`);
    assert.equal(rows.find((r) => r.id === "3")?.amount_minor, "9999");
    assert.equal(rows.find((r) => r.id === "4")?.amount_minor, "8888");
    assert.equal(rows.find((r) => r.id === "500")?.amount_minor, "500", "pre-existing rows backfilled");
    // Contract: the new column keeps the old one's default and NOT NULL.
    await runner.apply(plan.id, "contract", [{ service: "ledger", version: "v2", role: "stable", columns: ["ledger.amount_minor"], writesNull: [] }]);
    const fresh = await db.query<{ amount_minor: string }>("INSERT INTO ledger (note) VALUES ('v2 default') RETURNING amount_minor::text");
    assert.equal(fresh.rows[0].amount_minor, "0");
    await assert.rejects(db.query("INSERT INTO ledger (amount_minor) VALUES (NULL)"), /null value in column "amount_minor"/);
  });

  it("keeps the dual-write triggers of two long renames apart (names are unique and at most 63 characters)", async () => {
    const table = `t_${"x".repeat(50)}`;
    await db.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, ${"c".repeat(20)}_amount_one bigint, ${"c".repeat(20)}_amount_two bigint)`);
    const a = rename("0102-long-a", table, `${"c".repeat(20)}_amount_one`, `${"c".repeat(20)}_amount_one_minor`);
    const b = rename("0103-long-b", table, `${"c".repeat(20)}_amount_two`, `${"c".repeat(20)}_amount_two_minor`);
    // Two independent plans (each applied by its own runner, as two teams would).
    await new MigrationRunner(db, [a], { throttle: 0 }).apply(a.id, "expand");
    await new MigrationRunner(db, [b], { throttle: 0 }).apply(b.id, "expand");
    const triggers = (await db.query<{ tgname: string }>(`SELECT tgname FROM pg_trigger WHERE tgrelid = '${table}'::regclass AND NOT tgisinternal ORDER BY tgname`)).rows.map((r) => r.tgname);
    assert.deepEqual(triggers.sort(), [syncTriggerName(table, `${"c".repeat(20)}_amount_one`, `${"c".repeat(20)}_amount_one_minor`), syncTriggerName(table, `${"c".repeat(20)}_amount_two`, `${"c".repeat(20)}_amount_two_minor`)].sort());
    const r = await db.query(`INSERT INTO ${table} (${"c".repeat(20)}_amount_one, ${"c".repeat(20)}_amount_two) VALUES (1, 2) RETURNING ${"c".repeat(20)}_amount_one_minor AS one, ${"c".repeat(20)}_amount_two_minor AS two`);
    assert.deepEqual(r.rows[0], { one: "1", two: "2" }, "both triggers fire");
  });

  it("refuses injected SQL and duplicate plan ids before anything runs (exit 2, database untouched)", async () => {
    await db.query("CREATE TABLE victims (id bigserial PRIMARY KEY, v bigint)");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-plans-"));
    fs.writeFileSync(path.join(dir, "0201-evil.json"), JSON.stringify({ id: "0201-evil", description: "x", operations: [{ op: "addColumn", table: "victims", column: "c", type: "text; DROP TABLE victims" }] }));
    const evil = await runRemedy(["migrate", "apply", "0201-evil", "expand", "--dir", dir]);
    assert.equal(evil.code, 2);
    assert.match(evil.err, /operations\.0\.type: must be a PostgreSQL type/);
    fs.rmSync(path.join(dir, "0201-evil.json"));
    const op = { op: "addColumn", table: "victims", column: "c", type: "text" };
    fs.writeFileSync(path.join(dir, "0202-a.json"), JSON.stringify({ id: "0202-same", description: "a", operations: [op] }));
    fs.writeFileSync(path.join(dir, "0202-b.json"), JSON.stringify({ id: "0202-same", description: "b", operations: [op] }));
    const dupe = await runRemedy(["migrate", "apply", "0202-same", "expand", "--dir", dir]);
    assert.equal(dupe.code, 2);
    assert.match(dupe.err, /0202-b\.json: plan id 0202-same is already used by .*0202-a\.json/);
    const columns = (await db.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = 'victims' ORDER BY 1")).rows.map((r) => r.column_name);
    assert.deepEqual(columns, ["id", "v"], "nothing ran");
  });

  it("backfills sparse integer keys and UUID keys by keyset pagination: one batch per batch-size rows", async () => {
    // Sparse: 1,000 rows spread over ids up to 10^9 (range batches would need 200,000 empty ones).
    await db.query("CREATE TABLE sparse (id bigint PRIMARY KEY, flag text)");
    await db.query("INSERT INTO sparse (id) SELECT g * 1000000 FROM generate_series(1, 1000) g");
    await db.query("CREATE TABLE keyed (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), flag text)");
    await db.query("INSERT INTO keyed (flag) SELECT NULL FROM generate_series(1, 1000)");
    for (const [table, key] of [["sparse", "id"], ["keyed", "id"]]) {
      const plan = parsePlan({ id: `03${table.length}0-fill-${table}`, description: "fill", operations: [{ op: "setNotNull", table, column: "flag", default: "'no'", key }] });
      let batches = 0;
      const runner = new MigrationRunner(db, [plan], { batchSize: 100, throttle: 0, afterBatch: (n) => (batches = n) });
      await runner.apply(plan.id, "expand");
      await runner.apply(plan.id, "backfill");
      assert.equal(batches, 10, `${table}: 1,000 rows in batches of 100`);
      const left = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE flag IS NULL`);
      assert.equal(left.rows[0].n, "0", `${table}: every row filled`);
    }
  });

  it("refuses a batch size of 0 and numbers that are not numbers, naming the option", async () => {
    const plan = rename("0401-x", "ledger");
    assert.throws(() => new MigrationRunner(db, [plan], { batchSize: 0 }), (e: Error) => e instanceof RunnerOptionError && /batchSize must be an integer 1\.\.1000000, got 0/.test(e.message));
    for (const bad of ["0", "abc", "1e3", "-5"]) {
      const r = await runRemedy(["migrate", "apply", "0001-rename-payments-amount", "backfill", `--batch-size=${bad}`]);
      assert.equal(r.code, 2, bad);
      assert.equal(r.err.trim(), `remedy migrate: --batch-size must be an integer 1..1000000, got ${JSON.stringify(bad)}; see \`remedy migrate --help\``);
    }
    const lt = await runRemedy(["migrate", "apply", "0001-rename-payments-amount", "expand", "--lock-timeout", "soon"]);
    assert.equal(lt.code, 2);
    assert.match(lt.err, /--lock-timeout must be an integer 1\.\.600000, got "soon"/);
  });

  it("lets only one runner apply a plan at a time (advisory lock), naming the holder", async () => {
    await db.query("CREATE TABLE locked (id bigserial PRIMARY KEY, amount bigint)");
    const plan = rename("0501-rename-locked", "locked");
    const holder = new Client({ connectionString: pg.url });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock($1, hashtext($2))", [ADVISORY_LOCK_NAMESPACE, plan.id]);
      const pid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      await assert.rejects(new MigrationRunner(db, [plan]).apply(plan.id, "expand"), (e: Error) => {
        assert.ok(e instanceof MigrationLockedError);
        assert.match(e.message, new RegExp(`another remedy migrate is applying 0501-rename-locked \\(advisory lock held by backend pid ${pid}, connected since `));
        return true;
      });
      assert.equal((await db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'locked' AND column_name = 'amount_minor'")).rowCount, 0, "nothing ran");
    } finally {
      await holder.end();
    }
    await new MigrationRunner(db, [plan]).apply(plan.id, "expand");
    assert.equal((await db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'locked' AND column_name = 'amount_minor'")).rowCount, 1, "applies once the lock is free");
  });

  it("fails closed: a contract with no rollback window, or a window it cannot read, is refused", async () => {
    await db.query("CREATE TABLE closed (id bigserial PRIMARY KEY, amount bigint)");
    const plan = rename("0601-rename-closed", "closed");
    const runner = new MigrationRunner(db, [plan], { throttle: 0 });
    await runner.apply(plan.id, "expand");
    await runner.apply(plan.id, "backfill");
    await assert.rejects(runner.apply(plan.id, "contract"), (e: Error) => e instanceof ContractRefusedError && /needs the rollback window/.test(e.message));
    // The CLI, with the shipped plan on the shipped table: no --window, no REMEDY_ROLLBACK_WINDOW.
    await db.query("CREATE TABLE IF NOT EXISTS payments (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)");
    const id = "0001-rename-payments-amount";
    assert.equal((await runRemedy(["migrate", "apply", id, "expand"])).code, 0);
    assert.equal((await runRemedy(["migrate", "apply", id, "backfill"])).code, 0);
    const bare = await runRemedy(["migrate", "apply", id, "contract"]);
    assert.equal(bare.code, 1, bare.err);
    assert.match(bare.err, /needs the rollback window/);
    // A schema-qualified column still counts: public.payments.amount is payments.amount.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "remedy-window-")), "w.json");
    fs.writeFileSync(file, JSON.stringify([{ service: "payments", version: "v2.3.0", role: "previous", columns: ["public.payments.amount"] }]));
    const qualified = await runRemedy(["migrate", "apply", id, "contract", "--window", file]);
    assert.equal(qualified.code, 1);
    assert.match(qualified.err, /drops payments\.amount, still used by payments v2\.3\.0 \(previous\)/);
    fs.writeFileSync(file, JSON.stringify([{ service: "payments", version: "v2.3.0", columns: ["payments.amount"] }]));
    const malformed = await runRemedy(["migrate", "apply", id, "contract", "--window", file]);
    assert.equal(malformed.code, 2);
    assert.match(malformed.err, /the rollback window must be a JSON list of \{ service, version, role, columns \}: \[0\]\.role: /);
    assert.equal((await db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'payments' AND column_name = 'amount'")).rowCount, 1, "the old column is still there");
  });

  it("changes a type only with explicit conversions both ways, and keeps every row exact while old and new code write", async () => {
    // Prepare: numeric(12,2) amounts in major units become bigint minor units.
    await db.query("CREATE TABLE money (id bigserial PRIMARY KEY, amount numeric(12,2) NOT NULL)");
    await db.query("INSERT INTO money (amount) SELECT g / 100.0 FROM generate_series(1, 500) g");
    const implicit = parsePlan({ id: "0701-money", description: "x", operations: [{ op: "renameColumn", table: "money", from: "amount", to: "amount_minor", type: "bigint" }] });
    // Act + Assess: the implicit (lossy) change is refused before anything runs.
    await assert.rejects(new MigrationRunner(db, [implicit]).apply(implicit.id, "expand"), (e: Error) => {
      assert.ok(e instanceof PlanRefusedError, String(e));
      assert.match(e.message, /0701-money operations\[0\]\.type: money\.amount is numeric\(12,2\) but the plan says bigint, which is not a widening that keeps every value; a type change must convert explicitly both ways/);
      assert.match(e.message, /set up \(over amount, e\.g\. "round\(amount\)::bigint"\) and down \(over amount_minor, e\.g\. "amount_minor::numeric\(12,2\)"\)/);
      return true;
    });
    assert.equal((await db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'money' AND column_name = 'amount_minor'")).rowCount, 0, "nothing ran");
    // With conversions: both sides stay exact.
    const plan = parsePlan({
      id: "0701-money",
      description: "x",
      operations: [{ op: "renameColumn", table: "money", from: "amount", to: "amount_minor", type: "bigint", up: "round(amount * 100)::bigint", down: "amount_minor / 100.0", notNull: true }],
    });
    const runner = new MigrationRunner(db, [plan], { batchSize: 100, throttle: 0 });
    await runner.apply(plan.id, "expand");
    const v1 = await db.query<{ id: string }>("INSERT INTO money (amount) VALUES (12.34) RETURNING id");
    const v2 = await db.query<{ id: string }>("INSERT INTO money (amount_minor) VALUES (5678) RETURNING id");
    await db.query("UPDATE money SET amount_minor = 101 WHERE id = 1");
    await runner.apply(plan.id, "backfill");
    const rows = (await db.query<{ id: string; amount: string; amount_minor: string }>("SELECT id, amount::text, amount_minor::text FROM money ORDER BY id")).rows;
    const mismatched = rows.filter((r) => Math.round(Number(r.amount) * 100) !== Number(r.amount_minor));
    assert.deepEqual(mismatched, [], "amount * 100 = amount_minor on every row");
    const byId = Object.fromEntries(rows.map((r) => [r.id, [r.amount, r.amount_minor]]));
    assert.deepEqual(byId[v1.rows[0].id], ["12.34", "1234"]);
    assert.deepEqual(byId[v2.rows[0].id], ["56.78", "5678"]);
    assert.deepEqual(byId["1"], ["1.01", "101"]);
    assert.deepEqual(byId["250"], ["2.50", "250"]);
  });

  it("refuses a rename onto an existing column, or one that would silently drop constraints and indexes", async () => {
    await db.query("CREATE TABLE shop (id bigserial PRIMARY KEY, sku text UNIQUE, price bigint CHECK (price >= 0), amount bigint, legacy bigint)");
    await db.query("CREATE INDEX shop_price_idx ON shop (price)");
    const onto = parsePlan({ id: "0801-shop", description: "x", operations: [{ op: "renameColumn", table: "shop", from: "amount", to: "legacy", type: "bigint" }] });
    await assert.rejects(new MigrationRunner(db, [onto]).apply(onto.id, "expand"), /operations\[0\]\.to: shop\.legacy already exists; renaming onto it would overwrite its data/);
    const constrained = parsePlan({ id: "0801-shop", description: "x", operations: [
      { op: "renameColumn", table: "shop", from: "price", to: "price_minor", type: "bigint" },
      { op: "renameColumn", table: "shop", from: "sku", to: "article", type: "text" },
    ] });
    await assert.rejects(new MigrationRunner(db, [constrained]).apply(constrained.id, "expand"), (e: Error) => {
      assert.ok(e instanceof PlanRefusedError);
      assert.match(e.problems[0], /operations\[0\]: shop\.price has check constraint shop_price_check, index shop_price_idx, which the contract phase would drop with it; recreate them on price_minor .* and list them in operations\[0\]\.replaces/);
      assert.match(e.problems[1], /operations\[1\]: shop\.sku has unique constraint shop_sku_key/);
      return true;
    });
    // An expand an older remedy started (its trigger name, no start marker) may be resumed.
    await db.query("CREATE TABLE resumed (id bigserial PRIMARY KEY, amount bigint, amount_minor bigint)");
    await db.query("CREATE FUNCTION remedy_sync_resumed_amount_amount_minor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$");
    await db.query("CREATE TRIGGER remedy_sync_resumed_amount_amount_minor BEFORE INSERT ON resumed FOR EACH ROW EXECUTE FUNCTION remedy_sync_resumed_amount_amount_minor()");
    const legacy = rename("0802-rename-resumed", "resumed");
    await new MigrationRunner(db, [legacy]).apply(legacy.id, "expand");
    assert.equal((await db.query<{ m: string }>("INSERT INTO resumed (amount) VALUES (3) RETURNING amount_minor::text AS m")).rows[0].m, "3");
    // Acknowledged (to be recreated on the new column): accepted.
    const acknowledged = parsePlan({ id: "0801-shop", description: "x", operations: [{ op: "renameColumn", table: "shop", from: "price", to: "price_minor", type: "bigint", replaces: ["shop_price_check", "shop_price_idx"] }] });
    await new MigrationRunner(db, [acknowledged]).apply(acknowledged.id, "expand");
  });

  it("rebuilds an index its own interrupted concurrent build left INVALID, and never touches an INVALID index remedy did not create", async () => {
    await db.query("CREATE TABLE tags (id bigserial PRIMARY KEY, name text)");
    await db.query("INSERT INTO tags (name) VALUES ('a'), ('a'), ('b')");
    const plan = parsePlan({ id: "0901-tags", description: "x", operations: [{ op: "addIndex", table: "tags", name: "tags_name_key", columns: ["name"], unique: true }] });
    const valid = async () => (await db.query<{ v: boolean }>("SELECT indisvalid AS v FROM pg_index WHERE indexrelid = to_regclass('tags_name_key')")).rows[0]?.v;
    // remedy's own build fails on the duplicates: its INVALID index is dropped and not claimed.
    await assert.rejects(new MigrationRunner(db, [plan]).apply(plan.id, "expand"), /could not create unique index/);
    assert.equal(await valid(), undefined, "the failed build left nothing");
    assert.equal((await db.query("SELECT 1 FROM remedy_owned_objects WHERE name = 'tags_name_key'")).rowCount, 0);
    // Someone else's failed build leaves an INVALID index of that name: refused, left alone.
    await assert.rejects(db.query("CREATE UNIQUE INDEX CONCURRENTLY tags_name_key ON tags (name)"), /could not create unique index/);
    await assert.rejects(new MigrationRunner(db, [plan]).apply(plan.id, "expand"), /operations\[0\]\.name: an index or table named tags_name_key already exists and remedy did not create it/);
    assert.equal(await valid(), false, "not dropped, not rebuilt");
    // A remedy build killed mid-way (recorded as this plan's before it started): rebuilt.
    await db.query("INSERT INTO remedy_owned_objects (kind, table_name, name, plan) VALUES ('index', 'tags', 'tags_name_key', '0901-tags')");
    await db.query("DELETE FROM tags WHERE id = 2");
    await new MigrationRunner(db, [plan]).apply(plan.id, "expand");
    assert.equal(await valid(), true);
    await assert.rejects(db.query("INSERT INTO tags (name) VALUES ('b')"), /duplicate key value violates unique constraint "tags_name_key"/);
  });

  it("adds CHECK and FOREIGN KEY constraints NOT VALID then validates them, relaxes NOT NULL, drops an index concurrently, runs a raw SQL step in its phase", async () => {
    await db.query("CREATE TABLE customers (id bigserial PRIMARY KEY)");
    await db.query("INSERT INTO customers SELECT FROM generate_series(1, 10)");
    await db.query("CREATE TABLE carts (id bigserial PRIMARY KEY, customer_id bigint, total bigint NOT NULL, note text NOT NULL DEFAULT '')");
    await db.query("INSERT INTO carts (customer_id, total) SELECT (g % 10) + 1, g FROM generate_series(1, 200) g");
    await db.query("CREATE INDEX carts_note_idx ON carts (note)");
    const plan = parsePlan({
      id: "1001-carts",
      description: "constraints",
      operations: [
        { op: "addCheck", table: "carts", name: "carts_total_positive", columns: ["total"], condition: "total >= 0 AND total < 1000000" },
        { op: "addForeignKey", table: "carts", name: "carts_customer_fk", columns: ["customer_id"], references: { table: "customers", columns: ["id"] }, onDelete: "cascade" },
        { op: "dropNotNull", table: "carts", column: "note" },
        { op: "dropIndex", name: "carts_note_idx" },
        { op: "sql", description: "comment the table", table: "carts", phase: "expand", up: "COMMENT ON TABLE carts IS 'v2'", down: "COMMENT ON TABLE carts IS NULL" },
      ],
    });
    const runner = new MigrationRunner(db, [plan], { throttle: 0 });
    await runner.apply(plan.id, "expand");
    const validated = async (name: string) => (await db.query<{ v: boolean }>("SELECT convalidated AS v FROM pg_constraint WHERE conname = $1", [name])).rows[0]?.v;
    assert.equal(await validated("carts_total_positive"), false, "NOT VALID: no scan under an exclusive lock");
    assert.equal(await validated("carts_customer_fk"), false);
    await assert.rejects(db.query("INSERT INTO carts (customer_id, total) VALUES (1, -5)"), /violates check constraint "carts_total_positive"/);
    await assert.rejects(db.query("INSERT INTO carts (customer_id, total) VALUES (999, 5)"), /violates foreign key constraint "carts_customer_fk"/);
    await db.query("INSERT INTO carts (customer_id, total, note) VALUES (1, 5, NULL)");
    assert.equal((await db.query<{ c: string }>("SELECT obj_description('carts'::regclass) AS c")).rows[0].c, "v2");
    await runner.apply(plan.id, "backfill");
    assert.equal(await validated("carts_total_positive"), true);
    assert.equal(await validated("carts_customer_fk"), true);
    await runner.apply(plan.id, "contract", []);
    assert.equal((await db.query("SELECT 1 FROM pg_class WHERE relname = 'carts_note_idx'")).rowCount, 0, "index dropped");
    await db.query("DELETE FROM customers WHERE id = 1");
    assert.equal((await db.query("SELECT 1 FROM carts WHERE customer_id = 1")).rowCount, 0, "ON DELETE CASCADE");
  });

  it("aborts an in-progress rename: the new column, trigger and saved default go, the old shape comes back, and it can be run again", async () => {
    await db.query("CREATE TABLE invoices (id bigserial PRIMARY KEY, amount bigint NOT NULL DEFAULT 7)");
    await db.query("INSERT INTO invoices (amount) SELECT g FROM generate_series(1, 300) g");
    const plan = rename("1101-rename-invoices-amount", "invoices");
    const runner = new MigrationRunner(db, [plan], { batchSize: 50, throttle: 0 });
    await runner.apply(plan.id, "expand");
    await runner.apply(plan.id, "backfill");
    const v2 = { service: "invoices", version: "v2", role: "candidate" as const, columns: ["invoices.amount_minor"], writesNull: [] };
    // Refused while v2 (which reads amount_minor) may still run; refused without a window.
    await assert.rejects(runner.abort(plan.id, [v2]), /abort of 1101-rename-invoices-amount drops invoices\.amount_minor, used by invoices v2 \(candidate\); roll those versions back first/);
    await assert.rejects(runner.abort(plan.id, undefined), /needs the rollback window/);
    // Act
    const undone = await runner.abort(plan.id, [{ service: "invoices", version: "v1", role: "stable", columns: ["invoices.amount"] }]);
    // Assess
    assert.deepEqual(undone, [`${plan.id}:backfill`, `${plan.id}:expand`]);
    assert.equal((await db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'invoices' AND column_name = 'amount_minor'")).rowCount, 0);
    assert.equal((await db.query("SELECT 1 FROM pg_trigger WHERE tgrelid = 'invoices'::regclass AND NOT tgisinternal")).rowCount, 0);
    const v1 = await db.query<{ amount: string }>("INSERT INTO invoices DEFAULT VALUES RETURNING amount::text");
    assert.equal(v1.rows[0].amount, "7", "the old column has its default again");
    assert.deepEqual(await runner.status(), { applied: [], pending: [`${plan.id}:expand`, `${plan.id}:backfill`, `${plan.id}:contract`], interrupted: [] });
    // And again, from scratch.
    await runner.apply(plan.id, "expand");
    const both = await db.query<{ amount: string; amount_minor: string }>("INSERT INTO invoices DEFAULT VALUES RETURNING amount::text, amount_minor::text");
    assert.deepEqual(both.rows[0], { amount: "7", amount_minor: "7" });
    // A contract cannot be aborted.
    await runner.apply(plan.id, "backfill");
    await runner.apply(plan.id, "contract", [v2]);
    await assert.rejects(runner.abort(plan.id, []), /1101-rename-invoices-amount:contract is applied: it dropped data and cannot be undone/);
  });

  it("gates dropping a table on every column of it", async () => {
    await db.query("CREATE TABLE legacy_audit (id bigserial PRIMARY KEY, what text)");
    const plan = parsePlan({ id: "1201-drop-audit", description: "x", operations: [{ op: "dropTable", table: "legacy_audit" }] });
    const runner = new MigrationRunner(db, [plan], { throttle: 0 });
    await runner.apply(plan.id, "expand");
    await runner.apply(plan.id, "backfill");
    await assert.rejects(runner.apply(plan.id, "contract", [{ service: "audit", version: "a1", role: "previous", columns: ["legacy_audit.what"] }]), /drops legacy_audit\.\*, still used by audit a1 \(previous\)/);
    await runner.apply(plan.id, "contract", [{ service: "audit", version: "a2", role: "stable", columns: [] }]);
    assert.equal((await db.query("SELECT to_regclass('legacy_audit') AS t")).rows[0].t, null);
  });

  it("remedy migrate check: a version may start only once its columns exist and their backfill is in the ledger", async () => {
    // Prepare: the shipped plan on a fresh table in a database of its own.
    await db.query("CREATE DATABASE gate");
    const url = pg.url.replace(/\/remedy$/, "/gate");
    const gate = new Pool({ connectionString: url });
    process.env.DATABASE_URL = url;
    try {
      await gate.query("CREATE TABLE payments (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)");
      await gate.query("INSERT INTO payments (currency, amount) SELECT 'EUR', g FROM generate_series(1, 100) g");
      // The init container's credential: read-only, with exactly the grants the README documents.
      await gate.query("CREATE ROLE remedy_check LOGIN");
      await gate.query("GRANT CONNECT ON DATABASE gate TO remedy_check");
      await gate.query("GRANT USAGE ON SCHEMA public TO remedy_check");
      const readOnly = url.replace("postgres://remedy@", "postgres://remedy_check@");
      const check = async () => {
        process.env.DATABASE_URL = readOnly;
        try {
          return await runRemedy(["migrate", "check", "--uses", "payments.id,payments.amount_minor"]);
        } finally {
          process.env.DATABASE_URL = url;
        }
      };
      // Act + Assess: before any migration there is no ledger yet; the check creates nothing.
      const before = await check();
      assert.equal(before.code, 1);
      assert.match(before.err, /payments\.amount_minor does not exist in the database; 0001-rename-payments-amount's expand phase adds it and has not run/);
      assert.equal((await gate.query("SELECT to_regclass('public.remedy_migrations') AS t")).rows[0].t, null, "the read-only check created no table");
      assert.equal((await runRemedy(["migrate", "apply", "0001-rename-payments-amount", "expand"])).code, 0);
      await gate.query("GRANT SELECT ON remedy_migrations TO remedy_check");
      const expanded = await check();
      assert.equal(expanded.code, 1);
      assert.match(expanded.err, /payments\.amount_minor exists but 0001-rename-payments-amount's backfill has not completed/);
      assert.equal((await runRemedy(["migrate", "apply", "0001-rename-payments-amount", "backfill"])).code, 0);
      const ready = await check();
      assert.equal(ready.code, 0, ready.err);
      assert.equal(ready.out.trim(), "ready: payments.id, payments.amount_minor");
      assert.equal((await runRemedy(["migrate", "check", "--uses", "payments"])).code, 2);
      // That credential can read the catalog and the ledger, and nothing else: no DDL, no data.
      const ro = new Client({ connectionString: readOnly });
      await ro.connect();
      try {
        await assert.rejects(ro.query("ALTER TABLE payments DROP COLUMN amount"), /must be owner of table payments/);
        await assert.rejects(ro.query("SELECT * FROM payments"), /permission denied for table payments/);
        await assert.rejects(ro.query("CREATE TABLE x (id int)"), /permission denied for schema public/);
      } finally {
        await ro.end();
      }
    } finally {
      process.env.DATABASE_URL = pg.url;
      await gate.end();
    }
  });

  it("contracts atomically under load: new-code inserts never fail, even while a reader holds the table and the contract retries", async () => {
    // Prepare: the old column is NOT NULL; new code inserts only the new one.
    await db.query("CREATE TABLE busy (id bigserial PRIMARY KEY, amount bigint NOT NULL)");
    await db.query("INSERT INTO busy (amount) SELECT g FROM generate_series(1, 1000) g");
    const plan = rename("1301-rename-busy", "busy");
    const runner = new MigrationRunner(db, [plan], { lockTimeoutMs: 100, attempts: 20, throttle: 0 });
    await runner.apply(plan.id, "expand");
    await runner.apply(plan.id, "backfill");
    let stop = false;
    let inserts = 0;
    const failures: string[] = [];
    const writer = (async () => {
      while (!stop) {
        try {
          await db.query("INSERT INTO busy (amount_minor) VALUES ($1)", [inserts + 5000]);
          inserts += 1;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    })();
    // A long reader holds ACCESS SHARE: every contract attempt times out until it commits.
    const reader = new Client({ connectionString: pg.url });
    await reader.connect();
    await reader.query("BEGIN");
    await reader.query("SELECT count(*) FROM busy");
    // Act
    const contract = runner.apply(plan.id, "contract", [{ service: "busy", version: "v2", role: "stable", columns: ["busy.amount_minor"], writesNull: [] }]);
    await new Promise((r) => setTimeout(r, 600));
    const heldColumns = (await db.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'busy' ORDER BY 1")).rows.map((r) => r.column_name as string);
    await reader.query("COMMIT");
    await reader.end();
    await contract;
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await writer;
    // Assess
    assert.deepEqual(heldColumns, ["amount", "amount_minor", "id"], "nothing half-done while the reader held the table");
    assert.deepEqual(failures, [], "no insert failed before, during or after the contract");
    assert.ok(inserts > 50, `the writer kept writing (${inserts} inserts)`);
    const cols = (await db.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'busy' ORDER BY 1")).rows.map((r) => r.column_name as string);
    assert.deepEqual(cols, ["amount_minor", "id"]);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM busy WHERE amount_minor IS NULL")).rows[0].n, 0);
  });

  it("renames a table with old code working through a view of the old name, until the contract drops the view", async () => {
    await db.query("CREATE TABLE orders_v1 (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'new')");
    await db.query("INSERT INTO orders_v1 (status) SELECT 'paid' FROM generate_series(1, 10)");
    const plan = parsePlan({ id: "1401-rename-orders", description: "x", operations: [{ op: "renameTable", from: "orders_v1", to: "purchases" }] });
    const runner = new MigrationRunner(db, [plan], { throttle: 0 });
    await runner.apply(plan.id, "expand");
    // Old code, through the view: insert (table defaults apply), update, read, delete.
    const old = await db.query<{ id: string; status: string }>("INSERT INTO orders_v1 DEFAULT VALUES RETURNING id, status");
    assert.equal(old.rows[0].status, "new");
    await db.query("UPDATE orders_v1 SET status = 'shipped' WHERE id = 1");
    await db.query("DELETE FROM orders_v1 WHERE id = 2");
    // New code sees all of it in the new table, and its writes are visible to old code.
    await db.query("INSERT INTO purchases (status) VALUES ('v2')");
    assert.deepEqual((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM purchases")).rows[0].n, 11);
    assert.equal((await db.query<{ status: string }>("SELECT status FROM purchases WHERE id = 1")).rows[0].status, "shipped");
    assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM orders_v1 WHERE status = 'v2'")).rows[0].n, 1);
    // The gate: old code (orders_v1.*) blocks the contract.
    await runner.apply(plan.id, "backfill");
    await assert.rejects(runner.apply(plan.id, "contract", [{ service: "orders", version: "o1", role: "previous", columns: ["orders_v1.status"] }]), /drops orders_v1\.\*, still used by orders o1 \(previous\)/);
    await runner.apply(plan.id, "contract", [{ service: "orders", version: "o2", role: "stable", columns: ["purchases.status"] }]);
    assert.equal((await db.query("SELECT to_regclass('orders_v1') AS t")).rows[0].t, null);
  });

  it("holds a NOT NULL contract while a version in the window writes NULL there, or does not say; fills later NULLs only with the plan's consent, and counts them", async () => {
    await db.query("CREATE TABLE shipments (id bigserial PRIMARY KEY, carrier text)");
    await db.query("INSERT INTO shipments (carrier) SELECT NULL FROM generate_series(1, 100)");
    const plan = parsePlan({ id: "1501-carrier-not-null", description: "x", operations: [{ op: "setNotNull", table: "shipments", column: "carrier", default: "'unknown'" }] });
    const notes: string[] = [];
    const runner = new MigrationRunner(db, [plan], { throttle: 0, onNote: (m) => notes.push(m) });
    await runner.apply(plan.id, "expand");
    await runner.apply(plan.id, "backfill");
    // V1 writes NULL explicitly (its ORM sends every column); it is still the rollback target.
    await db.query("INSERT INTO shipments (carrier) VALUES (NULL), (NULL), ('dhl')");
    const nullable = async () => (await db.query("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'shipments' AND column_name = 'carrier'")).rows[0].is_nullable;
    const v1 = { service: "shipping", version: "s1", role: "previous" as const, columns: ["shipments.carrier"], writesNull: ["shipments.carrier"] };
    await assert.rejects(runner.apply(plan.id, "contract", [v1]), /makes shipments\.carrier NOT NULL, but shipping s1 \(previous\) may write NULL to it/);
    // Fail closed: a version that uses the column and says nothing about NULLs holds it too.
    const silent = { service: "shipping", version: "s1", role: "previous" as const, columns: ["shipments.carrier"] };
    await assert.rejects(runner.apply(plan.id, "contract", [silent]), (e: Error) => {
      assert.ok(e instanceof ContractRefusedError);
      assert.match(e.message, /makes shipments\.carrier NOT NULL, but shipping s1 \(previous\) uses it without saying whether it writes NULL there; set database\.writesNull for "s1"/);
      return true;
    });
    assert.equal(await nullable(), "YES", "not contracted");
    // s1 has left the window, but its NULLs are still there: refused without consent, with the count.
    const s2 = { service: "shipping", version: "s2", role: "stable" as const, columns: ["shipments.carrier"], writesNull: [] };
    await assert.rejects(runner.apply(plan.id, "contract", [s2]), (e: Error) => {
      assert.ok(e instanceof ContractRefusedError);
      assert.match(e.message, /shipments\.carrier has 2 NULLs written since the backfill \(id 101, 102\); the contract changed nothing\. Set operations\[0\]\.fillNulls in plan 1501-carrier-not-null/);
      return true;
    });
    assert.equal(await nullable(), "YES");
    assert.equal((await db.query("SELECT count(*)::int AS n FROM shipments WHERE carrier IS NULL")).rows[0].n, 2, "nothing rewritten");
    // With consent: filled, counted, contracted.
    const consented = parsePlan({ ...plan, operations: [{ op: "setNotNull", table: "shipments", column: "carrier", default: "'unknown'", fillNulls: "'unassigned'" }] });
    await new MigrationRunner(db, [consented], { throttle: 0, onNote: (m) => notes.push(m) }).apply(plan.id, "contract", [s2]);
    assert.deepEqual(notes, ["1501-carrier-not-null:contract: filled 2 NULLs in shipments.carrier with 'unassigned' (operations[0].fillNulls)"]);
    await assert.rejects(db.query("INSERT INTO shipments (carrier) VALUES (NULL)"), /null value in column "carrier"/);
    const rows = (await db.query<{ id: string; carrier: string }>("SELECT id::text, carrier FROM shipments ORDER BY shipments.id")).rows;
    assert.deepEqual(
      rows.map((r) => `${r.id}:${r.carrier}`),
      [...Array.from({ length: 100 }, (_, i) => `${i + 1}:unknown`), "101:unassigned", "102:unassigned", "103:dhl"],
    );
  });

  it("names the fill value, the constraint and the fix when fillNulls breaks a CHECK; records nothing of it; a corrected rerun fills every NULL, wherever it was written (issue 34, 18)", async () => {
    // Prepare: NULLs after the backfill spread over the key range, and a CHECK the fill value breaks.
    await db.query("CREATE TABLE parcels (id bigserial PRIMARY KEY, weight int CONSTRAINT parcels_weight_positive CHECK (weight > 0))");
    await db.query("INSERT INTO parcels (weight) SELECT 1 FROM generate_series(1, 20)");
    const plan = parsePlan({ id: "1601-weight-not-null", description: "x", operations: [{ op: "setNotNull", table: "parcels", column: "weight", default: "1", fillNulls: "0" }] });
    const runner = new MigrationRunner(db, [plan], { throttle: 0, batchSize: 5 });
    await runner.apply(plan.id, "expand");
    await runner.apply(plan.id, "backfill");
    await db.query("UPDATE parcels SET weight = NULL WHERE id IN (3, 9, 17)");
    const s2 = { service: "shipping", version: "s2", role: "stable" as const, columns: ["parcels.weight"], writesNull: [] };
    // Act: fillNulls "0" breaks parcels_weight_positive.
    await assert.rejects(runner.apply(plan.id, "contract", [s2]), (e: Error) => {
      assert.equal(e.name, "FillValueError");
      assert.match(e.message, /^operations\[0\]\.fillNulls: filling the NULLs of parcels\.weight with 0 fails: .*parcels_weight_positive.* \(constraint parcels_weight_positive\)\. Nothing of this fill is recorded/);
      assert.match(e.message, /set operations\[0\]\.fillNulls to a value parcels_weight_positive accepts, then run the contract again$/);
      return true;
    });
    // Assess: no progress kept, no NOT NULL check left, the column still nullable.
    const checks = async () => (await db.query<{ conname: string }>("SELECT conname FROM pg_constraint WHERE conrelid = 'parcels'::regclass AND contype <> 'n' ORDER BY conname")).rows.map((r) => r.conname);
    assert.deepEqual(await checks(), ["parcels_pkey", "parcels_weight_positive"]);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM remedy_backfill_progress WHERE migration = '1601-weight-not-null:contract'")).rows[0].n, 0, "no progress of the failed fill");
    // A NULL written below where the failed attempt reached, then the corrected value.
    await db.query("UPDATE parcels SET weight = NULL WHERE id = 2");
    const notes: string[] = [];
    const fixed = parsePlan({ ...plan, operations: [{ op: "setNotNull", table: "parcels", column: "weight", default: "1", fillNulls: "7" }] });
    await new MigrationRunner(db, [fixed], { throttle: 0, batchSize: 5, onNote: (m) => notes.push(m) }).apply(plan.id, "contract", [s2]);
    assert.deepEqual(notes, ["1601-weight-not-null:contract: filled 4 NULLs in parcels.weight with 7 (operations[0].fillNulls)"]);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM parcels WHERE weight IS NULL")).rows[0].n, 0);
    await assert.rejects(db.query("INSERT INTO parcels (weight) VALUES (NULL)"), /null value in column "weight"/);
  });
});
