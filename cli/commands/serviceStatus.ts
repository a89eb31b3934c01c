/**
 * `remedy status <service>`: one service in detail, like `kubectl argo rollouts get rollout`:
 * versions and weights, the progressive release's steps with when each started (from recorded
 * history), the pre-traffic check's runs, every alarm of the service with its state and reason,
 * the rollback window, and the last rollback.
 */
import { type CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from "@aws-sdk/client-cloudwatch";
import { parseAlarmName, actorDisplayName, alarmDisplayName } from "../../core/alarms";
import { Phase, type HistoryEntry, type ReleaseState, rollbackWindowEnd } from "../../core/releaseState";
import type { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { printable } from "../../lambdas/commons/text";
import { when, wrap } from "./history";

export interface StepDetail {
  readonly index: number;
  readonly kind: "weight" | "pause" | "bake";
  readonly weight?: number;
  readonly minutes?: number;
  readonly reason?: string;
  readonly state: "done" | "current" | "pending";
  readonly startedAt?: string;
  /** When the current step may move on (weight and bake steps). */
  readonly until?: string;
}

export interface ServiceDetail {
  readonly stack: string;
  readonly service: string;
  readonly phase: string;
  readonly revision: number;
  readonly updatedAt: string;
  readonly stable: { readonly version: string; readonly slot: string; readonly weight: number };
  readonly candidate: { readonly version: string; readonly slot: string; readonly weight: number } | null;
  readonly release: { readonly id: string; readonly startedAt: string | null; readonly steps: readonly StepDetail[]; readonly promoteRequested?: string } | null;
  readonly preTraffic: {
    readonly check: string;
    readonly attempts: number;
    readonly maxAttempts: number;
    readonly passedAt: string | null;
    readonly lastResult: string | null;
    readonly runs: readonly { readonly at: string; readonly result: string }[];
  } | null;
  readonly alarms: readonly { readonly slot: string; readonly kind: string; readonly state: string; readonly reason: string; readonly since: string | null }[];
  readonly rollbackWindow: { readonly previous: string; readonly endsAt: string | null; readonly retiredAt: string | null } | null;
  readonly lastRollback: { readonly at: string; readonly by: string; readonly reason: string; readonly from: string; readonly to: string } | null;
}

/** History entries read for the detail view: enough for any release's steps and check runs. */
const DETAIL_HISTORY = 200;

const plus = (iso: string, minutes: number) => new Date(Date.parse(iso) + minutes * 60_000).toISOString();

/** The steps of the release in progress, with when each started (the k-th step taken is step k). */
export function releaseSteps(s: ReleaseState, history: readonly HistoryEntry[]): StepDetail[] {
  const p = s.progress;
  if (!p || !s.releaseId) return [];
  const taken = history.filter((h) => h.releaseId === s.releaseId && h.action === "advance-step").map((h) => h.at);
  const steps: StepDetail[] = p.strategy.steps.map((st, index) => {
    const state = index < p.stepIndex ? "done" : index === p.stepIndex ? "current" : "pending";
    const startedAt = state === "current" ? p.stepStartedAt : taken[index];
    const base = st.kind === "weight" ? { kind: "weight" as const, weight: st.weight, minutes: st.minutes } : { kind: "pause" as const, reason: st.reason };
    return {
      index,
      ...base,
      state,
      ...(startedAt ? { startedAt } : {}),
      ...(state === "current" && st.kind === "weight" ? { until: plus(p.stepStartedAt, st.minutes) } : {}),
    };
  });
  const baking = p.stepIndex >= p.strategy.steps.length;
  steps.push({
    index: p.strategy.steps.length,
    kind: "bake",
    weight: 100,
    minutes: p.strategy.bakeMinutes,
    state: baking ? "current" : "pending",
    ...(baking ? { startedAt: p.stepStartedAt, until: plus(p.stepStartedAt, p.strategy.bakeMinutes) } : {}),
  });
  return steps;
}

/** Every alarm of one service (`<prefix>/<service>/...`), all pages. */
async function serviceAlarms(cw: CloudWatchClient, prefix: string, service: string): Promise<MetricAlarm[]> {
  const alarms: MetricAlarm[] = [];
  let token: string | undefined;
  do {
    const out = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `${prefix}/${service}/`, MaxRecords: 100, NextToken: token }));
    alarms.push(...(out.MetricAlarms ?? []));
    token = out.NextToken;
  } while (token);
  return alarms;
}

