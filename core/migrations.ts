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

export const PHASES = ["expand", "backfill", "contract"] as const;
export type MigrationPhase = (typeof PHASES)[number];

/**
 * A table, column, constraint or index name as PostgreSQL stores it: case and spaces are kept
 * (every use is double-quoted, so `Order Items`, `createdAt` and reserved words such as `user`
 * work), at most 63 bytes (NAMEDATALEN - 1: PostgreSQL silently truncates longer names, so two
 * could collide). Refused: `"` and backslash (quoting), `.` (it separates table and column in
 * `table.column` references), control characters, and leading or trailing spaces.
 */
export const IDENT_ERROR =
  'must be a name of 1 to 63 bytes without ", \\, ., control characters or leading/trailing spaces (case and inner spaces are kept as written)';
export function identProblem(name: string): string | undefined {
  if (name.length === 0 || Buffer.byteLength(name, "utf8") > 63) return IDENT_ERROR;
  // eslint-disable-next-line no-control-regex
  if (/["\\.\u0000-\u001f\u007f]/.test(name) || name.trim() !== name) return IDENT_ERROR;
  return undefined;
}
const ident = z.string().refine((s) => identProblem(s) === undefined, { error: IDENT_ERROR });
/** `table.column`, each part a name as {@link identProblem} accepts it. */
// eslint-disable-next-line no-control-regex
export const COLUMN_REF = /^[^".\\\u0000-\u001f\u007f]+\.[^".\\\u0000-\u001f\u007f]+$/;
const columnRef = z.string().regex(COLUMN_REF, { error: 'must be "table.column"' });
/**
 * The column types a plan may name: a closed grammar, so nothing but a type reaches the SQL
 * (`text; DROP TABLE x` is refused, not run).
 */
const TYPE_SOURCE =
  "(?:smallint|integer|int|int2|int4|int8|bigint|real|double precision|float4|float8|boolean|bool|text|uuid|date|" +
  "timestamptz|timestamp(?: with(?:out)? time zone)?|timetz|time|interval|jsonb|json|bytea|inet|cidr|" +
  "(?:numeric|decimal)(?:\\(\\d{1,4}(?:, ?\\d{1,4})?\\))?|(?:varchar|character varying|char|character)\\(\\d{1,5}\\))(?:\\[\\])?";
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

/** Double-quoted identifier (names are validated identifiers; quoting keeps reserved words such as "user" working). */
export const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * A database object name derived from `parts`, at most 63 characters (PostgreSQL truncates
 * longer names, so two long names could collide), unique per input: a readable prefix plus a
 * hash of the whole input.
 */
export function objectName(kind: string, ...parts: string[]): string {
  const hash = createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 10);
  const readable = `remedy_${kind}_${parts.join("_")}`.slice(0, 63 - hash.length - 1);
  return `${readable}_${hash}`;
}

/** The dual-write function and trigger of a rename. */
export const syncTriggerName = (table: string, from: string, to: string): string => objectName("sync", table, from, to);
/** The name earlier remedy versions used (truncated, collision-prone); dropped too on contract. */
export const legacyTriggerName = (table: string, from: string, to: string): string => `remedy_sync_${table}_${from}_${to}`.slice(0, 63);

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
          ? [
              { kind: "fillNulls", table: o.table, key, column: o.to, value: o.fillNulls, field: `operations[${index}].fillNulls`, description: `NULLs in ${o.table}.${o.to}` } as const,
              ...notNullSteps(o.table, o.to),
            ]
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
      return [
        { kind: "fillNulls", table: o.table, key: o.key ?? "id", column: o.column, value: o.fillNulls, field: `operations[${index}].fillNulls`, description: `NULLs in ${o.table}.${o.column} written since the backfill` },
        ...notNullSteps(o.table, o.column),
      ];
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

/** How a rename converts values: old -> new (`up`) and new -> old (`down`); identity when the type is kept. */
interface Conversions {
  readonly up: (fromRef: string) => string;
  readonly down: (toRef: string) => string;
}

/** Functions a conversion may call. */
const CONVERSION_FUNCTIONS = new Set(["round", "trunc", "floor", "ceil", "ceiling", "abs", "coalesce", "nullif", "greatest", "least", "lower", "upper", "trim", "btrim", "ltrim", "rtrim", "length", "substr", "left", "right", "replace", "to_char", "to_number", "to_timestamp", "to_date", "date_trunc", "extract", "epoch"]);

/**
 * A conversion expression over one column (`column`), checked token by token: numbers, quoted
 * strings, operators, parentheses, `::type` casts, the allowed functions and the column itself.
 * Anything else (another column, a subquery, `;`) is refused, so a plan cannot smuggle SQL.
 * @returns a renderer that puts the column reference in place, or an error message.
 */
export function parseConversion(expr: string, column: string): ((ref: string) => string) | string {
  const r = parseExpression(expr, [column], false);
  return typeof r === "string" ? r : (ref) => r(() => ref);
}

/** Words a CHECK condition may use besides columns and functions. */
const CONDITION_WORDS = new Set(["and", "or", "not", "is", "null", "in", "between", "like", "ilike", "true", "false", "distinct", "from"]);

/**
 * A string constant's value as a literal that means the same to every session: `'...'` when it
 * has no backslash, else `E'...'` (an escape string reads the same whatever
 * standard_conforming_strings is, so a trigger body compiled in an application's session cannot
 * be read differently from how it was checked here).
 */
export function canonicalLiteral(value: string): string {
  const doubled = value.replace(/'/g, "''");
  return value.includes("\\") ? `E'${doubled.replace(/\\/g, "\\\\")}'` : `'${doubled}'`;
}

/** The value of an `E'...'` body (PostgreSQL's backslash escapes), or an error. */
function escapeStringValue(body: string): { value: string } | { error: string } {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "'") {
      out += "'"; // '' (the scanner only lets doubled quotes through)
      i++;
      continue;
    }
    if (c !== "\\") {
      out += c;
      continue;
    }
    const n = body[++i];
    const simple: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
    if (n in simple) out += simple[n];
    else if (/[0-7]/.test(n) || (n === "x" && /^[0-9a-f]/i.test(body.slice(i + 1)))) {
      // A byte value: PostgreSQL accepts only ASCII this way in a UTF-8 database.
      const m = (n === "x" ? /^x([0-9a-f]{1,2})/i : /^([0-7]{1,3})/).exec(body.slice(i)) as RegExpExecArray;
      const code = parseInt(m[1], n === "x" ? 16 : 8);
      if (code > 0x7f) return { error: `the escape \\${m[0]} is a raw byte above 0x7f; write the character itself or use \\uXXXX` };
      out += String.fromCharCode(code);
      i += m[0].length - 1;
    } else if (n === "u" || n === "U") {
      const len = n === "u" ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + len);
      if (!new RegExp(`^[0-9a-f]{${len}}$`, "i").test(hex)) return { error: `\\${n} needs ${len} hex digits` };
      out += String.fromCodePoint(parseInt(hex, 16));
      i += len;
    } else out += n;
  }
  return { value: out };
}

