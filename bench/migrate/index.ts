/**
 * bench/migrate: rename a column on a 1,000,000-row table while the code keeps running, the
 * remedy way (expand with lock_timeout, dual-write trigger, batched resumable backfill, atomic
 * contract) versus the naive way (ADD COLUMN + a single UPDATE backfill), on the same throwaway
 * PostgreSQL 15 cluster in the same run.
 * - During expand and backfill, old code (V1: reads and writes `amount`) and new code (V2:
 *   `amount_minor`) run side by side, 2 clients each; during contract only V2 runs (the gate
 *   refuses a contract while V1 may still run).
 * - Every write's value is remembered; at the end every row is compared with what was written
 *   last (or what it held before): wrong values and lost rows are counted, not just errors.
 * Prints workload errors, wrong/lost rows, p99/max latency against the idle p99, the backfill rate
 * and the longest lock wait. Goal: 0 errors, 0 lost or wrong rows, p99 under 2x idle.
 */
import { performance } from "node:perf_hooks";
import { Pool } from "pg";
import { MigrationRunner } from "../../database/runner";
import { parsePlan } from "../../database/plan";
import { startPostgres } from "../../test/helpers/postgres";

const ROWS = Number(process.env.BENCH_MIGRATE_ROWS ?? 1_000_000);
const CLIENTS = 4;
const STATEMENT_TIMEOUT_MS = 2000;

interface WorkloadResult {
  readonly ops: number;
  readonly errors: number;
  readonly p99: number;
  readonly max: number;
}

