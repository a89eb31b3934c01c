/**
 * Operator commands against a deployed stack, through the AWS SDK's standard settings
 * (AWS_ENDPOINT_URL, AWS_PROFILE, AWS_REGION):
 *   remedy status [--stack prod] [--json] [--outputs <pulumi stack output --json file>]
 *   remedy rollback <service> --reason <text> [--force] [--stack prod] [--topic-arn <arn>]
 *     (every rollback, abort and promote is recorded with the caller's AWS identity and announced
 *     on the stack's topic: the function's own through the override URL; with the caller's own
 *     credentials --topic-arn, else the recorded one when it is in the caller's account and region)
 *   remedy drill <service> [--timeout 120] [--allow-stable] [--stack prod]
 * A stack's resources are found by name: release table `<project>-<stack>-releases`, alarms
 * `<project>-<stack>/<service>/<slot>/<kind>` (project `remedy` unless --project).
 * Exit 0 success, 1 refused / drill failed, 2 usage or environment error (one line).
 */
import { CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { SNSClient } from "@aws-sdk/client-sns";
import type { STSClient } from "@aws-sdk/client-sts";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Console } from "node:console";
import * as os from "node:os";
import { Writable } from "node:stream";
import { UsageError, parseCommandArgs, usage } from "../args";
import { describeAwsError } from "../awsErrors";
import { actorDisplayName, alarmDisplayName, parseAlarmName } from "../../core/alarms";
import { Phase, overrideReason, rollbackWindowEnd, type ReleaseState } from "../../core/releaseState";
import type { SlotWeights } from "../../core/weights";
import { redirectOutput } from "../../lambdas/commons/powertools";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { Outcome, createRollbackHandler } from "../../lambdas/commons/rollbackHandler";
import { Traffic } from "../../lambdas/commons/traffic";
import { printable } from "../../lambdas/commons/text";
import { requestPromotion } from "../../lambdas/commons/promotion";
import type { OverrideRequest } from "../../lambdas/commons/overrides";
import { type OverrideReply, overrideUrlProblem, sendOverride } from "./overrideClient";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";

import { type Io, OpsError, type OpsHooks } from "./opsTypes";
import { drill } from "./drill";
import { wrap } from "./history";
import { releaseTableName } from "../../core/naming";

export { OpsError, type OpsHooks } from "./opsTypes";

function clients() {
  return {
    ddb: new DynamoDBClient({}),
    elb: new ElasticLoadBalancingV2Client({}),
    cw: new CloudWatchClient({}),
    sns: new SNSClient({}),
  };
}

/**
 * The topic the direct path (no override URL) may page: --topic-arn / REMEDY_TOPIC_ARN as given,
 * or the record's only when it is in the caller's own account and region (issue 35, 15: a record
 * is data, and a forged one must not carry a page to someone else's topic).
 */
export function recordedTopicProblem(topicArn: string, callerArn: string, region: string | undefined): string | undefined {
  const [, , , topicRegion, topicAccount] = topicArn.split(":");
  const callerAccount = callerArn.split(":")[4];
  if (topicAccount === callerAccount && (region === undefined || topicRegion === region)) return undefined;
  return `the release record names topic ${topicArn}, outside your account ${callerAccount ?? "?"}${region ? ` and region ${region}` : ""}; not paged there: pass --topic-arn (stack output notificationTopicArn) or REMEDY_TOPIC_ARN`;
}

/**
 * Who acts, for the audit trail, when an override is made with the caller's own credentials: the
 * local user name (anyone can set it) and the AWS identity the credentials resolve to (STS
 * GetCallerIdentity: what CloudTrail also records).
 * @throws OpsError when the identity cannot be established (no override without it).
 */
export async function operatorIdentity(client?: STSClient): Promise<string> {
  return operatorLabel(await callerArn(client));
}
const operatorLabel = (arn: string): string => `operator:${os.userInfo().username} as ${arn}`;

