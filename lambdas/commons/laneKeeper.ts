/**
 * What the release driver does for legacy lanes each tick (issue 37, 5 and 7), from each lane's
 * release record (`pulumi up` writes its routing and brownout schedule):
 *
 * - Brownouts: inside a scheduled window the lane's rule answers 410 Gone with the link (ALB
 *   fixed-response); after it, forwards again. Recorded first (`lane-brownout`, conditional, with
 *   its notice), then the rule moves, as every driver move is; the rollback function ignores the
 *   lane's alarms meanwhile, and `pulumi up` keeps the rule as the record says.
 * - The sunset: once the sunset in force arrives, the retirement gate decides on the recorded
 *   evidence; allowed, the lane answers 410 until pulumi up removes it; refused, it is told.
 * - Evidence: once per UTC day, yesterday's RequestCount of the lane's target group and of the
 *   service's main ones (a missing lane datapoint is zero only when the main groups had requests),
 *   marked when a brownout touched the day, written once into the service's history
 *   (`evidence#<version>#<day>`): what `remedy versions` and `remedy retire` read when CloudWatch
 *   no longer has the day or the lane's target group was replaced.
 */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { Logger } from "@aws-lambda-powertools/logger";
import { DEFAULT_QUIET_DAYS, brownoutDays, dailyEvidence, lastDays, retirementDecision } from "../../core/legacyRetirement";
import { type LaneState, brownoutNow } from "../../core/laneState";
import { lifecycleNotice } from "../../core/lifecycle";
import type { LaneKey } from "../../core/naming";
import { type ReleaseState, applyEvent } from "../../core/releaseState";
import { SLOTS } from "../../core/slots";
import { type GroupOnRule, dailyRequests } from "./targetGroupRequests";
import { ConflictError, type ReleaseStore } from "./releaseStore";
import type { Traffic } from "./traffic";

export interface LaneKeeperDeps {
  readonly store: ReleaseStore;
  readonly traffic: Traffic;
  readonly cloudwatch: CloudWatchClient;
  readonly logger: Logger;
  /** The stack's name for notices; absent: nothing is told. */
  readonly notify?: { readonly stack: string };
}

/** What the keeper did for one lane this tick. */
export interface LaneTickResult {
  readonly service: string;
  readonly lane: string;
  readonly did: readonly string[];
  /** Set when something failed (an AWS error, a record that does not match the rule). */
  readonly failed?: string;
}

/** Keeps every lane of `services` (their records read once), at `nowMs`. */
export async function keepLanes(deps: LaneKeeperDeps, services: readonly string[], nowMs: number, owed: Set<string>): Promise<LaneTickResult[]> {
  const states = await deps.store.getMany(services);
  const out: LaneTickResult[] = [];
  for (const state of states.values()) {
    for (const key of Object.keys(state.lanes ?? {})) {
      const did: string[] = [];
      try {
        const lane = state.lanes?.[key];
        if (lane) await evidence(deps, state, lane, nowMs, did);
        await sunset(deps, state.service, key as LaneKey, nowMs, did, owed);
        await brownout(deps, state.service, key as LaneKey, nowMs, did, owed);
        out.push({ service: state.service, lane: key, did });
      } catch (err) {
        deps.logger.error("could not keep the legacy lane", { targetService: state.service, lane: key, error: (err as Error).message });
        out.push({ service: state.service, lane: key, did, failed: (err as Error).message });
      }
    }
  }
  return out;
}

/** Starts or ends the lane's brownout as its schedule says: recorded first, then the rule moves. */
async function brownout(deps: LaneKeeperDeps, service: string, key: LaneKey, nowMs: number, did: string[], owed: Set<string>): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const s = await deps.store.get(service);
    const lane = s?.lanes?.[key];
    if (!s || !lane) return;
    if (lane.sunsetDecision?.allowed) {
      // Retired at its sunset: the lane answers 410 until pulumi up removes it.
      const moved = await deps.traffic.setLaneBrownout(service, key, lane, lane.sunset?.message ?? "410 Gone");
      if (typeof moved === "object") throw new Error(moved.problem);
      if (moved === "moved") did.push("rule answers 410 (retired at its sunset)");
      return;
    }
    const window = brownoutNow(lane, nowMs);
    const at = new Date(nowMs).toISOString();
    const recorded = lane.brownout && Date.parse(lane.brownout.until) > nowMs ? lane.brownout : undefined;
    // What the record should say: a brownout until the window's end, none (null), or as it is.
    const until = window ? (recorded?.until === window.end ? undefined : window.end) : lane.brownout ? null : undefined;
    let next: ReleaseState = s;
    if (until !== undefined) {
      const t = applyEvent(s, { type: "lane-brownout", lane: key, until, at, by: "release-driver" });
      if (t.kind === "refused") throw new Error(t.reason);
      if (t.kind === "applied") {
        if (!(await commit(deps, s, t, owed))) continue;
        next = t.state;
        did.push(until === null ? "brownout over" : `brownout until ${until}`);
      }
    }
    // Inside a window, the rule answers 410 (also after a tick that recorded and then failed to
    // move it). Outside, it is moved only when this tick ended a brownout: otherwise the rule is
    // pulumi up's, which may be replacing the lane's target groups before it records them.
    const ended = next !== s && !window;
    if (!window && !ended) return;
    const now$ = next.lanes?.[key] as LaneState;
    const moved = window ? await deps.traffic.setLaneBrownout(service, key, now$, lane.brownouts?.message ?? "410 Gone") : await deps.traffic.setLaneForward(service, key, now$, nowMs);
    if (typeof moved === "object") throw new Error(moved.problem);
    if (moved === "moved") did.push(window ? "rule answers 410" : "rule forwards again");
    return;
  }
  throw new Error(`release state of ${service} kept changing; the brownout waits for the next tick`);
}

