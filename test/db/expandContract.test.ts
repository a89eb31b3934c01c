/**
 * Expand/contract on a real PostgreSQL cluster started by the suite: a column rename where
 * V1 and V2 of the code both keep working across the expanded schema, the rollback-safety gate,
 * a resumed backfill and the lock-timeout path.
 */
import { strict as assert } from "node:assert";
import { Client, Pool } from "pg";
import { parsePlan, type MigrationPlan, type VersionUsage } from "../../database/plan";
import { checkRelease } from "../../database/gates";
import { ContractRefusedError, LockTimeoutError, MigrationRunner, type Progress } from "../../database/runner";
import { startPostgres, type PostgresServer } from "../helpers/postgres";

const ROWS = 20_000;

function renamePlan(id: string, table: string): MigrationPlan {
  return parsePlan({
    id,
    description: `rename ${table}.amount to amount_minor`,
    operations: [{ op: "renameColumn", table, from: "amount", to: "amount_minor", type: "bigint", notNull: true }],
  });
}

/** The queries each code version runs. */
const v1 = (db: Pool, t: string) => ({
  insert: async (amount: number) => (await db.query<{ id: string }>(`INSERT INTO ${t} (currency, amount) VALUES ('EUR', $1) RETURNING id`, [amount])).rows[0].id,
  read: async (id: string) => Number((await db.query<{ amount: string }>(`SELECT amount FROM ${t} WHERE id = $1`, [id])).rows[0]?.amount),
  update: async (id: string, amount: number) => db.query(`UPDATE ${t} SET amount = $2 WHERE id = $1`, [id, amount]),
});
const v2 = (db: Pool, t: string) => ({
  insert: async (amount: number) => (await db.query<{ id: string }>(`INSERT INTO ${t} (currency, amount_minor) VALUES ('EUR', $1) RETURNING id`, [amount])).rows[0].id,
  read: async (id: string) => Number((await db.query<{ amount_minor: string }>(`SELECT amount_minor FROM ${t} WHERE id = $1`, [id])).rows[0]?.amount_minor),
  update: async (id: string, amount: number) => db.query(`UPDATE ${t} SET amount_minor = $2 WHERE id = $1`, [id, amount]),
});

const usage = (table: string) => ({
  v1: { service: "payments", version: "v1", columns: [`${table}.id`, `${table}.currency`, `${table}.amount`], writesNull: [] },
  v2: { service: "payments", version: "v2", columns: [`${table}.id`, `${table}.currency`, `${table}.amount_minor`], writesNull: [] },
});

