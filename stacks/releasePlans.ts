/**
 * From validated config to what `core/converge.ts` plans per service, and what the program does
 * with a plan before it registers anything: the desired release, the refusal of config that would
 * deploy a new version onto the slot release state says is live, and each slot's replicas.
 */
import { type DesiredRelease, type ReleasePlan, SlotSize, liveSlotConflict } from "../core/converge";
import type { StackConfig } from "../core/config";
import { SLOTS, type Slot, otherSlot } from "../core/slots";
import { Phase, type ReleaseState } from "../core/releaseState";
import type { ReleaseBackend } from "./releases";
import * as pulumi from "@pulumi/pulumi";
import type { LaneRuleState, LegacyLaneResources } from "../components/delivery/legacyLane";
import type { LegacyLaneSpec } from "../core/config/legacyLane";
import { type LaneRouting, brownoutMessage, goneMessage, laneAnswersGone } from "../core/laneState";
import { activeClientVersions } from "../core/apiFiles";
import * as path from "node:path";
import type { LaneKey } from "../core/naming";

/** What config asks of one service's release, as `core/converge.ts` planRelease reads it. */
export function desiredRelease(spec: StackConfig["services"][number], apiOverride?: string): DesiredRelease {
  const candidateSlot = otherSlot(spec.stable);
  const stableSpec = spec.slots[spec.stable];
  const candidateSpec = spec.slots[candidateSlot];
  if (!stableSpec) throw new Error(`internal: ${spec.name} has no stable slot after validation`);
  return {
    service: spec.name,
    stable: { slot: spec.stable, version: stableSpec.version, image: stableSpec.image },
    candidate: candidateSpec ? { slot: candidateSlot, version: candidateSpec.version, image: candidateSpec.image } : null,
    weight: spec.candidateWeight,
    acknowledgeRollback: spec.acknowledgeRollback,
    rollbackWindowMinutes: spec.rollbackWindowMinutes,
    hotfix: spec.hotfix,
    apiOverride,
    ...(spec.strategy ? { strategy: spec.strategy } : {}),
    ...(spec.preTraffic ? { preTraffic: spec.preTraffic } : {}),
    ...(spec.desired?.role === "candidate" ? { releaseCandidate: true } : {}),
  };
}

/**
 * Refuses, before anything is registered, every service whose config puts a new version onto the
 * slot release state says is live (config lagging behind a driver promotion, promoting and
 * re-imaging in one edit, or changing the live slot in place; see `core/converge.ts`
 * liveSlotConflict). One error names them all.
 */
export async function checkLiveSlots(config: StackConfig, releases: ReleaseBackend): Promise<void> {
  const problems: string[] = [];
  for (const spec of config.services) {
    const conflict = liveSlotConflict(desiredRelease(spec), await releases.get(spec.name));
    if (conflict) problems.push(conflict);
  }
  if (problems.length > 0) throw new LiveSlotError(problems);
}

/** Config and release state disagree about which slot is live; lists each service and its edit. */
export class LiveSlotError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`config disagrees with release state about the live slot:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "LiveSlotError";
  }
}

/**
 * Replicas of one slot, from the plan's per-slot sizes (`core/converge.ts` slotSizes): 0 only for
 * a promoted-away version past its rollback window that has no weight; at least the largest
 * configured slot while it is the automatic rollback target (or serves all traffic after a
 * post-promotion rollback); else as configured for that slot.
 */
export function slotReplicas(plan: ReleasePlan, slot: Slot, slots: Partial<Record<Slot, { readonly replicas: number }>>): number {
  const configured = slots[slot]?.replicas ?? 0;
  switch (plan.sizes[slot]) {
    case SlotSize.Zero:
      return 0;
    case SlotSize.Warm:
      return Math.max(configured, ...SLOTS.map((s) => slots[s]?.replicas ?? 0));
    case SlotSize.Configured:
      return configured;
  }
}

/**
 * Before anything is deployed: a slot that takes traffic as the candidate and gets another version
 * in this update is taken to 0% first (a `shift-weight` to 0, recorded, the rule moved with it),
 * because the program's rule waits for the slots' rollouts: without this the new version would
 * roll out under the old candidate's share of production traffic, with the alarms still judging
 * the old release, and only then would the rule move. The new version then gets its traffic from
 * the rule (or the release driver) once it has rolled out. The live stable slot is never drained
 * here: {@link checkLiveSlots} refuses any new version on it first.
 * Skipped in preview, which changes nothing; returns what to tell the operator.
 */
export async function drainReplacedCandidates(config: StackConfig, releases: ReleaseBackend, opts: { readonly now: string; readonly by: string; readonly dryRun: boolean }): Promise<string[]> {
  const told: string[] = [];
  for (const spec of config.services) {
    const state = await releases.get(spec.name);
    const cand = state?.candidate;
    if (!state || !cand || state.phase !== Phase.Releasing || state.weights[cand.slot] === 0) continue;
    const configured = spec.slots[cand.slot];
    if (!configured || configured.version === cand.version) continue;
    const what = `${cand.version} (${cand.slot}) at ${state.weights[cand.slot]}%`;
    if (opts.dryRun) {
      told.push(`service ${spec.name}: ${what} will be taken to 0% before ${configured.version} rolls out into ${cand.slot}`);
      continue;
    }
    const r = await releases.record(spec.name, state.routing, [{ type: "shift-weight", weight: 0, at: opts.now, by: opts.by }], state.weights);
    releases.forget?.(spec.name);
    told.push(
      r.state.weights[cand.slot] === 0
        ? `service ${spec.name}: ${what} taken to 0% before ${configured.version} rolls out into ${cand.slot}; it gets traffic once it has rolled out`
        : `service ${spec.name}: ${what} could not be taken to 0% first (release state is now ${r.state.phase}); ${r.warnings.join("; ")}`,
    );
  }
  return told;
}

/**
 * What an update does with release state before it registers anything (stacks/main.ts build):
 * refuse config that would put a new version onto the live slot, then drain a candidate slot
 * that is about to be re-imaged. Returns the warnings to print.
 */
export async function prepareReleases(config: StackConfig, releases: ReleaseBackend, opts: { readonly now: string; readonly by: string; readonly dryRun: boolean }): Promise<string[]> {
  await checkIngressMoves(config, releases);
  await checkLiveSlots(config, releases);
  return drainReplacedCandidates(config, releases, opts);
}

/**
 * Refuses, before anything is registered, a service moved to another ingress group: its target
 * groups would stay (their names do not hold the group) and an ALB target group can be associated
 * with one load balancer only (`TargetGroupAssociationLimit` when the new ALB's rule forwards to
 * it). The message gives the release-safe way to move it.
 */
export async function checkIngressMoves(config: StackConfig, releases: ReleaseBackend): Promise<void> {
  const problems: string[] = [];
  for (const spec of config.services) {
    const from = (await releases.get(spec.name))?.routing.ingressGroup;
    if (from === undefined || from === spec.ingressGroup) continue;
    problems.push(
      `service ${spec.name}: ingressGroup changes from "${from}" to "${spec.ingressGroup}", but its target groups belong to the "${from}" load balancer, and an ALB target group serves one load balancer only. ` +
        `Nothing was changed. Keep ingressGroup "${from}", or move it in two updates: (1) add the service again under a new name with ingressGroup "${spec.ingressGroup}" (its own target groups, rule and alarms), release it there and move its clients to that load balancer; (2) remove ${spec.name}`,
    );
  }
  if (problems.length > 0) throw new IngressMoveError(problems);
}

/** Services moved between ingress groups; lists each and the steps. */
export class IngressMoveError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`a service cannot move to another load balancer in place:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "IngressMoveError";
  }
}

