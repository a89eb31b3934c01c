/**
 * Expand/contract database refactoring, as data: a plan is a list of operations; each operation
 * contributes SQL steps to three phases applied as separate deployments, out of band from code:
 * - expand: additive DDL only (new columns, dual-write triggers, indexes built concurrently),
 *   so the running version N-1 keeps working;
 * - backfill: batched, resumable data copy;
 * - contract: removal of what N-1 needed (old columns, triggers), only once no version in the
 *   rollback window still uses it.
 * And the gate that decides whether a contract phase or a code release is safe. Pure: no I/O.
 */
import { z } from "zod";

export const PHASES = ["expand", "backfill", "contract"] as const;
export type MigrationPhase = (typeof PHASES)[number];

const ident = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: "must be a lowercase SQL identifier (a-z, 0-9, _; at most 63 characters)" });
const sqlType = z.string().regex(/^[a-z][a-z0-9 _(),]*$/i, { error: 'must be a SQL type such as "bigint" or "numeric(12,2)"' });

const operationSchema = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal("addColumn"), table: ident, column: ident, type: sqlType, default: z.string().optional() }),
  z.strictObject({ op: z.literal("renameColumn"), table: ident, from: ident, to: ident, type: sqlType, notNull: z.boolean().optional(), key: ident.optional() }),
  z.strictObject({ op: z.literal("setNotNull"), table: ident, column: ident, default: z.string({ error: "required: the value existing NULLs get, as a SQL literal" }), key: ident.optional() }),
  z.strictObject({ op: z.literal("dropColumn"), table: ident, column: ident }),
  z.strictObject({ op: z.literal("addIndex"), table: ident, name: ident, columns: z.array(ident).min(1), unique: z.boolean().optional() }),
]);
export type Operation = z.infer<typeof operationSchema>;

export const planSchema = z.strictObject({
  id: z.string().regex(/^[0-9]{4,}[-_][a-z0-9-_]+$/, { error: 'must be "<sortable number>-<name>", e.g. "0007-rename-payments-amount"' }),
  description: z.string().min(1),
  operations: z.array(operationSchema).min(1),
});
export type MigrationPlan = z.infer<typeof planSchema>;