/** One service's detail from its state, recent history and alarms; undefined when it has no state. */
export async function gatherServiceDetail(store: ReleaseStore, cw: CloudWatchClient, prefix: string, stack: string, service: string): Promise<ServiceDetail | undefined> {
  const s = await store.get(service);
  if (!s) return undefined;
  const [history, alarms] = await Promise.all([store.recentHistory(service, DETAIL_HISTORY), serviceAlarms(cw, prefix, service)]);
  const p = s.progress;
  const pt = p?.preTraffic;
  const ends = rollbackWindowEnd(s);
  return {
    stack,
    service,
    phase: s.phase,
    revision: s.revision,
    updatedAt: s.updatedAt,
    stable: { version: s.stable.version, slot: s.stable.slot, weight: s.weights[s.stable.slot] },
    candidate: s.candidate ? { version: s.candidate.version, slot: s.candidate.slot, weight: s.weights[s.candidate.slot] } : null,
    // Steps only while a release is in progress: after a rollback or promotion they are history.
    release:
      s.releaseId && s.phase === Phase.Releasing
        ? { id: s.releaseId, startedAt: s.releaseStartedAt, steps: releaseSteps(s, history), ...(p?.promote ? { promoteRequested: p.promote } : {}) }
        : null,
    preTraffic: pt
      ? {
          check: pt.check.kind === "http" ? `http GET ${pt.check.url} (expects ${pt.check.expectStatus[0]}-${pt.check.expectStatus[1]})` : `lambda ${pt.check.functionArn}`,
          attempts: pt.attempts,
          maxAttempts: pt.maxAttempts,
          passedAt: pt.passedAt ?? null,
          lastResult: pt.lastResult ?? null,
          runs: history.filter((h) => h.releaseId === s.releaseId && h.action === "pre-traffic-result").map((h) => ({ at: h.at, result: h.summary })),
        }
      : null,
    alarms: alarms
      .map((a) => ({ a, parsed: parseAlarmName(prefix, a.AlarmName ?? "") }))
      .filter((x) => x.parsed !== undefined)
      .map(({ a, parsed }) => ({
        slot: parsed?.slot ?? "?",
        kind: parsed?.kind ?? "?",
        state: a.StateValue ?? "?",
        reason: a.StateReason ?? "",
        since: a.StateUpdatedTimestamp ? new Date(a.StateUpdatedTimestamp).toISOString() : null,
      }))
      .sort((x, y) => `${x.slot}/${x.kind}`.localeCompare(`${y.slot}/${y.kind}`)),
    rollbackWindow: s.previous ? { previous: `${s.previous.version} (${s.previous.slot})`, endsAt: ends ?? null, retiredAt: s.previousRetiredAt ?? null } : null,
    lastRollback: s.lastRollback ? { at: s.lastRollback.at, by: s.lastRollback.by, reason: s.lastRollback.reason, from: s.lastRollback.fromVersion, to: s.lastRollback.toVersion } : null,
  };
}

const t = (iso: string | null | undefined) => (iso ? when(iso) : "-");

/** The detail as text within `width` columns: labelled sections, long text wrapped. */
export function formatServiceDetail(d: ServiceDetail, now: number = Date.now(), width = 100): string {
  const label = (name: string) => `  ${name.padEnd(13)} `;
  const indent = " ".repeat(16);
  const lines: string[] = [`${d.service} (stack ${d.stack}): ${d.phase}, revision ${d.revision}, updated ${t(d.updatedAt)}`];
  /** One labelled line: `prefix`, then `text` wrapped by words, continuation lines under the text. */
  const add = (name: string, text: string, prefix = "") => {
    const room = width - indent.length - prefix.length;
    const parts = text ? wrap(printable(text), room) : [""];
    lines.push(`${name ? label(name) : indent}${prefix}${parts[0]}`.trimEnd());
    for (const p of parts.slice(1)) lines.push(`${indent}${" ".repeat(prefix.length)}${p}`);
  };
  add("stable", `${d.stable.version} on ${d.stable.slot}, ${d.stable.weight}%`);
  add("candidate", d.candidate ? `${d.candidate.version} on ${d.candidate.slot}, ${d.candidate.weight}%` : "none");
  if (d.release) {
    add("release", `${d.release.id}, started ${t(d.release.startedAt)}${d.release.promoteRequested ? `, promote${d.release.promoteRequested === "full" ? " --full" : ""} requested` : ""}`);
    d.release.steps.forEach((st, i) => {
      const what = st.kind === "pause" ? `pause: ${st.reason ?? ""}` : st.kind === "bake" ? `bake ${st.minutes} min at 100%` : `${st.weight}% for ${st.minutes} min`;
      const when = st.state === "current" ? `NOW since ${t(st.startedAt)}${st.until ? `, until ${t(st.until)}${Date.parse(st.until) < now ? " (due)" : ""}` : ""}` : st.state === "done" ? `done, started ${t(st.startedAt)}` : "pending";
      add(i === 0 ? "steps" : "", `${what}: ${when}`, st.kind === "bake" ? "-  " : `${st.index + 1}. `);
    });
  }
  if (d.preTraffic) {
    const pt = d.preTraffic;
    const verdict = pt.passedAt ? `passed at ${t(pt.passedAt)}` : pt.attempts >= pt.maxAttempts ? `HELD after ${pt.attempts}/${pt.maxAttempts} failed runs: remedy promote ${d.service} runs it again` : `${pt.attempts}/${pt.maxAttempts} failed runs`;
    add("pre-traffic", `${pt.check}: ${verdict}`);
    for (const r of pt.runs) add("", r.result, `${t(r.at)}  `);
  }
  if (d.alarms.length === 0) add("alarms", "none found (run pulumi up with this version of remedy)");
  // The name column fits the longest name (custom ones run to 53 characters) and a space.
  const shown = (a: { slot: string; kind: string }) => alarmDisplayName(`${a.slot}/${a.kind}`);
  const nameWidth = Math.max(24, ...d.alarms.map((a) => shown(a).length + 1));
  [...d.alarms].sort((a, b) => shown(a).localeCompare(shown(b))).forEach((a, i) => add(i === 0 ? "alarms" : "", a.state === "OK" ? "" : a.reason, `${shown(a).padEnd(nameWidth)}${a.state.padEnd(18)}`));
  if (d.rollbackWindow) {
    const w = d.rollbackWindow;
    add("rollback to", w.retiredAt ? `${w.previous}: scaled to 0 at ${t(w.retiredAt)}` : w.endsAt && Date.parse(w.endsAt) > now ? `${w.previous}: warm, automatic rollback target until ${t(w.endsAt)}` : `${w.previous}: window over${w.endsAt ? ` at ${t(w.endsAt)}` : ""}, scale-down pending`);
  }
  if (d.lastRollback) add("last rollback", `${t(d.lastRollback.at)} ${d.lastRollback.from} -> ${d.lastRollback.to} by ${actorDisplayName(d.lastRollback.by)}: ${d.lastRollback.reason}`);
  return lines.join("\n");
}