export async function callerArn(client?: STSClient): Promise<string> {
  // Loaded on use: only the override commands need STS, and `remedy --help` should not pay for it.
  const { GetCallerIdentityCommand, STSClient: Client } = await import("@aws-sdk/client-sts");
  const sts = client ?? new Client({});
  let arn: string | undefined;
  try {
    arn = (await sts.send(new GetCallerIdentityCommand({}))).Arn;
  } catch (err) {
    throw new OpsError(`cannot establish your AWS identity (sts:GetCallerIdentity: ${(err as Error).message}); an override is recorded with who made it, so check your AWS credentials`);
  }
  if (!arn) throw new OpsError("sts:GetCallerIdentity returned no ARN; an override is recorded with who made it");
  return arn;
}

/** What an operator is told when no topic is known to announce an override on. */
function warnNoTopic(io: Io): void {
  io.err("remedy: warning: no notification topic known for this stack (run `pulumi up` with this version of remedy, or pass --topic-arn); nobody was told");
}

/** Metrics for the shared rollback code, discarded: EMF lines belong in Lambda logs, not a terminal. */
function quietMetrics(): Metrics {
  const m = new Metrics({ namespace: "remedy", serviceName: "remedy-cli" });
  redirectOutput(m, new Console({ stdout: new Writable({ write: (_c, _e, cb) => cb() }) }));
  return m;
}

// ---------------------------------------------------------------------------------------------
// status

export interface ServiceStatus {
  readonly service: string;
  readonly phase: string;
  readonly stable: string;
  readonly candidate: string | null;
  readonly weights: SlotWeights;
  readonly alarms: { readonly firing: readonly string[]; readonly total: number };
  readonly lastRollback: { readonly at: string; readonly by: string; readonly reason: string } | null;
  readonly hotfix: string | null;
  /** A progressive release's position: step, weight and when the next move may happen. */
  readonly step: string | null;
}

/** Where a progressive release is, for humans. */
export function describeProgress(s: ReleaseState, now = Date.now()): string | null {
  const p = s.progress;
  if (s.phase === Phase.Promoted && s.previous) {
    // The post-promotion watch: the previous version's window, then its scale-down.
    const prev = `previous ${s.previous.version} (${s.previous.slot})`;
    const ends = rollbackWindowEnd(s);
    if (s.previousRetiredAt) return `${prev} scaled to 0 at ${s.previousRetiredAt}`;
    if (ends && now < Date.parse(ends)) return `${prev} warm, automatic rollback target until ${ends}`;
    return `${prev}: rollback window over; scale-down pending`;
  }
  if (!p || s.phase !== Phase.Releasing || !s.candidate) return null;
  const steps = p.strategy.steps;
  const until = (minutes: number) => new Date(Date.parse(p.stepStartedAt) + minutes * 60_000).toISOString();
  let text: string;
  const pt = p.preTraffic;
  if (p.stepIndex < 0 && pt && !pt.passedAt) {
    text =
      pt.attempts >= pt.maxAttempts
        ? `HELD: pre-traffic check failed ${pt.attempts}/${pt.maxAttempts} (${pt.lastResult ?? "?"}); remedy promote ${s.service} runs it again`
        : `pre-traffic check at the next tick${pt.attempts > 0 ? ` (${pt.attempts}/${pt.maxAttempts} failed: ${pt.lastResult ?? "?"})` : ""}`;
  } else if (p.stepIndex < 0) text = "starting (next tick)";
  else if (p.stepIndex >= steps.length) text = `baking at 100% until ${until(p.strategy.bakeMinutes)}`;
  else {
    const st = steps[p.stepIndex];
    text = st.kind === "pause" ? `paused at ${s.weights[s.candidate.slot]}%: ${st.reason}` : `step ${p.stepIndex + 1}/${steps.length} at ${st.weight}% until ${until(st.minutes)}`;
  }
  return p.promote ? `${text} (promote${p.promote === "full" ? " --full" : ""} requested)` : text;
}

