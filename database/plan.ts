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
import { createHash } from "node:crypto";
import { z } from "zod";
import { COLUMN_REF, IDENT_ERROR, identProblem } from "../core/sqlNames";

import { CREATE_SAVED_DEFAULTS, SAVED_DEFAULTS_TABLE, TYPE_SOURCE, canonicalLiteral, dualWriteSql, restoreDefaultSql, conversions, doBlock, dollarQuote, isLosslessWidening, lit, parseConversion, parseExpression, q, suggestConversion } from "./sqlText";

export { COLUMN_REF, IDENT_ERROR, identProblem };
export type { VersionUsage } from "./gates";
export { SAVED_DEFAULTS_TABLE, canonicalLiteral, dollarQuote, doBlock, isLosslessWidening, lit, parseConversion, parseExpression, q, suggestConversion };

export const PHASES = ["expand", "backfill", "contract"] as const;
export type MigrationPhase = (typeof PHASES)[number];

const ident = z.string().refine((s) => identProblem(s) === undefined, { error: IDENT_ERROR });
const columnRef = z.string().regex(COLUMN_REF, { error: 'must be "table.column"' });
const TYPE = new RegExp(`^${TYPE_SOURCE}$`, "i");
const sqlType = z.string().regex(TYPE, {
  error: 'must be a PostgreSQL type such as "bigint", "numeric(12,2)", "varchar(64)", "timestamptz" or "jsonb" (optionally with [])',
});

/**
 * Defaults a plan may give: a literal (number, 'quoted string' with '' escapes, true, false,
 * null) or one of a few functions, optionally cast (`'EUR'::text`). Never an arbitrary expression.
 */
const DEFAULT = new RegExp(
  `^(?:-?\\d+(?:\\.\\d+)?|'(?:[^']|'')*'|true|false|null|now\\(\\)|current_timestamp|current_date|gen_random_uuid\\(\\))(?:::${TYPE_SOURCE})?$`,
  "i",
);
const sqlDefault = (what: string) =>
  z.string({ error: `required: ${what}` }).regex(DEFAULT, {
    error: "must be a SQL literal (42, 4.2, 'text', true, false, null) or now(), current_timestamp, current_date, gen_random_uuid(), optionally cast with ::type",
  });

