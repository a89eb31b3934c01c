/**
 * Applies expand/contract plans to PostgreSQL with umzug as the runner: each plan phase is one
 * umzug migration named `<plan id>:<phase>`, recorded in the `remedy_migrations` ledger table,
 * applied strictly in order, one phase per call (each phase is its own deployment).
 *
 * Safety: every DDL statement runs under `lock_timeout` and is retried with backoff, so a busy
 * table makes the migration wait in short slices instead of queueing everyone behind it;
 * backfills run in key-range batches, each its own short transaction that also records progress,
 * so an interrupted backfill resumes where it stopped.
 */
import type { Pool, PoolClient } from "pg";
import { Umzug, type UmzugStorage } from "umzug";
import * as defaults from "../../core/defaults";
import { PHASES, checkContract, phaseSteps, type MigrationPhase, type MigrationPlan, type Step, type VersionUsage } from "../../core/migrations";

export const LEDGER_TABLE = "remedy_migrations";
export const PROGRESS_TABLE = "remedy_backfill_progress";

export interface Progress {
  readonly migration: string;
  readonly step: string;
  readonly done: number;
  readonly total: number;
  readonly rowsPerSecond: number;
}

export interface RunnerOptions {
  /** Longest a DDL statement may wait for its lock before giving up that attempt. Default {@link defaults.DEFAULT_DDL_LOCK_TIMEOUT_MS}. */
  readonly lockTimeoutMs?: number;
  /** Attempts per DDL statement. Default 5. */
  readonly attempts?: number;
  /** Rows per backfill batch (key range width). Default 5,000. */
  readonly batchSize?: number;
  /**
   * Pause between backfill batches, as a fraction of the time the batch took (0.5 = rest half as
   * long as it worked), so the live workload keeps CPU and I/O headroom. Default {@link defaults.DEFAULT_BACKFILL_THROTTLE}.
   */
  readonly throttle?: number;
  /** Called after each backfill batch. */
  readonly onProgress?: (p: Progress) => void;
  /** Called after each completed backfill batch; throwing stops the run (tests simulate crashes). */
  readonly afterBatch?: (batch: number) => void;
}

/** A DDL statement could not get its lock within the timeout on any attempt. */
export class LockTimeoutError extends Error {
  constructor(step: string, table: string, timeoutMs: number, attempts: number) {
    super(`${step}: could not lock ${table} within ${timeoutMs} ms on ${attempts} attempts; something holds a conflicting lock (see pg_locks), try again later`);
    this.name = "LockTimeoutError";
  }
}