const ANSI = /\u001b\[[0-9;]*m/g; // eslint-disable-line no-control-regex
const visible = (s: string) => s.replace(ANSI, "").length;
const paint = (on: boolean, code: number, s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

/** Columns padded on visible width, so colors never break alignment. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => visible(r[c]))));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell + " ".repeat(widths[c] - visible(cell)))).join("  ")).join("\n");
}

/**
 * Every service's status: states in one paged Scan, the stack's alarms in paged DescribeAlarms
 * calls (100 a page) matched to services through a map, and history only for the releases that
 * need it (a hotfix is named there), 16 at a time: 500 services cost a handful of calls plus one
 * Query per release in progress, not one per service in sequence.
 */
export async function gatherStatus(store: ReleaseStore, cw: CloudWatchClient, prefix: string, listed?: readonly ReleaseState[]): Promise<ServiceStatus[]> {
  const [states, alarms] = await Promise.all([listed ?? store.list(), stackAlarmsNow(cw, prefix)]);
  const byService = new Map<string, MetricAlarm[]>();
  for (const a of alarms) {
    const service = parseAlarmName(prefix, a.AlarmName ?? "")?.service;
    if (service !== undefined) byService.set(service, [...(byService.get(service) ?? []), a]);
  }
  const hotfixes = new Map<string, string | null>();
  const releasing = states.filter((s) => s.phase === Phase.Releasing);
  for (let i = 0; i < releasing.length; i += STATUS_HISTORY_CONCURRENCY) {
    await Promise.all(
      releasing.slice(i, i + STATUS_HISTORY_CONCURRENCY).map(async (s) => {
        const lastStart = [...(await store.history(s.service))].reverse().find((h) => h.action === "start-release");
        hotfixes.set(s.service, lastStart?.summary.startsWith("HOTFIX") ? (/hotfix mode expires (\S+)/.exec(lastStart.summary)?.[1] ?? "yes") : null);
      }),
    );
  }
  return states.map((s) => {
    const mine = byService.get(s.service) ?? [];
    return {
      service: s.service,
      phase: s.phase,
      stable: `${s.stable.version} (${s.stable.slot})`,
      candidate: s.candidate ? `${s.candidate.version} (${s.candidate.slot})` : null,
      weights: s.weights,
      alarms: { firing: mine.filter((a) => a.StateValue === "ALARM").map((a) => alarmDisplayName(a.AlarmName ?? "")), total: mine.length },
      lastRollback: s.lastRollback ? { at: s.lastRollback.at, by: s.lastRollback.by, reason: s.lastRollback.reason } : null,
      hotfix: hotfixes.get(s.service) ?? null,
      step: describeProgress(s),
    };
  });
}

/** Services whose history `remedy status` reads at once. */
const STATUS_HISTORY_CONCURRENCY = 16;

/** Every alarm of the stack (`<prefix>/...`), all pages of 100. */
async function stackAlarmsNow(cw: CloudWatchClient, prefix: string): Promise<MetricAlarm[]> {
  const alarms: MetricAlarm[] = [];
  let token: string | undefined;
  do {
    const out = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `${prefix}/`, MaxRecords: 100, NextToken: token }));
    alarms.push(...(out.MetricAlarms ?? []));
    token = out.NextToken;
  } while (token);
  return alarms;
}

/** The narrowest a free-text column may be beside the others before it moves under its row. */
const MIN_FREE_TEXT = 30;

/**
 * The overview fitted to `width` columns (the terminal's, 100 when not one; issue 36, 6). The
 * fixed columns always show; the free text (STEP, LAST ROLLBACK, HOTFIX) stands beside them when
 * each gets at least {@link MIN_FREE_TEXT} columns, else under its row, labelled and wrapped to the
 * width, never cut to a stub.
 */
