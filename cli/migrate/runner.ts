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
import { PHASES, checkAbort, checkContract, checkUsesAgainstLedger, legacyTriggerName, phaseSteps, q, syncTriggerName, undoPhaseSteps, type MigrationPhase, type MigrationPlan, type Step, type VersionUsage } from "../../core/migrations";

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

/** Another runner holds the plan's advisory lock: two runners never apply phases of one plan at once. */
export class MigrationLockedError extends Error {
  constructor(planId: string, holder: string) {
    super(`another remedy migrate is applying ${planId} (advisory lock held by ${holder}); wait for it to finish, or check pg_stat_activity`);
    this.name = "MigrationLockedError";
  }
}

/** A runner option out of range, named with what it must be. */
export class RunnerOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunnerOptionError";
  }
}

/** Advisory lock namespace of remedy migrations (first key of pg_try_advisory_lock(int, int)). */
export const ADVISORY_LOCK_NAMESPACE = 0x72656d; // "rem"

/** The plan does not fit the live database (checked before anything runs); each problem names the operation and the fix. */
export class PlanRefusedError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the plan does not fit the database; nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "PlanRefusedError";
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
    const int = (name: string, v: number, min: number, max: number) => {
      if (!Number.isInteger(v) || v < min || v > max) throw new RunnerOptionError(`${name} must be an integer ${min}..${max}, got ${String(v)}`);
    };
    int("lockTimeoutMs", this.lockTimeoutMs, 1, 600_000);
    int("attempts", this.attempts, 1, 100);
    int("batchSize", this.batchSize, 1, 1_000_000);
    if (!Number.isFinite(this.throttle) || this.throttle < 0 || this.throttle > 100) throw new RunnerOptionError(`throttle must be a number 0..100, got ${String(this.throttle)}`);
  }

  private async ensureTables(): Promise<void> {
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (migration text, step text, last_key text NOT NULL, rows_done bigint NOT NULL, PRIMARY KEY (migration, step))`,
    );
    // Earlier versions kept integer keys only; keys are any ordered type now (text, uuid, ...).
    await this.pool.query(
      `DO $$ BEGIN IF (SELECT data_type FROM information_schema.columns WHERE table_name = '${PROGRESS_TABLE}' AND column_name = 'last_key') = 'bigint' THEN ALTER TABLE ${PROGRESS_TABLE} ALTER COLUMN last_key TYPE text USING last_key::text; END IF; END $$`,
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
  async apply(planId: string, phase: MigrationPhase, rollbackWindow?: readonly VersionUsage[]): Promise<void> {
    const plan = this.plans.find((p) => p.id === planId);
    if (!plan) throw new Error(`no migration plan ${planId} (known: ${this.plans.map((p) => p.id).join(", ")})`);
    if (phase === "contract") {
      // Fail closed: without the rollback window nobody can say the old shape is unused.
      if (rollbackWindow === undefined) {
        throw new ContractRefusedError([
          `contract of ${planId} needs the rollback window (every version of every service that may run: stable, candidate, previous) to know nothing still uses what it drops; give it with --window <file> or REMEDY_ROLLBACK_WINDOW (the migration Job sets it)`,
        ]);
      }
      const reasons = checkContract(plan, rollbackWindow);
      if (reasons.length > 0) throw new ContractRefusedError(reasons);
    }
    await this.ensureTables();
    await this.withPlanLock(planId, () => this.applyLocked(planId, phase));
  }

  /**
   * Undoes the applied expand (and backfill) of a plan whose contract has not run: its
   * columns, triggers, indexes and constraints go, the ledger forgets the phases, and the old
   * shape is as before. Refused while a version in the rollback window uses what it would drop.
   */
  async abort(planId: string, rollbackWindow: readonly VersionUsage[] | undefined): Promise<string[]> {
    const plan = this.plans.find((p) => p.id === planId);
    if (!plan) throw new Error(`no migration plan ${planId} (known: ${this.plans.map((p) => p.id).join(", ")})`);
    if (rollbackWindow === undefined) {
      throw new ContractRefusedError([`abort of ${planId} needs the rollback window to know no version uses the columns it would drop; give it with --window <file> or REMEDY_ROLLBACK_WINDOW`]);
    }
    const reasons = checkAbort(plan, rollbackWindow);
    if (reasons.length > 0) throw new ContractRefusedError(reasons);
    await this.ensureTables();
    return this.withPlanLock(planId, async () => {
      const applied = new Set((await this.pool.query<{ name: string }>(`SELECT name FROM ${LEDGER_TABLE} WHERE name LIKE $1`, [`${planId}:%`])).rows.map((r) => r.name));
      if (applied.has(`${planId}:contract`)) {
        throw new ContractRefusedError([`${planId}:contract is applied: it dropped data and cannot be undone; write a new plan that adds back what you need`]);
      }
      const undone: string[] = [];
      for (const phase of ["backfill", "expand"] as const) {
        const name = `${planId}:${phase}`;
        const started = (await this.pool.query(`SELECT 1 FROM ${PROGRESS_TABLE} WHERE migration = $1`, [name])).rowCount ?? 0;
        if (!applied.has(name) && started === 0) continue;
        for (const step of undoPhaseSteps(plan, phase)) if (step.kind === "ddl") await this.ddl(step);
        await this.pool.query(`DELETE FROM ${LEDGER_TABLE} WHERE name = $1`, [name]);
        await this.pool.query(`DELETE FROM ${PROGRESS_TABLE} WHERE migration = $1`, [name]);
        undone.push(name);
      }
      return undone;
    });
  }

  /** Runs `fn` holding the plan's advisory lock; another holder makes it fail at once. */
  private async withPlanLock<T>(planId: string, fn: () => Promise<T>): Promise<T> {
    // One runner per plan at a time: the lock lives as long as this session.
    const lock = await this.pool.connect();
    try {
      const got = await lock.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok", [ADVISORY_LOCK_NAMESPACE, planId]);
      if (!got.rows[0]?.ok) {
        const holder = await lock.query<{ pid: number; since: string }>(
          "SELECT a.pid, a.backend_start::text AS since FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = hashtext($2)::oid LIMIT 1",
          [ADVISORY_LOCK_NAMESPACE, planId],
        );
        const h = holder.rows[0];
        throw new MigrationLockedError(planId, h ? `backend pid ${h.pid}, connected since ${h.since}` : "another session");
      }
      try {
        return await fn();
      } finally {
        await lock.query("SELECT pg_advisory_unlock($1, hashtext($2))", [ADVISORY_LOCK_NAMESPACE, planId]).catch(() => undefined);
      }
    } finally {
      lock.release();
    }
  }

  private async applyLocked(planId: string, phase: MigrationPhase): Promise<void> {
    const u = this.umzug();
    const name = `${planId}:${phase}`;
    const pending = (await u.pending()).map((m) => m.name);
    if (!pending.includes(name)) return; // already applied
    const before = pending.slice(0, pending.indexOf(name));
    if (before.length > 0) throw new Error(`apply ${before.join(", ")} before ${name}: phases run in order, each its own deployment`);
    const plan = this.plans.find((p) => p.id === planId) as MigrationPlan;
    if (phase === "expand") {
      // A retried expand (an earlier attempt stopped halfway) finds its own new columns: only a
      // first attempt checks that they do not exist yet.
      const started = (await this.pool.query(`SELECT 1 FROM ${PROGRESS_TABLE} WHERE migration = $1 AND step = '(started)'`, [name])).rowCount === 1;
      await this.precheck(plan, started);
      await this.pool.query(`INSERT INTO ${PROGRESS_TABLE} (migration, step, last_key, rows_done) VALUES ($1, '(started)', '', 0) ON CONFLICT DO NOTHING`, [name]);
    }
    try {
      await u.up({ migrations: [name] });
    } catch (err) {
      // umzug wraps failures in MigrationError; surface ours (LockTimeoutError, ...) as they are.
      const cause = (err as { cause?: unknown }).cause;
      throw cause instanceof Error ? cause : err;
    }
  }

  /**
   * Whether a version using `columns` may start now, from the live schema and the ledger (not
   * from what config claims is applied). Empty = yes.
   */
  async checkUses(columns: readonly string[]): Promise<string[]> {
    // Read only: it runs in every app pod with a read-only credential (CONNECT, USAGE on the
    // schema, SELECT on the ledger), so it creates nothing; no ledger yet means nothing applied.
    let ledger = new Set<string>();
    try {
      ledger = new Set((await this.pool.query<{ name: string }>(`SELECT name FROM ${LEDGER_TABLE}`)).rows.map((r) => r.name));
    } catch (err) {
      if ((err as { code?: string }).code !== "42P01") throw err; // undefined_table
    }
    return checkUsesAgainstLedger(columns, await this.liveColumns(), ledger, this.plans);
  }

  /**
   * Columns (`table.column`) of the public schema now: the live shape the release gate checks
   * against. Read from pg_catalog, which every role may read: information_schema.columns shows
   * only the columns the current role has a privilege on, and the read-only check role has none.
   */
  async liveColumns(): Promise<Set<string>> {
    const r = await this.pool.query<{ c: string }>(
      `SELECT c.relname || '.' || a.attname AS c FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'f') AND a.attnum > 0 AND NOT a.attisdropped`,
    );
    return new Set(r.rows.map((x) => x.c));
  }

  private async runStep(migration: string, stepId: string, step: Step): Promise<void> {
    if (step.kind === "ddl") return this.ddl(step);
    return this.backfill(migration, stepId, step);
  }

  /** `format_type` of a column, undefined when it does not exist. */
  private async columnType(table: string, column: string): Promise<string | undefined> {
    const r = await this.pool.query<{ t: string }>(
      "SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
      [q(table), column],
    );
    return r.rows[0]?.t;
  }

  /** A declared type as PostgreSQL spells it (`int` -> `integer`, `numeric(12, 2)` -> `numeric(12,2)`). */
  private async canonicalType(type: string): Promise<string> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(`CREATE TEMP TABLE remedy_type_probe (c ${type}) ON COMMIT DROP`);
      const r = await client.query<{ t: string }>("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'remedy_type_probe'::regclass AND attname = 'c'");
      return r.rows[0].t;
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
    }
  }

  /** Constraints and indexes that involve a column (a rename would drop them with it). */
  private async attachedTo(table: string, column: string): Promise<{ name: string; kind: string }[]> {
    const r = await this.pool.query<{ name: string; kind: string }>(
      `SELECT c.conname AS name, CASE c.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint' WHEN 'c' THEN 'check constraint' WHEN 'f' THEN 'foreign key' WHEN 'x' THEN 'exclusion constraint' ELSE c.contype::text END AS kind
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.conrelid = to_regclass($1) AND a.attname = $2
       UNION
       SELECT c.conname, 'foreign key (referenced)' FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = ANY (c.confkey)
        WHERE c.confrelid = to_regclass($1) AND a.attname = $2
       UNION
       SELECT ic.relname, 'index' FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = to_regclass($1) AND a.attname = $2 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
       ORDER BY 1`,
      [q(table), column],
    );
    return r.rows.filter((x) => !x.name.startsWith("remedy_"));
  }

  /**
   * Checks an expand phase against the live database before anything runs: a rename needs its
   * source column, must not land on an existing column, needs conversions for a type change and
   * must not silently drop constraints or indexes; an added column must not exist with another type.
   * @throws PlanRefusedError listing every problem.
   */
  private async precheck(plan: MigrationPlan, resumed: boolean): Promise<void> {
    const problems: string[] = [];
    for (const [i, o] of plan.operations.entries()) {
      const at = `${plan.id} operations[${i}]`;
      if (o.op === "renameColumn") {
        const from = await this.columnType(o.table, o.from);
        const to = await this.columnType(o.table, o.to);
        if (from === undefined) {
          problems.push(`${at}.from: ${o.table}.${o.from} does not exist`);
          continue;
        }
        // A dual-write trigger of this rename (also under the name older remedy versions used)
        // means an earlier attempt got that far: its new column is ours.
        const triggered =
          to !== undefined &&
          ((await this.pool.query("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = ANY ($2)", [q(o.table), [syncTriggerName(o.table, o.from, o.to), legacyTriggerName(o.table, o.from, o.to)]])).rowCount ?? 0) > 0;
        if (to !== undefined && !resumed && !triggered) problems.push(`${at}.to: ${o.table}.${o.to} already exists; renaming onto it would overwrite its data. Pick another name, or drop it first`);
        const declared = await this.canonicalType(o.type);
        if (declared !== from && o.up === undefined) {
          problems.push(
            `${at}.type: ${o.table}.${o.from} is ${from} but the plan says ${declared}; a type change must convert explicitly both ways while old and new code run: set up (over ${o.from}, e.g. "round(${o.from} * 100)::bigint") and down (over ${o.to}, e.g. "${o.to} / 100.0"), or keep type ${from}`,
          );
        }
        const attached = (await this.attachedTo(o.table, o.from)).filter((a) => !(o.replaces ?? []).includes(a.name));
        if (attached.length > 0) {
          problems.push(
            `${at}: ${o.table}.${o.from} has ${attached.map((a) => `${a.kind} ${a.name}`).join(", ")}, which the contract phase would drop with it; recreate them on ${o.to} (addIndex, addCheck, addForeignKey in a plan) and list them in operations[${i}].replaces, or drop them first`,
          );
        }
      }
      if (o.op === "addColumn") {
        const existing = await this.columnType(o.table, o.column);
        if (existing !== undefined && existing !== (await this.canonicalType(o.type))) {
          problems.push(`${at}.type: ${o.table}.${o.column} already exists as ${existing}, not ${o.type}; it would be kept as it is. Use another name, or change the plan's type to ${existing}`);
        }
      }
    }
    if (problems.length > 0) throw new PlanRefusedError(problems);
  }

  /** true/false for a valid/invalid index of that name, undefined when there is none. */
  private async indexValid(client: PoolClient, name: string): Promise<boolean | undefined> {
    const r = await client.query<{ valid: boolean }>(
      "SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND n.nspname = current_schema()",
      [name],
    );
    return r.rows[0]?.valid;
  }

  private async ddl(step: Extract<Step, { kind: "ddl" }>): Promise<void> {
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      const client = await this.pool.connect();
      try {
        if (step.concurrently) {
          await client.query(`SET lock_timeout = ${this.lockTimeoutMs}`);
          // An interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index that IF NOT EXISTS
          // would skip: drop it and build again.
          if (step.index && (await this.indexValid(client, step.index)) === false && step.cleanup) await client.query(step.cleanup);
          await client.query(step.sql);
          if (step.index && (await this.indexValid(client, step.index)) !== true) {
            throw new Error(`index ${step.index} is not valid after building it; see pg_index.indisvalid`);
          }
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

  /**
   * Keyset pagination over any ordered key (integers, text, UUIDs): each batch is the next
   * `batchSize` keys after the last one done, so sparse ids cost no empty batches. One short
   * transaction per batch updates the rows and records the last key, so a stopped backfill
   * resumes exactly where it was.
   */
  private async backfill(migration: string, stepId: string, step: Extract<Step, { kind: "backfill" }>): Promise<void> {
    const [t, k] = [q(step.table), q(step.key)];
    const saved = await this.pool.query<{ last_key: string; rows_done: string }>(`SELECT last_key, rows_done::text FROM ${PROGRESS_TABLE} WHERE migration = $1 AND step = $2`, [migration, stepId]);
    let last: string | undefined = saved.rows[0]?.last_key;
    let done = saved.rows[0] ? Number(saved.rows[0].rows_done) : 0;
    const after = (alias = "") => (last === undefined ? "TRUE" : `${alias}${k} > $1`);
    const params = () => (last === undefined ? [] : [last]);
    // Rows inserted from now on are dual-written (the expand phase installed the trigger): the
    // backfill stops at the highest key there is now instead of chasing the workload's inserts.
    const top = (await this.pool.query<{ hi: string | null }>(`SELECT ${k}::text AS hi FROM ${t} ORDER BY ${k} DESC LIMIT 1`)).rows[0]?.hi ?? null;
    if (top === null) return;
    const remaining = Number((await this.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t} WHERE ${after()} AND (${step.where})`, params())).rows[0].n);
    const total = done + remaining;
    const resumedAt = done;
    const started = Date.now();
    let batch = 0;
    for (;;) {
      const batchStarted = Date.now();
      const client: PoolClient = await this.pool.connect();
      let upTo: string | null = null;
      try {
        await client.query("BEGIN");
        await client.query(`SET LOCAL lock_timeout = ${this.lockTimeoutMs}`);
        const limitParam: number = last === undefined ? 1 : 2;
        const edge: { rows: { hi: string | null }[] } = await client.query<{ hi: string | null }>(
          // The batch's last key (at most the top key); any ordered type (there is no max(uuid)).
          `SELECT ${k}::text AS hi FROM (SELECT ${k} FROM ${t} WHERE ${after()} AND ${k} <= $${limitParam + 1} ORDER BY ${k} LIMIT $${limitParam}) b ORDER BY ${k} DESC LIMIT 1`,
          [...params(), this.batchSize, top],
        );
        upTo = edge.rows[0]?.hi ?? null;
        if (upTo === null) {
          await client.query("COMMIT");
          break;
        }
        const r = await client.query(`UPDATE ${t} SET ${step.set} WHERE ${after()} AND ${k} <= $${limitParam} AND (${step.where})`, [...params(), upTo]);
        done += r.rowCount ?? 0;
        await client.query(
          `INSERT INTO ${PROGRESS_TABLE} (migration, step, last_key, rows_done) VALUES ($1, $2, $3, $4)
           ON CONFLICT (migration, step) DO UPDATE SET last_key = EXCLUDED.last_key, rows_done = EXCLUDED.rows_done`,
          [migration, stepId, upTo, done],
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
      last = upTo;
      batch += 1;
      if (this.throttle > 0) await sleep((Date.now() - batchStarted) * this.throttle);
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      this.options.onProgress?.({ migration, step: step.description, done, total: Math.max(total, done), rowsPerSecond: Math.round((done - resumedAt) / seconds) });
      this.options.afterBatch?.(batch);
    }
  }
}
