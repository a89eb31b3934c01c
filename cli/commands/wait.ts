/**
 * `remedy wait <service>... [--outputs <file> | --release <service>=<id>...] [--until promoted|window-closed]
 *   [--timeout 3600] [--interval 10] [--stack prod] [--project remedy] [--json]` (issue 36, 1);
 * `--until promotable --from <stack> --to <stack>` waits for a bundle's promotion instead (cli/commands/waitPromotion.ts):
 * follows the releases a `pulumi up` started until each is promoted (or its rollback window
 * closed), rolled back, or held for a person, printing each change as it happens and a summary a
 * CI log shows. Tied to the release: its id from the stack's outputs (`pulumi stack output --json`,
 * `services.<name>.release.releaseId`) or `--release`; without either, the release in progress
 * when the wait starts, said as such. Exit codes: {@link WAIT_EXIT} (docs/cli.md).
 * The anchors: `kubectl argo rollouts status` and `aws deploy wait deployment-successful`; past
 * them: several services at once, `--json` lines for machines, and a summary.
 */
import { readStackOutputs } from "../stackOutputs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type ReleaseOutcome, WAIT_EXIT, type WaitUntil, releaseOutcome } from "../../core/releaseOutcome";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import type { ReleaseState } from "../../core/releaseState";
import { printable } from "../../lambdas/commons/text";
import { UsageError, parseCommandArgs, usage } from "../args";
import { describeAwsError } from "../awsErrors";
import { releaseTableName } from "../../core/naming";
import { type PromotionWaitHooks, waitForPromotions } from "./waitPromotion";

const OPTIONS = {
  stack: { type: "string" },
  project: { type: "string" },
  outputs: { type: "string" },
  release: { type: "string", multiple: true },
  until: { type: "string" },
  timeout: { type: "string" },
  interval: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  config: { type: "string" },
  bundle: { type: "string" },
} as const;

