/**
 * How `pulumi up` converges on release state instead of fighting the rollback Lambda.
 *
 * Config says what the operator wants (stable slot/version, candidate and its weight);
 * release state says what happened (a rollback, a promotion). `planRelease` decides the weights
 * the listener rule gets now, the events to record once the deployment is done, warnings, and
 * whether the previous version's rollback window is over. Pure: no Pulumi, no AWS.
 */
import type { NormalizedStrategy, PreTrafficCheck } from "./progressive";
import { Phase, type ReleaseEvent, type ReleaseState, type SlotVersion, retireNotBefore } from "./releaseState";
import { type Slot, otherSlot } from "./slots";
import { type SlotWeights, splitTraffic } from "./weights";

export interface DesiredRelease {
  readonly service: string;
  readonly stable: SlotVersion;
  /** The other slot's version when it has an image. */
  readonly candidate: SlotVersion | null;
  /** Percent of traffic config gives the candidate. */
  readonly weight: number;
  /** The rolled-back version the operator acknowledges (`services[].acknowledgeRollback`). */
  readonly acknowledgeRollback?: string;
  /** Minutes a promoted-away version stays warm (`services[].rollbackWindowMinutes`). */
  readonly rollbackWindowMinutes: number;
  /** Hotfix release mode (`services[].hotfix`): recorded with the release. */
  readonly hotfix?: { readonly reason: string; readonly expires: string };
  /** Why a candidate that breaks the live API ships anyway. */
  readonly apiOverride?: string;
  /**
   * Progressive delivery (`services[].strategy`): the release starts at 0% and the release
   * driver moves it; `pulumi up` then follows the recorded weights and never sets them itself.
   */
  readonly strategy?: NormalizedStrategy;
  /** The check a progressive release must pass before its first step (`services[].preTraffic`). */
  readonly preTraffic?: { readonly check: PreTrafficCheck; readonly maxAttempts: number };
  /**
   * Image mode asked for the candidate (`services[].image` names it): release it even when it is
   * the version promoted away (going back to it), instead of keeping it warm as the rollback target.
   */
  readonly releaseCandidate?: boolean;
}

export interface ReleasePlan {
  /** Weights the listener rule is given by this `up`. */
  readonly weights: SlotWeights;
  /** Events to apply to release state, in order, after the deployment succeeded. */
  readonly events: readonly ReleaseEvent[];
  readonly warnings: readonly string[];
  /** True while a rolled-back candidate is held at 0%. */
  readonly held: boolean;
  /** True when the previous version's rollback window is over: its slot may scale to zero. */
  readonly scaleDownPrevious: boolean;
  /**
   * True when the slot config calls the candidate must run at full size: inside the rollback
   * window (the previous version is the automatic rollback target, ready to take all traffic
   * back), or after a post-promotion rollback (it serves all traffic).
   */
  readonly keepPreviousWarm?: boolean;
  /**
   * The slot the release driver scaled to 0 (`retire-previous`), outside Pulumi: `keep` while it
   * still holds the retired version at 0% (plan 0 replicas, so Pulumi's inputs match the cluster);
   * otherwise this `up` gives it traffic or a new version, and its Deployment must be re-applied at
   * full size even where Pulumi's last inputs already said so (they were never 0), so that the
   * rollout gates the rule.
   */
  readonly retired?: { readonly slot: Slot; readonly at: string; readonly keep: boolean };
  /**
   * How big each slot's Deployment is planned, decided per slot from what release state says it
   * does (see {@link slotSizes}): never `zero` for a slot that has weight in the live rule or in
   * this plan, whichever slot config calls the candidate.
   */
  readonly sizes: Readonly<Record<Slot, SlotSize>>;
}

/** How big a slot's Deployment is planned. Const object plus union type. */
export const SlotSize = {
  /** As configured (`services[].replicas`, or the slot's own). */
  Configured: "configured",
  /** At least the largest configured slot: it is the automatic rollback target, or serves all traffic. */
  Warm: "warm",
  /** Scaled to 0: a promoted-away version whose rollback window is over, with no weight anywhere. */
  Zero: "zero",
} as const;
export type SlotSize = (typeof SlotSize)[keyof typeof SlotSize];

/**
 * Config says one slot is live while release state says the other one serves, and config puts a
 * version into the serving slot that is not the one running there: deploying it would roll a new
 * version onto production's live slot with no canary, before the rule moves. `pulumi up` refuses.
 */
export class LiveSlotConflictError extends Error {
  constructor(readonly service: string, message: string) {
    super(message);
    this.name = "LiveSlotConflictError";
  }
}

const same = (a: SlotVersion | null | undefined, b: SlotVersion | null | undefined) =>
  !!a && !!b && a.slot === b.slot && a.version === b.version;