const operationSchema = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal("addColumn"), table: ident, column: ident, type: sqlType, default: sqlDefault("the default").optional() }),
  z
    .strictObject({
      op: z.literal("renameColumn"),
      table: ident,
      from: ident,
      to: ident,
      type: sqlType,
      notNull: z.boolean().optional(),
      key: ident.optional(),
      /** Old -> new value, over `from` (e.g. "round(amount * 100)::bigint"); required with `down` when the type changes. */
      up: z.string().min(1).optional(),
      /** New -> old value, over `to` (e.g. "amount_minor / 100.0"). */
      down: z.string().min(1).optional(),
      /** Constraints and indexes on `from` the plan accepts losing with it (recreated on `to` by other operations). */
      replaces: z.array(ident).optional(),
      /** With notNull: the value NULLs found at contract get; without it a contract that finds NULLs changes nothing. */
      fillNulls: sqlDefault("the value NULLs found at contract get, as a SQL literal").optional(),
    })
    .refine((o) => o.from !== o.to, { error: "must differ from `from`: renaming a column onto itself would drop it in the contract phase", path: ["to"] })
    .refine((o) => (o.up === undefined) === (o.down === undefined), { error: "up and down go together: a type change must convert both ways while old and new code run", path: ["up"] })
    .superRefine((o, ctx) => {
      for (const [key, column] of [["up", o.from], ["down", o.to]] as const) {
        const expr = o[key];
        if (expr === undefined) continue;
        const r = parseConversion(expr, column);
        if (typeof r === "string") ctx.addIssue({ code: "custom", path: [key], message: `must be an expression over ${column}: ${r}` });
      }
    }),
  z.strictObject({
    op: z.literal("setNotNull"),
    table: ident,
    column: ident,
    default: sqlDefault("the value existing NULLs get, as a SQL literal"),
    key: ident.optional(),
    /**
     * The value NULLs written after the backfill get at contract. Without it a contract that
     * finds such NULLs changes nothing and names them: they were written by a version that may
     * still depend on NULL meaning something.
     */
    fillNulls: sqlDefault("the value NULLs found at contract get, as a SQL literal").optional(),
  }),
  z.strictObject({ op: z.literal("dropColumn"), table: ident, column: ident }),
  z.strictObject({ op: z.literal("dropNotNull"), table: ident, column: ident }),
  z
    .strictObject({ op: z.literal("addCheck"), table: ident, name: ident, columns: z.array(ident).min(1), condition: z.string().min(1) })
    .superRefine((o, ctx) => {
      const r = parseExpression(o.condition, o.columns, true);
      if (typeof r === "string") ctx.addIssue({ code: "custom", path: ["condition"], message: `must be a condition over ${o.columns.join(", ")}: ${r}` });
    }),
  z.strictObject({
    op: z.literal("addForeignKey"),
    table: ident,
    name: ident,
    columns: z.array(ident).min(1),
    references: z.strictObject({ table: ident, columns: z.array(ident).min(1) }),
    onDelete: z.enum(["no action", "restrict", "cascade", "set null"], { error: 'must be "no action", "restrict", "cascade" or "set null"' }).optional(),
  }).refine((o) => o.columns.length === o.references.columns.length, { error: "must list as many columns as references.columns", path: ["columns"] }),
  z.strictObject({ op: z.literal("dropIndex"), name: ident }),
  z.strictObject({ op: z.literal("dropTable"), table: ident }),
  z
    .strictObject({ op: z.literal("renameTable"), from: ident, to: ident })
    .refine((o) => o.from !== o.to, { error: "must differ from `from`", path: ["to"] }),
  z.strictObject({
    op: z.literal("sql"),
    description: z.string().min(1),
    /** Table the statements lock (lock_timeout and messages name it). */
    table: ident,
    phase: z.enum(PHASES, { error: 'must be "expand", "backfill" or "contract"' }),
    up: z.string().min(1),
    /** Undoes `up` (for `remedy migrate abort`); required: a step nobody can undo is not allowed. */
    down: z.string({ error: "required: the SQL that undoes up (remedy migrate abort runs it)" }).min(1),
    /** Columns (`table.column`) the step adds or removes, so the gate knows. */
    adds: z.array(columnRef).optional(),
    removes: z.array(columnRef).optional(),
  }).refine((o) => o.phase === "contract" || (o.removes ?? []).length === 0, { error: "only a contract step may remove columns", path: ["removes"] }),
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
  const clash = derivedNameClash(r.data);
  if (clash) throw new Error(`invalid migration ${source}: ${clash}`);
  return r.data;
}

/**
 * Two operations of a plan whose derived objects (a rename's dual-write trigger and function, a
 * NOT NULL's check) would get one name: the second would replace the first's. With a whole hash of
 * each operation's names this takes the same operation twice; named so the plan can be fixed.
 */
function derivedNameClash(plan: { readonly operations: readonly z.output<typeof operationSchema>[] }): string | undefined {
  const seen = new Map<string, number>();
  for (const [i, o] of plan.operations.entries()) {
    const name = o.op === "renameColumn" ? syncTriggerName(o.table, o.from, o.to) : o.op === "setNotNull" ? notNullCheckName(o.table, o.column) : undefined;
    if (!name) continue;
    const first = seen.get(name);
    if (first !== undefined) return `operations[${i}] (${o.op}) derives the object name ${name}, as operations[${first}] does: one would replace the other's; merge them or drop one`;
    seen.set(name, i);
  }
  return undefined;
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
      /** The index a concurrent build creates: an invalid one left by an interrupted build is rebuilt, and the result verified. */
      readonly index?: string;
      /**
       * Objects the step creates. The runner records in the ownership ledger each one that did
       * not exist before the step (in the step's transaction), skips a constraint step whose
       * constraints exist and are recorded as this plan's (a resumed expand; column and index
       * steps rerun), and refuses one that finds an object of that name remedy did not create,
       * unless the object says `adopt`.
       */
      readonly creates?: readonly OwnedObject[];
      /** An undo step that drops this object: it runs only when the ledger says this plan created it. */
      readonly dropsOwned?: OwnedObject;
      /** Rows that would make the validation this step runs fail: counted and shown before it runs (and at expand). */
      readonly violations?: Violations;
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
    }
  | {
      /**
       * NULLs in a column about to become NOT NULL: none, or filled with `value` (the plan's
       * fillNulls, reported with the count); without a value, found NULLs refuse the phase.
       */
      readonly kind: "fillNulls";
      readonly description: string;
      readonly table: string;
      readonly key: string;
      readonly column: string;
      readonly value?: string;
      /** The plan field that gives the value (`operations[2].fillNulls`), for the refusal's fix. */
      readonly field: string;
    };