/** The value of a `U&'...'` body (`\XXXX`, `\+XXXXXX`, `\\`), or an error. */
function unicodeStringValue(body: string): { value: string } | { error: string } {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "'") {
      out += "'";
      i++;
    } else if (c !== "\\") out += c;
    else if (body[i + 1] === "\\") {
      out += "\\";
      i++;
    } else {
      const m = /^(?:\+([0-9a-f]{6})|([0-9a-f]{4}))/i.exec(body.slice(i + 1));
      if (!m) return { error: "a U& string needs \\XXXX, \\+XXXXXX or \\\\ after each backslash" };
      out += String.fromCodePoint(parseInt(m[1] ?? m[2], 16));
      i += m[0].length;
    }
  }
  return { value: out };
}

type ExprToken = { col: string } | { text: string } | { str: string };

/**
 * Splits `expr` into tokens: numbers, string constants in each form PostgreSQL has (`'...'`,
 * `E'...'`, `U&'...'`, `$tag$...$tag$`, kept as their values), `"quoted"` identifiers, casts,
 * words and operators. A form it cannot read exactly (a UESCAPE clause, bit strings, an
 * unterminated constant) is an error, never passed through.
 */
function scanExpression(expr: string): { tokens: ({ kind: "num" | "word" | "qident" | "cast" | "op"; text: string } | { kind: "str"; value: string })[] } | string {
  const tokens: ({ kind: "num" | "word" | "qident" | "cast" | "op"; text: string } | { kind: "str"; value: string })[] = [];
  const cast = new RegExp(`::\\s*${TYPE_SOURCE}`, "iy");
  let pos = 0;
  const at = () => `at character ${pos + 1}`;
  while (pos < expr.length) {
    const rest = expr.slice(pos);
    const ws = /^\s+/.exec(rest);
    if (ws) {
      pos += ws[0].length;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^(?:[eE]'((?:[^'\\]|''|\\[\s\S])*)')/.exec(rest))) {
      const v = escapeStringValue(m[1]);
      if ("error" in v) return `${v.error} ${at()}`;
      tokens.push({ kind: "str", value: v.value });
      pos += m[0].length;
    } else if ((m = /^[uU]&'((?:[^']|'')*)'/.exec(rest))) {
      if (/^\s*uescape\b/i.test(expr.slice(pos + m[0].length))) return `UESCAPE is not supported ${at()}; write the character itself or use E'\\uXXXX'`;
      const v = unicodeStringValue(m[1]);
      if ("error" in v) return `${v.error} ${at()}`;
      tokens.push({ kind: "str", value: v.value });
      pos += m[0].length;
    } else if (/^[bBxX]'/.test(rest)) {
      return `bit-string constants (B'...', X'...') are not supported ${at()}`;
    } else if ((m = /^'((?:[^']|'')*)'/.exec(rest))) {
      tokens.push({ kind: "str", value: m[1].replace(/''/g, "'") });
      pos += m[0].length;
    } else if ((m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest))) {
      const close = rest.indexOf(m[0], m[0].length);
      if (close < 0) return `unterminated dollar-quoted string ${m[0]} ${at()}`;
      tokens.push({ kind: "str", value: rest.slice(m[0].length, close) });
      pos += close + m[0].length;
    } else if (rest.startsWith("'") || /^[eE]'/.test(rest)) {
      return `unterminated string constant ${at()}`;
    } else if ((m = /^"((?:[^"]|"")+)"/.exec(rest))) {
      tokens.push({ kind: "qident", text: m[1].replace(/""/g, '"') });
      pos += m[0].length;
    } else if ((m = /^\d+(?:\.\d+)?(?![A-Za-z_])/.exec(rest))) {
      tokens.push({ kind: "num", text: m[0] });
      pos += m[0].length;
    } else if (((cast.lastIndex = pos), (m = cast.exec(expr)))) {
      tokens.push({ kind: "cast", text: m[0].replace(/\s+/g, " ") });
      pos = cast.lastIndex;
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      tokens.push({ kind: "word", text: m[0] });
      pos += m[0].length;
    } else if ((m = /^(?:<=|>=|<>|!=|\|\||[-+*/%(),<>=])/.exec(rest))) {
      tokens.push({ kind: "op", text: m[0] });
      pos += m[0].length;
    } else return `unexpected ${JSON.stringify(rest.slice(0, 12))} ${at()}`;
  }
  return { tokens };
}

