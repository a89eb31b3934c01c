/**
 * `remedy validate [--stack <name> | <Pulumi.<stack>.yaml>...] [--json]`: the program's own
 * config validation, offline (no Pulumi CLI, backend or credentials): the same checks and
 * messages `pulumi preview` gives for `remedy:*` config (schema, cross-field rules, secret test
 * routes, AWS quotas), plus unknown `remedy:*` keys. What needs the live stack (release state:
 * image-mode versions, rollback holds, the rollback window of the migration gate, the live API
 * schema) is left to preview, and said.
 * Exit 0 valid, 1 invalid, 2 usage error or unreadable file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  type ConfigIssue,
  checkSecretTestRoutes,
  parseHotfixStackConfig,
  parseStackConfig,
  unknownConfigKeys,
} from "../../core/config";
import { UsageError, parseCommandArgs, usage } from "../args";

/** A stack file that cannot be read as YAML; the message names the file, line and column. */
export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
  }
}

export interface FileResult {
  readonly file: string;
  readonly stack: string;
  readonly kind: "prod" | "hotfix";
  readonly valid: boolean;
  readonly issues: readonly ConfigIssue[];
  /** Values encrypted in the file (`secure:`), checked as placeholders. */
  readonly secrets: readonly string[];
  readonly summary?: string;
}

/** Stands in for an encrypted value: long enough for every secret field remedy checks. */
const SECRET_PLACEHOLDER = "0123456789abcdef0123456789abcdef";

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new StackFileError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return yaml.load(text, { filename: file });
  } catch (err) {
    const e = err as yaml.YAMLException;
    throw new StackFileError(`${file}:${(e.mark?.line ?? 0) + 1}:${(e.mark?.column ?? 0) + 1}: not valid YAML: ${e.reason ?? e.message}`);
  }
}

/** The value with every `{ secure: ... }` leaf replaced, and the paths of those leaves. */
function withoutSecrets(value: unknown, at: string, found: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => withoutSecrets(v, `${at}[${i}]`, found));
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (Object.keys(o).length === 1 && typeof o.secure === "string") {
      found.push(at);
      return SECRET_PLACEHOLDER;
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, withoutSecrets(v, `${at}.${k}`, found)]));
  }
  return value;
}

/**
 * The `remedy:*` config of a stack file, as the program would get it: the project's namespace
 * from Pulumi.yaml beside it (keys without a namespace belong to the project), project-level
 * `config:` values as defaults.
 */
export function stackFileConfig(file: string): { namespace: string; keys: string[]; raw: Record<string, unknown>; secretKeys: Set<string>; secrets: string[] } {
  const doc = readYaml(file);
  const projectFile = path.join(path.dirname(file), "Pulumi.yaml");
  const project = fs.existsSync(projectFile) ? (readYaml(projectFile) as { name?: unknown; config?: Record<string, unknown> } | null) : null;
  const namespace = typeof project?.name === "string" ? project.name : CONFIG_NAMESPACE;
  const config = (doc as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== "object" || Array.isArray(config) || config === null) throw new StackFileError(`${file}: \`config:\` must be a map of keys to values`);
  const full = (k: string) => (k.includes(":") ? k : `${namespace}:${k}`);
  const merged = new Map<string, unknown>();
  for (const [k, v] of Object.entries(project?.config ?? {})) {
    // Project-level config: `{ value: ... }` or `{ default: ... }` (a type declaration).
    const def = v !== null && typeof v === "object" && !Array.isArray(v) ? ((v as { value?: unknown; default?: unknown }).value ?? (v as { default?: unknown }).default) : v;
    if (def !== undefined) merged.set(full(k), def);
  }
  for (const [k, v] of Object.entries(config as Record<string, unknown>)) merged.set(full(k), v);
  const raw: Record<string, unknown> = {};
  const secretKeys = new Set<string>();
  const secrets: string[] = [];
  for (const [k, v] of merged) {
    if (!k.startsWith(`${namespace}:`)) continue;
    const found: string[] = [];
    const value = withoutSecrets(v, k, found);
    if (found.length > 0) secretKeys.add(`${CONFIG_NAMESPACE}:${k.slice(namespace.length + 1)}`);
    if (found.length === 1 && found[0] === k && typeof v === "object" && k !== `${namespace}:hotfixStack`) {
      throw new StackFileError(`${file}: ${k} is one encrypted value, so its structure cannot be checked offline; set secrets inside it with \`pulumi config set --secret --path '${k}[0].field'\`, or validate with \`pulumi preview\``);
    }
    secrets.push(...found);
    raw[k.slice(namespace.length + 1)] = value;
  }
  return { namespace, keys: [...merged.keys()], raw, secretKeys, secrets };
}