/** A query for the rows that break a constraint, and how to name them. */
export interface Violations {
  /** SELECT of the offending rows' constrained columns. */
  readonly rows: string;
  /** What those rows do ("have customer_id with no customers row"). */
  readonly what: string;
  /** The columns shown for a sample. */
  readonly shown: string;
  /** The constraint. */
  readonly name: string;
}

/** A column, constraint or index whose creator the ownership ledger records. */
export interface OwnedObject {
  readonly kind: "column" | "constraint" | "index";
  readonly table: string;
  readonly name: string;
  /** An existing object of that name and shape is used as it is (and never dropped by remedy). */
  readonly adopt?: boolean;
}


/** PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1). */
export const PG_NAME_MAX_BYTES = 63;

/**
 * `name` cut to at most `maxBytes` bytes of UTF-8 without splitting a character: what PostgreSQL
 * does to an identifier longer than 63 bytes (it truncates by bytes, at a character boundary of the
 * server encoding, pg_mbcliplen), not by characters.
 */
export function clipBytes(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name, "utf8") <= maxBytes) return name;
  let out = "";
  let bytes = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * A database object name derived from `parts`, at most 63 bytes (PostgreSQL truncates longer
 * names by bytes, so two long names could collide), unique per input: a readable prefix, cut by
 * bytes, plus a whole hash of the whole input (ASCII, never cut).
 */
export function objectName(kind: string, ...parts: string[]): string {
  const hash = createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 10);
  const readable = clipBytes(`remedy_${kind}_${parts.join("_")}`, PG_NAME_MAX_BYTES - hash.length - 1);
  return `${readable}_${hash}`;
}

/** The dual-write function and trigger of a rename. */
export const syncTriggerName = (table: string, from: string, to: string): string => objectName("sync", table, from, to);
/** The NOT VALID check that stands for NOT NULL until the column's own constraint is set. */
export const notNullCheckName = (table: string, column: string): string => objectName("nn", table, column);
/**
 * The name earlier remedy versions used (truncated, collision-prone), as PostgreSQL stored it:
 * cut to 63 bytes (they cut to 63 characters, and PostgreSQL then to 63 bytes); dropped too on contract.
 */
export const legacyTriggerName = (table: string, from: string, to: string): string => clipBytes(`remedy_sync_${table}_${from}_${to}`, PG_NAME_MAX_BYTES);