/** A phase was refused by the compatibility gate. */
export class ContractRefusedError extends Error {
  constructor(readonly reasons: readonly string[]) {
    super(`contract refused:\n${reasons.map((r) => `  - ${r}`).join("\n")}`);
    this.name = "ContractRefusedError";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class MigrationRunner {
  private readonly lockTimeoutMs: number;
  private readonly attempts: number;
  private readonly batchSize: number;
  private readonly throttle: number;

  constructor(
    private readonly pool: Pool,
    private readonly plans: readonly MigrationPlan[],
    private readonly options: RunnerOptions = {},
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? defaults.DEFAULT_DDL_LOCK_TIMEOUT_MS;
    this.attempts = options.attempts ?? defaults.DEFAULT_DDL_ATTEMPTS;
    this.batchSize = options.batchSize ?? defaults.DEFAULT_BACKFILL_BATCH_SIZE;
    this.throttle = options.throttle ?? defaults.DEFAULT_BACKFILL_THROTTLE;
  }

  private async ensureTables(): Promise<void> {
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (migration text, step text, last_key bigint NOT NULL, rows_done bigint NOT NULL, PRIMARY KEY (migration, step))`,
    );
  }

  private storage(): UmzugStorage {
    return {
      logMigration: async ({ name }) => {
        await this.pool.query(`INSERT INTO ${LEDGER_TABLE} (name) VALUES ($1) ON CONFLICT DO NOTHING`, [name]);
      },
      unlogMigration: async ({ name }) => {
        await this.pool.query(`DELETE FROM ${LEDGER_TABLE} WHERE name = $1`, [name]);
      },
      executed: async () => {
        const r = await this.pool.query<{ name: string }>(`SELECT name FROM ${LEDGER_TABLE}`);
        const done = new Set(r.rows.map((x) => x.name));
        // umzug expects executed names in migration order.
        return this.names().filter((n) => done.has(n));
      },
    };
  }

  private names(): string[] {
    return this.plans.flatMap((p) => PHASES.map((ph) => `${p.id}:${ph}`));
  }

  private umzug(): Umzug {
    return new Umzug({
      migrations: this.plans.flatMap((plan) =>
        PHASES.map((phase) => ({
          name: `${plan.id}:${phase}`,
          up: async () => {
            for (const [i, step] of phaseSteps(plan, phase).entries()) await this.runStep(`${plan.id}:${phase}`, `${i}`, step);
          },
        })),
      ),
      storage: this.storage(),
      logger: undefined,
    });
  }

  /** Applied and pending phases, in order. */
  async status(): Promise<{ applied: string[]; pending: string[] }> {
    await this.ensureTables();
    const u = this.umzug();
    return { applied: (await u.executed()).map((m) => m.name), pending: (await u.pending()).map((m) => m.name) };
  }

  /**
   * Applies one phase of one plan (and refuses to skip an earlier pending phase). A contract
   * phase first asks the gate whether a version in the rollback window still needs the old shape.
   */
  async apply(planId: string, phase: MigrationPhase, rollbackWindow: readonly VersionUsage[] = []): Promise<void> {
    const plan = this.plans.find((p) => p.id === planId);
    if (!plan) throw new Error(`no migration plan ${planId} (known: ${this.plans.map((p) => p.id).join(", ")})`);
    if (phase === "contract") {
      const reasons = checkContract(plan, rollbackWindow);
      if (reasons.length > 0) throw new ContractRefusedError(reasons);
    }
    await this.ensureTables();
    const u = this.umzug();
    const name = `${planId}:${phase}`;
    const pending = (await u.pending()).map((m) => m.name);
    if (!pending.includes(name)) return; // already applied
    const before = pending.slice(0, pending.indexOf(name));
    if (before.length > 0) throw new Error(`apply ${before.join(", ")} before ${name}: phases run in order, each its own deployment`);
    try {
      await u.up({ migrations: [name] });
    } catch (err) {
      // umzug wraps failures in MigrationError; surface ours (LockTimeoutError, ...) as they are.
      const cause = (err as { cause?: unknown }).cause;
      throw cause instanceof Error ? cause : err;
    }
  }

  /** Columns (`table.column`) of the public schema now: the live shape the release gate checks against. */
  async liveColumns(): Promise<Set<string>> {
    const r = await this.pool.query<{ c: string }>(`SELECT table_name || '.' || column_name AS c FROM information_schema.columns WHERE table_schema = 'public'`);
    return new Set(r.rows.map((x) => x.c));
  }

  private async runStep(migration: string, stepId: string, step: Step): Promise<void> {
    if (step.kind === "ddl") return this.ddl(step);
    return this.backfill(migration, stepId, step);
  }

  private async ddl(step: Extract<Step, { kind: "ddl" }>): Promise<void> {
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      const client = await this.pool.connect();
      try {
        if (step.concurrently) {
          await client.query(`SET lock_timeout = ${this.lockTimeoutMs}`);
          await client.query(step.sql);
        } else {
          await client.query("BEGIN");
          await client.query(`SET LOCAL lock_timeout = ${this.lockTimeoutMs}`);
          await client.query(step.sql);
          await client.query("COMMIT");
        }
        return;
      } catch (err) {
        if (!step.concurrently) await client.query("ROLLBACK").catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (step.concurrently && step.cleanup) await client.query(step.cleanup).catch(() => undefined);
        if (code !== "55P03") throw new Error(`${step.description}: ${(err as Error).message}`);
        if (attempt === this.attempts) throw new LockTimeoutError(step.description, step.table, this.lockTimeoutMs, this.attempts);
        await sleep(Math.min(200 * 2 ** (attempt - 1), 5000));
      } finally {
        client.release();
      }
    }
  }

  private async backfill(migration: string, stepId: string, step: Extract<Step, { kind: "backfill" }>): Promise<void> {
    const bounds = await this.pool.query<{ lo: string | null; hi: string | null }>(`SELECT min(${step.key})::text AS lo, max(${step.key})::text AS hi FROM ${step.table}`);
    const { lo, hi } = bounds.rows[0];
    if (lo === null || hi === null) return;
    const saved = await this.pool.query<{ last_key: string; rows_done: string }>(`SELECT last_key::text, rows_done::text FROM ${PROGRESS_TABLE} WHERE migration = $1 AND step = $2`, [migration, stepId]);
    let last = saved.rows[0] ? BigInt(saved.rows[0].last_key) : BigInt(lo) - 1n;
    let done = saved.rows[0] ? Number(saved.rows[0].rows_done) : 0;
    const remaining = Number((await this.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${step.table} WHERE ${step.key} > $1 AND (${step.where})`, [last.toString()])).rows[0].n);
    const total = done + remaining;
    const end = BigInt(hi);
    const resumedAt = done;
    const started = Date.now();
    let batch = 0;
    while (last < end) {
      const next = last + BigInt(this.batchSize);
      const batchStarted = Date.now();
      const client: PoolClient = await this.pool.connect();
      try {
        await client.query("BEGIN");
        await client.query(`SET LOCAL lock_timeout = ${this.lockTimeoutMs}`);
        const r = await client.query(`UPDATE ${step.table} SET ${step.set} WHERE ${step.key} > $1 AND ${step.key} <= $2 AND (${step.where})`, [last.toString(), next.toString()]);
        done += r.rowCount ?? 0;
        await client.query(
          `INSERT INTO ${PROGRESS_TABLE} (migration, step, last_key, rows_done) VALUES ($1, $2, $3, $4)
           ON CONFLICT (migration, step) DO UPDATE SET last_key = EXCLUDED.last_key, rows_done = EXCLUDED.rows_done`,
          [migration, stepId, next.toString(), done],
        );
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        if ((err as { code?: string }).code === "55P03") {
          await sleep(100);
          continue; // retry the same range: row locks held by the workload are short
        }
        throw err;
      } finally {
        client.release();
      }
      last = next;
      batch += 1;
      if (this.throttle > 0 && last < end) await sleep((Date.now() - batchStarted) * this.throttle);
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      this.options.onProgress?.({ migration, step: step.description, done, total: Math.max(total, done), rowsPerSecond: Math.round((done - resumedAt) / seconds) });
      this.options.afterBatch?.(batch);
    }
  }
}