/** Validates one stack file the way the program does at preview. @throws StackFileError when unreadable. */
export async function validateStackFile(file: string): Promise<FileResult> {
  const stack = /^Pulumi\.(.+)\.ya?ml$/.exec(path.basename(file))?.[1] ?? path.basename(file);
  const { namespace, keys, raw, secretKeys, secrets } = stackFileConfig(file);
  const kind = "hotfix" in raw ? "hotfix" : "prod";
  const result = (issues: readonly ConfigIssue[], summary?: string): FileResult => ({ file, stack, kind, valid: issues.length === 0, issues, secrets, ...(summary ? { summary } : {}) });
  const unknown = unknownConfigKeys(keys, namespace);
  if (unknown.length > 0) return result(unknown);
  try {
    if (kind === "hotfix") {
      const h = parseHotfixStackConfig(raw);
      return result([], `hotfix stack of ${h.prodStack}, ${Object.keys(h.images).length} hotfix image(s)`);
    }
    const config = parseStackConfig(raw);
    checkSecretTestRoutes(config, (key) => secretKeys.has(key));
    // Loaded here only: the quota rules size the stack's IAM policies with the components' code.
    const { quotaProblems } = await import("../../stacks/quotas");
    const quota = quotaProblems(config, { alarmNamePrefix: `${namespace}-${stack}` });
    if (quota.length > 0) return result(quota.map((q) => ({ path: `quota ${q.quota}`, message: `${q.count} > ${q.limit} in ${q.where}; ${q.fix}` })));
    const lanes = config.services.flatMap((s) => s.legacy.map((l) => `${s.name} ${l.version} until ${l.sunsetAt}`));
    const p = config.promotion;
    const promotion = p ? `; takes releases only from ${p.sources.map((x) => x.stack).join(", ")} (soak ${p.soakMinutes} min${p.approvals ? `, ${p.approvals.count} approval(s)` : ""})` : "";
    return result([], `${config.services.length} service(s), ${Object.keys(config.ingressGroups).length} ALB group(s)${lanes.length ? `, ${lanes.length} legacy lane(s): ${lanes.join(", ")}` : ""}${promotion}`);
  } catch (err) {
    if (err instanceof ConfigError) return result(err.issues);
    throw err;
  }
}

function format(r: FileResult): string {
  if (r.valid) {
    const secrets = r.secrets.length > 0 ? `; ${r.secrets.length} encrypted value(s) checked by shape only` : "";
    // "prod" in --json is any stack of services (staging, prod); only a hotfix stack is said as such.
    return `${r.file}: valid ${r.kind === "hotfix" ? "hotfix " : ""}stack config (${r.summary ?? ""}${secrets})`;
  }
  return [`${r.file}: invalid (${r.issues.length} problem${r.issues.length === 1 ? "" : "s"}):`, ...r.issues.map((i) => `  - ${i.path}: ${i.message}`)].join("\n");
}

export async function validateCommand(argv: readonly string[], json: boolean, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let files: string[];
  try {
    const { values, positionals } = parseCommandArgs("validate", argv, { stack: { type: "string" } }, 20);
    if (values.stack !== undefined && positionals.length > 0) usage("validate", "give --stack <name> or stack files, not both");
    if (values.stack !== undefined) files = [`Pulumi.${String(values.stack)}.yaml`];
    else if (positionals.length > 0) files = positionals;
    else files = fs.readdirSync(".").filter((f) => /^Pulumi\..+\.ya?ml$/.test(f)).sort();
    if (files.length === 0) usage("validate", "no Pulumi.<stack>.yaml here; run it in the project directory, or name the file");
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`remedy validate: ${e.message}`);
    return 2;
  }
  const results: FileResult[] = [];
  for (const file of files) {
    try {
      results.push(await validateStackFile(file));
    } catch (e) {
      if (!(e instanceof StackFileError)) throw e;
      err(json ? JSON.stringify({ error: e.name, message: e.message }) : `remedy validate: ${e.message}`);
      return 2;
    }
  }
  if (json) out(JSON.stringify({ valid: results.every((r) => r.valid), files: results }, null, 2));
  else out(results.map(format).join("\n"));
  if (!json && results.every((r) => r.valid)) err("remedy validate: not checked offline (preview checks them): release state (image-mode versions, rollback holds), the migration gate's rollback window, the API gate against the live version");
  return results.every((r) => r.valid) ? 0 : 1;
}