/**
 * An expression over `columns` (a conversion, or with `condition` a CHECK condition), checked
 * token by token: numbers, string constants, operators, parentheses, `::type` casts, the allowed
 * functions and the columns (unquoted names fold to lower case, as in PostgreSQL; `"Quoted"`
 * names are exact). Anything else (another column, a subquery, `;`) is refused, so a plan cannot
 * smuggle SQL. It renders from its tokens, string constants in {@link canonicalLiteral} form: no
 * accepted input can end a quoting that the SQL around it opened.
 */
export function parseExpression(expr: string, columns: readonly string[], condition: boolean): ((ref: (column: string) => string) => string) | string {
  const column = columns.join(" or ");
  const scanned = scanExpression(expr);
  if (typeof scanned === "string") return scanned;
  const parts: ExprToken[] = [];
  let depth = 0;
  let previous: string | undefined;
  for (const tok of scanned.tokens) {
    if (tok.kind === "str") {
      if (previous === "str") return "two string constants in a row: join them with ||";
      if (tok.value.includes("\u0000")) return "a string constant may not contain the NUL character";
      parts.push({ str: tok.value });
    } else if (tok.kind === "num" || tok.kind === "cast") parts.push({ text: tok.text });
    else if (tok.kind === "qident") {
      if (!columns.includes(tok.text)) return `"${tok.text}" is not ${column}`;
      parts.push({ col: tok.text });
    } else if (tok.kind === "word") {
      const w = tok.text.toLowerCase();
      if (columns.includes(w)) parts.push({ col: w });
      else if (CONVERSION_FUNCTIONS.has(w) || ["null", "true", "false", "from", "as"].includes(w) || (condition && CONDITION_WORDS.has(w))) parts.push({ text: w });
      else return `${JSON.stringify(tok.text)} is neither ${column} nor an allowed function (${[...CONVERSION_FUNCTIONS].slice(0, 8).join(", ")}, ...)${columns.some((c) => c.toLowerCase() === w) ? `; write the column as "${columns.find((c) => c.toLowerCase() === w) ?? ""}" (names with capitals are quoted)` : ""}`;
    } else {
      if (tok.text === "(") depth++;
      if (tok.text === ")") depth--;
      if (depth < 0) return "unbalanced parentheses";
      parts.push({ text: tok.text });
    }
    previous = tok.kind;
  }
  if (depth !== 0) return "unbalanced parentheses";
  if (!parts.some((p) => "col" in p)) return `must use ${column}`;
  return (ref) => parts.map((p) => ("col" in p ? ref(p.col) : "str" in p ? canonicalLiteral(p.str) : p.text)).join(" ");
}