/** Validates a plan, naming each bad field (`operations[1].to: ...`). */
export function parsePlan(raw: unknown, source = "plan"): MigrationPlan {
  const r = planSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(`invalid migration ${source}: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  return r.data;
}

export type Step =
  | {
      readonly kind: "ddl";
      readonly description: string;
      readonly table: string;
      readonly sql: string;
      /** Runs outside a transaction (CREATE INDEX CONCURRENTLY); `cleanup` undoes a failed attempt. */
      readonly concurrently?: boolean;
      readonly cleanup?: string;
    }
  | {
      readonly kind: "backfill";
      readonly description: string;
      readonly table: string;
      /** Integer key column the batches walk. */
      readonly key: string;
      /** `SET` clause. */
      readonly set: string;
      /** Rows that still need it. */
      readonly where: string;
    };

const trigger = (table: string, from: string, to: string) => `remedy_sync_${table}_${from}_${to}`.slice(0, 63);

/** The SQL steps of one operation in one phase. */
function operationSteps(o: Operation, phase: MigrationPhase): Step[] {
  switch (o.op) {
    case "addColumn":
      return phase === "expand"
        ? [{ kind: "ddl", table: o.table, description: `add ${o.table}.${o.column}`, sql: `ALTER TABLE ${o.table} ADD COLUMN IF NOT EXISTS ${o.column} ${o.type}${o.default ? ` DEFAULT ${o.default}` : ""}` }]
        : [];
    case "renameColumn": {
      const fn = trigger(o.table, o.from, o.to);
      const key = o.key ?? "id";
      if (phase === "expand") {
        return [
          { kind: "ddl", table: o.table, description: `add ${o.table}.${o.to} beside ${o.from}`, sql: `ALTER TABLE ${o.table} ADD COLUMN IF NOT EXISTS ${o.to} ${o.type}` },
          {
            kind: "ddl",
            table: o.table,
            description: `dual-write ${o.from} <-> ${o.to}`,
            sql: `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.${o.to} IS NULL THEN NEW.${o.to} := NEW.${o.from};
    ELSIF NEW.${o.from} IS NULL THEN NEW.${o.from} := NEW.${o.to};
    END IF;
  ELSIF NEW.${o.from} IS DISTINCT FROM OLD.${o.from} AND NEW.${o.to} IS NOT DISTINCT FROM OLD.${o.to} THEN
    NEW.${o.to} := NEW.${o.from};
  ELSIF NEW.${o.to} IS DISTINCT FROM OLD.${o.to} AND NEW.${o.from} IS NOT DISTINCT FROM OLD.${o.from} THEN
    NEW.${o.from} := NEW.${o.to};
  END IF;
  RETURN NEW;
END $fn$;
DROP TRIGGER IF EXISTS ${fn} ON ${o.table};
CREATE TRIGGER ${fn} BEFORE INSERT OR UPDATE ON ${o.table} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
          },
        ];
      }
      if (phase === "backfill") {
        return [{ kind: "backfill", table: o.table, key, description: `copy ${o.table}.${o.from} into ${o.to}`, set: `${o.to} = ${o.from}`, where: `${o.to} IS DISTINCT FROM ${o.from}` }];
      }
      return [
        ...(o.notNull ? notNullSteps(o.table, o.to) : []),
        { kind: "ddl", table: o.table, description: `stop dual-writing ${o.from} <-> ${o.to}`, sql: `DROP TRIGGER IF EXISTS ${fn} ON ${o.table}; DROP FUNCTION IF EXISTS ${fn}()` },
        { kind: "ddl", table: o.table, description: `drop ${o.table}.${o.from}`, sql: `ALTER TABLE ${o.table} DROP COLUMN IF EXISTS ${o.from}` },
      ];
    }
    case "setNotNull":
      if (phase === "expand") {
        return [{ kind: "ddl", table: o.table, description: `default ${o.table}.${o.column} to ${o.default}`, sql: `ALTER TABLE ${o.table} ALTER COLUMN ${o.column} SET DEFAULT ${o.default}` }];
      }
      if (phase === "backfill") {
        return [{ kind: "backfill", table: o.table, key: o.key ?? "id", description: `fill NULL ${o.table}.${o.column}`, set: `${o.column} = ${o.default}`, where: `${o.column} IS NULL` }];
      }
      return notNullSteps(o.table, o.column);
    case "dropColumn":
      return phase === "contract" ? [{ kind: "ddl", table: o.table, description: `drop ${o.table}.${o.column}`, sql: `ALTER TABLE ${o.table} DROP COLUMN IF EXISTS ${o.column}` }] : [];
    case "addIndex":
      return phase === "expand"
        ? [
            {
              kind: "ddl",
              table: o.table,
              concurrently: true,
              description: `build index ${o.name} concurrently`,
              sql: `CREATE ${o.unique ? "UNIQUE " : ""}INDEX CONCURRENTLY IF NOT EXISTS ${o.name} ON ${o.table} (${o.columns.join(", ")})`,
              cleanup: `DROP INDEX CONCURRENTLY IF EXISTS ${o.name}`,
            },
          ]
        : [];
  }
}

/**
 * NOT NULL without a long ACCESS EXCLUSIVE scan: a NOT VALID check constraint (instant), its
 * validation (SHARE UPDATE EXCLUSIVE: reads and writes continue), then SET NOT NULL, which
 * PostgreSQL 12+ proves from the validated constraint without scanning.
 */
function notNullSteps(table: string, column: string): Step[] {
  const check = `${table}_${column}_not_null`.slice(0, 63);
  return [
    { kind: "ddl", table, description: `check ${table}.${column} IS NOT NULL (not valid)`, sql: `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${check}; ALTER TABLE ${table} ADD CONSTRAINT ${check} CHECK (${column} IS NOT NULL) NOT VALID` },
    { kind: "ddl", table, description: `validate ${check}`, sql: `ALTER TABLE ${table} VALIDATE CONSTRAINT ${check}` },
    { kind: "ddl", table, description: `set ${table}.${column} NOT NULL`, sql: `ALTER TABLE ${table} ALTER COLUMN ${column} SET NOT NULL; ALTER TABLE ${table} DROP CONSTRAINT ${check}` },
  ];
}

/** Every step of a plan's phase, in order. */
export function phaseSteps(plan: MigrationPlan, phase: MigrationPhase): Step[] {
  return plan.operations.flatMap((o) => operationSteps(o, phase));
}

/** Columns (`table.column`) a phase adds and removes. */
export function columnChanges(plan: MigrationPlan, phase: MigrationPhase): { added: string[]; removed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  for (const o of plan.operations) {
    if (o.op === "addColumn" && phase === "expand") added.push(`${o.table}.${o.column}`);
    if (o.op === "renameColumn" && phase === "expand") added.push(`${o.table}.${o.to}`);
    if (o.op === "renameColumn" && phase === "contract") removed.push(`${o.table}.${o.from}`);
    if (o.op === "dropColumn" && phase === "contract") removed.push(`${o.table}.${o.column}`);
  }
  return { added, removed };
}