describe("migrations on real PostgreSQL: expand/contract", function () {
  this.timeout(60_000);
  let pg: PostgresServer;
  let db: Pool;

  before(async () => {
    pg = await startPostgres();
    db = new Pool({ connectionString: pg.url, max: 10 });
  });
  after(async () => {
    await db?.end();
    await pg?.stop();
  });

  async function createTable(t: string, rows = ROWS): Promise<void> {
    await db.query(`CREATE TABLE ${t} (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)`);
    await db.query(`INSERT INTO ${t} (currency, amount) SELECT 'EUR', g FROM generate_series(1, $1) g`, [rows]);
  }

  it("renames a column with V1 and V2 working side by side, and contracts only once V1 is out of the rollback window", async () => {
    // Prepare
    const t = "payments";
    await createTable(t);
    const plan = renamePlan("0001-rename-payments-amount", t);
    const progress: Progress[] = [];
    const runner = new MigrationRunner(db, [plan], { batchSize: 3000, onProgress: (p) => progress.push(p) });
    const { v1: u1, v2: u2 } = usage(t);

    // Act: expand. V1 keeps working; V2 works too; writes of either are visible to both.
    await runner.apply(plan.id, "expand");
    const [a, b] = [v1(db, t), v2(db, t)];
    const byV1 = await a.insert(111);
    const byV2 = await b.insert(222);
    assert.equal(await b.read(byV1), 111, "V2 sees V1's write");
    assert.equal(await a.read(byV2), 222, "V1 sees V2's write");
    await a.update(byV2, 333);
    assert.equal(await b.read(byV2), 333, "V2 sees V1's update");
    await b.update(byV1, 444);
    assert.equal(await a.read(byV1), 444, "V1 sees V2's update");
    // The release gate: both versions run on the expanded schema.
    assert.deepEqual(checkRelease(await runner.liveColumns(), [{ ...u1, role: "stable" }, { ...u2, role: "candidate" }], [plan]), []);

    // Act: backfill, in batches, with progress.
    await runner.apply(plan.id, "backfill");
    const left = await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE amount_minor IS DISTINCT FROM amount`);
    assert.equal(left.rows[0].n, 0);
    assert.ok(progress.length >= Math.floor(ROWS / 3000), `${progress.length} progress reports`);
    const lastReport = progress[progress.length - 1];
    assert.equal(lastReport.done, lastReport.total);
    assert.ok(lastReport.rowsPerSecond > 0);

    // Act: contract while V1 is the rollback target -> refused, naming the column and the version.
    const window: VersionUsage[] = [{ ...u2, role: "stable" }, { ...u1, role: "previous" }];
    await assert.rejects(runner.apply(plan.id, "contract", window), (err: Error) => {
      assert.ok(err instanceof ContractRefusedError);
      assert.match(err.message, /contract of 0001-rename-payments-amount drops payments\.amount, still used by payments v1 \(previous\)/);
      return true;
    });
    assert.ok((await runner.liveColumns()).has("payments.amount"), "nothing dropped");

    // Act: once V1 has left the rollback window, contract is allowed.
    await runner.apply(plan.id, "contract", [{ ...u2, role: "stable" }]);
    const live = await runner.liveColumns();
    assert.ok(!live.has("payments.amount") && live.has("payments.amount_minor"));
    const id = await b.insert(555);
    assert.equal(await b.read(id), 555);
    await assert.rejects(db.query(`INSERT INTO ${t} (currency) VALUES ('EUR')`), /null value in column "amount_minor"/, "NOT NULL carried over");
    // V1 can no longer be deployed (or rolled back to) on this schema.
    assert.deepEqual(checkRelease(live, [{ ...u1, role: "candidate" }], [plan]), [
      "payments v1 (candidate) uses payments.amount, which the live schema does not have; 0001-rename-payments-amount already removed it; this version can no longer run",
    ]);
    assert.deepEqual(await runner.status(), { applied: ["0001-rename-payments-amount:expand", "0001-rename-payments-amount:backfill", "0001-rename-payments-amount:contract"], pending: [], interrupted: [] });
  });

  it("keeps a legacy lane's reads: the contract waits while the lane runs v1, and runs once the lane is retired (issue 37, 6)", async () => {
    // Prepare: v2 is stable; v1 stays as a declared legacy lane for old clients; expand and backfill done.
    const t = "lane_payments";
    await createTable(t, 500);
    const plan = renamePlan("0002-rename-lane-payments-amount", t);
    const runner = new MigrationRunner(db, [plan]);
    const { v1: u1, v2: u2 } = usage(t);
    await runner.apply(plan.id, "expand");
    await runner.apply(plan.id, "backfill");
    const lane = v1(db, t);
    const byLane = await lane.insert(42);
    // Act: contract while the lane still runs v1 -> refused, naming the lane's version; nothing dropped.
    await assert.rejects(runner.apply(plan.id, "contract", [{ ...u2, role: "stable" }, { ...u1, role: "legacy" }]), (err: Error) => {
      assert.ok(err instanceof ContractRefusedError);
      assert.match(err.message, /contract of 0002-rename-lane-payments-amount drops lane_payments\.amount, still used by payments v1 \(legacy\)/);
      return true;
    });
    assert.equal(await lane.read(byLane), 42, "the lane keeps working");
    // Act: the lane retired (no longer in the window), the contract runs and v2 reads what the lane wrote.
    await runner.apply(plan.id, "contract", [{ ...u2, role: "stable" }]);
    assert.equal(await v2(db, t).read(byLane), 42);
    assert.ok(!(await runner.liveColumns()).has(`${t}.amount`));
  });

  it("adds a column, sets NOT NULL safely, builds an index concurrently and drops a column, phase by phase", async () => {
    await db.query("CREATE TABLE accounts (id bigserial PRIMARY KEY, region text, legacy text)");
    await db.query("INSERT INTO accounts (region, legacy) SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE 'us' END, 'x' FROM generate_series(1, 9000) g");
    const plan = parsePlan({
      id: "0005-accounts-cleanup",
      description: "region NOT NULL, index it, note column, drop legacy",
      operations: [
        { op: "addColumn", table: "accounts", column: "note", type: "text", default: "''" },
        { op: "setNotNull", table: "accounts", column: "region", default: "'eu'" },
        { op: "addIndex", table: "accounts", name: "accounts_region_idx", columns: ["region"] },
        { op: "dropColumn", table: "accounts", column: "legacy" },
      ],
    });
    const runner = new MigrationRunner(db, [plan], { batchSize: 2500 });
    await runner.apply(plan.id, "expand");
    // Old code that inserts without region gets the default once expand ran.
    await db.query("INSERT INTO accounts (legacy) VALUES ('y')");
    const idx = await db.query("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'accounts_region_idx'");
    assert.deepEqual(idx.rows, [{ indisvalid: true }], "index built and valid");
    await runner.apply(plan.id, "backfill");
    assert.equal((await db.query("SELECT count(*)::int AS n FROM accounts WHERE region IS NULL")).rows[0].n, 0);
    await runner.apply(plan.id, "contract", [{ service: "accounts", version: "v3", role: "stable", columns: ["accounts.id", "accounts.region"], writesNull: [] }]);
    const cols = await db.query("SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY column_name");
    assert.deepEqual(cols.rows, [
      { column_name: "id", is_nullable: "NO" },
      { column_name: "note", is_nullable: "YES" },
      { column_name: "region", is_nullable: "NO" },
    ]);
    assert.deepEqual((await db.query("SELECT conname FROM pg_constraint WHERE conname LIKE 'accounts_region%' AND contype <> 'n'")).rows, [], "helper check constraint removed");
  });

  it("refuses to skip a phase: each is its own deployment, in order", async () => {
    await createTable("skips", 10);
    const plan = renamePlan("0002-rename-skips-amount", "skips");
    const runner = new MigrationRunner(db, [plan]);
    await assert.rejects(runner.apply(plan.id, "backfill"), /apply 0002-rename-skips-amount:expand before 0002-rename-skips-amount:backfill/);
  });

  it("resumes an interrupted backfill where it stopped, without redoing committed batches", async () => {
    const t = "resumable";
    await createTable(t);
    const plan = renamePlan("0003-rename-resumable-amount", t);
    const batchesRun: number[] = [];
    let crash = true;
    const runner = new MigrationRunner(db, [plan], {
      batchSize: 2000,
      afterBatch: (n) => {
        batchesRun.push(n);
        if (crash && n === 3) throw new Error("simulated crash after batch 3");
      },
    });
    await runner.apply(plan.id, "expand");
    await assert.rejects(runner.apply(plan.id, "backfill"), /simulated crash after batch 3/);
    const partial = (await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE amount_minor IS NOT NULL`)).rows[0].n as number;
    assert.equal(partial, 6000, "three committed batches");
    assert.deepEqual((await runner.status()).pending.slice(0, 1), ["0003-rename-resumable-amount:backfill"]);
    crash = false;
    batchesRun.length = 0;
    await runner.apply(plan.id, "backfill");
    assert.equal(batchesRun.length, ROWS / 2000 - 3, "only the remaining batches ran");
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE amount_minor IS DISTINCT FROM amount`)).rows[0].n, 0);
  });

  it("gives up on a held lock after the timeout without blocking readers longer than that, and succeeds once it is free", async () => {
    const t = "locked";
    await createTable(t, 100);
    const plan = parsePlan({ id: "0004-add-locked-note", description: "add note", operations: [{ op: "addColumn", table: t, column: "note", type: "text" }] });
    const holder = new Client(pg.url);
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT count(*) FROM ${t}`); // ACCESS SHARE until the transaction ends
      const runner = new MigrationRunner(db, [plan], { lockTimeoutMs: 150, attempts: 2 });
      // A reader arriving while the ALTER waits queues behind it, but only until lock_timeout.
      const alter = runner.apply(plan.id, "expand");
      await new Promise((r) => setTimeout(r, 40));
      const t0 = Date.now();
      await db.query(`SELECT count(*) FROM ${t}`);
      const readerWaitMs = Date.now() - t0;
      await assert.rejects(alter, (err: Error) => {
        assert.ok(err instanceof LockTimeoutError, String(err));
        assert.match(err.message, /^add locked\.note: could not lock locked: waited \d+ ms over 2 attempts; blocked by pid \d+ \(idle in transaction/);
        return true;
      });
      assert.ok(readerWaitMs < 150 + 250, `reader waited ${readerWaitMs} ms`);
      // Retry while the lock is released part-way: later attempts succeed.
      const retrying = new MigrationRunner(db, [plan], { lockTimeoutMs: 150, attempts: 6 }).apply(plan.id, "expand");
      setTimeout(() => void holder.query("COMMIT"), 300);
      await retrying;
      assert.ok((await runner.liveColumns()).has("locked.note"));
    } finally {
      await holder.end();
    }
  });
});
