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

const ident = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: "must be a lowercase SQL identifier (a-z, 0-9, _; at most 63 characters)" });
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
  z.strictObject({ op: z.literal("setNotNull"), table: ident, column: ident, default: sqlDefault("the value existing NULLs get, as a SQL literal"), key: ident.optional() }),
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
    adds: z.array(z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/)).optional(),
    removes: z.array(z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/)).optional(),
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

/** The SQL steps of one operation in one phase. */
function operationSteps(o: Operation, phase: MigrationPhase): Step[] {
  switch (o.op) {
    case "addColumn":
      return phase === "expand"
        ? [{ kind: "ddl", table: o.table, description: `add ${o.table}.${o.column}`, sql: `ALTER TABLE ${q(o.table)} ADD COLUMN IF NOT EXISTS ${q(o.column)} ${o.type}${o.default ? ` DEFAULT ${o.default}` : ""}` }]
        : [];
    case "renameColumn": {
      const fn = syncTriggerName(o.table, o.from, o.to);
      const legacy = legacyTriggerName(o.table, o.from, o.to);
      const key = o.key ?? "id";
      const [t, from, to] = [q(o.table), q(o.from), q(o.to)];
      if (phase === "expand") {
        return [
          { kind: "ddl", table: o.table, description: `add ${o.table}.${o.to} beside ${o.from}`, sql: `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${to} ${o.type}` },
          { kind: "ddl", table: o.table, description: `dual-write ${o.from} <-> ${o.to}`, sql: dualWriteSql(o.table, o.from, o.to, fn, conversions(o)) },
        ];
      }
      if (phase === "backfill") {
        // Only rows the dual-write has not covered: never overwrite a value new code wrote.
        return [{ kind: "backfill", table: o.table, key, description: `copy ${o.table}.${o.from} into ${o.to}`, set: `${to} = ${conversions(o).up(from)}`, where: `${to} IS NULL AND ${from} IS NOT NULL` }];
      }
      return [
        ...(o.notNull ? notNullSteps(o.table, o.to) : []),
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
      // filled first, so the validation cannot fail on them.
      return [
        { kind: "backfill", table: o.table, key: o.key ?? "id", description: `fill NULL ${o.table}.${o.column} written since the backfill`, set: `${q(o.column)} = ${o.default}`, where: `${q(o.column)} IS NULL` },
        ...notNullSteps(o.table, o.column),
      ];
    case "dropColumn":
      return phase === "contract" ? [{ kind: "ddl", table: o.table, description: `drop ${o.table}.${o.column}`, sql: `ALTER TABLE ${q(o.table)} DROP COLUMN IF EXISTS ${q(o.column)}` }] : [];
    case "dropNotNull":
      return phase === "expand" ? [{ kind: "ddl", table: o.table, description: `allow NULL in ${o.table}.${o.column}`, sql: `ALTER TABLE ${q(o.table)} ALTER COLUMN ${q(o.column)} DROP NOT NULL` }] : [];
    case "addCheck": {
      // NOT VALID: instant, checks new writes only; VALIDATE later scans under SHARE UPDATE EXCLUSIVE.
      const cond = (parseExpression(o.condition, o.columns, true) as (ref: (c: string) => string) => string)(q);
      if (phase === "expand") return [{ kind: "ddl", table: o.table, description: `check ${o.name} on ${o.table} (not valid)`, sql: `ALTER TABLE ${q(o.table)} DROP CONSTRAINT IF EXISTS ${q(o.name)}; ALTER TABLE ${q(o.table)} ADD CONSTRAINT ${q(o.name)} CHECK (${cond}) NOT VALID` }];
      if (phase === "backfill") return [{ kind: "ddl", table: o.table, description: `validate ${o.name}`, sql: `ALTER TABLE ${q(o.table)} VALIDATE CONSTRAINT ${q(o.name)}` }];
      return [];
    }
    case "addForeignKey": {
      if (phase === "expand") {
        return [
          {
            kind: "ddl",
            table: o.table,
            description: `foreign key ${o.name} ${o.table} -> ${o.references.table} (not valid)`,
            sql: `ALTER TABLE ${q(o.table)} DROP CONSTRAINT IF EXISTS ${q(o.name)}; ALTER TABLE ${q(o.table)} ADD CONSTRAINT ${q(o.name)} FOREIGN KEY (${o.columns.map(q).join(", ")}) REFERENCES ${q(o.references.table)} (${o.references.columns.map(q).join(", ")})${o.onDelete ? ` ON DELETE ${o.onDelete.toUpperCase()}` : ""} NOT VALID`,
          },
        ];
      }
      if (phase === "backfill") return [{ kind: "ddl", table: o.table, description: `validate ${o.name}`, sql: `ALTER TABLE ${q(o.table)} VALIDATE CONSTRAINT ${q(o.name)}` }];
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
            sql: `DO $do$ BEGIN IF to_regclass('${o.to}') IS NULL THEN ALTER TABLE ${q(o.from)} RENAME TO ${q(o.to)}; CREATE VIEW ${q(o.from)} AS SELECT * FROM ${q(o.to)}; END IF; END $do$`,
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
 * An expression over `columns` (a conversion, or with `condition` a CHECK condition), checked
 * token by token like {@link parseConversion}; renders with a function giving each column's reference.
 */
export function parseExpression(expr: string, columns: readonly string[], condition: boolean): ((ref: (column: string) => string) => string) | string {
  const column = columns.join(" or ");
  const parts: ({ col: string } | { text: string })[] = [];
  const token = new RegExp(`\\s*(?:(\\d+(?:\\.\\d+)?)|('(?:[^']|'')*')|(::\\s*${TYPE_SOURCE})|([a-z_][a-z0-9_]*)|(<=|>=|<>|\\|\\||[-+*/%(),<>=]))`, "iy");
  let pos = 0;
  let depth = 0;
  while (pos < expr.length) {
    if (/^\s+$/.test(expr.slice(pos))) break;
    token.lastIndex = pos;
    const m = token.exec(expr);
    if (!m) return `unexpected ${JSON.stringify(expr.slice(pos, pos + 12))} at character ${pos + 1}`;
    pos = token.lastIndex;
    const [, num, str, cast, word, op] = m;
    if (num !== undefined || str !== undefined) parts.push({ text: num ?? str });
    else if (cast !== undefined) parts.push({ text: cast.replace(/\s+/g, " ") });
    else if (word !== undefined) {
      const w = word.toLowerCase();
      if (columns.includes(w)) parts.push({ col: w });
      else if (CONVERSION_FUNCTIONS.has(w) || ["null", "true", "false", "from", "as"].includes(w) || (condition && CONDITION_WORDS.has(w))) parts.push({ text: w });
      else return `${JSON.stringify(word)} is neither ${column} nor an allowed function (${[...CONVERSION_FUNCTIONS].slice(0, 8).join(", ")}, ...)`;
    } else {
      if (op === "(") depth++;
      if (op === ")") depth--;
      if (depth < 0) return "unbalanced parentheses";
      parts.push({ text: op });
    }
  }
  if (depth !== 0) return "unbalanced parentheses";
  if (!parts.some((p) => "col" in p)) return `must use ${column}`;
  return (ref) => parts.map((p) => ("col" in p ? ref(p.col) : p.text)).join(" ");
}

/** The conversions of a rename (identity without `up`/`down`). */
export function conversions(o: Extract<Operation, { op: "renameColumn" }>): Conversions {
  if (o.up === undefined || o.down === undefined) return { up: (r) => r, down: (r) => r };
  const up = parseConversion(o.up, o.from);
  const down = parseConversion(o.down, o.to);
  if (typeof up === "string" || typeof down === "string") throw new Error(`internal: unchecked conversion of ${o.table}.${o.from}`);
  return { up, down };
}

/** Where expand keeps a renamed column's original default while the trigger applies it. */
export const SAVED_DEFAULTS_TABLE = "remedy_saved_defaults";

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
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const [f, t] = [`NEW.${q(from)}`, `NEW.${q(to)}`];
  const up = conv.up(f);
  const down = conv.down(t);
  // The body is built here with quoted identifiers; only the saved default comes from the
  // database (format's %s). Any % of the body is escaped for format().
  const body = `BEGIN
  IF TG_OP = 'INSERT' THEN
    IF ${f} IS NULL AND ${t} IS NULL THEN ${f} := %s; END IF;
    IF ${t} IS NULL THEN ${t} := ${up};
    ELSIF ${f} IS NULL THEN ${f} := ${down};
    END IF;
  ELSIF ${f} IS DISTINCT FROM OLD.${q(from)} AND ${t} IS NOT DISTINCT FROM OLD.${q(to)} THEN
    ${t} := ${up};
  ELSIF ${t} IS DISTINCT FROM OLD.${q(to)} AND ${f} IS NOT DISTINCT FROM OLD.${q(from)} THEN
    ${f} := ${down};
  END IF;
  RETURN NEW;
END`.replace(/%(?!s;)/g, "%%");
  return `CREATE TABLE IF NOT EXISTS ${SAVED_DEFAULTS_TABLE} (table_name text, column_name text, expr text, PRIMARY KEY (table_name, column_name));
INSERT INTO ${SAVED_DEFAULTS_TABLE} (table_name, column_name, expr)
  SELECT ${lit(table)}, ${lit(from)}, pg_get_expr(d.adbin, d.adrelid)
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  WHERE d.adrelid = ${lit(table)}::regclass AND a.attname = ${lit(from)}
  ON CONFLICT DO NOTHING;
DO $do$
DECLARE d text;
BEGIN
  SELECT expr INTO d FROM ${SAVED_DEFAULTS_TABLE} WHERE table_name = ${lit(table)} AND column_name = ${lit(from)};
  EXECUTE format(${lit(`CREATE OR REPLACE FUNCTION ${q(fn)}() RETURNS trigger LANGUAGE plpgsql AS $fn$
${body}
$fn$`)}, coalesce(d, 'NULL'));
END $do$;
ALTER TABLE ${q(table)} ALTER COLUMN ${q(from)} DROP DEFAULT;
DROP TRIGGER IF EXISTS ${q(fn)} ON ${q(table)};
CREATE TRIGGER ${q(fn)} BEFORE INSERT OR UPDATE ON ${q(table)} FOR EACH ROW EXECUTE FUNCTION ${q(fn)}()`;
}

/** On contract, the new column gets the default the old one had. */
function restoreDefaultSql(table: string, from: string, to: string): string {
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  return `DO $do$
DECLARE d text;
BEGIN
  IF to_regclass('${SAVED_DEFAULTS_TABLE}') IS NULL THEN RETURN; END IF;
  SELECT expr INTO d FROM ${SAVED_DEFAULTS_TABLE} WHERE table_name = ${lit(table)} AND column_name = ${lit(from)};
  IF d IS NOT NULL THEN EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT %s', ${lit(table)}, ${lit(to)}, d); END IF;
END $do$`;
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
      return phase === "expand" ? [ddl(o.table, `drop ${o.table}.${o.column}`, `ALTER TABLE ${q(o.table)} DROP COLUMN IF EXISTS ${q(o.column)}`)] : [];
    case "renameColumn": {
      if (phase !== "expand") return [];
      const fn = syncTriggerName(o.table, o.from, o.to);
      const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
      return [
        ddl(
          o.table,
          `stop dual-writing ${o.from} <-> ${o.to}, drop ${o.table}.${o.to}, give ${o.from} its default back`,
          [
            `DROP TRIGGER IF EXISTS ${q(fn)} ON ${q(o.table)}`,
            `DROP FUNCTION IF EXISTS ${q(fn)}()`,
            `ALTER TABLE ${q(o.table)} DROP COLUMN IF EXISTS ${q(o.to)}`,
            restoreDefaultSql(o.table, o.from, o.from),
            `DELETE FROM ${SAVED_DEFAULTS_TABLE} WHERE table_name = ${lit(o.table)} AND column_name = ${lit(o.from)} AND to_regclass('${SAVED_DEFAULTS_TABLE}') IS NOT NULL`,
          ].join(";\n"),
        ),
      ];
    }
    case "setNotNull":
      return phase === "expand" ? [ddl(o.table, `remove the default of ${o.table}.${o.column}`, `ALTER TABLE ${q(o.table)} ALTER COLUMN ${q(o.column)} DROP DEFAULT`)] : [];
    case "dropNotNull":
      return phase === "expand" ? [ddl(o.table, `set ${o.table}.${o.column} NOT NULL again`, `ALTER TABLE ${q(o.table)} ALTER COLUMN ${q(o.column)} SET NOT NULL`)] : [];
    case "addCheck":
    case "addForeignKey":
      return phase === "expand" ? [ddl(o.table, `drop ${o.name}`, `ALTER TABLE ${q(o.table)} DROP CONSTRAINT IF EXISTS ${q(o.name)}`)] : [];
    case "addIndex":
      return phase === "expand" ? [ddl(o.table, `drop index ${o.name}`, `DROP INDEX CONCURRENTLY IF EXISTS ${q(o.name)}`, { concurrently: true })] : [];
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
  return plan.operations.flatMap((o) => operationSteps(o, phase));
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
  const nullWriters = notNull.flatMap((col) => {
    const writers = window.filter((v) => (v.writesNull ?? []).includes(col));
    return writers.length === 0
      ? []
      : [
          `contract of ${plan.id} makes ${col} NOT NULL, but ${writers.map((w) => `${w.service} ${w.version} (${w.role})`).join(", ")} may write NULL to it and would fail on every such write after a rollback; ` +
            "wait until no version in the rollback window writes NULL there (database.writesNull)",
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
