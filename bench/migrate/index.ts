/**
 * bench/migrate: rename a column on a 1,000,000-row table while a concurrent V1 workload (reads,
 * updates and inserts by primary key, 4 clients) runs, the remedy way (expand with lock_timeout,
 * dual-write trigger, batched resumable backfill) versus the naive way (ADD COLUMN + a single
 * UPDATE backfill), on the same throwaway PostgreSQL 15 cluster in the same run. Prints the
 * workload's p99/max latency and errors in each, against its idle p99, the backfill rate and the
 * longest lock wait seen in pg_stat_activity. Goal: zero workload errors and p99 during the
 * migration under 2x the idle p99.
 */
import { performance } from "node:perf_hooks";
import { Pool } from "pg";
import { MigrationRunner } from "../../cli/migrate/runner";
import { parsePlan } from "../../core/migrations";
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

/** Runs V1's queries on `table` from CLIENTS clients until `until` resolves. */
async function workload(pool: Pool, table: string, until: Promise<unknown>): Promise<WorkloadResult> {
  let stop = false;
  void until.finally(() => {
    stop = true;
  });
  const latencies: number[] = [];
  let errors = 0;
  const client = async () => {
    while (!stop) {
      const id = 1 + Math.floor(Math.random() * ROWS);
      const r = Math.random();
      const t = performance.now();
      try {
        if (r < 0.6) await pool.query(`SELECT amount FROM ${table} WHERE id = $1`, [id]);
        else if (r < 0.9) await pool.query(`UPDATE ${table} SET amount = amount + 1 WHERE id = $1`, [id]);
        else await pool.query(`INSERT INTO ${table} (currency, amount) VALUES ('EUR', $1)`, [id]);
        latencies.push(performance.now() - t);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return { ops: latencies.length, errors, p99: percentile(latencies, 99), max: latencies.reduce((m, v) => (v > m ? v : m), 0) };
}

/** Longest lock wait (ms) any backend shows in pg_stat_activity while `until` runs. */
async function lockWatch(pool: Pool, until: Promise<unknown>): Promise<number> {
  let stop = false;
  void until.finally(() => {
    stop = true;
  });
  let longest = 0;
  while (!stop) {
    const r = await pool.query<{ ms: number | null }>(
      "SELECT max(extract(epoch FROM now() - state_change) * 1000)::float AS ms FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
    );
    longest = Math.max(longest, r.rows[0].ms ?? 0);
    await new Promise((r2) => setTimeout(r2, 20));
  }
  return longest;
}

export async function run(): Promise<boolean> {
  console.log(`bench/migrate: rename amount -> amount_minor on ${ROWS.toLocaleString("en")} rows under a ${CLIENTS}-client V1 workload (statement_timeout ${STATEMENT_TIMEOUT_MS} ms)`);
  const pg = await startPostgres();
  const admin = new Pool({ connectionString: pg.url, max: 4 });
  const app = new Pool({ connectionString: pg.url, max: CLIENTS, options: `-c statement_timeout=${STATEMENT_TIMEOUT_MS}` });
  try {
    for (const t of ["payments", "payments_naive"]) {
      await admin.query(`CREATE TABLE ${t} (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)`);
      await admin.query(`INSERT INTO ${t} (currency, amount) SELECT 'EUR', g FROM generate_series(1, $1) g`, [ROWS]);
      await admin.query(`VACUUM ANALYZE ${t}`);
    }
    const idle = await workload(app, "payments", new Promise((r) => setTimeout(r, 3000)));

    // remedy: expand + batched backfill under the workload.
    const plan = parsePlan({ id: "0001-bench-rename", description: "bench", operations: [{ op: "renameColumn", table: "payments", from: "amount", to: "amount_minor", type: "bigint" }] });
    let rate = 0;
    const batchSize = Number(process.env.BENCH_MIGRATE_BATCH ?? 10_000);
    const throttle = Number(process.env.BENCH_MIGRATE_THROTTLE ?? 2);
    console.log(`  remedy backfill: batches of ${batchSize} rows, throttle ${throttle} (pause ${throttle}x each batch's duration), lock_timeout 500 ms`);
    const runner = new MigrationRunner(admin, [plan], { batchSize, throttle, lockTimeoutMs: 500, onProgress: (p) => (rate = p.rowsPerSecond) });
    const t0 = performance.now();
    const remedyDone = (async () => {
      await runner.apply(plan.id, "expand");
      await runner.apply(plan.id, "backfill");
    })();
    const [remedyLoad, remedyLock] = await Promise.all([workload(app, "payments", remedyDone), lockWatch(admin, remedyDone), remedyDone]);
    const remedySecs = (performance.now() - t0) / 1000;

    // naive: ADD COLUMN and one UPDATE for the whole table under the same workload.
    const t1 = performance.now();
    const naiveDone = (async () => {
      await admin.query("ALTER TABLE payments_naive ADD COLUMN amount_minor bigint");
      await admin.query("UPDATE payments_naive SET amount_minor = amount");
    })();
    const [naiveLoad, naiveLock] = await Promise.all([workload(app, "payments_naive", naiveDone), lockWatch(admin, naiveDone), naiveDone]);
    const naiveSecs = (performance.now() - t1) / 1000;

    const row = (name: string, w: WorkloadResult, extra: string) =>
      console.log(`  ${name.padEnd(30)} ops ${String(w.ops).padStart(7)}  errors ${String(w.errors).padStart(4)}  p99 ${w.p99.toFixed(1).padStart(7)} ms  max ${w.max.toFixed(0).padStart(6)} ms  ${extra}`);
    row("idle (no migration)", idle, "");
    row("remedy expand + backfill", remedyLoad, `${remedySecs.toFixed(1)} s, backfill ${rate.toLocaleString("en")} rows/s, longest lock wait ${remedyLock.toFixed(0)} ms`);
    row("naive ADD COLUMN + UPDATE", naiveLoad, `${naiveSecs.toFixed(1)} s, backfill ${Math.round(ROWS / naiveSecs).toLocaleString("en")} rows/s, longest lock wait ${naiveLock.toFixed(0)} ms`);
    const ratio = remedyLoad.p99 / Math.max(idle.p99, 0.001);
    const ok = remedyLoad.errors === 0 && ratio < 2;
    console.log(`  remedy: ${remedyLoad.errors} errors, p99 ${ratio.toFixed(2)}x idle (goal: 0 errors, < 2x) ${ok ? "PASS" : "MISS"}; naive p99 ${(naiveLoad.p99 / Math.max(idle.p99, 0.001)).toFixed(2)}x idle`);
    return ok;
  } finally {
    await app.end();
    await admin.end();
    await pg.stop();
  }
}