/**
 * `text` in dollar quotes whose tag (`base`, or `base` with a number) does not occur in it, so
 * nothing inside can end the quoting: the closing tag is the first one after the opening.
 */
export function dollarQuote(text: string, base: string): string {
  for (let n = 0; ; n++) {
    const tag = `$${base}${n === 0 ? "" : n}$`;
    if ((text + tag).indexOf(tag) === text.length) return `${tag}${text}${tag}`;
  }
}

/** A `DO` block around `body`, quoted with a tag the body does not contain. */
export const doBlock = (body: string): string => `DO ${dollarQuote(body, "do")}`;

/** A SQL string literal (for names passed as text, e.g. to to_regclass or saved in a table). */
export const lit = canonicalLiteral;

/** The conversions of a rename (identity without `up`/`down`). */
export function conversions(o: Extract<Operation, { op: "renameColumn" }>): Conversions {
  if (o.up === undefined || o.down === undefined) return { up: (r) => r, down: (r) => r };
  const up = parseConversion(o.up, o.from);
  const down = parseConversion(o.down, o.to);
  if (typeof up === "string" || typeof down === "string") throw new Error(`internal: unchecked conversion of ${o.table}.${o.from}`);
  return { up, down };
}

/** Decimal digits left of the point each integer type can need. */
const INTEGER_DIGITS: Record<string, number> = { smallint: 5, integer: 10, bigint: 19 };

/**
 * Whether every value of type `from` converts to `to` exactly (both as PostgreSQL's format_type
 * spells them): integers to wider integers or numerics with room, varchar(n) to varchar(m >= n)
 * or text, numeric(p,s) to numeric with no fewer integer and fractional digits, real to double
 * precision, and arrays of those. A rename over such a change needs no hand-written conversion:
 * the dual-write assigns across (an old version's write that does not fit the old type fails,
 * never truncates).
 */
