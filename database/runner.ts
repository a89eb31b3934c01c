/**
 * Applies expand/contract plans to PostgreSQL with umzug as the runner: each plan phase is one
 * umzug migration named `<plan id>:<phase>`, recorded in the `remedy_migrations` ledger table,
 * applied strictly in order, one phase per call (each phase is its own deployment).
 *
 * Safety: every DDL statement runs under `lock_timeout` and is retried with backoff, so a busy
 * table makes the migration wait in short slices instead of queueing everyone behind it;
 * backfills run in key-range batches, each its own short transaction that also records progress,
 * so an interrupted backfill resumes where it stopped. A step's total lock wait is bounded
 * (`maxLockWaitMs`), and the error names the blocking sessions. What a plan creates is recorded
 * in `remedy_owned_objects` in the creating transaction: abort and cleanup drop only that, and an
 * existing object of a plan's name is refused. Abort records each undo step, so it resumes.
 *
 * Why this file is long: the engine is one class around one ledger and one connection pool; its
 * steps share the lock-wait, ownership and progress bookkeeping, so splitting the class would
 * only pass that state around. Errors live in errors.ts, SQL text in sqlText.ts, gates in gates.ts.
 */
import type { Pool, PoolClient } from "pg";
import { Umzug, type UmzugStorage } from "umzug";
import * as defaults from "../core/defaults";
import {
  PHASES,
  isLosslessWidening,
  legacyTriggerName,
  notNullCheckName,
  phaseSteps,
  q,
  suggestConversion,
  syncTriggerName,
  undoPhaseSteps,
  type MigrationPhase,
  type MigrationPlan,
  type OwnedObject,
  type Step,
} from "./plan";
import { checkAbort, checkContract, checkUsesAgainstLedger, type VersionUsage } from "./gates";

import { ADVISORY_LOCK_NAMESPACE, ContractRefusedError, FillValueError, LockTimeoutError, MigrationLockedError, PlanRefusedError, RunnerOptionError, ViolatingRowsError, type Blocker } from "./errors";

export { ADVISORY_LOCK_NAMESPACE, ContractRefusedError, FillValueError, LockTimeoutError, MigrationLockedError, PlanRefusedError, RunnerOptionError, ViolatingRowsError, type Blocker };

export const LEDGER_TABLE = "remedy_migrations";
export const PROGRESS_TABLE = "remedy_backfill_progress";
/**
 * Which plan created which column, constraint or index: abort and failure cleanup drop only
 * what this ledger says remedy created, never an object that was there before.
 */
export const OWNED_TABLE = "remedy_owned_objects";

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
  /**
   * Longest a step waits for locks in total (a DDL statement over its attempts, one backfill
   * batch over its retries) before it stops and names the blocking sessions. Default
   * {@link defaults.DEFAULT_MAX_LOCK_WAIT_MS}.
   */
  readonly maxLockWaitMs?: number;
  /** Told what a run did that the operator should know (NULLs filled, objects left in place). */
  readonly onNote?: (message: string) => void;
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