// ---------------------------------------------------------------------------------------------
// The gate.

/** What one deployed version of a service reads and writes. */
export interface VersionUsage {
  readonly service: string;
  readonly version: string;
  /** Its role in the rollback window: stable, candidate, previous (last promoted away). */
  readonly role: "stable" | "candidate" | "previous";
  /** Columns it reads or writes, as `table.column`. */
  readonly columns: readonly string[];
}

/**
 * Refuses a contract phase while any version in the rollback window still uses a column it
 * removes. Returns one message per blocked column; empty = allowed.
 */
export function checkContract(plan: MigrationPlan, window: readonly VersionUsage[]): string[] {
  const { removed } = columnChanges(plan, "contract");
  return removed.flatMap((col) => {
    const users = window.filter((v) => v.columns.includes(col));
    return users.length === 0
      ? []
      : [
          `contract of ${plan.id} drops ${col}, still used by ${users.map((u) => `${u.service} ${u.version} (${u.role})`).join(", ")}; ` +
            "wait until no version in the rollback window uses it (promote past it and let the rollback window end)",
        ];
  });
}

/**
 * Refuses a code release whose candidate or rollback target uses a column the live schema does
 * not have. `liveColumns` are `table.column` as they exist in the database now.
 */
export function checkRelease(liveColumns: ReadonlySet<string>, versions: readonly VersionUsage[], plans: readonly MigrationPlan[] = []): string[] {
  return versions.flatMap((v) =>
    v.columns
      .filter((c) => !liveColumns.has(c))
      .map((c) => {
        const expands = plans.find((p) => columnChanges(p, "expand").added.includes(c));
        const contracted = plans.find((p) => columnChanges(p, "contract").removed.includes(c));
        const fix = expands ? `apply the expand phase of ${expands.id} first` : contracted ? `${contracted.id} already removed it; this version can no longer run` : "add it with a migration first";
        return `${v.service} ${v.version} (${v.role}) uses ${c}, which the live schema does not have; ${fix}`;
      }),
  );
}

/**
 * The deployment-time gate: the phase this deployment runs (`run`) must be the next one of its
 * plan; a contract must not drop what a version in the rollback window uses; and every version
 * in the window must find its columns in the schema as it will be after this deployment.
 * @param applied phases applied by earlier deployments, `<plan id>:<phase>`.
 */
export function checkMigrationDeployment(
  plans: readonly MigrationPlan[],
  applied: readonly string[],
  run: { readonly plan: string; readonly phase: MigrationPhase } | undefined,
  window: readonly VersionUsage[],
): string[] {
  const issues: string[] = [];
  const known = new Set(plans.flatMap((p) => PHASES.map((ph) => `${p.id}:${ph}`)));
  for (const a of applied) if (!known.has(a)) issues.push(`database.applied: ${a} is not a phase of any plan (known plans: ${plans.map((p) => p.id).join(", ") || "none"})`);
  const after = new Set(applied);
  if (run) {
    const plan = plans.find((p) => p.id === run.plan);
    if (!plan) {
      issues.push(`database.run.plan: no plan ${run.plan} (known plans: ${plans.map((p) => p.id).join(", ") || "none"})`);
    } else {
      const name = `${run.plan}:${run.phase}`;
      if (after.has(name)) issues.push(`database.run: ${name} is already applied; remove database.run or run the next phase`);
      const missing = PHASES.slice(0, PHASES.indexOf(run.phase)).map((ph) => `${run.plan}:${ph}`).filter((n) => !after.has(n));
      if (missing.length > 0) issues.push(`database.run: ${name} needs ${missing.join(", ")} first; phases run in order, one per deployment`);
      if (run.phase === "contract") issues.push(...checkContract(plan, window));
      after.add(name);
    }
  }
  for (const plan of plans) {
    const added = columnChanges(plan, "expand").added;
    const removed = columnChanges(plan, "contract").removed;
    const contracting = run?.plan === plan.id && run.phase === "contract";
    for (const v of window) {
      for (const c of v.columns) {
        if (added.includes(c) && !after.has(`${plan.id}:expand`)) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id} adds in its expand phase, not applied yet; run that phase first (database.run)`);
        }
        if (removed.includes(c) && after.has(`${plan.id}:contract`) && !contracting) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id}'s contract phase already removed; this version can no longer run`);
        }
      }
    }
  }
  return issues;
}