export function formatStatus(stack: string, rows: readonly ServiceStatus[], color: boolean, width = 100): string {
  const phaseColor: Record<string, number> = { stable: 32, promoted: 32, releasing: 33, "rolled-back": 31 };
  // Every recorded text is printed through printable(): it comes from alarms, operators and
  // hooks, and must not be able to drive the operator's terminal.
  const p = printable;
  const fixed = rows.map((r) => [
    paint(color, 1, p(r.service)),
    paint(color, phaseColor[r.phase] ?? 0, p(r.phase)),
    p(r.stable),
    p(r.candidate ?? "-"),
    `${r.weights.blue}/${r.weights.green}`,
    r.alarms.firing.length > 0 ? paint(color, 31, p(`ALARM ${r.alarms.firing.join(", ")}`)) : paint(color, 32, `ok (${r.alarms.total})`),
  ]);
  const free = rows.map((r) => [
    p(r.step ?? "-"),
    // Why first: what a person reads first.
    r.lastRollback ? p(`${r.lastRollback.reason} (${actorDisplayName(r.lastRollback.by)}, ${r.lastRollback.at})`) : "-",
    r.hotfix ? paint(color, 35, p(`hotfix until ${r.hotfix}`)) : "-",
  ]);
  const fixedHeader = ["SERVICE", "PHASE", "STABLE", "CANDIDATE", "BLUE/GREEN", "ALARMS"];
  const freeHeader = ["STEP", "LAST ROLLBACK", "HOTFIX"];
  const widths = (cells: string[][], headers: string[]) => headers.map((h, c) => Math.max(h.length, ...cells.map((r) => visible(r[c]))));
  const fixedWidth = widths(fixed, fixedHeader).reduce((a, b) => a + b + 2, 0);
  const beside = fixedWidth + widths(free, freeHeader).reduce((a, b) => a + b + 2, 0) - 2 <= width || fixedWidth + freeHeader.length * (MIN_FREE_TEXT + 2) - 2 <= width;
  const head = (hs: string[]) => hs.map((h) => paint(color, 2, h));
  if (beside) {
    // Beside: the widest free text is cut to what is left, the longest first, with "…".
    let cells = fixed.map((r, i) => [...r, ...free[i]]);
    for (let pass = 0; pass < freeHeader.length; pass++) {
      const all = widths(cells, [...fixedHeader, ...freeHeader]);
      const over = all.reduce((a, b) => a + b + 2, 0) - 2 - width;
      if (over <= 0) break;
      const c = fixedHeader.length + [0, 1, 2].reduce((m, k) => (all[fixedHeader.length + k] > all[fixedHeader.length + m] ? k : m), 0);
      const room = Math.max(MIN_FREE_TEXT, all[c] - over);
      cells = cells.map((r) => r.map((cell, k) => (k === c && visible(cell) > room ? `${cell.slice(0, room - 1)}…` : cell)));
    }
    return `stack ${stack}\n${table([head([...fixedHeader, ...freeHeader]), ...cells])}`;
  }
  // Under each row: only what is there, each line within the width.
  const lines = table([head(fixedHeader), ...fixed]).split("\n");
  const out = [lines[0]];
  rows.forEach((_, i) => {
    out.push(lines[i + 1]);
    free[i].forEach((text, k) => {
      if (text === "-") return;
      const label = `  ${freeHeader[k].toLowerCase()}: `;
      wrap(text, width - label.length).forEach((l, n) => out.push(`${n === 0 ? label : " ".repeat(label.length)}${l}`));
    });
  });
  return `stack ${stack}\n${out.join("\n")}`;
}

// ---------------------------------------------------------------------------------------------

/** Which options each operator command takes (besides --json). */
const COMMAND_OPTIONS = {
  status: ["stack", "project", "watch", "interval", "count", "outputs", "exit-status"],
  rollback: ["stack", "project", "reason", "force", "topic-arn", "url"],
  drill: ["stack", "project", "timeout", "allow-stable", "url"],
  promote: ["stack", "project", "full", "topic-arn", "url"],
  abort: ["stack", "project", "reason", "topic-arn", "url"],
} as const;
const OPTION_TYPES: Readonly<Record<string, "string" | "boolean">> = {
  stack: "string",
  project: "string",
  reason: "string",
  force: "boolean",
  "topic-arn": "string",
  url: "string",
  outputs: "string",
  "exit-status": "boolean",
  timeout: "string",
  "allow-stable": "boolean",
  full: "boolean",
  watch: "boolean",
  interval: "string",
  count: "string",
};