type Queryable = Pool | PoolClient;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class MigrationRunner {
  private readonly lockTimeoutMs: number;
  private readonly attempts: number;
  private readonly batchSize: number;
  private readonly throttle: number;
  private readonly maxLockWaitMs: number;

  constructor(
    private readonly pool: Pool,
    private readonly plans: readonly MigrationPlan[],
    private readonly options: RunnerOptions = {},
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? defaults.DEFAULT_DDL_LOCK_TIMEOUT_MS;
    this.attempts = options.attempts ?? defaults.DEFAULT_DDL_ATTEMPTS;
    this.batchSize = options.batchSize ?? defaults.DEFAULT_BACKFILL_BATCH_SIZE;
    this.throttle = options.throttle ?? defaults.DEFAULT_BACKFILL_THROTTLE;
    this.maxLockWaitMs = options.maxLockWaitMs ?? defaults.DEFAULT_MAX_LOCK_WAIT_MS;
    const int = (name: string, v: number, min: number, max: number) => {
      if (!Number.isInteger(v) || v < min || v > max) throw new RunnerOptionError(`${name} must be an integer ${min}..${max}, got ${String(v)}`);
    };
    int("lockTimeoutMs", this.lockTimeoutMs, 1, 600_000);
    int("attempts", this.attempts, 1, 100);
    int("batchSize", this.batchSize, 1, 1_000_000);
    int("maxLockWaitMs", this.maxLockWaitMs, 1, 86_400_000);
    if (!Number.isFinite(this.throttle) || this.throttle < 0 || this.throttle > 100) throw new RunnerOptionError(`throttle must be a number 0..100, got ${String(this.throttle)}`);
  }

  private note(message: string): void {
    this.options.onNote?.(message);
  }

  private async ensureTables(): Promise<void> {
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${OWNED_TABLE} (kind text NOT NULL, table_name text NOT NULL, name text NOT NULL, plan text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (kind, table_name, name))`,
    );
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
            for (const [i, step] of phaseSteps(plan, phase).entries()) await this.runStep(plan.id, `${plan.id}:${phase}`, `${i}`, step);
          },
        })),
      ),
      storage: this.storage(),
      logger: undefined,
    });
  }

  /**
   * Applied and pending phases, in order, and phases a run left half done (`interrupted`: an
   * expand or backfill that stopped, an abort that stopped between undo steps), each with what
   * completes it.
   */
  async status(): Promise<{ applied: string[]; pending: string[]; interrupted: string[] }> {
    await this.ensureTables();
    const u = this.umzug();
    const applied = (await u.executed()).map((m) => m.name);
    const progress = await this.pool.query<{ migration: string; step: string; rows_done: string }>(`SELECT migration, step, rows_done::text FROM ${PROGRESS_TABLE} ORDER BY migration, step`);
    const interrupted: string[] = [];
    for (const name of this.names().filter((n) => !applied.includes(n))) {
      const rows = progress.rows.filter((r) => r.migration === name);
      if (rows.length === 0) continue;
      const [planId, phase] = name.split(":") as [string, MigrationPhase];
      const plan = this.plans.find((p) => p.id === planId) as MigrationPlan;
      if (rows.some((r) => r.step === "(aborting)")) {
        const done = rows.filter((r) => r.step.startsWith("undo:")).length;
        interrupted.push(`${name}: abort stopped after ${done} of ${undoPhaseSteps(plan, phase).length} undo steps; run remedy migrate abort ${planId} again (it resumes), or apply ${phase} again`);
      } else if (phase === "expand") {
        interrupted.push(`${name}: started but not finished; run remedy migrate apply ${planId} expand again (it resumes), or abort ${planId}`);
      } else {
        const rowsDone = rows.reduce((n, r) => n + Number(r.rows_done), 0);
        interrupted.push(`${name}: in progress or interrupted after ${rowsDone} rows; run remedy migrate apply ${planId} ${phase} again (it resumes where it stopped)`);
      }
    }
    return { applied, pending: (await u.pending()).map((m) => m.name), interrupted };
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
      // A rename an earlier remedy (no ownership ledger) expanded: its trigger marks the column as ours.
      for (const o of plan.operations) if (o.op === "renameColumn") await this.claimRenamed(planId, o);
      const undone: string[] = [];
      for (const phase of ["backfill", "expand"] as const) {
        const name = `${planId}:${phase}`;
        const progress = new Set((await this.pool.query<{ step: string }>(`SELECT step FROM ${PROGRESS_TABLE} WHERE migration = $1`, [name])).rows.map((r) => r.step));
        if (!applied.has(name) && progress.size === 0) continue;
        // The ledger stops claiming the phase before anything is undone, and a marker says an
        // abort is under way; each undo step records itself in its own transaction, so a rerun
        // resumes after the last one done and the ledger never claims a half-undone phase.
        await this.transaction(async (c) => {
          await c.query(`DELETE FROM ${LEDGER_TABLE} WHERE name = $1`, [name]);
          await c.query(`INSERT INTO ${PROGRESS_TABLE} (migration, step, last_key, rows_done) VALUES ($1, '(aborting)', '', 0) ON CONFLICT DO NOTHING`, [name]);
        });
        const steps = undoPhaseSteps(plan, phase);
        for (const [i, step] of steps.entries()) {
          if (progress.has(`undo:${i}`) || step.kind !== "ddl") continue;
          try {
            await this.ddl(step, planId, { migration: name, step: `undo:${i}` });
          } catch (err) {
            if (err instanceof LockTimeoutError || err instanceof PlanRefusedError || err instanceof ViolatingRowsError) throw err;
            throw new Error(
              `${(err as Error).message}\nabort of ${name} stopped after ${i} of ${steps.length} undo steps (the ledger no longer lists ${name}; remedy migrate status shows it as interrupted): ` +
                "fix the cause and run remedy migrate abort again (done steps are not repeated), or apply the phase again",
            );
          }
        }
        await this.pool.query(`DELETE FROM ${PROGRESS_TABLE} WHERE migration = $1`, [name]);
        undone.push(name);
      }
      return undone;
    });
  }

  /** Runs `fn` in one transaction on one connection (standard_conforming_strings on). */
  private async transaction<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL standard_conforming_strings = on");
      const r = await fn(client);
      await client.query("COMMIT");
      return r;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
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
      // A retried expand (an earlier attempt stopped halfway) finds its own new columns and
      // constraints: the ownership ledger tells them from objects remedy did not create.
      await this.precheck(plan);
      await this.pool.query(`INSERT INTO ${PROGRESS_TABLE} (migration, step, last_key, rows_done) VALUES ($1, '(started)', '', 0) ON CONFLICT DO NOTHING`, [name]);
    }
    if (phase === "contract") await this.precheckNulls(plan);
    // Applying a phase again after an abort stopped halfway completes it: the abort's markers go.
    await this.pool.query(`DELETE FROM ${PROGRESS_TABLE} WHERE migration = $1 AND (step = '(aborting)' OR step LIKE 'undo:%')`, [name]);
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

  private async runStep(planId: string, migration: string, stepId: string, step: Step): Promise<void> {
    if (step.kind === "ddl") return this.ddl(step, planId);
    if (step.kind === "fillNulls") return this.fillNulls(planId, migration, stepId, step);
    await this.backfill(migration, stepId, step);
  }

  /** `format_type` of a column, undefined when it does not exist. */
  private async columnType(table: string, column: string, c: Queryable = this.pool): Promise<string | undefined> {
    const r = await c.query<{ t: string }>(
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

  /**
   * Constraints and indexes that involve a column (a rename would drop them with it). Not its NOT
   * NULL: PostgreSQL 18 catalogues that in pg_constraint too (contype 'n', "Store column NOT NULL
   * specifications in pg_constraint", 18 release notes), but nullability is the plan's own column
   * property, carried by the expand and contract steps.
   */
  private async attachedTo(table: string, column: string): Promise<{ name: string; kind: string }[]> {
    const r = await this.pool.query<{ name: string; kind: string }>(
      `SELECT c.conname AS name, CASE c.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint' WHEN 'c' THEN 'check constraint' WHEN 'f' THEN 'foreign key' WHEN 'x' THEN 'exclusion constraint' ELSE c.contype::text END AS kind
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.conrelid = to_regclass($1) AND a.attname = $2 AND c.contype <> 'n'
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
  private async precheck(plan: MigrationPlan): Promise<void> {
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
        if (to !== undefined && !(await this.claimRenamed(plan.id, o))) {
          problems.push(`${at}.to: ${o.table}.${o.to} already exists; renaming onto it would overwrite its data. Pick another name, or drop it first`);
        }
        const declared = await this.canonicalType(o.type);
        if (declared !== from && o.up === undefined && !isLosslessWidening(from, declared)) {
          const example = suggestConversion(from, declared, o.from, o.to);
          problems.push(
            `${at}.type: ${o.table}.${o.from} is ${from} but the plan says ${declared}, which is not a widening that keeps every value; a type change must convert explicitly both ways while old and new code run: ` +
              `set up (over ${o.from}, e.g. ${JSON.stringify(example.up)}) and down (over ${o.to}, e.g. ${JSON.stringify(example.down)}), or keep type ${from}`,
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
      if (o.op === "addCheck" || o.op === "addForeignKey" || o.op === "addIndex") {
        const obj: OwnedObject = { kind: o.op === "addIndex" ? "index" : "constraint", table: o.table, name: o.name };
        const owner = await this.owner(this.pool, obj);
        if (owner !== plan.id && (await this.exists(this.pool, obj))) {
          problems.push(
            `${at}.name: ${o.op === "addIndex" ? `an index or table named ${o.name}` : `constraint ${o.name} on ${o.table}`} already exists and remedy did not create it${owner ? ` (plan ${owner} did)` : ""}; ` +
              "remedy will not replace, weaken or drop it: pick another name, or drop it yourself first if it is yours to drop",
          );
        }
      }
    }
    // Rows that break a new constraint would make its validation in the backfill fail: refused
    // now, unless a sql step of the backfill phase may fix them first.
    if (!plan.operations.some((o) => o.op === "sql" && o.phase === "backfill")) {
      for (const step of phaseSteps(plan, "backfill")) {
        const problem = step.kind === "ddl" ? await this.violation(plan.id, step, true) : undefined;
        if (problem) problems.push(`${problem}; nothing was changed`);
      }
    }
    if (problems.length > 0) throw new PlanRefusedError(problems);
  }

  /**
   * Whether a rename's new column is this plan's: recorded in the ownership ledger, or carrying
   * the rename's dual-write trigger (under the names older remedy versions used too), which means
   * an earlier remedy, which kept no ownership ledger, created it; then it is recorded now.
   */
  private async claimRenamed(planId: string, o: Extract<MigrationPlan["operations"][number], { op: "renameColumn" }>): Promise<boolean> {
    if ((await this.owner(this.pool, { kind: "column", table: o.table, name: o.to })) === planId) return true;
    const triggered =
      ((await this.pool.query("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = ANY ($2)", [q(o.table), [syncTriggerName(o.table, o.from, o.to), legacyTriggerName(o.table, o.from, o.to)]])).rowCount ?? 0) > 0;
    if (triggered) await this.pool.query(`INSERT INTO ${OWNED_TABLE} (kind, table_name, name, plan) VALUES ('column', $1, $2, $3) ON CONFLICT DO NOTHING`, [o.table, o.to, planId]);
    return triggered;
  }

  /**
   * The rows that would make a validation step fail, as a problem naming how many and a sample;
   * undefined when there are none. At expand (`early`), a column or table an earlier operation
   * of the plan creates is not there yet: nothing to count, the backfill counts again.
   */
  private async violation(planId: string, step: Extract<Step, { kind: "ddl" }>, early = false): Promise<string | undefined> {
    const v = step.violations;
    if (!v) return undefined;
    let n: number;
    try {
      n = Number((await this.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM (${v.rows}) v`)).rows[0].n);
    } catch (err) {
      if (early && ["42703", "42P01"].includes((err as { code?: string }).code ?? "")) return undefined;
      throw err;
    }
    if (n === 0) return undefined;
    const sample = (await this.pool.query<{ s: string }>(`SELECT v::text AS s FROM (${v.rows}) v LIMIT 3`)).rows.map((r) => r.s);
    return (
      `${planId}: ${n} row${n === 1 ? "" : "s"} of ${step.table} ${v.what} (${v.shown}: ${sample.join(", ")}${n > 3 ? ", ..." : ""}), so ${v.name} could never be validated; ` +
      "fix or delete those rows first (or add a sql step in the backfill phase that does)"
    );
  }

  /** Refuses a contract that would meet NULLs nobody consented to fill, before anything runs. */
  private async precheckNulls(plan: MigrationPlan): Promise<void> {
    const reasons: string[] = [];
    for (const step of phaseSteps(plan, "contract")) {
      if (step.kind !== "fillNulls" || step.value !== undefined) continue;
      const found = await this.nulls(step);
      if (found.count > 0) reasons.push(this.nullsMessage(plan.id, step, found));
    }
    if (reasons.length > 0) throw new ContractRefusedError(reasons);
  }

  private async nulls(step: Extract<Step, { kind: "fillNulls" }>): Promise<{ count: number; keys: string[] }> {
    const [t, c, k] = [q(step.table), q(step.column), q(step.key)];
    const count = Number((await this.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t} WHERE ${c} IS NULL`)).rows[0].n);
    const keys = count === 0 ? [] : (await this.pool.query<{ k: string }>(`SELECT ${k}::text AS k FROM ${t} WHERE ${c} IS NULL ORDER BY ${k} LIMIT 3`)).rows.map((r) => r.k);
    return { count, keys };
  }

  private nullsMessage(planId: string, step: Extract<Step, { kind: "fillNulls" }>, found: { count: number; keys: string[] }): string {
    return (
      `${step.table}.${step.column} has ${found.count} NULL${found.count === 1 ? "" : "s"} written since the backfill (${step.key} ${found.keys.join(", ")}${found.count > 3 ? ", ..." : ""}); the contract changed nothing. ` +
      `Set ${step.field} in plan ${planId} to the value they should get (the contract reports how many it filled), or fix those rows yourself, and run the contract again`
    );
  }

  /** NULLs in a column about to become NOT NULL: none, refused, or filled with the plan's consent and reported. */
  private async fillNulls(planId: string, migration: string, stepId: string, step: Extract<Step, { kind: "fillNulls" }>): Promise<void> {
    // The step before this one added the NOT VALID check: undone when this step cannot finish,
    // so a refused or failed contract leaves the table as it found it.
    const dropCheck = () => this.pool.query(`ALTER TABLE ${q(step.table)} DROP CONSTRAINT IF EXISTS ${q(notNullCheckName(step.table, step.column))}`).catch(() => undefined);
    const forget = () => this.pool.query(`DELETE FROM ${PROGRESS_TABLE} WHERE migration = $1 AND step = $2`, [migration, stepId]);
    const found = await this.nulls(step);
    if (found.count === 0) return;
    if (step.value === undefined) {
      await dropCheck();
      throw new ContractRefusedError([this.nullsMessage(planId, step, found)]);
    }
    // Every NULL, from the first key: never from where an earlier, failed attempt stopped (a NULL
    // written below that key since would be skipped and the validation would fail on it).
    await forget();
    let filled: number;
    try {
      filled = await this.backfill(migration, stepId, { kind: "backfill", table: step.table, key: step.key, description: `fill NULL ${step.table}.${step.column}`, set: `${q(step.column)} = ${step.value}`, where: `${q(step.column)} IS NULL` });
    } catch (err) {
      await forget();
      await dropCheck();
      const e = err as { code?: string; constraint?: string; message: string };
      // Integrity constraint violations (23) and data exceptions (22): the value, not the database.
      if (e.code && /^2[23]/.test(e.code)) {
        throw new FillValueError(
          `${step.field}: filling the NULLs of ${step.table}.${step.column} with ${step.value} fails: ${e.message}${e.constraint ? ` (constraint ${e.constraint})` : ""}. ` +
            `Nothing of this fill is recorded (rows it filled before the failing batch keep the value) and the NOT NULL check was removed again; ` +
            `set ${step.field} to a value ${e.constraint ? `${e.constraint} accepts` : `of the column's type that its constraints accept`}, then run the contract again`,
        );
      }
      throw err;
    }
    this.note(`${migration}: filled ${filled} NULL${filled === 1 ? "" : "s"} in ${step.table}.${step.column} with ${step.value} (${step.field})`);
  }

  /** One attempt's lock_timeout: the configured one, but never past what the total wait since `since` has left (at least 1 ms). */
  private attemptTimeoutMs(since: number): number {
    return Math.max(1, Math.min(this.lockTimeoutMs, this.maxLockWaitMs - (Date.now() - since)));
  }

  /** Whether an object of that kind and name exists now. */
  private async exists(c: Queryable, o: OwnedObject): Promise<boolean> {
    if (o.kind === "column") return (await this.columnType(o.table, o.name, c)) !== undefined;
    const r =
      o.kind === "constraint"
        ? await c.query("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2", [q(o.table), o.name])
        : await c.query("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND n.nspname = current_schema()", [o.name]);
    return (r.rowCount ?? 0) > 0;
  }

  /** The plan that created the object, per the ownership ledger; undefined when remedy did not. */
  private async owner(c: Queryable, o: OwnedObject): Promise<string | undefined> {
    const r = await c.query<{ plan: string }>(`SELECT plan FROM ${OWNED_TABLE} WHERE kind = $1 AND table_name = $2 AND name = $3`, [o.kind, o.table, o.name]);
    return r.rows[0]?.plan;
  }

  /** true/false for a valid/invalid index of that name, undefined when there is none. */
  private async indexValid(client: PoolClient, name: string): Promise<boolean | undefined> {
    const r = await client.query<{ valid: boolean }>(
      "SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND n.nspname = current_schema()",
      [name],
    );
    return r.rows[0]?.valid;
  }

  /**
   * Runs `run` on `client`; meanwhile another connection records who blocks that backend
   * (pg_blocking_pids), so a lock timeout can name the session, its state and query.
   */
  private async watched<T>(client: PoolClient, blockers: Map<number, Blocker>, run: () => Promise<T>): Promise<T> {
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    let settled = false;
    // The poller's naps end as soon as `run` does: every attempt is watched, and a batch must not
    // wait out a nap after its work is done.
    let wake = () => undefined as void;
    const nap = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    const poll = (async () => {
      while (!settled) {
        await nap(Math.max(10, Math.min(100, Math.floor(this.lockTimeoutMs / 4))));
        if (settled) break;
        const r = await this.pool
          .query<Blocker>("SELECT pid, coalesce(state, '') AS state, to_char(xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS since, coalesce(query, '') AS query FROM pg_stat_activity WHERE pid = ANY (pg_blocking_pids($1))", [pid])
          .catch(() => undefined);
        if (r && r.rows.length > 0) {
          blockers.clear();
          for (const b of r.rows) blockers.set(b.pid, b);
        }
      }
    })();
    try {
      return await run();
    } finally {
      settled = true;
      wake();
      await poll;
    }
  }

  /**
   * One DDL step: in a transaction under lock_timeout (or outside one, concurrently), retried on
   * lock timeouts with backoff until its attempts or the total lock wait run out. Ownership:
   * objects it creates are recorded in the same transaction; an object of that name remedy did
   * not create refuses the step; an undo step drops only what this plan created. `record` marks
   * the step done in the progress table in the same transaction (abort resumes after it).
   */
  private async ddl(step: Extract<Step, { kind: "ddl" }>, planId: string, record?: { migration: string; step: string }): Promise<void> {
    const markDone = async (c: Queryable) => {
      if (record) await c.query(`INSERT INTO ${PROGRESS_TABLE} (migration, step, last_key, rows_done) VALUES ($1, $2, '', 0) ON CONFLICT DO NOTHING`, [record.migration, record.step]);
    };
    const describe = (o: OwnedObject) => `${o.kind} ${o.kind === "index" ? o.name : `${o.table}.${o.name}`}`;
    if (step.dropsOwned) {
      const o = step.dropsOwned;
      const owner = await this.owner(this.pool, o);
      if (owner !== planId) {
        if (await this.exists(this.pool, o)) this.note(`left ${describe(o)} in place: remedy did not create it${owner ? ` (plan ${owner} did)` : ""}`);
        await markDone(this.pool);
        return;
      }
    }
    /** Objects of `creates` absent now (to record as this plan's), or "done" when an earlier attempt made them all. */
    const ownership = async (c: Queryable): Promise<OwnedObject[] | "done"> => {
      const state = await Promise.all((step.creates ?? []).map(async (o) => ({ o, exists: await this.exists(c, o), owner: await this.owner(c, o) })));
      const foreign = state.filter((x) => x.exists && x.owner !== planId && !x.o.adopt);
      if (foreign.length > 0) {
        throw new PlanRefusedError(
          foreign.map(
            (x) =>
              `${step.description}: ${describe(x.o)} already exists and remedy did not create it${x.owner ? ` (plan ${x.owner} did)` : ""}; remedy will not replace, weaken or drop it. Pick another name, or drop it yourself if it is yours to drop`,
          ),
        );
      }
      // A constraint this plan already added is done (ADD CONSTRAINT cannot be repeated); column
      // and index steps are written to be rerun (IF NOT EXISTS, CREATE OR REPLACE).
      if (state.length > 0 && state.every((x) => x.exists && x.owner === planId && x.o.kind === "constraint")) return "done";
      return state.filter((x) => !x.exists).map((x) => x.o);
    };
    const own = (c: Queryable, objects: readonly OwnedObject[]) =>
      Promise.all(objects.map((o) => c.query(`INSERT INTO ${OWNED_TABLE} (kind, table_name, name, plan) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [o.kind, o.table, o.name, planId])));
    const disown = (c: Queryable, o: OwnedObject) => c.query(`DELETE FROM ${OWNED_TABLE} WHERE kind = $1 AND table_name = $2 AND name = $3 AND plan = $4`, [o.kind, o.table, o.name, planId]);

    const violated = await this.violation(planId, step);
    if (violated) throw new ViolatingRowsError(`${violated}; the constraint stays NOT VALID (new writes are checked) and the phase resumes at this step`);
    const startedAt = Date.now();
    const blockers = new Map<number, Blocker>();
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const run = async () => {
        if (step.concurrently) {
          // Each attempt waits for its lock no longer than the total wait has left: a total under
          // one attempt's lock_timeout (--max-lock-wait 1000 with 2 s attempts) waits the total.
          await client.query(`SET lock_timeout = ${this.attemptTimeoutMs(startedAt)}`);
          await client.query("SET standard_conforming_strings = on");
          const fresh = await ownership(client);
          if (fresh !== "done") await own(client, fresh); // before the build: a failed build's cleanup may then drop it
          // An interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index that IF NOT EXISTS
          // would skip: drop it (it is this plan's, recorded above) and build again.
          if (step.index && (await this.indexValid(client, step.index)) === false && step.cleanup) await client.query(step.cleanup);
          await client.query(step.sql);
          if (step.index && (await this.indexValid(client, step.index)) !== true) {
            throw new Error(`index ${step.index} is not valid after building it; see pg_index.indisvalid`);
          }
          if (step.dropsOwned) await disown(client, step.dropsOwned);
          await markDone(client);
        } else {
          await client.query("BEGIN");
          await client.query(`SET LOCAL lock_timeout = ${this.attemptTimeoutMs(startedAt)}`);
          await client.query("SET LOCAL standard_conforming_strings = on");
          const fresh = await ownership(client);
          if (fresh !== "done") {
            await client.query(step.sql);
            await own(client, fresh);
          }
          if (step.dropsOwned) await disown(client, step.dropsOwned);
          await markDone(client);
          await client.query("COMMIT");
        }
      };
      try {
        // Every attempt notes who holds the lock it waits for: with one attempt, the error still names them.
        await this.watched(client, blockers, run);
        return;
      } catch (err) {
        if (!step.concurrently) await client.query("ROLLBACK").catch(() => undefined);
        const code = (err as { code?: string }).code;
        const built = step.creates?.[0];
        if (step.concurrently && step.cleanup && built && (await this.owner(client, built).catch(() => undefined)) === planId) {
          // A failed build of ours leaves an INVALID index: dropped, and no longer claimed.
          await client.query(step.cleanup).catch(() => undefined);
          if (!(await this.exists(client, built).catch(() => true))) await disown(client, built).catch(() => undefined);
        }
        if (err instanceof PlanRefusedError) throw err;
        if (code !== "55P03") throw new Error(`${step.description}: ${(err as Error).message}`);
        const backoff = Math.min(200 * 2 ** (attempt - 1), 5000);
        const waited = Date.now() - startedAt;
        if (attempt >= this.attempts || waited + backoff >= this.maxLockWaitMs) {
          throw new LockTimeoutError(step.description, step.table, waited, attempt, [...blockers.values()], "nothing of this step was applied; the phase starts again at this step");
        }
        await sleep(backoff);
      } finally {
        client.release();
      }
    }
  }

  /**
   * Keyset pagination over any ordered key (integers, text, UUIDs): each batch is the next
   * `batchSize` keys after the last one done, so sparse ids cost no empty batches. One short
   * transaction per batch updates the rows and records the last key, so a stopped backfill
   * resumes exactly where it was. A batch whose rows stay locked is retried until the total
   * lock wait runs out; then it stops and names who holds them. Returns the rows updated.
   */
  private async backfill(migration: string, stepId: string, step: Extract<Step, { kind: "backfill" }>): Promise<number> {
    const [t, k] = [q(step.table), q(step.key)];
    const saved = await this.pool.query<{ last_key: string; rows_done: string }>(`SELECT last_key, rows_done::text FROM ${PROGRESS_TABLE} WHERE migration = $1 AND step = $2`, [migration, stepId]);
    let last: string | undefined = saved.rows[0]?.last_key;
    let done = saved.rows[0] ? Number(saved.rows[0].rows_done) : 0;
    const after = (alias = "") => (last === undefined ? "TRUE" : `${alias}${k} > $1`);
    const params = () => (last === undefined ? [] : [last]);
    // Rows inserted from now on are dual-written (the expand phase installed the trigger): the
    // backfill stops at the highest key there is now instead of chasing the workload's inserts.
    const top = (await this.pool.query<{ hi: string | null }>(`SELECT ${k}::text AS hi FROM ${t} ORDER BY ${k} DESC LIMIT 1`)).rows[0]?.hi ?? null;
    if (top === null) return done;
    const remaining = Number((await this.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t} WHERE ${after()} AND (${step.where})`, params())).rows[0].n);
    const total = done + remaining;
    const resumedAt = done;
    const started = Date.now();
    let batch = 0;
    let waitingSince: number | undefined;
    let lockAttempts = 0;
    const blockers = new Map<number, Blocker>();
    for (;;) {
      const batchStarted = Date.now();
      const client: PoolClient = await this.pool.connect();
      /** One batch in one transaction: the key it reached and the rows done with it; null past the top key. */
      const run = async (): Promise<{ upTo: string; rowsDone: number } | null> => {
        await client.query("BEGIN");
        await client.query(`SET LOCAL lock_timeout = ${this.attemptTimeoutMs(waitingSince ?? Date.now())}`);
        await client.query("SET LOCAL standard_conforming_strings = on");
        const limitParam: number = last === undefined ? 1 : 2;
        const edge: { rows: { hi: string | null }[] } = await client.query<{ hi: string | null }>(
          // The batch's last key (at most the top key); any ordered type (there is no max(uuid)).
          `SELECT ${k}::text AS hi FROM (SELECT ${k} FROM ${t} WHERE ${after()} AND ${k} <= $${limitParam + 1} ORDER BY ${k} LIMIT $${limitParam}) b ORDER BY ${k} DESC LIMIT 1`,
          [...params(), this.batchSize, top],
        );
        const upTo = edge.rows[0]?.hi ?? null;
        if (upTo === null) {
          await client.query("COMMIT");
          return null;
        }
        const r = await client.query(`UPDATE ${t} SET ${step.set} WHERE ${after()} AND ${k} <= $${limitParam} AND (${step.where})`, [...params(), upTo]);
        const rowsDone = done + (r.rowCount ?? 0);
        await client.query(
          `INSERT INTO ${PROGRESS_TABLE} (migration, step, last_key, rows_done) VALUES ($1, $2, $3, $4)
           ON CONFLICT (migration, step) DO UPDATE SET last_key = EXCLUDED.last_key, rows_done = EXCLUDED.rows_done`,
          [migration, stepId, upTo, rowsDone],
        );
        await client.query("COMMIT");
        return { upTo, rowsDone };
      };
      let batchDone: { upTo: string; rowsDone: number } | null;
      try {
        batchDone = await this.watched(client, blockers, run);
        waitingSince = undefined;
        lockAttempts = 0;
        blockers.clear();
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        if ((err as { code?: string }).code === "55P03") {
          // Row locks held by the workload are short: retry the same range, for a while.
          waitingSince ??= batchStarted;
          lockAttempts += 1;
          const waited = Date.now() - waitingSince;
          if (waited + 100 >= this.maxLockWaitMs) {
            throw new LockTimeoutError(step.description, step.table, waited, lockAttempts, [...blockers.values()], `the backfill resumes after the last committed batch (${done} rows done)`);
          }
          await sleep(100);
          continue;
        }
        throw err;
      } finally {
        client.release();
      }
      if (batchDone === null) break;
      ({ upTo: last, rowsDone: done } = batchDone);
      batch += 1;
      if (this.throttle > 0) await sleep((Date.now() - batchStarted) * this.throttle);
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      this.options.onProgress?.({ migration, step: step.description, done, total: Math.max(total, done), rowsPerSecond: Math.round((done - resumedAt) / seconds) });
      this.options.afterBatch?.(batch);
    }
    return done;
  }
}
