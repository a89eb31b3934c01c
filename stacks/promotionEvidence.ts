/**
 * What a source environment's release history says of a bundle (issue 38, 4 and 5), read from its
 * release table: the bundle as it recorded it, each release of it (started, completed by the
 * release driver or by hand, ended when another release was promoted over it or it was rolled
 * back), the rollbacks of it and the targets' re-checks of it, as the promotion gates take them
 * (core/promotion/gates.ts).
 * The table may be another account's, read through the role the policy names.
 */
import type { ReleaseBundle } from "../core/promotion/bundle";
import { type Block, type Incident, type SourceEvidence, type SourceRelease, type TargetRechecks, latestRecheck } from "../core/promotion/gates";
import type { PromotionPolicy } from "../core/promotion/policy";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery, paginateDescribeAlarmHistory } from "@aws-sdk/client-cloudwatch";
import { alarmDisplayName, loadBalancerDimension, targetGroupDimension } from "../core/alarms";
import type { HistoryEntry, Routing } from "../core/releaseState";
import type { Slot } from "../core/slots";
import { listenerOfRule } from "../lambdas/commons/traffic";
import { ReleaseStore } from "../lambdas/commons/releaseStore";
import { type AwsSettings, sdkClientConfig } from "./awsClients";

/** An AWS error as one short line (its name and message), for a reason shown beside a decision. */
const errorLine = (err: unknown) => `${(err as Error).name}: ${(err as Error).message.replace(/\s+/g, " ").slice(0, 160)}`;

/** The bundle as the source recorded it, if it is a bundle of that id. */
function recordedBundle(raw: unknown, id: string): ReleaseBundle | undefined {
  const b = raw as Partial<ReleaseBundle> | undefined;
  return b && b.id === id && typeof b.image === "string" && typeof b.version === "string" ? (b as ReleaseBundle) : undefined;
}

/**
 * The releases of `bundle` in `history` (oldest first), what happened to them, and its passed
 * drills: a `remedy drill` flips traffic back (a roll-back) and its restore resumes the same
 * release (`resume-after-drill`), so that roll-back is the drill passing, not an incident.
 */
export function bundleReleases(history: readonly HistoryEntry[], bundle: string): { releases: SourceRelease[]; incidents: Incident[]; drills: { at: string; passed: boolean }[] } {
  const releases: SourceRelease[] = [];
  const incidents: Incident[] = [];
  const drills: { at: string; passed: boolean }[] = [];
  for (const start of history.filter((h) => h.action === "start-release" && h.bundle === bundle && h.releaseId)) {
    const later = history.filter((h) => h.revision > start.revision);
    const ownAll = later.filter((h) => h.releaseId === start.releaseId);
    // A roll-back the next change of this release resumes after a drill: the drill, not an incident.
    const drilled = new Set(ownAll.filter((h, i) => h.action === "roll-back" && ownAll[i + 1]?.action === "resume-after-drill").map((h) => h.revision));
    for (const h of ownAll) if (drilled.has(h.revision)) drills.push({ at: h.at, passed: true });
    const own = ownAll.filter((h) => !drilled.has(h.revision));
    const completed = own.find((h) => h.action === "promote");
    const rolledBack = own.find((h) => h.action === "roll-back" && (!completed || h.revision > completed.revision));
    // Moved on: another release promoted over it (or started over it before it completed).
    const after = completed ?? start;
    const next = later.find((h) => h.revision > after.revision && h.releaseId !== start.releaseId && (h.action === "promote" || h.action === "start-release"));
    const movedOn = completed ? later.find((h) => h.revision > completed.revision && h.action === "promote" && h.releaseId !== start.releaseId) : next;
    const ends = [rolledBack?.at, movedOn?.at].filter((t): t is string => t !== undefined).sort();
    releases.push({
      releaseId: start.releaseId as string,
      startedAt: start.at,
      ...(completed ? { completedAt: completed.at, completedBy: completed.by } : {}),
      ...(ends.length > 0 ? { endedAt: ends[0] } : {}),
    });
    if (rolledBack) incidents.push({ at: rolledBack.at, kind: "rollback", what: rolledBack.summary });
  }
  return { releases, incidents, drills };
}

/** The source's evidence of `bundle` for `service`, read now. */
export async function readSourceEvidence(store: ReleaseStore, source: string, service: string, bundle: string, nowMs: number): Promise<SourceEvidence> {
  const [raw, history, rechecks] = await Promise.all([store.bundle(service, bundle), store.history(service), store.rechecks(service, bundle)]);
  const recorded = recordedBundle(raw, bundle);
  const { releases, incidents, drills } = recorded ? bundleReleases(history, bundle) : { releases: [], incidents: [], drills: [] };
  const drill = drills[drills.length - 1];
  // The targets' re-checks of it: a failed one revokes it here until a later one passes.
  const checked = rechecks.map((r): Incident => ({ at: r.at, kind: r.passed ? "recheck-passed" : "recheck-failed", what: `re-check on ${r.target}: ${r.detail}` }));
  return { source, readAt: new Date(nowMs).toISOString(), ...(recorded ? { bundle: recorded } : {}), releases, incidents: [...incidents, ...checked], ...(drill ? { drill } : {}) };
}