/**
 * The plan for one service. `now` is an ISO time; `by` who runs the program (`pulumi:<stack>`).
 * Also says what release state knows about a slot the release driver scaled to 0 (see
 * {@link ReleasePlan.retired}), so the slot's Deployment is planned from the cluster's truth.
 */
export function planRelease(d: DesiredRelease, state: ReleaseState | undefined, now: string, by: string): ReleasePlan {
  const conflict = liveSlotConflict(d, state);
  if (conflict) throw new LiveSlotConflictError(d.service, conflict);
  const plan = withRetired(d, state, planTraffic(d, state, now, by));
  return { ...plan, sizes: slotSizes(d, state, plan) };
}

function withRetired(d: DesiredRelease, state: ReleaseState | undefined, plan: TrafficPlan): TrafficPlan {
  const prev = state?.previous;
  if (!state?.previousRetiredAt || !prev) return plan;
  // The retired version still in its slot, at 0%: it stays at 0 replicas. Anything else in that
  // slot (traffic going back to it, a new version) must roll out before the rule moves.
  const configured = same(d.stable, prev) ? d.stable : same(d.candidate, prev) ? d.candidate : null;
  const releasing = plan.events.some((e) => e.type === "start-release" && e.candidate.slot === prev.slot);
  const keep = !!configured && plan.weights[prev.slot] === 0 && !releasing;
  return { ...plan, retired: { slot: prev.slot, at: state.previousRetiredAt, keep }, ...(keep ? { scaleDownPrevious: true, keepPreviousWarm: false } : {}) };
}

/**
 * The refusal when config would put a new version onto the slot release state says serves: config
 * disagreeing about which slot is live (lagging behind a driver promotion, or promoting and
 * re-imaging in one edit), or changing the live slot's version in place while the other slot is
 * there to release it (see {@link LiveSlotConflictError}); `undefined` when config only lags
 * behind (the live slot keeps the version it runs) or has one slot.
 *
 * The slot release state calls stable serves traffic in every phase (all of it, or the stable part
 * of a release); config naming the other slot stable is either a promotion config makes (its
 * candidate becomes stable) or config lagging behind one the driver made. Either way the slot
 * config now calls the candidate is live until the rule moves, and a new version there would roll
 * out under production traffic.
 */
export function liveSlotConflict(d: DesiredRelease, state: ReleaseState | undefined): string | undefined {
  if (!state) return undefined;
  const live = state.stable;
  if (state.weights[live.slot] === 0) return undefined;
  if (d.stable.slot === live.slot) {
    // Config agrees which slot is live but gives it another version while the other slot is
    // there to take it: an in-place rollout under production traffic, with no rollback target.
    // (A service with one slot has no other way; it is left to do so.)
    if (!d.candidate || d.stable.version === live.version) return undefined;
    const other = otherSlot(live.slot);
    return (
      `service ${d.service}: config changes ${live.slot}, the live slot (${state.weights[live.slot]}% of traffic), from ${live.version} to ${d.stable.version} in place: ` +
      `that rolls ${d.stable.version} out under production traffic with no canary and leaves nothing to roll back to. Nothing was changed. ` +
      `Keep ${live.slot} at ${live.version} and put ${d.stable.version} into ${other} (the candidate slot) to release it there`
    );
  }
  const intoLive = d.candidate?.slot === live.slot ? d.candidate : null;
  if (!intoLive || intoLive.version === live.version) return undefined;
  const why =
    state.phase === Phase.Promoted
      ? `promoted at ${state.promotedAt ?? "?"}${state.previous ? `; ${state.previous.version} (${state.previous.slot}) was promoted away${state.previousRetiredAt ? ` and scaled to 0 at ${state.previousRetiredAt}` : ""}` : ""}`
      : state.phase === Phase.Releasing
        ? `stable while ${state.candidate?.version ?? "?"} (${state.candidate?.slot ?? "?"}) releases at ${state.weights[otherSlot(live.slot)]}%`
        : state.phase === Phase.RolledBack
          ? `live again after the rollback of ${state.candidate?.version ?? "?"} at ${state.lastRollback?.at ?? "?"}`
          : "stable";
  const fix =
    state.phase === Phase.Releasing
      ? `promote first (services.${d.service}.stable: "${otherSlot(live.slot)}" with ${live.slot} still at ${live.version}), then put ${intoLive.version} into ${live.slot} in a later update`
      : `set services.${d.service}.stable to "${live.slot}" with ${live.slot}'s image at ${live.version}, and put ${intoLive.version} into ${otherSlot(live.slot)} (the candidate slot)` +
        (live.image ? `; ${live.slot} runs ${live.image}` : "");
  return (
    `service ${d.service}: release state says ${live.slot} is live (${live.version}, ${why}, ${state.weights[live.slot]}% of traffic), ` +
    `but config calls ${d.stable.slot} stable and puts ${intoLive.version} into ${live.slot}: that would deploy ${intoLive.version} onto the live slot with no canary. ` +
    `Nothing was changed. To release ${intoLive.version}, ${fix}`
  );
}