/** The SQL steps of one operation (operations[`index`]) in one phase. */
function operationSteps(o: Operation, phase: MigrationPhase, index: number): Step[] {
  switch (o.op) {
    case "addColumn":
      return phase === "expand"
        ? [
            {
              kind: "ddl",
              table: o.table,
              description: `add ${o.table}.${o.column}`,
              sql: `ALTER TABLE ${q(o.table)} ADD COLUMN IF NOT EXISTS ${q(o.column)} ${o.type}${o.default ? ` DEFAULT ${o.default}` : ""}`,
              creates: [{ kind: "column", table: o.table, name: o.column, adopt: true }],
            },
          ]
        : [];
    case "renameColumn": {
      const fn = syncTriggerName(o.table, o.from, o.to);
      const legacy = legacyTriggerName(o.table, o.from, o.to);
      const key = o.key ?? "id";
      const [t, from, to] = [q(o.table), q(o.from), q(o.to)];
      if (phase === "expand") {
        // One transaction: a failure leaves neither the column nor the trigger.
        return [
          {
            kind: "ddl",
            table: o.table,
            description: `add ${o.table}.${o.to} beside ${o.from}, dual-write ${o.from} <-> ${o.to}`,
            // Rerun whole when resumed (the column is this plan's, per the ownership ledger).
            sql: `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${to} ${o.type};\n${dualWriteSql(o.table, o.from, o.to, fn, conversions(o))}`,
            creates: [{ kind: "column", table: o.table, name: o.to }],
          },
        ];
      }
      if (phase === "backfill") {
        // Only rows the dual-write has not covered: never overwrite a value new code wrote.
        return [{ kind: "backfill", table: o.table, key, description: `copy ${o.table}.${o.from} into ${o.to}`, set: `${to} = ${conversions(o).up(from)}`, where: `${to} IS NULL AND ${from} IS NOT NULL` }];
      }
      return [
        ...(o.notNull
          ? notNullSteps(o.table, o.to, { kind: "fillNulls", table: o.table, key, column: o.to, value: o.fillNulls, field: `operations[${index}].fillNulls`, description: `NULLs in ${o.table}.${o.to}` })
          : []),
        {
          kind: "ddl",
          table: o.table,
          description: `stop dual-writing ${o.from} <-> ${o.to}, drop ${o.table}.${o.from}, give ${o.to} its default`,
          // One transaction: inserts never see the trigger without the column or the reverse.
          sql: [
            `DROP TRIGGER IF EXISTS ${q(fn)} ON ${t}`,
            `DROP FUNCTION IF EXISTS ${q(fn)}()`,
            `DROP TRIGGER IF EXISTS ${q(legacy)} ON ${t}`,
            `DROP FUNCTION IF EXISTS ${q(legacy)}()`,
            `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${from}`,
            restoreDefaultSql(o.table, o.from, o.to),
          ].join(";\n"),
        },
      ];
    }
    case "setNotNull":
      if (phase === "expand") {
        return [{ kind: "ddl", table: o.table, description: `default ${o.table}.${o.column} to ${o.default}`, sql: `ALTER TABLE ${q(o.table)} ALTER COLUMN ${q(o.column)} SET DEFAULT ${o.default}` }];
      }
      if (phase === "backfill") {
        return [{ kind: "backfill", table: o.table, key: o.key ?? "id", description: `fill NULL ${o.table}.${o.column}`, set: `${q(o.column)} = ${o.default}`, where: `${q(o.column)} IS NULL` }];
      }
      // NULLs written since the backfill (by a version that has since left the window) are
      // filled only with the plan's consent (fillNulls), so the validation cannot fail on them.
      return notNullSteps(o.table, o.column, { kind: "fillNulls", table: o.table, key: o.key ?? "id", column: o.column, value: o.fillNulls, field: `operations[${index}].fillNulls`, description: `NULLs in ${o.table}.${o.column} written since the backfill` });
    case "dropColumn":
      return phase === "contract" ? [{ kind: "ddl", table: o.table, description: `drop ${o.table}.${o.column}`, sql: `ALTER TABLE ${q(o.table)} DROP COLUMN IF EXISTS ${q(o.column)}` }] : [];
    case "dropNotNull":
      return phase === "expand" ? [{ kind: "ddl", table: o.table, description: `allow NULL in ${o.table}.${o.column}`, sql: `ALTER TABLE ${q(o.table)} ALTER COLUMN ${q(o.column)} DROP NOT NULL` }] : [];
    case "addCheck": {
      // NOT VALID: instant, checks new writes only; VALIDATE later scans under SHARE UPDATE EXCLUSIVE.
      const cond = (parseExpression(o.condition, o.columns, true) as (ref: (c: string) => string) => string)(q);
      const violations: Violations = {
        rows: `SELECT ${o.columns.map(q).join(", ")} FROM ${q(o.table)} WHERE NOT (${cond})`,
        what: `break CHECK (${o.condition})`,
        shown: o.columns.join(", "),
        name: `check ${o.name}`,
      };
      if (phase === "expand") {
        return [
          {
            kind: "ddl",
            table: o.table,
            description: `check ${o.name} on ${o.table} (not valid)`,
            sql: `ALTER TABLE ${q(o.table)} ADD CONSTRAINT ${q(o.name)} CHECK (${cond}) NOT VALID`,
            creates: [{ kind: "constraint", table: o.table, name: o.name }],
          },
        ];
      }
      if (phase === "backfill") return [{ kind: "ddl", table: o.table, violations, description: `validate ${o.name}`, sql: `ALTER TABLE ${q(o.table)} VALIDATE CONSTRAINT ${q(o.name)}` }];
      return [];
    }
    case "addForeignKey": {
      // MATCH SIMPLE: a row with any NULL in the key is not checked.
      const violations: Violations = {
        rows:
          `SELECT ${o.columns.map((c) => `t.${q(c)}`).join(", ")} FROM ${q(o.table)} t WHERE ${o.columns.map((c) => `t.${q(c)} IS NOT NULL`).join(" AND ")} ` +
          `AND NOT EXISTS (SELECT 1 FROM ${q(o.references.table)} r WHERE ${o.columns.map((c, i) => `r.${q(o.references.columns[i])} = t.${q(c)}`).join(" AND ")})`,
        what: `have ${o.columns.join(", ")} values with no ${o.references.table} row`,
        shown: o.columns.join(", "),
        name: `foreign key ${o.name}`,
      };
      if (phase === "expand") {
        return [
          {
            kind: "ddl",
            table: o.table,
            description: `foreign key ${o.name} ${o.table} -> ${o.references.table} (not valid)`,
            creates: [{ kind: "constraint", table: o.table, name: o.name }],
            sql: `ALTER TABLE ${q(o.table)} ADD CONSTRAINT ${q(o.name)} FOREIGN KEY (${o.columns.map(q).join(", ")}) REFERENCES ${q(o.references.table)} (${o.references.columns.map(q).join(", ")})${o.onDelete ? ` ON DELETE ${o.onDelete.toUpperCase()}` : ""} NOT VALID`,
          },
        ];
      }
      if (phase === "backfill") return [{ kind: "ddl", table: o.table, violations, description: `validate ${o.name}`, sql: `ALTER TABLE ${q(o.table)} VALIDATE CONSTRAINT ${q(o.name)}` }];
      return [];
    }
    case "dropIndex":
      return phase === "contract" ? [{ kind: "ddl", table: o.name, concurrently: true, description: `drop index ${o.name} concurrently`, sql: `DROP INDEX CONCURRENTLY IF EXISTS ${q(o.name)}` }] : [];
    case "dropTable":
      return phase === "contract" ? [{ kind: "ddl", table: o.table, description: `drop table ${o.table}`, sql: `DROP TABLE IF EXISTS ${q(o.table)}` }] : [];
    case "renameTable":
      // Old code keeps using the old name through a view: a simple view is automatically
      // updatable, so its reads, inserts (with the table's defaults), updates and deletes reach the table.
      if (phase === "expand") {
        return [
          {
            kind: "ddl",
            table: o.from,
            description: `rename table ${o.from} to ${o.to}, keep ${o.from} as a view`,
            sql: doBlock(` BEGIN IF to_regclass(${lit(q(o.to))}) IS NULL THEN ALTER TABLE ${q(o.from)} RENAME TO ${q(o.to)}; CREATE VIEW ${q(o.from)} AS SELECT * FROM ${q(o.to)}; END IF; END `),
          },
        ];
      }
      return phase === "contract" ? [{ kind: "ddl", table: o.to, description: `drop the view ${o.from}`, sql: `DROP VIEW IF EXISTS ${q(o.from)}` }] : [];
    case "sql":
      return phase === o.phase ? [{ kind: "ddl", table: o.table, description: o.description, sql: o.up }] : [];
    case "addIndex":
      return phase === "expand"
        ? [
            {
              kind: "ddl",
              table: o.table,
              concurrently: true,
              index: o.name,
              description: `build index ${o.name} concurrently`,
              sql: `CREATE ${o.unique ? "UNIQUE " : ""}INDEX CONCURRENTLY IF NOT EXISTS ${q(o.name)} ON ${q(o.table)} (${o.columns.map(q).join(", ")})`,
              cleanup: `DROP INDEX CONCURRENTLY IF EXISTS ${q(o.name)}`,
              creates: [{ kind: "index", table: o.table, name: o.name }],
            },
          ]
        : [];
  }
}