/**
 * The retirement step at the lane's sunset (issue 37, 6 and 7), once per sunset in force: the
 * retirement gate on the recorded evidence of the last 14 days (threshold 0) and the client
 * versions still active when pulumi up last recorded the lane. Allowed: recorded (with every
 * input, as remedy retire records it), then the lane answers 410 until pulumi up removes it.
 * Refused: recorded and told, the lane keeps serving (and preview fails past the sunset until it
 * is retired or extended).
 */
async function sunset(deps: LaneKeeperDeps, service: string, key: LaneKey, nowMs: number, did: string[], owed: Set<string>): Promise<void> {
  const at = new Date(nowMs).toISOString();
  for (let attempt = 1; attempt <= 3; attempt++) {
    const s = await deps.store.get(service);
    const lane = s?.lanes?.[key];
    if (!s || !lane?.sunset || lane.sunsetDecision || at.slice(0, 10) < lane.sunset.at) return;
    const recorded = new Map((await deps.store.laneEvidence(service, lane.version)).map((e) => [e.day, e]));
    const evidence = lastDays(nowMs, DEFAULT_QUIET_DAYS).map((day) => recorded.get(day) ?? { day, laneRequests: null, mainRequests: 0 });
    const decision = retirementDecision({ service, version: lane.version, evidence, threshold: 0, quietDays: DEFAULT_QUIET_DAYS, activeClients: lane.sunset.activeClients });
    const t = applyEvent(s, { type: "lane-sunset", lane: key, allowed: decision.allowed, blockers: decision.blockers, at, by: "release-driver" });
    if (t.kind !== "applied") return;
    if (!(await commit(deps, s, t, owed))) continue;
    await deps.store.recordRetirementDecision(service, lane.version, at, { allowed: decision.allowed, blockers: decision.blockers, quietStreak: decision.quietStreak, brownoutDaysSkipped: decision.brownoutDaysSkipped, inputs: decision.inputs, by: "release-driver at the sunset" });
    did.push(decision.allowed ? `sunset ${lane.sunset.at}: retirement allowed` : `sunset ${lane.sunset.at}: retirement refused (${decision.blockers.length} blocker(s))`);
    return;
  }
  throw new Error(`release state of ${service} kept changing; the sunset step waits for the next tick`);
}

async function commit(deps: LaneKeeperDeps, before: ReleaseState, t: Extract<ReturnType<typeof applyEvent>, { kind: "applied" }>, owed: Set<string>): Promise<boolean> {
  const notice = deps.notify ? lifecycleNotice(before, t.state, t.entry, { stack: deps.notify.stack, steps: false }) : undefined;
  try {
    await deps.store.commit(before.revision, t.state, t.entry, notice);
    if (notice) owed.add(before.service);
    return true;
  } catch (err) {
    if (err instanceof ConflictError) return false;
    throw err;
  }
}

/** Yesterday's evidence of the lane, once. */
async function evidence(deps: LaneKeeperDeps, s: ReleaseState, lane: LaneState, nowMs: number, did: string[]): Promise<void> {
  const [day] = lastDays(nowMs, 1);
  if (await deps.store.hasLaneEvidence(s.service, lane.version, day)) return;
  const from = Date.parse(`${day}T00:00:00Z`);
  const groups: Record<string, GroupOnRule> = { lane: { targetGroupArn: lane.targetGroupArn, ruleArn: lane.ruleArn } };
  for (const slot of SLOTS) groups[`main_${slot}`] = { targetGroupArn: s.routing.targetGroupArns[slot], ruleArn: s.routing.ruleArn };
  const series = await dailyRequests(deps.cloudwatch, groups, from, from + 86_400_000);
  const main = new Map<string, number>();
  for (const slot of SLOTS) for (const [d, v] of series.get(`main_${slot}`) ?? []) main.set(d, (main.get(d) ?? 0) + v);
  const [e] = dailyEvidence([day], series.get("lane") ?? new Map(), main, brownoutDays(lane.brownouts?.windows ?? []));
  if (await deps.store.recordLaneEvidence(s.service, lane.version, e, new Date(nowMs).toISOString())) did.push(`evidence ${day}: ${e.laneRequests === null ? "no data" : `${e.laneRequests} request(s)`}${e.brownout ? " (brownout day)" : ""}`);
}
