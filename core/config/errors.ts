/**
 * Error reporting for stack config: every problem with its key path, what was wrong, the value found
 * and how to fix it, with "did you mean" for misspelled keys.
 */
import { z } from "zod";

/** One configuration problem, with the key path in `services[2].candidate.weight` form. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Thrown when configuration is invalid; `issues` lists every problem, not just the first. */
export class ConfigError extends Error {
  constructor(
    public readonly issues: readonly ConfigIssue[],
    source: string,
  ) {
    super(
      `invalid ${source} (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

// ---------------------------------------------------------------------------------------------
// Field helpers: each gives the user a message that says what the key is for.

export interface Issue {
  readonly path: PropertyKey[];
  readonly message: string;
}

/** `["services", 2, "candidate", "weight"]` -> `services[2].candidate.weight`. */
export function formatPath(path: readonly PropertyKey[], root = ""): string {
  let out = root;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/**
 * The keys the schema knows at `path`. At a union of objects (a discriminated one: `strategy`,
 * `strategy.steps[]`), the option whose `kind` the input names (`input`: the object with the
 * unknown key), else every option's keys.
 */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[], input?: unknown): string[] {
  let s: unknown = schema;
  const unwrap = (): void => {
    while (s instanceof z.ZodOptional) s = s.unwrap();
  };
  const pick = (): void => {
    unwrap();
    if (!(s instanceof z.ZodUnion)) return;
    const objects = (s.options as unknown[]).filter((o): o is z.ZodObject => o instanceof z.ZodObject);
    const kind = (input as { kind?: unknown } | undefined)?.kind;
    const meant = objects.find((o) => o.shape.kind instanceof z.ZodLiteral && o.shape.kind.value === kind);
    s = meant ?? z.object(Object.fromEntries(objects.flatMap((o) => Object.entries(o.shape))));
  };
  for (const part of path) {
    pick();
    if (s instanceof z.ZodArray && typeof part === "number") s = s.element;
    else if (s instanceof z.ZodObject && typeof part === "string") s = s.shape[part];
    else return [];
  }
  pick();
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

/** The closest of `known` to `value` within 3 edits (case-insensitive), for a did-you-mean. */
export function closest(value: string, known: readonly string[]): string | undefined {
  const best = known.map((k) => ({ k, d: editDistance(value.toLowerCase(), k.toLowerCase()) })).sort((a, b) => a.d - b.d)[0];
  if (best !== undefined && best.d <= 3) return best.k;
  // A shortened name (`bake` for `bakeMinutes`, `step` for `stepPercent`).
  return value.length >= 3 ? known.find((k) => k.toLowerCase().startsWith(value.toLowerCase())) : undefined;
}

/**
 * The error of a union on `kind` whose input names no known kind: which kinds there are, the one
 * probably meant, and each kind's shape.
 */
export function kindError(kinds: Readonly<Record<string, readonly string[]>>, shapes: string): (iss: { readonly input?: unknown }) => string {
  const names = Object.keys(kinds);
  return (iss) => {
    const input = iss.input as Record<string, unknown> | undefined;
    const kind = input?.kind;
    // The kind whose keys the input uses most, else the nearest name.
    const byKeys = input && typeof input === "object" ? names.map((k) => ({ k, n: Object.keys(input).filter((key) => kinds[k].includes(key)).length })).sort((a, b) => b.n - a.n)[0] : undefined;
    const meant = byKeys && byKeys.n > 0 ? byKeys.k : typeof kind === "string" ? closest(kind, names) : undefined;
    const what = kind === undefined ? "needs a kind" : `has unknown kind ${JSON.stringify(kind)}`;
    const hint = meant ? (kind === undefined ? ` (add kind: ${meant}?)` : ` (did you mean "${meant}"?)`) : "";
    return `${what}${hint}; the kinds are ${names.join(", ")}: ${shapes}`;
  };
}

export function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function toIssues(schema: z.ZodType, zodIssues: readonly z.core.$ZodIssue[], root: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of zodIssues) {
    if (iss.code === "unrecognized_keys") {
      const known = knownKeys(schema, iss.path, "input" in iss ? iss.input : undefined);
      for (const key of iss.keys) {
        const best = closest(key, known);
        const hint = best !== undefined ? `did you mean "${best}"?` : `known keys: ${known.join(", ")}`;
        out.push({ path: formatPath([...iss.path, key], root), message: `unknown key; ${hint}` });
      }
      continue;
    }
    if (iss.code === "invalid_union") {
      // Report the branch the input was meant for (the one that got past the value's own type
      // and keys), with paths under the union's; else the union's own message.
      const prefixed = iss.errors.map((branch) => branch.map((e) => ({ ...e, path: [...iss.path, ...e.path] })));
      const meant = prefixed.filter((branch) => branch.length > 0 && branch.every((e) => e.path.length > iss.path.length));
      if (meant.length === 1) out.push(...toIssues(schema, meant[0], root));
      else out.push({ path: formatPath(iss.path, root), message: `${iss.message}, got ${describe(iss.input)}` });
      continue;
    }
    const hasInput = "input" in iss && iss.input !== undefined;
    const got = hasInput && !iss.message.startsWith("required") ? `, got ${describe(iss.input)}` : "";
    out.push({ path: formatPath(iss.path, root), message: `${iss.message}${got}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Normalisation
