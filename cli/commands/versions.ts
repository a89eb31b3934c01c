/**
 * `remedy versions <service> --outputs <file> [--operations <dir>] [--days 30]` and
 * `remedy retire <service> --outputs <file> [--operations <dir>] [--threshold 0] [--quiet-days 14]`
 * (issue 37, 5 and 6): a service's legacy lanes with their dates, requests per day (the lane
 * target group's RequestCount against the main ones', CloudWatch GetMetricData, one-day periods),
 * days since the last request, the client versions it serves, and what blocks its retirement.
 * `retire` records the decision with every input in the release table and exits 0 when the lane
 * may go (then remove it from config and run pulumi up), 1 when it may not.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type GroupOnRule, MetricDimensionError, dailyRequests } from "../../lambdas/commons/targetGroupRequests";
import { activeClientVersions } from "../../core/apiFiles";
import { DEFAULT_QUIET_DAYS, type DayEvidence, brownoutDays, dailyEvidence, lastDays, retirementDecision, type RetirementDecision } from "../../core/legacyRetirement";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { releaseTableName } from "../../core/naming";
import { describeTopCallers } from "../../lambdas/commons/topCallers";
import { UsageError, parseCommandArgs, usage } from "../args";
import { describeAwsError } from "../awsErrors";
import { readStackOutputs } from "../stackOutputs";

interface LaneOutput {
  readonly version: string;
  readonly targetGroupArn: string;
  readonly ruleArn: string;
  readonly deprecatedAt: string;
  readonly sunsetAt: string;
  readonly link: string;
  readonly owner: string;
  readonly clients?: readonly string[];
  /** The lane's Contributor Insights rule, when it declares where callers are logged. */
  readonly callersRule?: string;
}

interface ServiceOut {
  readonly targetGroupArns?: Record<string, string>;
  readonly ruleArn?: string;
  readonly legacy?: readonly LaneOutput[];
}

export interface LaneReport {
  readonly service: string;
  readonly lane: LaneOutput;
  readonly evidence: readonly DayEvidence[];
  readonly decision: RetirementDecision;
  /** The lane's top callers over the evidence window, or why they are unknown. */
  readonly callers: string;
}

/** The client versions a lane serves that are still active (no retired.json under `operations`). */
function activeClients(lane: LaneOutput, operations: string | undefined): string[] {
  return activeClientVersions(lane.clients ?? [], operations ? [operations] : []);
}

/** Every lane of `service` with its evidence and the gate's decision, as of `nowMs`. */
export async function laneReports(
  service: string,
  outputsFile: string,
  o: { days: number; threshold: number; quietDays: number; operations?: string; nowMs: number; cw: CloudWatchClient; store?: ReleaseStore },
): Promise<LaneReport[]> {
  let outputs: { services?: Record<string, ServiceOut> };
  try {
    outputs = readStackOutputs(outputsFile) as typeof outputs;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const svc = outputs.services?.[service];
  if (!svc) throw new UsageError(`no service ${service} in ${outputsFile} (services: ${Object.keys(outputs.services ?? {}).join(", ") || "none"})`);
  const lanes = svc.legacy ?? [];
  if (lanes.length === 0) return [];
  const days = lastDays(o.nowMs, Math.max(o.days, o.quietDays));
  const from = Date.parse(`${days[0]}T00:00:00Z`);
  const to = Date.parse(`${days[days.length - 1]}T00:00:00Z`) + 86_400_000;
  const rule = svc.ruleArn ?? lanes[0].ruleArn;
  const queries: Record<string, GroupOnRule> = {};
  Object.entries(svc.targetGroupArns ?? {}).forEach(([slot, tg]) => (queries[`main_${slot}`] = { targetGroupArn: tg, ruleArn: rule }));
  lanes.forEach((l, i) => (queries[`lane_${i}`] = { targetGroupArn: l.targetGroupArn, ruleArn: l.ruleArn }));
  let series: Map<string, Map<string, number>>;
  try {
    series = await dailyRequests(o.cw, queries, from, to);
  } catch (err) {
    if (!(err instanceof MetricDimensionError)) throw err;
    throw new UsageError(`${(err as Error).message}; are the outputs this stack's?`);
  }
  const main = new Map<string, number>();
  for (const [id, m] of series) if (id.startsWith("main_")) for (const [d, v] of m) main.set(d, (main.get(d) ?? 0) + v);
  // What the release driver recorded (days CloudWatch no longer has, or a replaced target group's)
  // and the lane's brownout schedule, from the service's release table.
  const state = o.store ? await o.store.get(service) : undefined;
  return Promise.all(
    lanes.map(async (lane, i) => {
      const recorded = o.store ? new Map((await o.store.laneEvidence(service, lane.version)).map((e) => [e.day, e])) : new Map<string, DayEvidence>();
      const schedule = Object.values(state?.lanes ?? {}).find((l) => l.version === lane.version)?.brownouts?.windows ?? [];
      const browned = new Set([...brownoutDays(schedule), ...[...recorded.values()].filter((e) => e.brownout).map((e) => e.day)]);
      const evidence = dailyEvidence(days, series.get(`lane_${i}`) ?? new Map(), main, browned).map((e) => {
        const r = recorded.get(e.day);
        return e.laneRequests === null && r && r.laneRequests !== null ? { ...r, ...(browned.has(e.day) ? { brownout: true } : {}) } : e;
      });
      const decision = retirementDecision({ service, version: lane.version, evidence, threshold: o.threshold, quietDays: o.quietDays, activeClients: activeClients(lane, o.operations) });
      return { service, lane, evidence, decision, callers: await describeTopCallers(o.cw, lane.callersRule, from, to) };
    }),
  );
}

function format(r: LaneReport, shownDays: number): string {
  const d = r.decision;
  const rows = r.evidence.slice(-shownDays).map((e) => `    ${e.day}  ${e.laneRequests === null ? "no data (nor for the main target groups)" : `${e.laneRequests} request(s)`}${e.brownout ? "  (brownout day: not counted as quiet)" : ""}`);
  return [
    `${r.service}: legacy lane ${r.lane.version} (owner ${r.lane.owner}), deprecated ${r.lane.deprecatedAt}, sunset ${r.lane.sunsetAt}; callers read ${r.lane.link}`,
    `  requests per day (its target group's RequestCount):`,
    ...rows,
    `  last request: ${d.daysSinceLastRequest === null ? `none in ${r.evidence.length} days` : `${d.daysSinceLastRequest} day(s) ago`}; quiet for ${d.quietStreak} day(s)`,
    `  client versions it serves: ${(r.lane.clients ?? []).join(", ") || "none declared"}${d.inputs.activeClients.length ? ` (still active: ${d.inputs.activeClients.join(", ")})` : ""}`,
    `  top callers: ${r.callers}`,
    d.allowed ? `  retirement: allowed` : `  retirement blocked:\n${d.blockers.map((b) => `    - ${b}`).join("\n")}`,
  ].join("\n");
}

const count = (command: string, name: string, raw: unknown, fallback: number, min: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) usage(command, `--${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`);
  return n;
};