/**
 * The size of each slot, from what release state and this plan say it does: a slot with weight in
 * the live rule or in this plan is never planned at 0 (it serves); the flags of the plan name the
 * slot they are about (the retired one, else the slot config calls the candidate).
 */
function slotSizes(d: DesiredRelease, state: ReleaseState | undefined, plan: TrafficPlan): Record<Slot, SlotSize> {
  const target = plan.retired?.keep ? plan.retired.slot : otherSlot(d.stable.slot);
  const serving = (slot: Slot) => plan.weights[slot] > 0 || (state?.weights[slot] ?? 0) > 0;
  const size = (slot: Slot): SlotSize =>
    slot !== target ? SlotSize.Configured
    : plan.keepPreviousWarm ? SlotSize.Warm
    : plan.scaleDownPrevious && !serving(slot) ? SlotSize.Zero
    : plan.scaleDownPrevious ? SlotSize.Warm
    : SlotSize.Configured;
  return { blue: size("blue"), green: size("green") };
}

type TrafficPlan = Omit<ReleasePlan, "sizes">;

function planTraffic(d: DesiredRelease, state: ReleaseState | undefined, now: string, by: string): TrafficPlan {
  const configWeights = splitTraffic(d.stable.slot, d.candidate ? d.weight : 0).weights;
  const base = { at: now, by };
  const warnings: string[] = [];
  const events: ReleaseEvent[] = [];
  // The version promoted away stays in the other slot, warm: that is not a new release.
  const warmPrevious = !!state && same(state.previous, d.candidate) && !d.releaseCandidate;
  const release = (): ReleaseEvent[] =>
    d.candidate && d.strategy
      ? warmPrevious
        ? []
        : [
          {
            type: "start-release",
            candidate: d.candidate,
            weight: 0,
            progressive: { strategy: d.strategy, rollbackWindowMinutes: d.rollbackWindowMinutes, ...(d.preTraffic ? { preTraffic: d.preTraffic } : {}) },
            ...(d.apiOverride ? { apiOverride: d.apiOverride } : {}),
            ...base,
          },
        ]
      : d.candidate && d.weight > 0
      ? [
          {
            type: "start-release",
            candidate: d.candidate,
            weight: d.weight,
            ...(d.hotfix ? { hotfix: d.hotfix } : {}),
            ...(d.apiOverride ? { apiOverride: d.apiOverride } : {}),
            ...base,
          },
        ]
      : [];

  // After a post-promotion rollback, config still names the failed version stable: hold it at 0%
  // until the operator makes the previous version stable again or acknowledges the rollback.
  if (
    state?.phase === Phase.RolledBack &&
    state.lastRollback?.afterPromotion &&
    state.candidate &&
    same(state.candidate, d.stable) &&
    same(state.stable, d.candidate)
  ) {
    const rb = state.lastRollback;
    if (d.acknowledgeRollback === state.candidate.version) {
      events.push({ type: "acknowledge", ...base }, { type: "adopt", stable: d.stable, ...base });
      warnings.push(`service ${d.service}: rollback of ${state.candidate.version} acknowledged; it serves all traffic again`);
      return { weights: configWeights, events, warnings, held: false, scaleDownPrevious: false };
    }
    warnings.push(
      `service ${d.service}: promoted ${state.candidate.version} was rolled back to ${state.stable.version} at ${rb.at} by ${rb.by.startsWith("operator:") ? "" : "alarm "}${rb.by}: ${rb.reason}; ` +
        `traffic stays on ${state.stable.version} (${state.stable.slot}). Set services.${d.service}.stable to "${state.stable.slot}", or set services.${d.service}.acknowledgeRollback to "${state.candidate.version}" to send traffic back to it`,
    );
    // The slot config calls the candidate serves all traffic now: it needs full size.
    return { weights: splitTraffic(state.stable.slot, 0).weights, events, warnings, held: true, scaleDownPrevious: false, keepPreviousWarm: true };
  }

  if (!state) {
    return { weights: configWeights, events: [{ type: "adopt", stable: d.stable, ...base }, ...release()], warnings, held: false, scaleDownPrevious: false };
  }

  // A rolled-back candidate stays at 0% until its image changes or the operator acknowledges it.
  if (state.phase === Phase.RolledBack && state.candidate && same(state.candidate, d.candidate) && same(state.stable, d.stable)) {
    const rb = state.lastRollback;
    if (d.acknowledgeRollback === state.candidate.version) {
      events.push({ type: "acknowledge", ...base }, ...release());
      return { weights: configWeights, events, warnings, held: false, scaleDownPrevious: false };
    }
    warnings.push(
      `service ${d.service}: candidate ${state.candidate.version} was rolled back at ${rb?.at ?? "?"} by ${rb && !rb.by.startsWith("operator:") ? "alarm " : ""}${rb?.by ?? "?"}: ${rb?.reason ?? "?"}; ` +
        `change the candidate image or set services.${d.service}.acknowledgeRollback to "${state.candidate.version}"`,
    );
    if (d.acknowledgeRollback !== undefined) {
      warnings.push(`service ${d.service}: acknowledgeRollback "${d.acknowledgeRollback}" does not match the rolled-back version "${state.candidate.version}"; ignored`);
    }
    return { weights: splitTraffic(state.stable.slot, 0).weights, events, warnings, held: true, scaleDownPrevious: false };
  }

  // A progressive release: the release driver owns the weights; follow what it recorded.
  if (d.strategy && state.phase === Phase.Releasing && state.progress && same(state.candidate, d.candidate) && same(state.stable, d.stable)) {
    return { weights: state.weights, events, warnings, held: false, scaleDownPrevious: false };
  }
  // The release driver promoted it: traffic stays on the new version; config may catch up.
  if (d.strategy && state.phase === Phase.Promoted && same(state.stable, d.candidate) && same(state.previous, d.stable)) {
    warnings.push(
      `service ${d.service}: the release driver promoted ${state.stable.version} (${state.stable.slot}) at ${state.promotedAt ?? "?"}; set services.${d.service}.stable to "${state.stable.slot}" so config says so (the previous slot is scaled down once the rollback window is over and config names the new stable)`,
    );
    return { weights: state.weights, events, warnings, held: false, scaleDownPrevious: false };
  }

  // Config promoted the candidate: record the promotion.
  if (state.phase === Phase.Releasing && same(state.candidate, d.stable)) {
    events.push({ type: "promote", rollbackWindowMinutes: d.rollbackWindowMinutes, ...base });
    return { weights: configWeights, events, warnings, held: false, scaleDownPrevious: false, keepPreviousWarm: d.rollbackWindowMinutes > 0 };
  }

  if (!same(state.stable, d.stable)) {
    // Stable changed outside a release (manual change, hotfix): record it as adopted.
    if (state.phase === Phase.Releasing) events.push({ type: "shift-weight", weight: 0, ...base });
    events.push({ type: "adopt", stable: d.stable, ...base }, ...release());
    if (state.phase === Phase.Releasing) {
      warnings.push(`service ${d.service}: stable changed from ${state.stable.version} to ${d.stable.version} while ${state.candidate?.version ?? "?"} was releasing; recorded as a manual change`);
    }
    if (state.phase === Phase.RolledBack && same(state.candidate, d.stable)) {
      warnings.push(
        `service ${d.service}: stable set to ${d.stable.version}, which was rolled back at ${state.lastRollback?.at ?? "?"} (${state.lastRollback?.reason ?? "?"}); recorded as a manual change`,
      );
    }
    return { weights: configWeights, events, warnings, held: false, scaleDownPrevious: false };
  }

  // Same stable: start, adjust or back out the release.
  if (state.phase === Phase.Releasing && same(state.candidate, d.candidate)) {
    if (state.weights[otherSlot(d.stable.slot)] !== d.weight) events.push({ type: "shift-weight", weight: d.weight, ...base });
  } else if (state.phase === Phase.Releasing && !d.candidate) {
    events.push({ type: "shift-weight", weight: 0, ...base });
  } else if (!(state.phase === Phase.RolledBack && same(state.candidate, d.candidate))) {
    if (state.phase === Phase.Releasing) events.push({ type: "shift-weight", weight: 0, ...base });
    events.push(...release());
  }

  // Going back to the promoted-away version (image mode re-releasing it) is a release, not a
  // version kept warm or retired: it runs at full size.
  const promotedAway =
    !!state.previous && !!state.promotedAt && state.phase === Phase.Promoted && same(state.previous, d.candidate) && d.weight === 0 && !events.some((e) => e.type === "start-release");
  const windowEnds = state.rollbackWindowEndsAt
    ? Date.parse(state.rollbackWindowEndsAt)
    : Date.parse(state.promotedAt ?? now) + d.rollbackWindowMinutes * 60_000;
  // The same moment as the release driver (grace after the window, target-group stickiness after
  // the promotion), and at once when the driver already scaled it down: the Deployment's inputs
  // then say what the cluster runs.
  const windowOver = promotedAway && (!!state.previousRetiredAt || Date.parse(now) >= retireNotBefore(state, windowEnds));
  return { weights: configWeights, events, warnings, held: false, scaleDownPrevious: windowOver, keepPreviousWarm: promotedAway && !windowOver };
}