export function isLosslessWidening(from: string, to: string): boolean {
  if (from === to) return true;
  if (from.endsWith("[]") || to.endsWith("[]")) return from.endsWith("[]") && to.endsWith("[]") && isLosslessWidening(from.slice(0, -2), to.slice(0, -2));
  const numeric = (t: string) => /^numeric(?:\((\d+),(\d+)\))?$/.exec(t);
  const varchar = (t: string) => /^character varying(?:\((\d+)\))?$/.exec(t);
  const toNum = numeric(to);
  if (from in INTEGER_DIGITS) {
    if (to in INTEGER_DIGITS) return INTEGER_DIGITS[to] >= INTEGER_DIGITS[from];
    if (toNum) return toNum[1] === undefined || Number(toNum[1]) - Number(toNum[2]) >= INTEGER_DIGITS[from];
    return false;
  }
  const fromNum = numeric(from);
  if (fromNum && toNum) {
    if (toNum[1] === undefined) return true;
    if (fromNum[1] === undefined) return false;
    const [p, s, p2, s2] = [fromNum[1], fromNum[2], toNum[1], toNum[2]].map(Number);
    return s2 >= s && p2 - s2 >= p - s;
  }
  if (from === "real") return to === "double precision";
  const fromVar = varchar(from);
  if (fromVar || from === "text") {
    if (to === "text") return true;
    const toVar = varchar(to);
    if (!toVar) return false;
    if (toVar[1] === undefined) return true;
    return fromVar !== null && fromVar[1] !== undefined && Number(toVar[1]) >= Number(fromVar[1]);
  }
  return false;
}

/**
 * Conversions both ways that fit a type change (shown in the refusal of a rename that changes
 * its type without them): each is accepted by {@link parseConversion} and runs on PostgreSQL for
 * the types given. A starting point to review, not a guarantee the values mean the same.
 */
export function suggestConversion(fromType: string, toType: string, from: string, to: string): { up: string; down: string } {
  const kind = (t: string) =>
    t in INTEGER_DIGITS ? "integer" : /^numeric|^real$|^double precision$/.test(t) ? "number" : /^text$|^character/.test(t) ? "text" : t.endsWith("[]") ? "array" : "other";
  // A cast the conversion grammar accepts: unbounded varchar reads as text.
  const cast = (t: string) => ({ "character varying": "text", "time without time zone": "time", "time with time zone": "timetz" })[t] ?? t;
  const ref = (c: string) => (/^[a-z_][a-z0-9_]*$/.test(c) ? c : `"${c}"`);
  const [f, t] = [ref(from), ref(to)];
  const [fk, tk] = [kind(fromType), kind(toType)];
  const parse = (text: string, type: string) => `nullif(trim(${text}), '')::${cast(type)}`;
  if (fk === "number" && tk === "integer") return { up: `round(${f})::${toType}`, down: `${t}::${cast(fromType)}` };
  if (fk === "text" && tk !== "text") return { up: parse(f, toType), down: `${t}::text` };
  if (tk === "text" && fk !== "text") return { up: `${f}::text`, down: parse(t, fromType) };
  return { up: `${f}::${cast(toType)}`, down: `${t}::${cast(fromType)}` };
}

/** Where expand keeps a renamed column's original default while the trigger applies it. */
export const SAVED_DEFAULTS_TABLE = "remedy_saved_defaults";
const CREATE_SAVED_DEFAULTS = `CREATE TABLE IF NOT EXISTS ${SAVED_DEFAULTS_TABLE} (table_name text, column_name text, expr text, PRIMARY KEY (table_name, column_name))`;