const OPTIONS = { outputs: { type: "string" }, operations: { type: "string" }, days: { type: "string" }, threshold: { type: "string" }, "quiet-days": { type: "string" }, stack: { type: "string" }, project: { type: "string" } } as const;


/** `remedy versions` / `remedy retire`; the exit code. */
export async function versionsCommand(command: "versions" | "retire", argv: readonly string[], json: boolean, io: { out: (s: string) => void; err: (s: string) => void }, hooks: { nowMs?: number } = {}): Promise<number> {
  let service: string;
  let values: Record<string, unknown>;
  let opts: { days: number; threshold: number; quietDays: number };
  try {
    const parsed = parseCommandArgs(command, argv, OPTIONS, 1);
    values = parsed.values as Record<string, unknown>;
    service = parsed.positionals[0] as string;
    if (!service) usage(command, "name the service");
    if (typeof values.outputs !== "string") usage(command, "--outputs <file> is required: pulumi stack output --json > outputs.json");
    opts = { days: count(command, "days", values.days, 30, 1), threshold: count(command, "threshold", values.threshold, 0, 0), quietDays: count(command, "quiet-days", values["quiet-days"], DEFAULT_QUIET_DAYS, 1) };
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`remedy ${command}: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const nowMs = hooks.nowMs ?? Date.now();
  const table = releaseTableName(`${String(values.project ?? "remedy")}-${String(values.stack ?? "prod")}`);
  try {
    const store = new ReleaseStore(new DynamoDBClient({}), table);
    const reports = await laneReports(service, values.outputs as string, { ...opts, ...(typeof values.operations === "string" ? { operations: values.operations } : {}), nowMs, cw: new CloudWatchClient({}), store });
    if (reports.length === 0) {
      io.out(json ? JSON.stringify({ service, lanes: [] }) : `${service}: one version, no legacy lane`);
      return command === "retire" ? 2 : 0;
    }
    if (command === "retire") {
      // Every input of the decision, recorded beside the service's release history; pulumi up
      // removes a lane only after an allowed one (stacks/main.ts governLanes).
      for (const r of reports) {
        await store.recordRetirementDecision(service, r.lane.version, new Date(nowMs).toISOString(), { allowed: r.decision.allowed, blockers: r.decision.blockers, quietStreak: r.decision.quietStreak, brownoutDaysSkipped: r.decision.brownoutDaysSkipped, inputs: r.decision.inputs, callers: r.callers });
      }
    }
    if (json) io.out(JSON.stringify({ service, lanes: reports.map((r) => ({ ...r.lane, evidence: r.evidence, decision: { allowed: r.decision.allowed, blockers: r.decision.blockers, quietStreak: r.decision.quietStreak, daysSinceLastRequest: r.decision.daysSinceLastRequest }, callers: r.callers })) }, null, 2));
    else io.out(reports.map((r) => format(r, opts.days)).join("\n\n"));
    if (command === "retire" && !json) {
      for (const r of reports.filter((x) => x.decision.allowed)) io.out(`\nretire ${service} ${r.lane.version}: allowed and recorded; remove it from services[].legacy and run pulumi up (its rule, target group and Deployment go)`);
    }
    return command === "retire" && reports.some((r) => !r.decision.allowed) ? 1 : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`remedy ${command}: ${err.message}`);
      return 2;
    }
    io.err(`remedy ${command}: ${describeAwsError(err, table, String(values.stack ?? "prod"))}`);
    return 2;
  }
}