/** The slot a release ran in, from its id (`<slot>:<version>:<revision>`). */
const slotOf = (releaseId: string): Slot | undefined => (releaseId.startsWith("blue:") ? "blue" : releaseId.startsWith("green:") ? "green" : undefined);

/**
 * The bundle's candidate against the version it replaced, from CloudWatch (issue 38, 4): its 5xx
 * rate (HTTPCode_Target_5XX_Count over RequestCount) and p99 TargetResponseTime over its soak
 * (at least its last hour), against the replaced version's over as long a stretch before its
 * release began, each target group on the source's load balancer. Undefined when the release has not
 * completed or no baseline can be read. One GetMetricData call: a period as long as each window
 * (a multiple of 60 s), so each query is one datapoint.
 */
export async function sourceMetrics(cloudwatch: CloudWatchClient, routing: Routing, release: SourceRelease, nowMs: number): Promise<SourceEvidence["metrics"]> {
  const slot = slotOf(release.releaseId);
  const listener = listenerOfRule(routing.ruleArn);
  if (!release.completedAt || !slot || !listener) return undefined;
  const from = Date.parse(release.completedAt);
  const to = release.endedAt ? Date.parse(release.endedAt) : nowMs;
  const length = Math.max(3_600_000, Math.ceil((to - from) / 60_000) * 60_000);
  const baseTo = Date.parse(release.startedAt);
  const windows = { cand: { tg: routing.targetGroupArns[slot], start: to - length }, base: { tg: routing.targetGroupArns[slot === "blue" ? "green" : "blue"], start: baseTo - length } };
  const lb = loadBalancerDimension(listener);
  const query = (id: string, metric: string, stat: string, tg: string): MetricDataQuery => ({
    Id: id,
    MetricStat: { Metric: { Namespace: "AWS/ApplicationELB", MetricName: metric, Dimensions: [{ Name: "TargetGroup", Value: targetGroupDimension(tg) }, { Name: "LoadBalancer", Value: lb }] }, Period: length / 1000, Stat: stat },
  });
  const read = async (w: { tg: string; start: number }) => {
    const out = await cloudwatch.send(
      new GetMetricDataCommand({ StartTime: new Date(w.start), EndTime: new Date(w.start + length), MetricDataQueries: [query("errors", "HTTPCode_Target_5XX_Count", "Sum", w.tg), query("requests", "RequestCount", "Sum", w.tg), query("p99", "TargetResponseTime", "p99", w.tg)] }),
    );
    const value = (id: string) => (out.MetricDataResults ?? []).find((r) => r.Id === id)?.Values?.reduce((a, b) => a + b, 0);
    return { errors: value("errors") ?? 0, requests: value("requests") ?? 0, p99: value("p99") };
  };
  const [cand, base] = [await read(windows.cand), await read(windows.base)];
  if (cand.requests === 0 || base.requests === 0 || cand.p99 === undefined || base.p99 === undefined || base.p99 === 0) return undefined;
  const rate = (m: { errors: number; requests: number }) => (100 * m.errors) / m.requests;
  return { errorRatePoints: Math.round((rate(cand) - rate(base)) * 100) / 100, p99Ratio: Math.round((cand.p99 / base.p99) * 100) / 100, from: new Date(windows.cand.start).toISOString(), to: new Date(windows.cand.start + length).toISOString() };
}

/**
 * The bundle's alarms in a source during its soak (issue 38, 5): every change of one of its
 * slot's alarms (`<prefix>/<service>/<slot>/<kind>`) to ALARM, from CloudWatch's alarm history
 * (DescribeAlarmHistory, StateUpdate items, oldest first; HistoryData's `newState.stateValue`),
 * whether or not it rolled anything back: each restarts the soak.
 */
export async function sourceAlarms(cloudwatch: CloudWatchClient, alarmPrefix: string, service: string, release: SourceRelease, nowMs: number): Promise<Incident[]> {
  const slot = slotOf(release.releaseId);
  if (!release.completedAt || !slot) return [];
  const name = `${alarmPrefix}/${service}/${slot}/`;
  const out: Incident[] = [];
  const pages = paginateDescribeAlarmHistory({ client: cloudwatch }, { HistoryItemType: "StateUpdate", StartDate: new Date(release.completedAt), EndDate: new Date(release.endedAt ? Date.parse(release.endedAt) : nowMs), ScanBy: "TimestampAscending" });
  for await (const page of pages) {
    for (const item of page.AlarmHistoryItems ?? []) {
      if (!item.AlarmName?.startsWith(name) || !item.Timestamp) continue;
      let data: { newState?: { stateValue?: string; stateReason?: string } } = {};
      try {
        data = JSON.parse(item.HistoryData ?? "{}") as typeof data;
      } catch {
        continue;
      }
      if (data.newState?.stateValue !== "ALARM") continue;
      out.push({ at: new Date(item.Timestamp).toISOString(), kind: "alarm", what: `${alarmDisplayName(item.AlarmName)}: ${data.newState.stateReason ?? "?"}` });
    }
  }
  return out;
}