/**
 * The dual-write trigger of a rename, correct whichever side the writer uses, defaults
 * included. The old column's default moves into the trigger (saved in
 * {@link SAVED_DEFAULTS_TABLE}, so a retried expand still knows it): with a column default in
 * place, new code writing only the new column would leave the old one at its default and the
 * trigger could not tell a default from a written value.
 * - INSERT: a side left NULL takes the other's value; both NULL take the saved default.
 * - UPDATE: the side that changed is copied to the side that did not.
 */
function dualWriteSql(table: string, from: string, to: string, fn: string, conv: Conversions): string {
  const [f, t] = [`NEW.${q(from)}`, `NEW.${q(to)}`];
  const up = conv.up(f);
  const down = conv.down(t);
  // The saved default replaces a marker the body does not otherwise contain; no format() and
  // no fixed quote tags, so a conversion's string constants (canonical, see parseExpression)
  // cannot end any quoting around them.
  const body = (marker: string) => `BEGIN
  IF TG_OP = 'INSERT' THEN
    IF ${f} IS NULL AND ${t} IS NULL THEN ${f} := ${marker}; END IF;
    IF ${t} IS NULL THEN ${t} := ${up};
    ELSIF ${f} IS NULL THEN ${f} := ${down};
    END IF;
  ELSIF ${f} IS DISTINCT FROM OLD.${q(from)} AND ${t} IS NOT DISTINCT FROM OLD.${q(to)} THEN
    ${t} := ${up};
  ELSIF ${t} IS DISTINCT FROM OLD.${q(to)} AND ${f} IS NOT DISTINCT FROM OLD.${q(from)} THEN
    ${f} := ${down};
  END IF;
  RETURN NEW;
END`;
  let marker = "remedy_saved_default";
  for (let n = 1; body("").includes(marker); n++) marker = `remedy_saved_default_${n}`;
  const template = body(marker);
  return `${CREATE_SAVED_DEFAULTS};
INSERT INTO ${SAVED_DEFAULTS_TABLE} (table_name, column_name, expr)
  SELECT ${lit(table)}, ${lit(from)}, pg_get_expr(d.adbin, d.adrelid)
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  WHERE d.adrelid = ${lit(q(table))}::regclass AND a.attname = ${lit(from)}
  ON CONFLICT DO NOTHING;
${doBlock(`
DECLARE d text;
BEGIN
  SELECT expr INTO d FROM ${SAVED_DEFAULTS_TABLE} WHERE table_name = ${lit(table)} AND column_name = ${lit(from)};
  EXECUTE ${lit(`CREATE OR REPLACE FUNCTION ${q(fn)}() RETURNS trigger LANGUAGE plpgsql AS `)}
    || quote_literal(replace(${dollarQuote(template, "body")}, ${lit(marker)}, coalesce(d, 'NULL')));
END `)};
ALTER TABLE ${q(table)} ALTER COLUMN ${q(from)} DROP DEFAULT;
DROP TRIGGER IF EXISTS ${q(fn)} ON ${q(table)};
CREATE TRIGGER ${q(fn)} BEFORE INSERT OR UPDATE ON ${q(table)} FOR EACH ROW EXECUTE FUNCTION ${q(fn)}()`;
}

/** On contract, the new column gets the default the old one had. */
function restoreDefaultSql(table: string, from: string, to: string): string {
  return doBlock(`
DECLARE d text;
BEGIN
  IF to_regclass('${SAVED_DEFAULTS_TABLE}') IS NULL THEN RETURN; END IF;
  SELECT expr INTO d FROM ${SAVED_DEFAULTS_TABLE} WHERE table_name = ${lit(table)} AND column_name = ${lit(from)};
  IF d IS NOT NULL THEN EXECUTE 'ALTER TABLE ' || quote_ident(${lit(table)}) || ' ALTER COLUMN ' || quote_ident(${lit(to)}) || ' SET DEFAULT ' || d; END IF;
END `);
}

/**
 * NOT NULL without a long ACCESS EXCLUSIVE scan: a NOT VALID check constraint (instant), its
 * validation (SHARE UPDATE EXCLUSIVE: reads and writes continue), then SET NOT NULL, which
 * PostgreSQL 12+ proves from the validated constraint without scanning.
 */
