/**
 * GraphQL schemas and client operations read from files: shared by the stack program's API gate
 * (`pulumi preview`) and `remedy check-api`. Local files only, no network.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ApiInputError, parseManifest, parseOperations, type ClientOperation, type ClientRetirement, type FieldRetirement } from "./apiCompat";
import { type JsonTextError, parseJson } from "./jsonText";

/** A file's text, or an ApiInputError naming the file and what it was read for. */
export function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ApiInputError(file, undefined, undefined, `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * A client version's `retired.json` (`{ "since": "YYYY-MM-DD", "reason": "..." }`): its
 * operations are no longer checked. Undefined when there is none.
 */
function readRetirement(dir: string): ClientRetirement | undefined {
  const file = path.join(dir, "retired.json");
  if (!fs.existsSync(file)) return undefined;
  let data: unknown;
  try {
    data = parseJson(readText(file, "a client version's retirement"), file);
  } catch (err) {
    throw err instanceof ApiInputError ? err : new ApiInputError(file, (err as JsonTextError).line, (err as JsonTextError).column, (err as Error).message);
  }
  const r = data as { since?: unknown; reason?: unknown };
  if (!r || typeof r !== "object" || typeof r.since !== "string" || !DATE.test(r.since) || typeof r.reason !== "string" || r.reason.trim().length < 5) {
    throw new ApiInputError(file, undefined, undefined, 'must be { "since": "YYYY-MM-DD", "reason": "<who said this client version no longer calls, at least 5 characters>" }');
  }
  return { since: r.since, reason: r.reason.trim() };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Operations from files and directories: `.graphql`/`.gql` documents and `.json` persisted-operation
 * manifests. Under a directory given, `<client>/<version>/...` files belong to that client version
 * (issue 37, 1); a `retired.json` in a version's directory marks it retired.
 */
export function loadOperations(paths: readonly string[]): ClientOperation[] {
  const files: { file: string; client?: ClientOperation["client"] }[] = [];
  const walk = (p: string, root: string): void => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      throw new ApiInputError(p, undefined, undefined, "cannot read operations: no such file or directory");
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(p).sort()) walk(path.join(p, entry), root);
    } else if (/\.(graphql|gql|json)$/.test(p) && path.basename(p) !== "retired.json") {
      const parts = path.relative(root, p).split(path.sep);
      if (parts.length >= 3) {
        const [name, version] = parts;
        const retired = readRetirement(path.join(root, name, version));
        files.push({ file: p, client: { name, version, ...(retired ? { retired } : {}) } });
      } else files.push({ file: p });
    }
  };
  for (const p of paths) walk(p, p);
  return files.flatMap(({ file, client }) =>
    (file.endsWith(".json") ? parseManifest(readText(file, "operations"), file) : parseOperations(readText(file, "operations"), file)).map((op) => (client ? { ...op, client } : op)),
  );
}

/**
 * Recorded deletion dates of deprecated fields: `{ "<Type.field>": { "after": "YYYY-MM-DD", "reason": "..." } }`.
 * @throws ApiInputError naming the entry and the fix
 */
export function loadFieldRetirements(file: string): Record<string, FieldRetirement> {
  let data: unknown;
  try {
    data = parseJson(readText(file, "field retirements"), file);
  } catch (err) {
    throw err instanceof ApiInputError ? err : new ApiInputError(file, (err as JsonTextError).line, (err as JsonTextError).column, (err as Error).message);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new ApiInputError(file, undefined, undefined, 'must be an object of "Type.field" -> { "after": "YYYY-MM-DD", "reason": "..." }');
  const out: Record<string, FieldRetirement> = {};
  for (const [coordinate, v] of Object.entries(data as Record<string, unknown>)) {
    const e = v as { after?: unknown; reason?: unknown };
    if (!/^[_A-Za-z][_0-9A-Za-z]*\.[_A-Za-z][_0-9A-Za-z]*$/.test(coordinate)) throw new ApiInputError(file, undefined, undefined, `${JSON.stringify(coordinate)}: a key is a field's coordinate, Type.field`);
    if (!e || typeof e !== "object" || typeof e.after !== "string" || !DATE.test(e.after) || Number.isNaN(Date.parse(e.after))) {
      throw new ApiInputError(file, undefined, undefined, `${coordinate}.after: the deletion date, YYYY-MM-DD (after it the field may be removed, once no active client version uses it)`);
    }
    out[coordinate] = { after: e.after, ...(typeof e.reason === "string" ? { reason: e.reason } : {}) };
  }
  return out;
}

/**
 * The client versions (`<client> <version>`) among `clients` not marked retired (retired.json)
 * under the operation directories `operations`; all of them without any.
 */
export function activeClientVersions(clients: readonly string[], operations: readonly string[]): string[] {
  if (operations.length === 0 || clients.length === 0) return [...clients];
  const retired = new Set(loadOperations(operations).filter((op) => op.client?.retired).map((op) => `${op.client?.name} ${op.client?.version}`));
  return clients.filter((c) => !retired.has(c));
}