function percentile(v: number[], p: number): number {
  if (v.length === 0) return 0;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** The value each written row must end with (last write wins; each client owns its ids). */
type Expected = Map<number, number>;

/**
 * Runs the code's queries on `table` from CLIENTS clients until `until` resolves. `versions`
 * gives each client's code version: V1 uses `amount`, V2 `amount_minor`. Client k updates only
 * ids k (mod CLIENTS) and the rows it inserted, so the expected final value of a row is known.
 */
async function workload(pool: Pool, table: string, until: Promise<unknown>, versions: readonly ("v1" | "v2")[], expected?: Expected): Promise<WorkloadResult> {
  let stop = false;
  void until.finally(() => {
    stop = true;
  });
  const latencies: number[] = [];
  let errors = 0;
  let seq = 0;
  const client = async (k: number) => {
    const col = versions[k] === "v1" ? "amount" : "amount_minor";
    const mine: number[] = [];
    while (!stop) {
      const r = Math.random();
      const id = r < 0.95 || mine.length === 0 ? k + CLIENTS * Math.floor((Math.random() * ROWS) / CLIENTS) + 1 : mine[Math.floor(Math.random() * mine.length)];
      const value = 1_000_000_000 + (seq++);
      const t = performance.now();
      try {
        if (r < 0.6) await pool.query(`SELECT ${col} FROM ${table} WHERE id = $1`, [id]);
        else if (r < 0.9) {
          if (id > ROWS || (id - 1) % CLIENTS === k) {
            await pool.query(`UPDATE ${table} SET ${col} = $2 WHERE id = $1`, [id, value]);
            expected?.set(id, value);
          }
        } else {
          const ins = await pool.query<{ id: string }>(`INSERT INTO ${table} (currency, ${col}) VALUES ('EUR', $1) RETURNING id`, [value]);
          const newId = Number(ins.rows[0].id);
          mine.push(newId);
          expected?.set(newId, value);
        }
        latencies.push(performance.now() - t);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
  return { ops: latencies.length, errors, p99: percentile(latencies, 99), max: latencies.reduce((m, v) => (v > m ? v : m), 0) };
}

/**
 * Rows whose `column` differs from what was written last (or, untouched, from its original
 * value, which equals its id), and written rows that are gone.
 */
async function verify(pool: Pool, table: string, column: string, expected: Expected): Promise<{ wrong: number; lost: number; checked: number }> {
  // One connection throughout: the expected values live in a TEMP table, which only its session sees.
  const c = await pool.connect();
  try {
    await c.query("CREATE TEMP TABLE IF NOT EXISTS expected_values (id bigint PRIMARY KEY, v bigint NOT NULL)");
    await c.query("TRUNCATE expected_values");
    const entries = [...expected.entries()];
    for (let i = 0; i < entries.length; i += 10_000) {
      const chunk = entries.slice(i, i + 10_000);
      await c.query("INSERT INTO expected_values (id, v) SELECT * FROM unnest($1::bigint[], $2::bigint[])", [chunk.map((e) => e[0]), chunk.map((e) => e[1])]);
    }
    const wrong = await c.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${table} t LEFT JOIN expected_values e ON e.id = t.id WHERE t.${column} IS DISTINCT FROM coalesce(e.v, CASE WHEN t.id <= $1 THEN t.id END)`,
      [ROWS],
    );
    const lost = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM expected_values e WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.id = e.id)`);
    const checked = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    return { wrong: Number(wrong.rows[0].n), lost: Number(lost.rows[0].n), checked: Number(checked.rows[0].n) };
  } finally {
    c.release();
  }
}

/** Lock waits any backend shows in pg_stat_activity while `until` runs: how many (distinct waits) and the longest (ms). */
async function lockWatch(pool: Pool, until: Promise<unknown>): Promise<{ longest: number; count: number }> {
  let stop = false;
  void until.finally(() => {
    stop = true;
  });
  let longest = 0;
  const seen = new Set<string>();
  while (!stop) {
    const r = await pool.query<{ id: string; ms: number }>(
      "SELECT pid::text || '@' || state_change::text AS id, extract(epoch FROM now() - state_change)::float * 1000 AS ms FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
    );
    for (const w of r.rows) {
      seen.add(w.id);
      longest = Math.max(longest, w.ms);
    }
    await new Promise((r2) => setTimeout(r2, 20));
  }
  return { longest, count: seen.size };
}

export async function run(): Promise<boolean> {
  console.log(`bench/migrate: rename amount -> amount_minor on ${ROWS.toLocaleString("en")} rows; old (V1) and new (V2) code run throughout, ${CLIENTS} clients (statement_timeout ${STATEMENT_TIMEOUT_MS} ms)`);
  const pg = await startPostgres();
  const admin = new Pool({ connectionString: pg.url, max: 4 });
  const app = new Pool({ connectionString: pg.url, max: CLIENTS, options: `-c statement_timeout=${STATEMENT_TIMEOUT_MS}` });
  try {
    for (const t of ["payments", "payments_naive"]) {
      await admin.query(`CREATE TABLE ${t} (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)`);
      await admin.query(`INSERT INTO ${t} (currency, amount) SELECT 'EUR', g FROM generate_series(1, $1) g`, [ROWS]);
      await admin.query(`VACUUM ANALYZE ${t}`);
    }
    const v1Only = Array.from({ length: CLIENTS }, () => "v1" as const);
    const mixed = Array.from({ length: CLIENTS }, (_, k) => (k % 2 === 0 ? ("v1" as const) : ("v2" as const)));
    const v2Only = Array.from({ length: CLIENTS }, () => "v2" as const);
    const expected: Expected = new Map();
    const idle = await workload(app, "payments", new Promise((r) => setTimeout(r, 3000)), v1Only, expected);

    // remedy: expand + backfill with V1 and V2 side by side, then contract with V2.
    const plan = parsePlan({ id: "0001-bench-rename", description: "bench", operations: [{ op: "renameColumn", table: "payments", from: "amount", to: "amount_minor", type: "bigint", notNull: true }] });
    let rate = 0;
    const batchSize = Number(process.env.BENCH_MIGRATE_BATCH ?? 10_000);
    const throttle = Number(process.env.BENCH_MIGRATE_THROTTLE ?? 2);
    console.log(`  remedy backfill: batches of ${batchSize} rows, throttle ${throttle} (pause ${throttle}x each batch's duration), lock_timeout 500 ms`);
    const runner = new MigrationRunner(admin, [plan], { batchSize, throttle, lockTimeoutMs: 500, onProgress: (p) => (rate = p.rowsPerSecond) });
    const t0 = performance.now();
    await runner.apply(plan.id, "expand"); // V2 needs amount_minor to exist before it can run
    const backfillDone = runner.apply(plan.id, "backfill");
    const [remedyLoad, remedyLock] = await Promise.all([workload(app, "payments", backfillDone, mixed, expected), lockWatch(admin, backfillDone), backfillDone]);
    const remedySecs = (performance.now() - t0) / 1000;
    // Before the contract: the old and the new name agree on every row, whichever code wrote it.
    const disagree = Number((await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM payments WHERE amount IS DISTINCT FROM amount_minor")).rows[0].n);
    const oldRows = await verify(admin, "payments", "amount", expected);
    const contractDone = (async () => {
      await new Promise((r) => setTimeout(r, 500)); // V2 traffic already flowing when the contract starts
      await runner.apply(plan.id, "contract", [{ service: "payments", version: "v2", role: "stable", columns: ["payments.amount_minor"], writesNull: [] }]);
      await new Promise((r) => setTimeout(r, 500));
    })();
    const [contractLoad, contractLock] = await Promise.all([workload(app, "payments", contractDone, v2Only, expected), lockWatch(admin, contractDone), contractDone]);
    const remedyRows = await verify(admin, "payments", "amount_minor", expected);

    // naive: ADD COLUMN and one UPDATE for the whole table under the V1 workload.
    const t1 = performance.now();
    const naiveDone = (async () => {
      await admin.query("ALTER TABLE payments_naive ADD COLUMN amount_minor bigint");
      await admin.query("UPDATE payments_naive SET amount_minor = amount");
    })();
    const naiveExpected: Expected = new Map();
    const [naiveLoad, naiveLock] = await Promise.all([workload(app, "payments_naive", naiveDone, v1Only, naiveExpected), lockWatch(admin, naiveDone), naiveDone]);
    const naiveSecs = (performance.now() - t1) / 1000;
    // V1 kept writing amount after the one-off UPDATE copied it: those rows' amount_minor is stale.
    const naiveRows = await verify(admin, "payments_naive", "amount_minor", naiveExpected);

    const row = (name: string, w: WorkloadResult, extra: string) =>
      console.log(`  ${name.padEnd(34)} ops ${String(w.ops).padStart(7)}  errors ${String(w.errors).padStart(4)}  p99 ${w.p99.toFixed(1).padStart(7)} ms  max ${w.max.toFixed(0).padStart(6)} ms  ${extra}`);
    row("idle (V1, no migration)", idle, "");
    const locks = (l: { longest: number; count: number }) => `lock waits ${l.count}, longest ${l.longest.toFixed(0)} ms`;
    row("remedy expand + backfill (V1+V2)", remedyLoad, `${remedySecs.toFixed(1)} s, backfill ${rate.toLocaleString("en")} rows/s, ${locks(remedyLock)}`);
    row("remedy contract (V2)", contractLoad, locks(contractLock));
    row("naive ADD COLUMN + UPDATE (V1)", naiveLoad, `${naiveSecs.toFixed(1)} s, backfill ${Math.round(ROWS / naiveSecs).toLocaleString("en")} rows/s, ${locks(naiveLock)}`);
    console.log(
      `  rows checked after the backfill, both names: ${oldRows.checked.toLocaleString("en")} rows, old name ${oldRows.wrong} wrong and ${oldRows.lost} lost, ${disagree} rows where the names disagree`,
    );
    console.log(`  rows checked at the end: remedy ${remedyRows.checked.toLocaleString("en")} (${expected.size.toLocaleString("en")} written during the run): ${remedyRows.wrong} wrong, ${remedyRows.lost} lost; naive: ${naiveRows.wrong} wrong, ${naiveRows.lost} lost`);
    const p99 = Math.max(remedyLoad.p99, contractLoad.p99);
    const ratio = p99 / Math.max(idle.p99, 0.001);
    const errors = remedyLoad.errors + contractLoad.errors;
    const badRows = remedyRows.wrong + remedyRows.lost + oldRows.wrong + oldRows.lost + disagree;
    const ok = errors === 0 && badRows === 0 && ratio < 2;
    console.log(
      `  remedy: ${errors} errors, ${badRows} wrong or lost rows, p99 ${ratio.toFixed(2)}x idle (goal: 0, 0, < 2x) ${ok ? "PASS" : "MISS"}; naive p99 ${(naiveLoad.p99 / Math.max(idle.p99, 0.001)).toFixed(2)}x idle`,
    );
    return ok;
  } finally {
    await app.end();
    await admin.end();
    await pg.stop();
  }
}