interface OpsArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  /** The service (every command but status). */
  readonly service?: string;
  /** rollback / abort: the trimmed reason. */
  readonly reason: string;
  readonly timeoutS: number;
  readonly interval: number;
  readonly count: number;
}

/** The command line of an operator command, checked whole before anything calls AWS. @throws UsageError */
export function parseOpsArgs(command: keyof typeof COMMAND_OPTIONS, argv: readonly string[]): OpsArgs {
  const options = Object.fromEntries(COMMAND_OPTIONS[command].map((o) => [o, { type: OPTION_TYPES[o] }]));
  const { values, positionals } = parseCommandArgs(command, argv, options, 1);
  const v = values as Record<string, string | boolean | undefined>;
  const service = positionals[0];
  if (command !== "status" && service === undefined) usage(command, "name the service, e.g. `remedy " + command + " payments`");
  const reason = typeof v.reason === "string" ? v.reason.trim() : "";
  if ((command === "rollback" || command === "abort") && reason.length < 5) usage(command, "--reason <text> is required: say why (at least 5 characters; it is recorded in release history)");
  const timeoutS = Number(v.timeout ?? 120);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage(command, `--timeout must be a positive number of seconds, got ${JSON.stringify(v.timeout)}`);
  const interval = Number(v.interval ?? 5);
  if (!Number.isFinite(interval) || interval < 0.1) usage(command, `--interval must be a number of seconds >= 0.1, got ${JSON.stringify(v.interval)}`);
  const count = v.count === undefined ? Infinity : Number(v.count);
  if (!(count >= 1) || (Number.isFinite(count) && !Number.isInteger(count))) usage(command, `--count must be a whole number >= 1, got ${JSON.stringify(v.count)}`);
  if ((v.interval !== undefined || v.count !== undefined) && v.watch !== true) usage(command, "--interval and --count go with --watch");
  return { values: v, service, reason, timeoutS, interval, count };
}