/** What the stack exports of each service's release after an update (`services.<name>.release`). */
export interface ReleaseSummary {
  readonly phase: string;
  readonly stable: string;
  readonly candidate: string | null;
  readonly revision: number;
  readonly held: boolean;
  /**
   * The release this update started or left in progress (`<slot>:<version>:<revision>`), for
   * `remedy wait --outputs`: ties the wait to this release, never an older one's outcome.
   */
  readonly releaseId: string | null;
}

export function releaseSummary(spec: StackConfig["services"][number], s: ReleaseState | undefined, held: boolean): ReleaseSummary {
  return {
    phase: s?.phase ?? "unrecorded",
    stable: s ? `${s.stable.version} (${s.stable.slot})` : `${spec.slots[spec.stable]?.version ?? "?"} (${spec.stable})`,
    candidate: s?.candidate ? `${s.candidate.version} (${s.candidate.slot})` : null,
    revision: s?.revision ?? 0,
    held,
    releaseId: s?.releaseId ?? null,
  };
}

/**
 * What release state says of a lane's rule (issue 37): its callers went back to the previous image
 * (an alarm during a lane hotfix, still naming the image this update deploys), or it answers 410
 * now (a brownout, or the retirement the release driver allowed at the sunset), with the text it
 * records. The rule follows it, so `pulumi up` never undoes either.
 */
export function laneRuleState(s: ReleaseState | undefined, key: LaneKey, lane: LegacyLaneSpec, now: string): LaneRuleState {
  const l = s?.lanes?.[key];
  const same = l?.version === lane.version;
  const gone = !!(same && laneAnswersGone(l, Date.parse(now)));
  return {
    rolledBack: !!(same && l.rolledBack && l.rolledBack.image === lane.image && lane.rollbackTo === l.rolledBack.toImage),
    brownout: gone,
    ...(gone && l?.sunsetDecision?.allowed && l.sunset ? { message: l.sunset.message } : {}),
  };
}

/** Each lane of a service as deployed, for release state (core/laneState.ts recordLanes). */
export function laneRoutings(spec: StackConfig["services"][number], lanes: readonly LegacyLaneResources[], baseDir: string = process.cwd()): pulumi.Output<Record<string, LaneRouting>> {
  const operations = (spec.api?.operations ?? []).map((p) => path.resolve(baseDir, p));
  // Unreadable operations count every declared client as active: the sunset step then refuses
  // rather than retiring a lane a client may still need.
  const active = (clients: readonly string[]) => {
    try {
      return activeClientVersions(clients, operations);
    } catch (err) {
      void pulumi.log.warn(`service ${spec.name}: ${(err as Error).message}; every client version its legacy lanes declare counts as active`);
      return [...clients];
    }
  };
  return pulumi
    .all(lanes.map((l) => pulumi.all([l.rule.arn, l.targetGroup.arn, l.previous?.targetGroup.arn])))
    .apply((arns) =>
      Object.fromEntries(
        lanes.map((l, i) => {
          const [ruleArn, targetGroupArn, back] = arns[i];
          return [
            l.key,
            {
              version: l.spec.version,
              image: l.spec.image,
              ruleArn,
              targetGroupArn,
              ...(back && l.spec.rollbackTo ? { rollback: { image: l.spec.rollbackTo, targetGroupArn: back } } : {}),
              // The schedule the release driver runs, with what the 410 says.
              ...(l.spec.brownouts.length > 0 ? { brownouts: { windows: l.spec.brownouts, message: brownoutMessage(spec.name, l.spec) } } : {}),
              // What the driver's retirement step at the sunset decides on, and what the lane answers after.
              sunset: { at: l.spec.sunsetAt, activeClients: active(l.spec.clients), message: goneMessage(spec.name, l.spec) },
            },
          ];
        }),
      ),
    );
}