/**
 * NOT NULL without a long ACCESS EXCLUSIVE scan: a NOT VALID check constraint (instant: new writes
 * can no longer add NULLs), then `fill` (the NULLs already there), its validation (SHARE UPDATE
 * EXCLUSIVE: reads and writes continue), then SET NOT NULL, which PostgreSQL 12+ proves from the
 * validated constraint without scanning. Filling before the check left a window in which a NULL
 * written below the fill's progress was never filled, and the validation then failed.
 */
function notNullSteps(table: string, column: string, fill: Extract<Step, { kind: "fillNulls" }>): Step[] {
  const check = notNullCheckName(table, column);
  const [t, c, k] = [q(table), q(column), q(check)];
  return [
    { kind: "ddl", table, description: `check ${table}.${column} IS NOT NULL (not valid)`, sql: `ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${k}; ALTER TABLE ${t} ADD CONSTRAINT ${k} CHECK (${c} IS NOT NULL) NOT VALID` },
    fill,
    { kind: "ddl", table, description: `validate ${check}`, sql: `ALTER TABLE ${t} VALIDATE CONSTRAINT ${k}` },
    { kind: "ddl", table, description: `set ${table}.${column} NOT NULL`, sql: `ALTER TABLE ${t} ALTER COLUMN ${c} SET NOT NULL; ALTER TABLE ${t} DROP CONSTRAINT ${k}` },
  ];
}

