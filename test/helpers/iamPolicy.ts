/**
 * A small evaluator of identity-based IAM policies, for asking "may this role do X on Y" of the
 * documents the components write, without an account. It follows IAM's documented logic for one
 * identity policy: an explicit Deny wins, else an Allow whose Action, Resource and every Condition
 * match, else implicit deny. Wildcards (`*`, `?`) in Action (case-insensitive) and Resource; the
 * condition operators remedy's policies use: StringEquals, StringLike, ArnLike, ArnEquals, Null,
 * Bool (and their Not forms for StringEquals/ArnLike/ArnEquals). A missing key fails a positive
 * operator, as IAM does. Unknown operators throw, so a policy using one is not silently "allowed".
 */

export interface Request {
  readonly action: string;
  readonly resource: string;
  /** Condition keys of the request, e.g. `aws:ResourceTag/remedy:rollback`. */
  readonly context?: Readonly<Record<string, string | undefined>>;
}

interface Statement {
  readonly Effect: "Allow" | "Deny";
  readonly Action?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

const list = <T>(v: T | readonly T[] | undefined): readonly T[] => (v === undefined ? [] : Array.isArray(v) ? (v as readonly T[]) : [v as T]);

function glob(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, caseInsensitive ? "i" : "");
  return re.test(value);
}

function conditionHolds(op: string, key: string, expected: readonly string[], ctx: Readonly<Record<string, string | undefined>>): boolean {
  const actual = ctx[key];
  switch (op) {
    case "StringEquals":
    case "ArnEquals":
      return actual !== undefined && expected.includes(actual);
    case "StringNotEquals":
    case "ArnNotEquals":
      return actual === undefined || !expected.includes(actual);
    case "StringLike":
    case "ArnLike":
      return actual !== undefined && expected.some((p) => glob(p, actual));
    case "ArnNotLike":
      return actual === undefined || !expected.some((p) => glob(p, actual));
    case "Null":
      return expected.some((e) => (e === "true") === (actual === undefined));
    case "Bool":
      return actual !== undefined && expected.includes(actual);
    default:
      throw new Error(`iamPolicy: condition operator ${op} is not modelled; extend the evaluator`);
  }
}

function matches(st: Statement, req: Request): boolean {
  if (!list(st.Action).some((a) => glob(a, req.action, true))) return false;
  if (!list(st.Resource).some((r) => glob(r, req.resource))) return false;
  for (const [op, keys] of Object.entries(st.Condition ?? {})) {
    for (const [key, value] of Object.entries(keys)) {
      if (!conditionHolds(op, key, list(value), req.context ?? {})) return false;
    }
  }
  return true;
}

/** Whether the policy allows the request. */
export function allows(policy: { readonly Statement: readonly unknown[] }, req: Request): boolean {
  const statements = policy.Statement as readonly Statement[];
  if (statements.some((st) => st.Effect === "Deny" && matches(st, req))) return false;
  return statements.some((st) => st.Effect === "Allow" && matches(st, req));
}

/** Whether an explicit Deny of the policy matches the request (a resource policy of denies only). */
export function denies(policy: { readonly Statement: readonly unknown[] }, req: Request): boolean {
  return (policy.Statement as readonly Statement[]).some((st) => st.Effect === "Deny" && matches(st, req));
}