function notNullSteps(table: string, column: string): Step[] {
  const check = objectName("nn", table, column);
  const [t, c, k] = [q(table), q(column), q(check)];
  return [
    { kind: "ddl", table, description: `check ${table}.${column} IS NOT NULL (not valid)`, sql: `ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${k}; ALTER TABLE ${t} ADD CONSTRAINT ${k} CHECK (${c} IS NOT NULL) NOT VALID` },
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

/**
 * Refuses to abort (undo expand/backfill of) a plan while a version in the rollback window uses
 * a column its expand added: undoing would break that version.
 */
export function checkAbort(plan: MigrationPlan, window: readonly VersionUsage[]): string[] {
  const { added } = columnChanges(plan, "expand");
  return added.flatMap((col) => {
    const users = window.filter((v) => v.columns.some((c) => columnMatches(col, c)));
    return users.length === 0
      ? []
      : [`abort of ${plan.id} drops ${col}, used by ${users.map((u) => `${u.service} ${u.version} (${u.role})`).join(", ")}; roll those versions back first`];
  });
}

/** Columns whose existing rows get their values in the backfill phase (a rename's new column). */
export function backfilledColumns(plan: MigrationPlan): string[] {
  return plan.operations.flatMap((o) => (o.op === "renameColumn" ? [`${o.table}.${o.to}`] : []));
}

/**
 * What a version needs from the live database before it may start: each column it uses exists,
 * and a column a plan fills by backfill has that backfill recorded in the ledger. The in-cluster
 * check (`remedy migrate check`) runs this against the real ledger, not the config's `applied`.
 */
export function checkUsesAgainstLedger(columns: readonly string[], live: ReadonlySet<string>, ledger: ReadonlySet<string>, plans: readonly MigrationPlan[]): string[] {
  const issues: string[] = [];
  for (const c of columns) {
    if (!live.has(c)) {
      const plan = plans.find((p) => columnChanges(p, "expand").added.some((a) => columnMatches(a, c)));
      issues.push(`${c} does not exist in the database${plan ? `; ${plan.id}'s expand phase adds it and has not run` : ""}`);
      continue;
    }
    for (const p of plans) {
      if (backfilledColumns(p).includes(c) && !ledger.has(`${p.id}:backfill`)) {
        issues.push(`${c} exists but ${p.id}'s backfill has not completed (ledger ${"remedy_migrations"}): existing rows still read NULL`);
      }
    }
  }
  return issues;
}

/** True when `column` (`table.column`) is `pattern` or falls under a `table.*` pattern. */
export function columnMatches(pattern: string, column: string): boolean {
  return pattern.endsWith(".*") ? column.startsWith(pattern.slice(0, -1)) : pattern === column;
}

/** Every step of a plan's phase, in order. */
export function phaseSteps(plan: MigrationPlan, phase: MigrationPhase): Step[] {
  return plan.operations.flatMap((o, i) => operationSteps(o, phase, i));
}

/**
 * Columns (`table.column`) a phase adds and removes, and those its contract makes NOT NULL
 * (`notNull`, with the old column of a rename whose NULLs the trigger would copy across).
 */
export function columnChanges(plan: MigrationPlan, phase: MigrationPhase): { added: string[]; removed: string[]; notNull: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  const notNull: string[] = [];
  for (const o of plan.operations) {
    if (phase !== "contract") break;
    if (o.op === "setNotNull") notNull.push(`${o.table}.${o.column}`);
    if (o.op === "renameColumn" && o.notNull) notNull.push(`${o.table}.${o.to}`, `${o.table}.${o.from}`);
  }
  for (const o of plan.operations) {
    if (o.op === "addColumn" && phase === "expand") added.push(`${o.table}.${o.column}`);
    if (o.op === "renameColumn" && phase === "expand") added.push(`${o.table}.${o.to}`);
    if (o.op === "renameColumn" && phase === "contract") removed.push(`${o.table}.${o.from}`);
    if (o.op === "dropColumn" && phase === "contract") removed.push(`${o.table}.${o.column}`);
    if (o.op === "dropTable" && phase === "contract") removed.push(`${o.table}.*`);
    if (o.op === "renameTable" && phase === "expand") added.push(`${o.to}.*`);
    if (o.op === "renameTable" && phase === "contract") removed.push(`${o.from}.*`);
    if (o.op === "sql" && o.phase === phase) {
      added.push(...(o.adds ?? []));
      removed.push(...(o.removes ?? []));
    }
  }
  return { added, removed, notNull };
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
  /** Columns it may write NULL to (`table.column`): a NOT NULL contract waits until it is gone. */
  readonly writesNull?: readonly string[];
}

/**
 * Refuses a contract phase while any version in the rollback window still uses a column it
 * removes. Returns one message per blocked column; empty = allowed.
 */
export function checkContract(plan: MigrationPlan, window: readonly VersionUsage[]): string[] {
  const { removed, notNull } = columnChanges(plan, "contract");
  const who = (v: VersionUsage) => `${v.service} ${v.version} (${v.role})`;
  const nullWriters = notNull.flatMap((col) => {
    // Fail closed: a version that uses the column and does not say whether it writes NULL there
    // might, and would fail on every such write after a rollback.
    const undeclared = window.filter((v) => v.writesNull === undefined && v.columns.some((c) => columnMatches(col, c)));
    const writers = window.filter((v) => (v.writesNull ?? []).includes(col));
    return [
      ...(undeclared.length === 0
        ? []
        : [
            `contract of ${plan.id} makes ${col} NOT NULL, but ${undeclared.map(who).join(", ")} use${undeclared.length === 1 ? "s" : ""} it without saying whether ${undeclared.length === 1 ? "it writes" : "they write"} NULL there; ` +
              `set database.writesNull for ${undeclared.map((v) => `"${v.version}"`).join(", ")} (the columns that version may write NULL to, [] if none; in a --window file: writesNull) and run the contract again`,
          ]),
      ...(writers.length === 0
        ? []
        : [
            `contract of ${plan.id} makes ${col} NOT NULL, but ${writers.map(who).join(", ")} may write NULL to it and would fail on every such write after a rollback; ` +
              "wait until no version in the rollback window writes NULL there (database.writesNull)",
          ]),
    ];
  });
  const uses = (v: VersionUsage, col: string) => v.columns.some((c) => columnMatches(col, c));
  return nullWriters.concat(removed.flatMap((col) => {
    const users = window.filter((v) => uses(v, col));
    return users.length === 0
      ? []
      : [
          `contract of ${plan.id} drops ${col}, still used by ${users.map((u) => `${u.service} ${u.version} (${u.role})`).join(", ")}; ` +
            "wait until no version in the rollback window uses it (promote past it and let the rollback window end)",
        ];
  }));
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
        const expands = plans.find((p) => columnChanges(p, "expand").added.some((a) => columnMatches(a, c)));
        const contracted = plans.find((p) => columnChanges(p, "contract").removed.some((r) => columnMatches(r, c)));
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
    const filled = backfilledColumns(plan);
    const removed = columnChanges(plan, "contract").removed;
    const contracting = run?.plan === plan.id && run.phase === "contract";
    for (const v of window) {
      for (const c of v.columns) {
        if (added.some((a) => columnMatches(a, c)) && !after.has(`${plan.id}:expand`)) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id} adds in its expand phase, not applied yet; run that phase first (database.run)`);
        }
        if (filled.includes(c) && after.has(`${plan.id}:expand`) && !after.has(`${plan.id}:backfill`)) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id} fills in its backfill phase, not applied yet: existing rows would read NULL; run that phase first (database.run)`);
        }
        if (removed.some((r) => columnMatches(r, c)) && after.has(`${plan.id}:contract`) && !contracting) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id}'s contract phase already removed; this version can no longer run`);
        }
      }
    }
  }
  return issues;
}