export interface WaitIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** Tests: the store, the clock and the sleep. */
export interface WaitHooks extends PromotionWaitHooks {
  readonly store?: ReleaseStore;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Row {
  readonly service: string;
  releaseId: string | null;
  outcome: ReleaseOutcome;
  endedAt?: number;
}

/** A drill of this service is running and rolled back the version it drilled: its restore resumes the release. */
async function drilling(store: ReleaseStore, state: ReleaseState): Promise<boolean> {
  const d = await store.drill(state.service);
  const rb = state.lastRollback;
  return d !== undefined && d.candidate !== undefined && rb !== null && rb.fromVersion === d.candidate.version && Date.parse(rb.at) >= d.startedAtMs - 1000;
}

function positiveSeconds(command: string, name: string, raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) usage(command, `--${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  return n;
}

/** The release id of each service: `--release` first, then the outputs file's. @throws UsageError */
function releaseIds(services: readonly string[], values: Record<string, unknown>): Map<string, string> {
  const ids = new Map<string, string>();
  if (typeof values.outputs === "string") {
    let outputs: { services?: Record<string, { release?: { releaseId?: unknown } }> };
    try {
      outputs = readStackOutputs(values.outputs, " right after pulumi up") as typeof outputs;
    } catch (err) {
      usage("wait", (err as Error).message);
    }
    for (const s of services) {
      const id = outputs.services?.[s]?.release?.releaseId;
      if (typeof id === "string") ids.set(s, id);
      else if (outputs.services?.[s] === undefined) usage("wait", `--outputs ${values.outputs} has no service ${s} (services: ${Object.keys(outputs.services ?? {}).join(", ") || "none"})`);
    }
  }
  for (const r of (values.release as string[] | undefined) ?? []) {
    const m = /^([a-z][-a-z0-9]*)=(\S+)$/.exec(r);
    if (!m) usage("wait", `--release takes <service>=<release id> (e.g. payments=green:v2.4.0:17), got ${JSON.stringify(r)}`);
    if (!services.includes(m[1])) usage("wait", `--release names ${m[1]}, which is not waited for (${services.join(", ")})`);
    ids.set(m[1], m[2]);
  }
  return ids;
}

export async function waitCommand(argv: readonly string[], json: boolean, io: WaitIo, hooks: WaitHooks = {}): Promise<number> {
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const fail = (message: string, code: number) => {
    io.err(json ? JSON.stringify({ error: message }) : `remedy wait: ${message}`);
    return code;
  };
  let services: string[];
  let until: WaitUntil;
  let timeoutS: number;
  let intervalS: number;
  let given: Map<string, string>;
  let stack: string;
  let tableName: string;
  try {
    const { values, positionals } = parseCommandArgs("wait", argv, OPTIONS, 500);
    services = [...new Set(positionals)];
    if (services.length === 0) usage("wait", "name at least one service, e.g. `remedy wait payments orders --outputs outputs.json`");
    const u = (values.until as string | undefined) ?? "promoted";
    if (u !== "promoted" && u !== "window-closed" && u !== "promotable") usage("wait", `--until is promoted, window-closed or promotable, got ${JSON.stringify(u)}`);
    timeoutS = positiveSeconds("wait", "timeout", values.timeout, 3600);
    if (u === "promotable") {
      if (values.stack !== undefined) usage("wait", "--until promotable names the target with --to, not --stack");
      // Each poll reads the sources' histories and CloudWatch: once a minute unless asked.
      return await waitForPromotions(services, values, { timeoutS, intervalS: positiveSeconds("wait", "interval", values.interval, 60), json }, io, hooks);
    }
    for (const k of ["from", "to", "config", "bundle"] as const) if (values[k] !== undefined) usage("wait", `--${k} is for --until promotable (a bundle's promotion between stacks)`);
    until = u;
    intervalS = positiveSeconds("wait", "interval", values.interval, 10);
    given = releaseIds(services, values);
    stack = String(values.stack ?? "prod");
    tableName = releaseTableName(`${String(values.project ?? "remedy")}-${stack}`);
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, WAIT_EXIT.usage);
    throw err;
  }
  const store = hooks.store ?? new ReleaseStore(new DynamoDBClient({}), tableName);
  const started = now();
  const rows: Row[] = services.map((service) => ({ service, releaseId: given.get(service) ?? null, outcome: { kind: "waiting", detail: "not read yet" } }));
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  const say = (row: Row, event: "progress" | "outcome") => {
    if (json) io.out(JSON.stringify({ at: new Date(now()).toISOString(), event, service: row.service, releaseId: row.releaseId, outcome: row.outcome.kind, detail: row.outcome.detail }));
    else io.out(printable(`${clock(now())} ${row.service}: ${row.outcome.kind === "waiting" ? row.outcome.detail : `${row.outcome.kind.toUpperCase()}: ${row.outcome.detail}`}`));
  };
  try {
    for (;;) {
      const open = rows.filter((r) => r.outcome.kind === "waiting");
      const states = await store.getMany(open.map((r) => r.service));
      for (const row of open) {
        const state = states.get(row.service);
        if (!state) return fail(`no release state for ${row.service} in ${tableName} (stack ${stack}); is it deployed, and is --stack right?`, WAIT_EXIT.usage);
        if (row.releaseId === null) {
          if (!state.releaseId) return fail(`${row.service} has no release in progress to wait for; pass --outputs from the pulumi up that started one`, WAIT_EXIT.usage);
          row.releaseId = state.releaseId;
          if (!json) io.err(`remedy wait: ${row.service}: waiting on the release in progress (${state.releaseId}); pass --outputs <pulumi stack output --json> to tie the wait to your pulumi up`);
        }
        const history = state.releaseId !== row.releaseId ? await store.history(row.service) : undefined;
        let outcome = releaseOutcome(state, row.releaseId, until, now(), history);
        if (outcome.kind === "rolled-back" && (await drilling(store, state))) outcome = { kind: "waiting", detail: `rolled back by a running remedy drill, whose restore resumes it` };
        const changed = outcome.kind !== row.outcome.kind || outcome.detail !== row.outcome.detail;
        row.outcome = outcome;
        if (outcome.kind !== "waiting") row.endedAt = now();
        if (changed) say(row, outcome.kind === "waiting" ? "progress" : "outcome");
      }
      if (rows.every((r) => r.outcome.kind !== "waiting")) break;
      if (now() - started >= timeoutS * 1000) break;
      await sleep(Math.min(intervalS * 1000, Math.max(0, started + timeoutS * 1000 - now())));
    }
  } catch (err) {
    return fail(describeAwsError(err, tableName, stack), WAIT_EXIT.usage);
  }
  const code = rows.some((r) => r.outcome.kind === "rolled-back")
    ? WAIT_EXIT.rolledBack
    : rows.some((r) => r.outcome.kind === "held")
      ? WAIT_EXIT.held
      : rows.some((r) => r.outcome.kind === "waiting")
        ? WAIT_EXIT.timedOut
        : WAIT_EXIT.done;
  const label = (r: Row) => (r.outcome.kind === "waiting" ? "TIMED OUT" : r.outcome.kind === "done" ? (until === "promoted" ? "promoted" : "window closed") : r.outcome.kind);
  if (json) io.out(JSON.stringify({ summary: rows.map((r) => ({ service: r.service, releaseId: r.releaseId, outcome: label(r), detail: r.outcome.detail, seconds: Math.round(((r.endedAt ?? now()) - started) / 1000) })), exitCode: code }));
  else {
    io.out(`\nremedy wait: ${rows.length} release${rows.length === 1 ? "" : "s"} on stack ${stack}, ${Math.round((now() - started) / 1000)} s`);
    for (const r of rows) io.out(printable(`  ${r.service.padEnd(Math.max(...rows.map((x) => x.service.length)))}  ${label(r).padEnd(13)}  ${r.releaseId ?? "-"}  ${r.outcome.detail}`));
  }
  return code;
}