export async function opsCommand(command: "status" | "rollback" | "drill" | "promote" | "abort", argv: readonly string[], json: boolean, io: Io, hooks: OpsHooks = {}): Promise<number> {
  const fail = (message: string, code: number) => {
    io.err(json ? JSON.stringify({ error: message }) : `remedy ${command}: ${message}`);
    return code;
  };
  // Every usage problem first: nothing below touches AWS until the command line is right.
  let args: OpsArgs;
  try {
    args = parseOpsArgs(command, argv);
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, 2);
    throw err;
  }
  const { values, service } = args;
  const stack = String(values.stack ?? "prod");
  const prefix = `${String(values.project ?? "remedy")}-${stack}`;
  const tableName = releaseTableName(prefix);
  const c = clients();
  const store = new ReleaseStore(c.ddb, tableName);
  const traffic = new Traffic(c.elb);
  try {
    if (command === "status") {
      const render = async () => {
        if (service !== undefined) {
          // One service in detail.
          const { formatServiceDetail, gatherServiceDetail } = await import("./serviceStatus");
          const detail = await gatherServiceDetail(store, c.cw, prefix, stack, service);
          if (!detail) throw new OpsError(`unknown service ${service} in stack ${stack} (known: ${(await store.list()).map((x) => x.service).join(", ") || "none"})`);
          io.out(json ? JSON.stringify(detail, null, values.watch ? 0 : 2) : formatServiceDetail(detail));
          return;
        }
        shown = await store.list();
        const rows = await gatherStatus(store, c.cw, prefix, shown);
        const code = expectedCode ? await codeCheck.checkDeployedCode(expectedCode) : undefined;
        if (code?.some((r) => !r.matches)) codeDiffers = true;
        io.out(
          json
            ? JSON.stringify({ stack, at: new Date().toISOString(), services: rows, ...(code ? { code } : {}) }, null, values.watch ? 0 : 2)
            : formatStatus(stack, rows, io.tty && !process.env.NO_COLOR, io.tty ? (io.columns ?? 100) : 100) + (code ? `\n${printable(codeCheck.formatCodeCheck(code))}` : ""),
        );
      };
      // --outputs: does each function run what the last pulumi up deployed? (exit 1 if not)
      const codeCheck = await import("./codeCheck");
      let expectedCode: ReturnType<typeof codeCheck.readLambdaCode> | undefined;
      try {
        expectedCode = typeof values.outputs === "string" ? codeCheck.readLambdaCode(values.outputs) : undefined;
      } catch (err) {
        return fail((err as Error).message, 2);
      }
      let codeDiffers = false;
      /** The states the stack-wide render showed (--exit-status judges those, not a second Scan). */
      let shown: readonly ReleaseState[] = [];
      if (!values.watch) {
        await render();
        if (values["exit-status"] === true) {
          // For scripts: 3 when a service is rolled back, 4 when a release waits for a person (issue 36, 1).
          const { WAIT_EXIT, releaseOutcome } = await import("../../core/releaseOutcome");
          // As the stack stands: a rollback counts while its phase says so (not once acknowledged).
          const states = service === undefined ? shown : [await store.get(service)].filter((st): st is ReleaseState => st !== undefined);
          const outcomes = states.map((st) => (st.phase === Phase.RolledBack ? "rolled-back" : st.phase === Phase.Releasing && st.releaseId ? releaseOutcome(st, st.releaseId, "promoted", Date.now()).kind : "done"));
          if (outcomes.includes("rolled-back")) return WAIT_EXIT.rolledBack;
          if (outcomes.includes("held")) return WAIT_EXIT.held;
        }
        return codeDiffers ? 1 : 0;
      }
      // --watch: redraw every --interval seconds (default 5), --count times (default: until Ctrl-C).
      const { interval, count } = args;
      for (let i = 0; i < count; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, interval * 1000));
        if (io.tty && !json) io.out("\u001b[2J\u001b[H");
        await render();
      }
      return 0;
    }
    if (service === undefined) throw new Error("unreachable: parseOpsArgs requires the service");
    const state = await store.get(service);
    if (!state) {
      const known = (await store.list()).map((s) => s.service);
      return fail(`unknown service ${service} in stack ${stack} (known: ${known.join(", ") || "none"})`, 2);
    }
    const givenTopic = (values["topic-arn"] as string | undefined) ?? process.env.REMEDY_TOPIC_ARN;
    // Through the stack's override URL when it has one (issue 35, 4): the function acts with its
    // own role and records the caller Lambda verified; the operator needs only to call and read.
    const explicit = (values.url as string | undefined) ?? process.env.REMEDY_OVERRIDE_URL;
    const url = explicit ?? state.routing.overridesUrl;
    const problem = url === undefined ? undefined : overrideUrlProblem(url, explicit !== undefined);
    if (problem) return fail(problem, 2);
    const send = url === undefined ? undefined : (request: OverrideRequest) => sendOverride(url, request, { region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1", credentials: hooks.credentials ?? fromNodeProviderChain() });
    if (!send) io.err(`remedy ${command}: the release record of ${service} names no override URL (recorded by pulumi up since this version; or an emulator): acting with your own credentials, which needs table writes, ModifyRule${command === "drill" ? " and SetAlarmState" : ""} (docs/security.md)`);
    if (send && (command === "promote" || command === "rollback" || command === "abort")) {
      const request: OverrideRequest =
        command === "promote" ? { action: "promote", service, mode: values.full === true ? "full" : "step" } : { action: command, service, reason: args.reason, ...(values.force === true ? { force: true } : {}) };
      return overrideOutcome(command, service, await send(request), json, io);
    }
    if (send && command === "drill") return await drill(service, { store, traffic, cw: c.cw, prefix, timeoutS: args.timeoutS, allowStable: values["allow-stable"] === true, json, io, hooks, send });
    const caller = await callerArn();
    const by = operatorLabel(caller);
    let topicArn = givenTopic ?? state.routing.notifyTopicArn;
    const foreign = givenTopic === undefined && topicArn !== undefined ? recordedTopicProblem(topicArn, caller, process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION) : undefined;
    if (foreign) {
      io.err(`remedy ${command}: ${foreign}`);
      topicArn = undefined;
    }
    if (command === "promote") {
      // The release driver acts on it at its next tick (alarms still checked, unless they fire).
      const mode = values.full === true ? "full" : "step";
      if (!topicArn) warnNoTopic(io);
      const r = await requestPromotion({ store, sns: c.sns, ...(topicArn ? { topicArn } : {}) }, service, mode, by, new Date().toISOString());
      if (r.outcome === "refused") return fail(`refused: ${r.reason}`, 1);
      if (r.outcome === "already") {
        io.out(json ? JSON.stringify({ service, requested: mode, already: true }) : printable(`${service}: ${r.reason}`));
        return 0;
      }
      io.out(json ? JSON.stringify({ service, requested: mode }) : `${service}: promotion requested (${mode === "full" ? "--full: promote at the next tick" : "past the current pause"}); the release driver acts on its next tick`);
      return 0;
    }
    if (command === "rollback" || command === "abort") {
      const reason = overrideReason(command, args.reason);
      const handler = createRollbackHandler({
        store,
        traffic,
        sns: c.sns,
        cloudwatch: c.cw,
        topicArn: topicArn ?? "",
        alarmPrefix: prefix,
        logger: new Logger({ serviceName: "remedy-cli", logLevel: "SILENT" }),
        metrics: quietMetrics(),
      });
      if (!topicArn) warnNoTopic(io);
      const r = await handler.manual({ service, reason, by, force: values.force === true });
      if (json) io.out(JSON.stringify(r, null, 2));
      if (r.outcome === Outcome.RolledBack) {
        const after = await store.get(service);
        // Rolled back from: the candidate, or after a promotion the version that was stable (the record's candidate now).
        const from = after?.candidate ?? state.candidate;
        if (!json) io.out(printable(`${command === "abort" ? "aborted" : "rolled back"} ${service}: ${from?.version ?? "?"} (${from?.slot ?? "?"}) -> ${after?.stable.version ?? "?"} (${after?.stable.slot ?? "?"})${after?.lastRollback?.afterPromotion ? " (inside its rollback window)" : ""}; blue/green ${after?.weights.blue ?? "?"}/${after?.weights.green ?? "?"}; flipped in ${r.flipMs ?? "?"} ms`));
        return 0;
      }
      if (!json) io.err(printable(`remedy ${command}: refused: ${r.reason}`));
      return 1;
    }
    return await drill(service, { store, traffic, cw: c.cw, prefix, timeoutS: args.timeoutS, allowStable: values["allow-stable"] === true, json, io, hooks, by });
  } catch (err) {
    if (err instanceof OpsError) return fail(err.message, 2);
    return fail(describeAwsError(err, tableName, stack), 2);
  }
}