/**
 * The steps that undo one phase of one operation (`remedy migrate abort`), for expand and
 * backfill; a contract cannot be undone (it dropped data).
 */
function undoSteps(o: Operation, phase: MigrationPhase): Step[] {
  const ddl = (table: string, description: string, sql: string, extra: Partial<Extract<Step, { kind: "ddl" }>> = {}): Step => ({ kind: "ddl", table, description, sql, ...extra });
  if (phase === "contract") return [];
  switch (o.op) {
    case "addColumn":
      return phase === "expand"
        ? [ddl(o.table, `drop ${o.table}.${o.column}`, `ALTER TABLE ${q(o.table)} DROP COLUMN IF EXISTS ${q(o.column)}`, { dropsOwned: { kind: "column", table: o.table, name: o.column } })]
        : [];
    case "renameColumn": {
      if (phase !== "expand") return [];
      const fn = syncTriggerName(o.table, o.from, o.to);
      return [
        ddl(
          o.table,
          `stop dual-writing ${o.from} <-> ${o.to}, give ${o.from} its default back`,
          [
            CREATE_SAVED_DEFAULTS, // an expand by an earlier remedy may not have made it
            `DROP TRIGGER IF EXISTS ${q(fn)} ON ${q(o.table)}`,
            `DROP FUNCTION IF EXISTS ${q(fn)}()`,
            restoreDefaultSql(o.table, o.from, o.from),
            `DELETE FROM ${SAVED_DEFAULTS_TABLE} WHERE table_name = ${lit(o.table)} AND column_name = ${lit(o.from)}`,
          ].join(";\n"),
        ),
        ddl(o.table, `drop ${o.table}.${o.to}`, `ALTER TABLE ${q(o.table)} DROP COLUMN IF EXISTS ${q(o.to)}`, { dropsOwned: { kind: "column", table: o.table, name: o.to } }),
      ];
    }
    case "setNotNull":
      return phase === "expand" ? [ddl(o.table, `remove the default of ${o.table}.${o.column}`, `ALTER TABLE ${q(o.table)} ALTER COLUMN ${q(o.column)} DROP DEFAULT`)] : [];
    case "dropNotNull":
      return phase === "expand" ? [ddl(o.table, `set ${o.table}.${o.column} NOT NULL again`, `ALTER TABLE ${q(o.table)} ALTER COLUMN ${q(o.column)} SET NOT NULL`)] : [];
    case "addCheck":
    case "addForeignKey":
      return phase === "expand"
        ? [ddl(o.table, `drop ${o.name}`, `ALTER TABLE ${q(o.table)} DROP CONSTRAINT IF EXISTS ${q(o.name)}`, { dropsOwned: { kind: "constraint", table: o.table, name: o.name } })]
        : [];
    case "addIndex":
      return phase === "expand"
        ? [ddl(o.table, `drop index ${o.name}`, `DROP INDEX CONCURRENTLY IF EXISTS ${q(o.name)}`, { concurrently: true, dropsOwned: { kind: "index", table: o.table, name: o.name } })]
        : [];
    case "sql":
      return phase === o.phase ? [ddl(o.table, `undo: ${o.description}`, o.down)] : [];
    case "renameTable":
      return phase === "expand"
        ? [ddl(o.from, `rename table ${o.to} back to ${o.from}`, `DROP VIEW IF EXISTS ${q(o.from)}; ALTER TABLE IF EXISTS ${q(o.to)} RENAME TO ${q(o.from)}`)]
        : [];
    case "dropColumn":
    case "dropIndex":
    case "dropTable":
      return [];
  }
}

/** The steps undoing a plan's phase, operations in reverse order. */
export function undoPhaseSteps(plan: MigrationPlan, phase: MigrationPhase): Step[] {
  return [...plan.operations].reverse().flatMap((o) => undoSteps(o, phase));
}

/** Every step of a plan's phase, in order. */
export function phaseSteps(plan: MigrationPlan, phase: MigrationPhase): Step[] {
  return plan.operations.flatMap((o, i) => operationSteps(o, phase, i));
}
