/**
 * GraphQL backward compatibility: compare a candidate schema with the live one (GraphQL
 * Inspector's diff over graphql-js schemas), then, when known client operations are given,
 * validate each against the candidate and downgrade breaking changes no operation uses.
 * Pure: SDL and documents in, report out (file reading lives in the CLI and the program).
 */
import { CriticalityLevel, DiffRule, diff, type Change } from "@graphql-inspector/core";
import {
  GraphQLError,
  Kind,
  isInterfaceType,
  isObjectType,
  TypeInfo,
  buildASTSchema,
  getNamedType,
  parse,
  validate,
  visit,
  visitWithTypeInfo,
  type ASTNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from "graphql";
// graphql-js's SDL validation (what buildSchema runs): called directly because buildSchema joins
// its errors into one plain Error and drops their locations.
import { validateSDL } from "graphql/validation/validate";
import { type JsonTextError, parseJson } from "./jsonText";

export const Category = {
  Breaking: "breaking",
  Dangerous: "dangerous",
  Safe: "safe",
  /** Breaking in general, but no known client operation uses what changed. */
  SafeByUsage: "safe-by-usage",
} as const;
export type Category = (typeof Category)[keyof typeof Category];

export interface ApiChange {
  readonly category: Category;
  /** GraphQL Inspector change type, e.g. `FIELD_REMOVED`. */
  readonly type: string;
  /** Schema coordinate: `Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`, `@directive(arg:)`. */
  readonly coordinate: string;
  readonly message: string;
  /** Client operations that use the changed element (usage-aware checks only). */
  readonly usedBy?: readonly string[];
  /** A removed field judged by the retirement rule (usage-aware checks only): why it may or may not go. */
  readonly retirement?: string;
}

/** How one client version fares against the candidate (usage-aware checks with versioned operations). */
export interface ClientVersionVerdict {
  readonly client: string;
  readonly version: string;
  /** `retired`: its operations are no longer checked (`retired.json` in its directory). */
  readonly status: "ok" | "broken" | "retired";
  /** What breaks it: change coordinates and operations that no longer validate. */
  readonly breaks: readonly string[];
  readonly retired?: ClientRetirement;
}

/** A client version marked retired: since when, and why (who said they no longer call). */
export interface ClientRetirement {
  readonly since: string;
  readonly reason: string;
}

/** A field's recorded deletion date (`api.fieldRetirements`, `--field-retirements`): it may be removed after `after`. */
export interface FieldRetirement {
  /** YYYY-MM-DD. */
  readonly after: string;
  readonly reason?: string;
}

export interface BrokenOperation {
  readonly operation: string;
  readonly file: string;
  readonly errors: readonly string[];
}

export interface CompatReport {
  readonly compatible: boolean;
  readonly changes: readonly ApiChange[];
  readonly brokenOperations: readonly BrokenOperation[];
  readonly summary: Readonly<Record<Category, number>>;
  /** Each client version's verdict, when the operations are laid out per client and version. */
  readonly clientVersions?: readonly ClientVersionVerdict[];
}

/** What to do about a breaking candidate, in the order to consider them (docs/versioning.md). */
export const CHOICES = [
  "evolve the schema compatibly: add the new shape beside the old one, mark the old @deprecated and record its deletion date; remove it after that date, once no active client version uses it",
  "keep the old shape through an adapter in the same deployment: a resolver that serves the old field from the new data",
  "last resort: keep the old version running beside the new one for its remaining clients, with a sunset date (docs/versioning.md)",
] as const;

/** An SDL or operation document that does not parse or build; carries line and column. */
export class ApiInputError extends Error {
  constructor(
    public readonly source: string,
    public readonly line: number | undefined,
    public readonly column: number | undefined,
    detail: string,
  ) {
    super(`${source}${line !== undefined ? `:${line}:${column ?? 1}` : ""}: ${detail}`);
    this.name = "ApiInputError";
  }
}

function inputError(source: string, err: unknown): ApiInputError {
  if (err instanceof GraphQLError) {
    const loc = err.locations?.[0];
    return new ApiInputError(source, loc?.line, loc?.column, err.message);
  }
  return new ApiInputError(source, undefined, undefined, err instanceof Error ? err.message : String(err));
}

/** Builds a schema from SDL, or throws ApiInputError naming the file, line and column. */
export function loadSchema(sdl: string, source: string): GraphQLSchema {
  try {
    const doc = parse(sdl);
    const errors = validateSDL(doc);
    if (errors.length > 0) {
      // A definition made twice is reported where it is made again (the first one is fine).
      const at = (e: GraphQLError) => (/can only be defined once|There can be only one/.test(e.message) ? e.locations?.[e.locations.length - 1] : e.locations?.[0]);
      const first = at(errors[0]);
      const more = errors.slice(1).map((e) => `${e.message}${at(e) ? ` (${at(e)?.line}:${at(e)?.column})` : ""}`);
      throw new ApiInputError(source, first?.line, first?.column, [errors[0].message, ...more].join("; "));
    }
    return buildASTSchema(doc, { assumeValidSDL: true });
  } catch (err) {
    if (err instanceof ApiInputError) throw err;
    throw inputError(source, err);
  }
}

/** One client operation: its name (or `anonymous#n`), where it came from, and its document. */
export interface ClientOperation {
  readonly name: string;
  readonly file: string;
  readonly document: DocumentNode;
  /** The client version it belongs to (`operations/<client>/<version>/...`), when laid out so. */
  readonly client?: { readonly name: string; readonly version: string; readonly retired?: ClientRetirement };
}

/**
 * Splits a `.graphql` document into operations, each with every fragment of the file (so
 * fragment spreads validate). Throws ApiInputError with line/column on a syntax error.
 */
export function parseOperations(text: string, file: string): ClientOperation[] {
  let doc: DocumentNode;
  try {
    doc = parse(text);
  } catch (err) {
    throw inputError(file, err);
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  /** The fragments an operation spreads, transitively (only those, or validation flags the rest as unused). */
  const reachable = (root: OperationDefinitionNode): FragmentDefinitionNode[] => {
    const seen = new Map<string, FragmentDefinitionNode>();
    const queue: ASTNode[] = [root];
    while (queue.length > 0) {
      visit(queue.pop() as ASTNode, {
        FragmentSpread(node) {
          const f = fragments.get(node.name.value);
          if (f && !seen.has(f.name.value)) {
            seen.set(f.name.value, f);
            queue.push(f);
          }
        },
      });
    }
    return [...seen.values()];
  };
  const operations = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operations.map((op, i) => ({
    name: op.name ? op.name.value : `anonymous#${i + 1}`,
    file,
    document: { kind: Kind.DOCUMENT, definitions: [op, ...reachable(op)] },
  }));
}

/**
 * Operations of a persisted-operations manifest: `{ "<id>": "<document>" }` (Apollo / Relay
 * style) or `[{ "id": "...", "body"|"query": "..." }]`.
 */
export function parseManifest(json: string, file: string): ClientOperation[] {
  let data: unknown;
  try {
    data = parseJson(json, file);
  } catch (err) {
    const e = err as JsonTextError;
    throw new ApiInputError(file, e.line, e.column, `not JSON: ${e.message.replace(/^.*?: not valid JSON: /, "")}`);
  }
  const entries: [string, unknown][] = Array.isArray(data)
    ? data.map((e: unknown, i) => {
        const o = (e ?? {}) as Record<string, unknown>;
        return [String(o.id ?? o.name ?? `#${i}`), o.body ?? o.query ?? o.document];
      })
    : data && typeof data === "object"
      ? Object.entries(data as Record<string, unknown>)
      : [];
  if (entries.length === 0) throw new ApiInputError(file, undefined, undefined, "expected an object of id -> document, or an array of { id, body }");
  return entries.flatMap(([id, body]) => {
    if (typeof body !== "string") throw new ApiInputError(file, undefined, undefined, `entry ${id}: document must be a string`);
    return parseOperations(body, `${file}#${id}`).map((op) => ({ ...op, name: op.name.startsWith("anonymous#") ? id : op.name }));
  });
}

function coordinate(c: Change): string {
  const path = c.path ?? "";
  const meta = c.meta as Record<string, unknown>;
  if (c.type === "DIRECTIVE_ARGUMENT_ADDED" && typeof meta.addedDirectiveArgumentName === "string") {
    return `@${String(meta.directiveName)}(${meta.addedDirectiveArgumentName}:)`;
  }
  const parts = path.split(".");
  if (path.startsWith("@")) return parts.length === 2 ? `${parts[0]}(${parts[1]}:)` : path;
  if (parts.length === 3 && c.type.includes("ARGUMENT")) return `${parts[0]}.${parts[1]}(${parts[2]}:)`;
  return path;
}

/** Coordinates (types, fields, arguments) an operation touches, resolved on `schema`. */
export function usedCoordinates(schema: GraphQLSchema, document: DocumentNode): Set<string> {
  const used = new Set<string>();
  const info = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(info, {
      Field() {
        const parent = info.getParentType();
        const def = info.getFieldDef();
        if (!parent || !def) return;
        used.add(parent.name).add(`${parent.name}.${def.name}`).add(getNamedType(def.type).name);
        for (const arg of def.args) used.add(getNamedType(arg.type).name);
      },
      Argument() {
        const parent = info.getParentType();
        const field = info.getFieldDef();
        const arg = info.getArgument();
        const directive = info.getDirective();
        if (directive && arg) used.add(`@${directive.name}`).add(`@${directive.name}(${arg.name}:)`);
        else if (parent && field && arg) used.add(`${parent.name}.${field.name}(${arg.name}:)`);
      },
      Directive(node) {
        used.add(`@${node.name.value}`);
      },
      ObjectField() {
        const input = info.getParentInputType();
        const named = input ? getNamedType(input) : undefined;
        if (named) used.add(named.name);
      },
      VariableDefinition(node) {
        let t = node.type;
        while (t.kind !== Kind.NAMED_TYPE) t = t.type;
        used.add(t.name.value);
      },
      NamedType(node) {
        used.add(node.name.value);
      },
    }),
  );
  return used;
}

/** Whether a change's coordinate (or the type it lives in, for values and input fields) is used. */
function isUsed(change: ApiChange, used: Set<string>): boolean {
  if (used.has(change.coordinate)) return true;
  // A required argument added to a field or directive breaks every document that uses the field
  // or directive (none passes the argument yet), not the documents that use the argument.
  if (/_ARGUMENT_ADDED$/.test(change.type) && used.has(change.coordinate.replace(/\(.*$/, ""))) return true;
  const root = change.coordinate.replace(/\(.*$/, "").split(".")[0];
  // Enum values and input fields flow through variables, which documents do not show: any use
  // of the type counts. A removed or retyped field/argument counts only where it is selected.
  return /^(ENUM_|INPUT_FIELD_|TYPE_|UNION_|OBJECT_TYPE_INTERFACE|INTERFACE_)/.test(change.type) && used.has(root);
}

export interface CheckOptions {
  /**
   * How removing a field that was already deprecated in the live schema counts: `breaking`
   * (default: clients may still use it) or `dangerous` (deprecation was the notice).
   */
  readonly deprecatedRemoval?: "breaking" | "dangerous";
  /** Known client operations; enables the usage-aware check. Those of retired client versions are not checked. */
  readonly operations?: readonly ClientOperation[];
  /** Recorded deletion dates of deprecated fields, by coordinate (`Type.field`). */
  readonly fieldRetirements?: Readonly<Record<string, FieldRetirement>>;
  /** Today, YYYY-MM-DD (UTC), for the deletion dates; default the clock's. */
  readonly today?: string;
}

/**
 * The retirement rule for a removed field (usage-aware checks): it may go only when the live
 * schema marks it @deprecated, its recorded deletion date has passed, and no active client
 * version uses it. The category and why.
 */
function fieldRemoval(live: GraphQLSchema, c: ApiChange, usedBy: readonly string[], options: CheckOptions): { category: Category; retirement: string } {
  const [typeName, fieldName] = c.coordinate.split(".");
  const type = live.getType(typeName);
  const field = type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[fieldName] : undefined;
  const recorded = options.fieldRetirements?.[c.coordinate];
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  if (!field?.deprecationReason) return { category: Category.Breaking, retirement: `never @deprecated: deprecate it (with why and what to use), record its deletion date (api.fieldRetirements), and remove it after that date` };
  if (!recorded) return { category: Category.Breaking, retirement: `@deprecated, but no deletion date is recorded for ${c.coordinate} (api.fieldRetirements): record one, and remove it after it` };
  if (recorded.after > today) return { category: Category.Breaking, retirement: `may be removed after ${recorded.after} (its recorded deletion date), not before` };
  if (usedBy.length > 0) return { category: Category.Breaking, retirement: `past its deletion date ${recorded.after}, but active client versions still use it` };
  return { category: Category.Safe, retirement: `retired: @deprecated, past its deletion date ${recorded.after}, and no active client version uses it` };
}

const clientKey = (op: ClientOperation) => (op.client ? `${op.client.name} ${op.client.version}` : undefined);

/**
 * graphql-js (the reference implementation's findBreakingChanges / findDangerousChanges) is the
 * floor: where GraphQL Inspector is more lenient, its category is raised to graphql-js's.
 * - removing `repeatable` from a directive breaks documents that repeat it (graphql-js: breaking);
 * - a new optional input field is dangerous in graphql-js (clients that build inputs generically).
 */
const FLOOR: Readonly<Record<string, Category>> = {
  DIRECTIVE_REPEATABLE_REMOVED: Category.Breaking,
  INPUT_FIELD_ADDED: Category.Dangerous,
};
const RANK: Record<Category, number> = { safe: 0, "safe-by-usage": 1, dangerous: 2, breaking: 3 };

const LEVEL: Record<CriticalityLevel, Category> = {
  [CriticalityLevel.Breaking]: Category.Breaking,
  [CriticalityLevel.Dangerous]: Category.Dangerous,
  [CriticalityLevel.NonBreaking]: Category.Safe,
};

/** Compares `candidate` with `live`. Compatible = nothing breaking (after usage, if operations are given). */
export async function checkCompatibility(live: GraphQLSchema, candidate: GraphQLSchema, options: CheckOptions = {}): Promise<CompatReport> {
  const rules = options.deprecatedRemoval === "dangerous" ? [DiffRule.suppressRemovalOfDeprecatedField] : [];
  const raw = await diff(live, candidate, rules);
  let changes: ApiChange[] = raw.map((c) => {
    const level = LEVEL[c.criticality.level];
    // A field of an input type the live schema does not have cannot surprise a client: only
    // fields added to an existing input type get graphql-js's "dangerous" floor.
    const newInputType = c.type === "INPUT_FIELD_ADDED" && c.path !== undefined && live.getType(c.path.split(".")[0]) === undefined;
    const floor = newInputType ? undefined : FLOOR[c.type];
    const category = floor && RANK[floor] > RANK[level] ? floor : level;
    return { category, type: c.type, coordinate: coordinate(c), message: c.message };
  });
  const brokenOperations: BrokenOperation[] = [];
  let clientVersions: ClientVersionVerdict[] | undefined;
  if (options.operations) {
    // Retired client versions are not checked: nobody is to call with their operations.
    const active = options.operations.filter((op) => !op.client?.retired);
    const usage = active.map((op) => ({ op, used: usedCoordinates(live, op.document) }));
    const broken = new Map<ClientOperation, string[]>();
    for (const { op } of usage) {
      const errors = validate(candidate, op.document);
      if (errors.length > 0) {
        brokenOperations.push({ operation: op.name, file: op.file, errors: errors.map((e) => e.message) });
        broken.set(op, errors.map((e) => e.message));
      }
    }
    const users = new Map<ApiChange, ClientOperation[]>();
    changes = changes.map((c) => {
      const wasBreaking = c.category === Category.Breaking;
      const ops = usage.filter((u) => isUsed(c, u.used)).map((u) => u.op);
      const usedBy = ops.map((op) => `${op.name} (${op.file})`);
      let out: ApiChange = c;
      if (c.type === "FIELD_REMOVED") {
        const { category, retirement } = fieldRemoval(live, c, usedBy, options);
        out = { ...c, category, retirement, ...(usedBy.length > 0 ? { usedBy } : {}) };
      } else if (wasBreaking) {
        out = usedBy.length > 0 ? { ...c, usedBy } : { ...c, category: Category.SafeByUsage };
      }
      if (out.category === Category.Breaking) users.set(out, ops);
      return out;
    });
    // Per client version, when the operations are laid out per client and version.
    const keys = [...new Set(options.operations.map(clientKey).filter((k): k is string => k !== undefined))];
    if (keys.length > 0) {
      clientVersions = keys.map((key) => {
        const mine = options.operations?.filter((op) => clientKey(op) === key) ?? [];
        const client = mine[0].client as NonNullable<ClientOperation["client"]>;
        if (client.retired) return { client: client.name, version: client.version, status: "retired" as const, breaks: [], retired: client.retired };
        const breaks = [
          ...[...users].filter(([, ops]) => ops.some((op) => mine.includes(op))).map(([c]) => c.coordinate),
          ...mine.filter((op) => broken.has(op)).map((op) => `operation ${op.name}`),
        ];
        return { client: client.name, version: client.version, status: breaks.length > 0 ? ("broken" as const) : ("ok" as const), breaks };
      });
    }
  }
  const summary = { breaking: 0, dangerous: 0, safe: 0, "safe-by-usage": 0 } as Record<Category, number>;
  for (const c of changes) summary[c.category] += 1;
  return { compatible: summary.breaking === 0 && brokenOperations.length === 0, changes, brokenOperations, summary, ...(clientVersions ? { clientVersions } : {}) };
}

/** The report as text: one line per change, then broken operations and a verdict. */
export function formatReport(r: CompatReport): string {
  const mark: Record<Category, string> = { breaking: "BREAKING ", dangerous: "DANGEROUS", safe: "safe     ", "safe-by-usage": "unused   " };
  const order: Category[] = [Category.Breaking, Category.Dangerous, Category.SafeByUsage, Category.Safe];
  const lines = order.flatMap((cat) =>
    r.changes
      .filter((c) => c.category === cat)
      .map((c) => `${mark[cat]}  ${c.coordinate}  ${c.message}${c.retirement ? `: ${c.retirement}` : ""}${c.usedBy ? ` (used by ${c.usedBy.join(", ")})` : cat === Category.SafeByUsage ? " (breaking, but no known operation uses it)" : ""}`),
  );
  for (const b of r.brokenOperations) lines.push(`BROKEN     operation ${b.operation} (${b.file}): ${b.errors.join("; ")}`);
  for (const v of r.clientVersions ?? []) {
    const what = v.status === "retired" ? `retired since ${v.retired?.since ?? "?"} (${v.retired?.reason ?? ""}): not checked` : v.status === "broken" ? `BROKEN by ${v.breaks.join(", ")}` : "ok";
    lines.push(`client     ${v.client} ${v.version}: ${what}`);
  }
  if (!r.compatible) lines.push("choices, in this order:", ...CHOICES.map((c, i) => `  ${i + 1}. ${c}`));
  lines.push(
    `${r.compatible ? "compatible" : "NOT compatible"}: ${r.summary.breaking} breaking, ${r.summary.dangerous} dangerous, ${r.summary["safe-by-usage"]} unused breaking, ${r.summary.safe} safe, ${r.brokenOperations.length} broken operations`,
  );
  return lines.join("\n");
}