/** Prints the override function's answer; exit 0 done, 1 refused, 2 anything else. */
function overrideOutcome(command: string, service: string, reply: OverrideReply, json: boolean, io: Io): number {
  const b = reply.body as { outcome?: string; reason?: string; error?: string; by?: string; weights?: SlotWeights; mode?: string };
  if (json) io.out(JSON.stringify({ status: reply.status, ...b }, null, 2));
  if (reply.status === 200) {
    if (!json) {
      const done = command === "promote" ? (b.outcome === "already" ? `${service}: ${b.reason ?? "already requested"}` : `${service}: promotion requested (${b.mode === "full" ? "--full: promote at the next tick" : "past the current pause"}); the release driver acts on its next tick`) : `${command === "abort" ? "aborted" : "rolled back"} ${service}; blue/green ${b.weights?.blue ?? "?"}/${b.weights?.green ?? "?"}`;
      io.out(printable(`${done} (recorded as ${b.by ?? "?"})`));
    }
    return 0;
  }
  if (!json) io.err(printable(`remedy ${command}: ${reply.status === 409 ? `refused: ${b.reason ?? "?"}` : `the override URL answered ${reply.status}: ${b.error ?? b.reason ?? "?"}${reply.status === 403 ? " (does your role have lambda:InvokeFunctionUrl and lambda:InvokeFunction via the URL? docs/security.md)" : ""}`}`));
  return reply.status === 409 ? 1 : 2;
}

