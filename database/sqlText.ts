/**
 * SQL text a plan may carry, read exactly and written back safely: the expression scanner for
 * conversions and CHECK conditions (string constants in every PostgreSQL form), quoting of names
 * and literals, dollar quoting, and which type changes are lossless.
 */
import type { Operation } from "./plan";

/**
 * The column types a plan may name: a closed grammar, so nothing but a type reaches the SQL
 * (`text; DROP TABLE x` is refused, not run).
 */
export const TYPE_SOURCE =
  "(?:smallint|integer|int|int2|int4|int8|bigint|real|double precision|float4|float8|boolean|bool|text|uuid|date|" +
  "timestamptz|timestamp(?: with(?:out)? time zone)?|timetz|time|interval|jsonb|json|bytea|inet|cidr|" +
  "(?:numeric|decimal)(?:\\(\\d{1,4}(?:, ?\\d{1,4})?\\))?|(?:varchar|character varying|char|character)\\(\\d{1,5}\\))(?:\\[\\])?";
/** Double-quoted identifier (names are validated identifiers; quoting keeps reserved words such as "user" working). */
export const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** How a rename converts values: old -> new (`up`) and new -> old (`down`); identity when the type is kept. */
export interface Conversions {
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
export const CREATE_SAVED_DEFAULTS = `CREATE TABLE IF NOT EXISTS ${SAVED_DEFAULTS_TABLE} (table_name text, column_name text, expr text, PRIMARY KEY (table_name, column_name))`;

/**
 * The dual-write trigger of a rename, correct whichever side the writer uses, defaults
 * included. The old column's default moves into the trigger (saved in
 * {@link SAVED_DEFAULTS_TABLE}, so a retried expand still knows it): with a column default in
 * place, new code writing only the new column would leave the old one at its default and the
 * trigger could not tell a default from a written value.
 * - INSERT: a side left NULL takes the other's value; both NULL take the saved default.
 * - UPDATE: the side that changed is copied to the side that did not.
 */
export function dualWriteSql(table: string, from: string, to: string, fn: string, conv: Conversions): string {
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
export function restoreDefaultSql(table: string, from: string, to: string): string {
  return doBlock(`
DECLARE d text;
BEGIN
  IF to_regclass('${SAVED_DEFAULTS_TABLE}') IS NULL THEN RETURN; END IF;
  SELECT expr INTO d FROM ${SAVED_DEFAULTS_TABLE} WHERE table_name = ${lit(table)} AND column_name = ${lit(from)};
  IF d IS NOT NULL THEN EXECUTE 'ALTER TABLE ' || quote_ident(${lit(table)}) || ' ALTER COLUMN ' || quote_ident(${lit(to)}) || ' SET DEFAULT ' || d; END IF;
END `);
}