/**
 * A source's clients: its region, and its role when it is another account's, assumed with `base`
 * (the stack's own AWS settings, `aws:profile`/`aws:assumeRoles`, in the program: never whatever
 * the shell has) or the default credential chain (the CLI, as the operator runs it).
 */
export function sourceClients(source: PromotionPolicy["sources"][number], base?: AwsSettings): { store: ReleaseStore; cloudwatch: CloudWatchClient } {
  const own = base ? sdkClientConfig(base) : undefined;
  const region = source.region ?? own?.region;
  const credentials = source.roleArn
    ? fromTemporaryCredentials({ ...(own ? { masterCredentials: own.credentials } : {}), params: { RoleArn: source.roleArn, RoleSessionName: "remedy-promotion" }, ...(region ? { clientConfig: { region } } : {}) })
    : own?.credentials;
  const config = { ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) };
  return { store: new ReleaseStore(new DynamoDBClient(config), source.table), cloudwatch: new CloudWatchClient(config) };
}

/**
 * Every source's evidence of `bundle` (its history, alarm history, CloudWatch numbers) and its
 * blocks, as the gates take them; `cloudwatch` overrides a source's client (tests, the
 * rehearsal), `base` is the stack's AWS settings (see {@link sourceClients}).
 */
export async function sourcesEvidence(policy: PromotionPolicy, service: string, bundle: string, nowMs: number, cloudwatch?: (source: PromotionPolicy["sources"][number]) => CloudWatchClient, base?: AwsSettings): Promise<{ evidence: SourceEvidence[]; blocks: Block[] }> {
  const evidence: SourceEvidence[] = [];
  const blocks: Block[] = [];
  for (const source of policy.sources) {
    const c = sourceClients(source, base);
    const ev = await readSourceEvidence(c.store, source.stack, service, bundle, nowMs);
    const routing = (await c.store.get(service))?.routing;
    const latest = [...ev.releases].reverse().find((r) => r.completedAt);
    const cw = cloudwatch?.(source) ?? c.cloudwatch;
    const metrics = routing && latest ? await sourceMetrics(cw, routing, latest, nowMs) : undefined;
    // Every alarm of the bundle's slot during each of its soaks, rollback or not.
    const [, project, stack] = source.stack.split("/");
    let alarms: Incident[] = [];
    const unreadable: string[] = [];
    try {
      alarms = (await Promise.all(ev.releases.map((r) => sourceAlarms(cw, `${project}-${stack}`, service, r, nowMs)))).flat();
    } catch (err) {
      unreadable.push(`its alarm history could not be read (${errorLine(err)}), so alarms during the soak are unknown`);
    }
    evidence.push({ ...ev, incidents: [...ev.incidents, ...alarms], ...(metrics ? { metrics } : {}), ...(unreadable.length ? { unreadable } : {}) });
    blocks.push(...(await c.store.blocks(service, bundle)));
  }
  return { evidence, blocks };
}

/**
 * Records the target's re-check of `bundle` in each source that ran it (issue 38, 5), when it
 * changes what the source says: a failure (it revokes the bundle there, for every target) unless
 * the same failure is the latest record, a pass only after a failure (it lifts the revocation,
 * and the soak starts again from it). Returns the evidence with those records, as
 * the sources now read, and each source it could not write to (kept as it was read: a failure
 * still denies here through the re-checks gate, and an unrecorded pass leaves it revoked).
 */
export async function recordRechecks(policy: PromotionPolicy, evidence: readonly SourceEvidence[], o: { readonly service: string; readonly bundle: string; readonly target: string; readonly rechecks: TargetRechecks; readonly nowMs: number }): Promise<{ evidence: SourceEvidence[]; unrecorded: string[] }> {
  const failed = (["database", "api"] as const).filter((k) => !o.rechecks[k].passed).map((k) => `${k}: ${o.rechecks[k].detail}`);
  const at = new Date(o.nowMs).toISOString();
  const detail = failed.length > 0 ? failed.join("; ") : `database ${o.rechecks.database.detail}; api ${o.rechecks.api.detail}`;
  const what = `re-check on ${o.target}: ${detail}`;
  const out: SourceEvidence[] = [];
  const unrecorded: string[] = [];
  for (const ev of evidence) {
    const source = policy.sources.find((s) => s.stack === ev.source);
    const last = latestRecheck(ev);
    // A change only: the same failure again (a pipeline polling) is not a new record.
    const unchanged = failed.length > 0 ? last?.kind === "recheck-failed" && last.what === what : last?.kind !== "recheck-failed";
    if (!source || ev.bundle?.id !== o.bundle || unchanged) {
      out.push(ev);
      continue;
    }
    try {
      await sourceClients(source).store.recordRecheck(o.service, o.bundle, at, { passed: failed.length === 0, target: o.target, detail });
      out.push({ ...ev, incidents: [...ev.incidents, { at, kind: failed.length > 0 ? "recheck-failed" : "recheck-passed", what }] });
    } catch (err) {
      unrecorded.push(`${ev.source}: ${errorLine(err)}`);
      out.push(ev);
    }
  }
  return { evidence: out, unrecorded };
}
