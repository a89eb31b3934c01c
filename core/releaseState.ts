/**
 * Release state: the single source of truth for where each service's traffic goes and why.
 * Pure transitions shared by the rollback Lambda, the stack program and the CLI, so the three
 * never disagree. Every transition is idempotent: applying the same event to the state it
 * produced changes nothing, which is what makes duplicate and late alarm deliveries harmless.
 *
 * Why this file is long: it is one reducer (`applyEvent`) over one state type, with the schema
 * of the stored record beside it; every transition reads the same invariants, and it is
 * mutation-tested as one module (`npm run mutation releaseState`). Splitting it by event would
 * scatter those invariants.
 */
import "./zodMini";
import * as z from "zod/mini";
import type { NormalizedStrategy, PreTrafficCheck, PreTrafficState } from "./progressive";
import { SLOTS, Slot } from "./slots";
import { type SlotWeights, splitTraffic } from "./weights";
import { RETIRE_GRACE_MINUTES } from "./defaults";
import { type LaneChange, type LaneRouting, type LaneState, brownOutLane, recordLanes, rollBackLane, sunsetLane } from "./laneState";

/** Lifecycle of a service's current release. Const object plus union type. */
export const Phase = {
  /** One version serves all traffic; no release in flight. */
  Stable: "stable",
  /** A candidate in the other slot receives part of the traffic. */
  Releasing: "releasing",
  /** The candidate became stable; the previous version stays warm for the rollback window. */
  Promoted: "promoted",
  /** An alarm or an operator sent all traffic back to the stable slot; the candidate is held. */
  RolledBack: "rolled-back",
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export interface SlotVersion {
  readonly slot: Slot;
  readonly version: string;
  /**
   * The image that version runs, as the program deployed it (absent in records written before
   * image mode). Image mode reads it to keep the live slot's image when it releases a new one.
   */
  readonly image?: string;
  /** The release bundle this version is, when its release recorded one (issue 38): what promotion moves. */
  readonly bundle?: string;
}

/** The AWS objects a flip touches. Static per service; written by the stack program. */
export interface Routing {
  readonly ruleArn: string;
  readonly targetGroupArns: Readonly<Record<Slot, string>>;
  /** Target group stickiness of the rule's forward action, in seconds (0 = off); a flip keeps it. */
  readonly stickinessSeconds: number;
  /**
   * Kubernetes names of the slots' TargetGroupBindings as deployed (recorded by `pulumi up`), so
   * the next `up` keeps a binding's name while its target group is unchanged (see
   * `core/naming.ts` bindingNameFor). Absent in records written before it was kept.
   */
  readonly bindings?: Readonly<Partial<Record<Slot, string>>>;
  /**
   * The stack's notification topic (recorded by `pulumi up`): where `remedy rollback/promote/abort`
   * announce every manual override. Absent in records written before it was kept.
   */
  readonly notifyTopicArn?: string;
  /**
   * The alarm kinds each slot has (`core/alarms.ts` serviceAlarmKinds), recorded by `pulumi up`
   * when the service has relative or custom alarms; absent means the built-in four.
   */
  readonly alarmKinds?: readonly string[];
  /**
   * The ingress group (ALB) the rule and target groups are on, as `pulumi up` deployed them; absent
   * in records written before it was kept. A target group serves one load balancer only.
   */
  readonly ingressGroup?: string;
  /**
   * The stack's override URL (the rollback function's URL, auth type AWS_IAM), recorded by
   * `pulumi up`: where `remedy rollback/abort/promote` send operators' requests. Absent in
   * records written before it existed.
   */
  readonly overridesUrl?: string;
  /** `alarms.customRevertsPromotion`: a custom alarm alone may revert a promoted release. */
  readonly customRevertsPromotion?: boolean;
}

/** A Lambda function URL (`https://<id>.lambda-url.<region>.on.aws/`): the only shape the CLI signs requests for. */
export const FUNCTION_URL = /^https:\/\/[a-z0-9]{32}\.lambda-url\.[a-z0-9-]+\.on\.aws\/$/;

export interface RollbackRecord {
  readonly releaseId: string;
  /** When traffic went back (the handler's clock). */
  readonly at: string;
  /** Alarm name, or `operator:<name>`. */
  readonly by: string;
  readonly reason: string;
  readonly failedSlot: Slot;
  readonly fromVersion: string;
  readonly toVersion: string;
  /**
   * True when the failed version had already been promoted (a post-promotion rollback inside
   * the rollback window): `pulumi up` then holds even though config still names it stable.
   */
  readonly afterPromotion?: boolean;
  /** When a drill's restore resumed the release this rollback (the drill's) had stopped: it ended nothing. */
  readonly resumedAt?: string;
}

export interface ReleaseState {
  readonly service: string;
  /** Optimistic-lock counter: +1 on every change; writes are conditional on it. */
  readonly revision: number;
  readonly phase: Phase;
  readonly stable: SlotVersion;
  /** The version being released (or rolled back, while held). `null` when none. */
  readonly candidate: SlotVersion | null;
  /** After a promotion: the previous stable version, kept warm as the rollback target. */
  readonly previous: SlotVersion | null;
  /** When the last promotion happened; starts the rollback window of `previous`. */
  readonly promotedAt: string | null;
  /**
   * Until when `previous` stays warm at full size and an alarm on the new stable sends traffic
   * back to it automatically. `null` outside a rollback window.
   */
  readonly rollbackWindowEndsAt: string | null;
  readonly weights: SlotWeights;
  readonly releaseId: string | null;
  readonly releaseStartedAt: string | null;
  readonly lastRollback: RollbackRecord | null;
  readonly routing: Routing;
  readonly updatedAt: string;
  /**
   * Random id of the write that produced this state (set by writers that must tell their own
   * write from an identical one by another copy, e.g. two rollback Lambdas in the same ms).
   */
  readonly writeId?: string;
  /**
   * A release driven step by step by the release driver (progressive delivery): the strategy,
   * the step it is on and since when, and an operator's pending `remedy promote`. Absent for a
   * release whose weights config sets by hand.
   */
  readonly progress?: ReleaseProgress | null;
  /**
   * When the release driver scaled the promoted-away version's slot to 0, its rollback window
   * being over. Absent while it still runs (or where `pulumi up` scales it instead).
   */
  readonly previousRetiredAt?: string | null;
  /** The service's legacy lanes by lane key (issue 37): routing, a lane rollback, a brownout. */
  readonly lanes?: Readonly<Record<string, LaneState>>;
}

export interface ReleaseProgress {
  readonly strategy: NormalizedStrategy;
  /** -1 before the first step; `strategy.steps.length` while baking at 100%. */
  readonly stepIndex: number;
  readonly stepStartedAt: string;
  readonly promote?: "step" | "full";
  /** Rollback window the promotion opens, in minutes. */
  readonly rollbackWindowMinutes: number;
  /** The check the candidate must pass before its first step (`services[].preTraffic`). */
  readonly preTraffic?: PreTrafficState;
}

interface EventBase {
  /** ISO-8601 time the change is made. */
  readonly at: string;
  /** Who asks: an alarm name, `pulumi:<stack>`, `operator:<name>`. */
  readonly by: string;
}

export type ReleaseEvent =
  | (EventBase & {
      readonly type: "start-release";
      readonly candidate: SlotVersion;
      readonly weight: number;
      /** A hotfix release: straight to full traffic, with why and until when. */
      readonly hotfix?: { readonly reason: string; readonly expires: string };
      /** Why a candidate that breaks the live API ships anyway (`api.override`). */
      readonly apiOverride?: string;
      /** Driven by the release driver through these steps (the release starts at `weight`, usually 0). */
      readonly progressive?: {
        readonly strategy: NormalizedStrategy;
        readonly rollbackWindowMinutes: number;
        readonly preTraffic?: { readonly check: PreTrafficCheck; readonly maxAttempts: number };
      };
    })
  /**
   * The release driver ran the pre-traffic check: run number `attempt` (failures so far + 1)
   * `passed` or not. Recording the same run twice changes nothing.
   */
  | (EventBase & { readonly type: "pre-traffic-result"; readonly attempt: number; readonly passed: boolean; readonly reason: string })
  /** The release driver moves a progressive release onto step `stepIndex` at `weight`%. */
  | (EventBase & { readonly type: "advance-step"; readonly stepIndex: number; readonly weight: number })
  /** An operator asks a progressive release to move past a pause (`step`) or promote now (`full`). */
  | (EventBase & { readonly type: "request-promote"; readonly mode: "step" | "full" })
  | (EventBase & { readonly type: "shift-weight"; readonly weight: number })
  | (EventBase & {
      readonly type: "promote";
      /** Minutes the previous version stays warm as an automatic rollback target. Default 0 (none). */
      readonly rollbackWindowMinutes?: number;
    })
  | (EventBase & {
      readonly type: "roll-back";
      /** The slot whose alarm fired (or the operator named). */
      readonly failedSlot: Slot;
      /** When the problem was observed (alarm state-change time); older than the release = late. */
      readonly observedAt: string;
      readonly reason: string;
    })
  | (EventBase & { readonly type: "acknowledge" })
  /**
   * `remedy drill` is over and had rolled release `releaseId` back: the same release goes on at
   * `weight`% (its id, steps and timing kept), so a pipeline's `remedy wait` and the release
   * driver carry on with it rather than meeting a new release.
   */
  | (EventBase & { readonly type: "resume-after-drill"; readonly releaseId: string; readonly weight: number })
  /** The release driver scaled the previous version's slot to 0 after its rollback window. */
  | (EventBase & { readonly type: "retire-previous" })
  /** The program declares which version is stable outside a release (first record, manual change). */
  | (EventBase & { readonly type: "adopt"; readonly stable: SlotVersion })
  /** The program records the legacy lanes it deployed (core/laneState.ts recordLanes). */
  | (EventBase & { readonly type: "record-lanes"; readonly lanes: Readonly<Record<string, LaneRouting>> })
  /** A lane's alarm (or an operator) sends its callers back to the image it ran before its hotfix. */
  | (EventBase & { readonly type: "lane-roll-back"; readonly lane: string; readonly reason: string })
  /** The release driver starts (`until`) or ends (null) a lane's scheduled brownout. */
  | (EventBase & { readonly type: "lane-brownout"; readonly lane: string; readonly until: string | null })
  /** The release driver's retirement step at a lane's sunset: the gate's decision (core/laneState.ts sunsetLane). */
  | (EventBase & { readonly type: "lane-sunset"; readonly lane: string; readonly allowed: boolean; readonly blockers: readonly string[] });

export type ReleaseEventType = ReleaseEvent["type"];

/** One append-only history entry; one per applied transition. */
export interface HistoryEntry {
  readonly service: string;
  readonly revision: number;
  readonly at: string;
  readonly by: string;
  /** The event applied, or `update-routing` when only the rule or target groups changed. */
  readonly action: ReleaseEventType | "update-routing" | "record-images";
  readonly releaseId: string | null;
  readonly summary: string;
  readonly weights: SlotWeights;
  /** On a release's start: the bundle it is (issue 38), what promotion's evidence follows. */
  readonly bundle?: string;
}

export type Transition =
  | { readonly kind: "applied"; readonly state: ReleaseState; readonly entry: HistoryEntry }
  /** Nothing to do (duplicate, late, irrelevant); `reason` says why. */
  | { readonly kind: "unchanged"; readonly state: ReleaseState; readonly reason: string }
  /** The event asks for something the state forbids; `reason` names the fix. */
  | { readonly kind: "refused"; readonly state: ReleaseState; readonly reason: string };

/**
 * `remedy abort` is recorded as a rollback whose reason starts with this: the CLI's direct path
 * and the override function write it, `remedy history --html` marks such rollbacks as aborts.
 */
export const ABORT_REASON_PREFIX = "release aborted: ";

/** The recorded reason of an operator's rollback or abort. */
export function overrideReason(action: "rollback" | "abort", reason: string): string {
  return action === "abort" ? `${ABORT_REASON_PREFIX}${reason}` : reason;
}

/** A fresh state: `stable` serves 100%. */
export function initialState(service: string, stable: SlotVersion, routing: Routing, at: string): ReleaseState {
  return {
    service,
    revision: 0,
    phase: Phase.Stable,
    stable,
    candidate: null,
    previous: null,
    promotedAt: null,
    rollbackWindowEndsAt: null,
    weights: splitTraffic(stable.slot, 0).weights,
    releaseId: null,
    releaseStartedAt: null,
    lastRollback: null,
    routing,
    updatedAt: at,
  };
}

/**
 * `state` with the images of its stable, candidate and previous versions filled in from what the
 * program deploys (`deployed`: slot, version and image), where the record has none yet (records
 * written before image mode). `undefined` when nothing is missing. A recorded image is never
 * replaced: the same slot and version label keep the image they were released with.
 */
export function fillImages(state: ReleaseState, deployed: readonly SlotVersion[]): Pick<ReleaseState, "stable" | "candidate" | "previous"> | undefined {
  let changed = false;
  const fill = <T extends SlotVersion | null>(v: T): T => {
    if (!v || v.image) return v;
    const d = deployed.find((x) => x.slot === v.slot && x.version === v.version && x.image);
    if (!d) return v;
    changed = true;
    return { ...v, image: d.image };
  };
  const out = { stable: fill(state.stable), candidate: fill(state.candidate), previous: fill(state.previous) };
  return changed ? out : undefined;
}

function describe(v: SlotVersion): string {
  return `${v.version} (${v.slot})`;
}

function validWeight(weight: number): boolean {
  return Number.isInteger(weight) && weight >= 0 && weight <= 100;
}

function applied(
  before: ReleaseState,
  event: ReleaseEvent,
  change: Partial<ReleaseState>,
  summary: string,
): Transition {
  const carried = { ...before };
  delete (carried as { writeId?: string }).writeId;
  // Recorded times never go back (issue 36, 5): writers run on different clocks (the functions,
  // `pulumi up`, an operator's laptop), and history is read in revision order. An event stamped
  // before the record's last change is recorded at that change's time; its decision (a rollback
  // window, a step's minutes) still used the event's own time.
  const at = Date.parse(event.at) < Date.parse(before.updatedAt) ? before.updatedAt : event.at;
  const state: ReleaseState = { ...carried, ...change, revision: before.revision + 1, updatedAt: at };
  return {
    kind: "applied",
    state,
    entry: {
      service: state.service,
      revision: state.revision,
      at,
      by: event.by,
      action: event.type,
      releaseId: state.releaseId,
      summary,
      weights: state.weights,
      ...(event.type === "start-release" && event.candidate.bundle ? { bundle: event.candidate.bundle } : {}),
    },
  };
}

const unchanged = (state: ReleaseState, reason: string): Transition => ({ kind: "unchanged", state, reason });
const refused = (state: ReleaseState, reason: string): Transition => ({ kind: "refused", state, reason });

function startRelease(s: ReleaseState, e: Extract<ReleaseEvent, { type: "start-release" }>): Transition {
  if (!validWeight(e.weight)) return refused(s, `candidate weight must be an integer 0..100, got ${e.weight}`);
  if (e.candidate.slot === s.stable.slot) {
    return refused(s, `candidate slot ${e.candidate.slot} is the stable slot; release into ${s.stable.slot === Slot.Blue ? Slot.Green : Slot.Blue}`);
  }
  const sameCandidate = s.candidate?.slot === e.candidate.slot && s.candidate.version === e.candidate.version;
  if (s.phase === Phase.RolledBack && sameCandidate) {
    const rb = s.lastRollback;
    return refused(
      s,
      `candidate ${e.candidate.version} was rolled back${rb ? ` at ${rb.at} by ${rb.by}: ${rb.reason}` : ""}; ` +
        "change the candidate image or acknowledge the rollback",
    );
  }
  if (s.phase === Phase.Releasing && sameCandidate) {
    return e.weight === s.weights[e.candidate.slot]
      ? unchanged(s, `release of ${describe(e.candidate)} at ${e.weight}% is already in progress`)
      : shiftWeight(s, { type: "shift-weight", weight: e.weight, at: e.at, by: e.by });
  }
  const weights = splitTraffic(s.stable.slot, e.weight).weights;
  return applied(
    s,
    e,
    {
      phase: Phase.Releasing,
      candidate: e.candidate,
      previous: null,
      rollbackWindowEndsAt: null,
      previousRetiredAt: null,
      weights,
      releaseId: `${e.candidate.slot}:${e.candidate.version}:${s.revision + 1}`,
      releaseStartedAt: e.at,
      progress: e.progressive
        ? {
            strategy: e.progressive.strategy,
            stepIndex: -1,
            stepStartedAt: e.at,
            rollbackWindowMinutes: e.progressive.rollbackWindowMinutes,
            ...(e.progressive.preTraffic ? { preTraffic: { check: e.progressive.preTraffic.check, maxAttempts: e.progressive.preTraffic.maxAttempts, attempts: 0 } } : {}),
          }
        : null,
    },
    `${e.hotfix ? "HOTFIX " : ""}release ${describe(e.candidate)} at ${e.weight}%; stable ${describe(s.stable)}` +
      (e.hotfix ? `; reason: ${e.hotfix.reason}; hotfix mode expires ${e.hotfix.expires}` : "") +
      (e.apiOverride ? `; API compatibility overridden: ${e.apiOverride}` : "") +
      (e.candidate.bundle ? `; bundle ${e.candidate.bundle}` : ""),
  );
}

function shiftWeight(s: ReleaseState, e: Extract<ReleaseEvent, { type: "shift-weight" }>): Transition {
  if (s.phase !== Phase.Releasing || !s.candidate) return refused(s, `no release in progress (phase ${s.phase})`);
  if (!validWeight(e.weight)) return refused(s, `candidate weight must be an integer 0..100, got ${e.weight}`);
  // A weight set by hand ends a progressive release: the release driver no longer moves it.
  if (s.weights[s.candidate.slot] === e.weight && !s.progress) return unchanged(s, `candidate already at ${e.weight}%`);
  return applied(
    s,
    e,
    { weights: splitTraffic(s.stable.slot, e.weight).weights, progress: null },
    `shift ${describe(s.candidate)} to ${e.weight}%${s.progress ? "; the release driver no longer moves it" : ""}`,
  );
}

function promote(s: ReleaseState, e: Extract<ReleaseEvent, { type: "promote" }>): Transition {
  if (s.phase === Phase.Promoted || (s.phase === Phase.Stable && !s.candidate)) {
    return unchanged(s, `${describe(s.stable)} is already stable`);
  }
  if (s.phase !== Phase.Releasing || !s.candidate) return refused(s, `nothing to promote (phase ${s.phase})`);
  const minutes = e.rollbackWindowMinutes ?? 0;
  if (!Number.isInteger(minutes) || minutes < 0) return refused(s, `rollback window must be a whole number of minutes >= 0, got ${minutes}`);
  const endsAt = minutes > 0 ? new Date(Date.parse(e.at) + minutes * 60_000).toISOString() : null;
  return applied(
    s,
    e,
    {
      phase: Phase.Promoted,
      stable: s.candidate,
      candidate: null,
      previous: s.stable,
      promotedAt: e.at,
      rollbackWindowEndsAt: endsAt,
      previousRetiredAt: null,
      progress: null,
      weights: splitTraffic(s.candidate.slot, 0).weights,
    },
    `promote ${describe(s.candidate)}; ` +
      (endsAt
        ? `${describe(s.stable)} stays warm at full size as the automatic rollback target until ${endsAt}`
        : `${describe(s.stable)} is no longer a rollback target (no rollback window)`),
  );
}

function rollBack(s: ReleaseState, e: Extract<ReleaseEvent, { type: "roll-back" }>): Transition {
  if (s.phase === Phase.RolledBack) {
    return unchanged(s, `release ${s.releaseId ?? "?"} was already rolled back at ${s.lastRollback?.at ?? "?"}`);
  }
  if (s.phase === Phase.Promoted) return rollBackPromoted(s, e);
  if (s.phase !== Phase.Releasing || !s.candidate || !s.releaseId || !s.releaseStartedAt) {
    return unchanged(s, `no release in progress (phase ${s.phase}); ${describe(s.stable)} serves all traffic`);
  }
  if (e.failedSlot !== s.candidate.slot) {
    return unchanged(s, `${e.failedSlot} is the stable slot, not the candidate; nothing to roll back to`);
  }
  if (s.weights[s.candidate.slot] === 0) {
    return unchanged(s, `candidate ${describe(s.candidate)} receives no traffic`);
  }
  if (Date.parse(e.observedAt) < Date.parse(s.releaseStartedAt)) {
    return unchanged(s, `event observed at ${e.observedAt} predates release ${s.releaseId} (started ${s.releaseStartedAt})`);
  }
  const record: RollbackRecord = {
    releaseId: s.releaseId,
    at: e.at,
    by: e.by,
    reason: e.reason,
    failedSlot: s.candidate.slot,
    fromVersion: s.candidate.version,
    toVersion: s.stable.version,
  };
  return applied(
    s,
    e,
    { phase: Phase.RolledBack, weights: splitTraffic(s.stable.slot, 0).weights, lastRollback: record },
    `roll back ${describe(s.candidate)} to ${describe(s.stable)}: ${e.reason}`,
  );
}

/** Inside the rollback window, a failing new stable goes back to the still-warm previous version. */
function rollBackPromoted(s: ReleaseState, e: Extract<ReleaseEvent, { type: "roll-back" }>): Transition {
  const prev = s.previous;
  if (!prev || !s.promotedAt || !s.rollbackWindowEndsAt) {
    return unchanged(s, `${describe(s.stable)} was promoted without a rollback window; nothing to roll back to automatically`);
  }
  if (e.failedSlot !== s.stable.slot) {
    return unchanged(s, `${e.failedSlot} holds the previous version ${prev.version}, which receives no traffic`);
  }
  if (Date.parse(e.at) >= Date.parse(s.rollbackWindowEndsAt)) {
    return unchanged(s, `the rollback window of ${describe(prev)} closed at ${s.rollbackWindowEndsAt}; roll forward or release ${prev.version} again`);
  }
  const since = s.releaseStartedAt ?? s.promotedAt;
  if (Date.parse(e.observedAt) < Date.parse(since)) {
    return unchanged(s, `event observed at ${e.observedAt} predates release ${s.releaseId ?? "?"} (started ${since})`);
  }
  const record: RollbackRecord = {
    releaseId: s.releaseId ?? `${s.stable.slot}:${s.stable.version}:${s.revision}`,
    at: e.at,
    by: e.by,
    reason: e.reason,
    failedSlot: s.stable.slot,
    fromVersion: s.stable.version,
    toVersion: prev.version,
    afterPromotion: true,
  };
  return applied(
    s,
    e,
    {
      phase: Phase.RolledBack,
      stable: prev,
      candidate: s.stable,
      previous: null,
      rollbackWindowEndsAt: null,
      weights: splitTraffic(prev.slot, 0).weights,
      lastRollback: record,
    },
    `roll back promoted ${describe(s.stable)} to ${describe(prev)} inside its rollback window: ${e.reason}`,
  );
}

/** True while a promoted service's previous version is an automatic rollback target at `now`. */
export function rollbackWindowOpen(s: ReleaseState, now: string): boolean {
  return s.phase === Phase.Promoted && !!s.previous && !!s.rollbackWindowEndsAt && Date.parse(now) < Date.parse(s.rollbackWindowEndsAt);
}

function advanceStep(s: ReleaseState, e: Extract<ReleaseEvent, { type: "advance-step" }>): Transition {
  const p = s.progress;
  if (s.phase !== Phase.Releasing || !s.candidate || !p) return refused(s, `no progressive release in progress (phase ${s.phase})`);
  if (e.stepIndex <= p.stepIndex) return unchanged(s, `already on step ${p.stepIndex}`);
  if (p.stepIndex < 0 && p.preTraffic && !p.preTraffic.passedAt) {
    return refused(s, `the pre-traffic check has not passed (${p.preTraffic.attempts}/${p.preTraffic.maxAttempts} failed); no traffic before it does`);
  }
  if (!validWeight(e.weight) || e.weight < s.weights[s.candidate.slot]) {
    return refused(s, `step weight must be an integer ${s.weights[s.candidate.slot]}..100 (weights only go up), got ${e.weight}`);
  }
  return applied(
    s,
    e,
    {
      weights: splitTraffic(s.stable.slot, e.weight).weights,
      // A pending `promote` (past a pause) is used up by the step; the pre-traffic record stays.
      progress: { strategy: p.strategy, stepIndex: e.stepIndex, stepStartedAt: e.at, rollbackWindowMinutes: p.rollbackWindowMinutes, ...(p.preTraffic ? { preTraffic: p.preTraffic } : {}) },
    },
    e.stepIndex >= p.strategy.steps.length ? `${describe(s.candidate)} at ${e.weight}%: baking ${p.strategy.bakeMinutes} min` : `${describe(s.candidate)} step ${e.stepIndex + 1}/${p.strategy.steps.length}: ${e.weight}%`,
  );
}

function preTrafficResult(s: ReleaseState, e: Extract<ReleaseEvent, { type: "pre-traffic-result" }>): Transition {
  const p = s.progress;
  const pt = p?.preTraffic;
  if (s.phase !== Phase.Releasing || !s.candidate || !p || !pt) return refused(s, `no progressive release with a pre-traffic check in progress (phase ${s.phase})`);
  if (p.stepIndex >= 0 || pt.passedAt) return unchanged(s, "the pre-traffic check already passed");
  if (e.attempt !== pt.attempts + 1) return unchanged(s, `run ${e.attempt} of the pre-traffic check is already recorded (${pt.attempts} failed)`);
  const next: PreTrafficState = e.passed ? { ...pt, passedAt: e.at, lastResult: e.reason } : { ...pt, attempts: pt.attempts + 1, lastResult: e.reason };
  return applied(
    s,
    e,
    { progress: { ...p, preTraffic: next } },
    `pre-traffic check of ${describe(s.candidate)} ${e.passed ? "passed" : `failed (${next.attempts}/${pt.maxAttempts})`}: ${e.reason}`,
  );
}

function requestPromote(s: ReleaseState, e: Extract<ReleaseEvent, { type: "request-promote" }>): Transition {
  const p = s.progress;
  if (s.phase !== Phase.Releasing || !s.candidate || !p) return refused(s, `no progressive release in progress (phase ${s.phase})`);
  const pt = p.preTraffic;
  if (e.mode === "step" && p.stepIndex < 0 && pt && !pt.passedAt && pt.attempts >= pt.maxAttempts) {
    // Held by a failed pre-traffic check: `promote` runs it again (`--full` skips it).
    return applied(s, e, { progress: { ...p, preTraffic: { ...pt, attempts: 0 } } }, `pre-traffic check of ${describe(s.candidate)} to run again (${pt.attempts} failed: ${pt.lastResult ?? "?"})`);
  }
  if (e.mode === "step" && p.stepIndex < 0 && pt && !pt.passedAt && pt.attempts === 0 && pt.lastResult !== undefined) {
    // Re-armed and not run yet: the same request again (an operator's retry) changes nothing, and
    // must not turn into a request to move past a pause later.
    return unchanged(s, `the pre-traffic check of ${describe(s.candidate)} is already set to run again`);
  }
  if (p.promote === e.mode) return unchanged(s, `promotion (${e.mode}) already requested`);
  return applied(s, e, { progress: { ...p, promote: e.mode } }, `promotion of ${describe(s.candidate)} requested (${e.mode === "full" ? "--full: now" : "past the pause"})`);
}

/** When the rollback window of `s.previous` ends (its promotion, without a window). */
export function rollbackWindowEnd(s: ReleaseState): string | null {
  if (s.phase !== Phase.Promoted || !s.previous || !s.promotedAt) return null;
  return s.rollbackWindowEndsAt ?? s.promotedAt;
}

/**
 * Earliest moment (epoch ms) the promoted-away slot may be scaled to 0, given when its rollback
 * window ends: the window's end plus {@link RETIRE_GRACE_MINUTES} (a rollback decided in the last
 * moment lands on a slot that still has pods), and no earlier than the rule's target-group
 * stickiness after the slot's weight reached 0 (the promotion): ALB group stickiness overrides
 * weights for its duration (up to 7 days), so sticky clients of the old version keep going to its
 * target group, and would get 503 from an empty one.
 */
export function retireNotBefore(s: ReleaseState, windowEndsMs: number): number {
  const grace = windowEndsMs + RETIRE_GRACE_MINUTES * 60_000;
  const zeroAt = s.promotedAt ? Date.parse(s.promotedAt) : windowEndsMs;
  return Math.max(grace, zeroAt + (s.routing.stickinessSeconds ?? 0) * 1000);
}

function retirePrevious(s: ReleaseState, e: Extract<ReleaseEvent, { type: "retire-previous" }>): Transition {
  const ends = rollbackWindowEnd(s);
  if (!ends || !s.previous) return unchanged(s, `no promoted-away version to retire (phase ${s.phase})`);
  if (s.previousRetiredAt) return unchanged(s, `${describe(s.previous)} was already scaled to 0 at ${s.previousRetiredAt}`);
  if (Date.parse(e.at) < Date.parse(ends)) return refused(s, `the rollback window of ${describe(s.previous)} is open until ${ends}`);
  return applied(s, e, { previousRetiredAt: e.at }, `${describe(s.previous)} scaled to 0: its rollback window ended at ${ends}`);
}

function acknowledge(s: ReleaseState, e: Extract<ReleaseEvent, { type: "acknowledge" }>): Transition {
  if (s.phase !== Phase.RolledBack || !s.candidate) return unchanged(s, "no rollback to acknowledge");
  return applied(
    s,
    e,
    { phase: Phase.Stable, candidate: null },
    `acknowledge rollback of ${describe(s.candidate)}; the version may be released again`,
  );
}

function resumeAfterDrill(s: ReleaseState, e: Extract<ReleaseEvent, { type: "resume-after-drill" }>): Transition {
  const rb = s.lastRollback;
  if (s.phase !== Phase.RolledBack || !s.candidate || !rb || rb.afterPromotion || rb.releaseId !== e.releaseId || s.releaseId !== e.releaseId) {
    return unchanged(s, `release ${e.releaseId} is not the one rolled back (phase ${s.phase}, release ${s.releaseId ?? "none"}); nothing to resume`);
  }
  if (!validWeight(e.weight) || e.weight === 0) return refused(s, `the resumed candidate's weight must be an integer 1..100, got ${e.weight}`);
  return applied(s, e, { phase: Phase.Releasing, weights: splitTraffic(s.stable.slot, e.weight).weights, lastRollback: { ...rb, resumedAt: e.at } }, `resume release ${s.releaseId} after the drill: ${describe(s.candidate)} at ${e.weight}%`);
}

function adopt(s: ReleaseState, e: Extract<ReleaseEvent, { type: "adopt" }>): Transition {
  const same = s.stable.slot === e.stable.slot && s.stable.version === e.stable.version;
  if (same && (s.phase === Phase.Stable || s.phase === Phase.Promoted) && !s.candidate) {
    return unchanged(s, `${describe(e.stable)} is already stable`);
  }
  if (s.phase === Phase.Releasing && s.candidate && s.weights[s.candidate.slot] > 0) {
    return refused(s, `release ${s.releaseId ?? "?"} is in progress; promote it or set its weight to 0 first`);
  }
  return applied(
    s,
    e,
    { phase: Phase.Stable, stable: e.stable, candidate: null, previous: null, rollbackWindowEndsAt: null, weights: splitTraffic(e.stable.slot, 0).weights },
    `adopt ${describe(e.stable)} as stable`,
  );
}

/** A lane transition (core/laneState.ts) as a release transition: lanes change, nothing else. */
function laneTransition(s: ReleaseState, e: ReleaseEvent, c: LaneChange): Transition {
  if (c.kind === "unchanged") return unchanged(s, c.reason);
  if (c.kind === "refused") return refused(s, c.reason);
  return applied(s, e, { lanes: c.lanes }, c.summary);
}

/** Applies one event. Never throws for a well-typed event; refusals come back as `refused`. */
export function applyEvent(state: ReleaseState, event: ReleaseEvent): Transition {
  switch (event.type) {
    case "record-lanes":
      return laneTransition(state, event, recordLanes(state.service, state.lanes, event.lanes));
    case "lane-roll-back":
      return laneTransition(state, event, rollBackLane(state.service, state.lanes, event));
    case "lane-brownout":
      return laneTransition(state, event, brownOutLane(state.service, state.lanes, event));
    case "lane-sunset":
      return laneTransition(state, event, sunsetLane(state.service, state.lanes, event));
    case "start-release":
      return startRelease(state, event);
    case "shift-weight":
      return shiftWeight(state, event);
    case "promote":
      return promote(state, event);
    case "roll-back":
      return rollBack(state, event);
    case "acknowledge":
      return acknowledge(state, event);
    case "advance-step":
      return advanceStep(state, event);
    case "request-promote":
      return requestPromote(state, event);
    case "pre-traffic-result":
      return preTrafficResult(state, event);
    case "retire-previous":
      return retirePrevious(state, event);
    case "adopt":
      return adopt(state, event);
    case "resume-after-drill":
      return resumeAfterDrill(state, event);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation of stored state (DynamoDB items are written by three programs; trust nothing).

const slotSchema = z.enum(SLOTS as [Slot, Slot]);
const nonEmpty = () => z.string().check(z.minLength(1));
const arnString = () => z.string().check(z.startsWith("arn:"));
const intAtLeast = (min: number, max?: number) => z.int().check(...(max === undefined ? [z.gte(min)] : [z.gte(min), z.lte(max)]));
const slotVersionSchema = z.object({ slot: slotSchema, version: nonEmpty(), image: z.optional(nonEmpty()), bundle: z.optional(z.string().check(z.regex(/^b-[0-9a-f]{16}$/))) });
const isoTime = z.iso.datetime({ offset: true });
const weightSchema = intAtLeast(0, 100);

export const releaseStateSchema = z
  .object({
    service: nonEmpty(),
    revision: intAtLeast(0),
    phase: z.enum(Object.values(Phase) as [Phase, ...Phase[]]),
    stable: slotVersionSchema,
    candidate: z.nullable(slotVersionSchema),
    previous: z.nullable(slotVersionSchema),
    promotedAt: z._default(z.nullable(isoTime), null),
    rollbackWindowEndsAt: z._default(z.nullable(isoTime), null),
    weights: z.object({ blue: weightSchema, green: weightSchema }),
    releaseId: z.nullable(z.string()),
    releaseStartedAt: z.nullable(isoTime),
    lastRollback: z.nullable(
      z.object({
        releaseId: z.string(),
        at: isoTime,
        by: z.string(),
        reason: z.string(),
        failedSlot: slotSchema,
        fromVersion: z.string(),
        toVersion: z.string(),
        afterPromotion: z.optional(z.boolean()),
        resumedAt: z.optional(isoTime),
      }),
    ),
    routing: z.object({
      ruleArn: arnString(),
      targetGroupArns: z.object({ blue: arnString(), green: arnString() }),
      stickinessSeconds: intAtLeast(0, 604_800),
      bindings: z.optional(z.object({ blue: z.optional(nonEmpty()), green: z.optional(nonEmpty()) })),
      notifyTopicArn: z.optional(arnString()),
      alarmKinds: z.optional(z.array(z.string().check(z.regex(/^[a-z][-a-z0-9]*$/))).check(z.maxLength(64))),
      ingressGroup: z.optional(z.string().check(z.regex(/^[a-z][-a-z0-9]*$/))),
      overridesUrl: z.optional(z.string().check(z.regex(FUNCTION_URL))),
      customRevertsPromotion: z.optional(z.boolean()),
    }),
    updatedAt: isoTime,
    writeId: z.optional(nonEmpty()),
    previousRetiredAt: z.optional(z.nullable(isoTime)),
    lanes: z.optional(
      z.record(
        z.string().check(z.regex(/^legacy[0-9]*$/)),
        z.object({
          version: nonEmpty(),
          image: nonEmpty(),
          ruleArn: arnString(),
          targetGroupArn: arnString(),
          rollback: z.optional(z.object({ image: nonEmpty(), targetGroupArn: arnString() })),
          brownouts: z.optional(z.object({ windows: z.array(z.object({ start: isoTime, end: isoTime })).check(z.maxLength(20)), message: z.string().check(z.minLength(1), z.maxLength(1024)) })),
          sunset: z.optional(z.object({ at: z.iso.date(), activeClients: z.array(nonEmpty()).check(z.maxLength(100)), message: z.string().check(z.minLength(1), z.maxLength(1024)) })),
          sunsetDecision: z.optional(z.object({ at: isoTime, allowed: z.boolean(), blockers: z.array(z.string()).check(z.maxLength(20)) })),
          rolledBack: z.optional(z.object({ at: isoTime, by: z.string(), reason: z.string(), image: nonEmpty(), toImage: nonEmpty() })),
          brownout: z.optional(z.object({ since: isoTime, until: isoTime })),
        }),
      ),
    ),
    progress: z.optional(
      z.nullable(
        z.object({
          strategy: z.object({
            steps: z.array(
              z.union([
                z.object({ kind: z.literal("weight"), weight: weightSchema, minutes: intAtLeast(0) }),
                z.object({ kind: z.literal("pause"), reason: z.string() }),
              ]),
            ),
            bakeMinutes: intAtLeast(0),
          }),
          stepIndex: intAtLeast(-1),
          stepStartedAt: isoTime,
          promote: z.optional(z.enum(["step", "full"])),
          rollbackWindowMinutes: intAtLeast(0),
          preTraffic: z.optional(
            z.object({
              check: z.discriminatedUnion("kind", [
                z.object({
                  kind: z.literal("http"),
                  url: z.url(),
                  header: nonEmpty(),
                  valueSha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/))),
                  value: z.optional(nonEmpty()),
                  expectStatus: z.tuple([z.int(), z.int()]),
                  timeoutSeconds: intAtLeast(1),
                }),
                z.object({ kind: z.literal("lambda"), functionArn: arnString(), timeoutSeconds: intAtLeast(1) }),
              ]),
              maxAttempts: intAtLeast(1),
              attempts: intAtLeast(0),
              passedAt: z.optional(isoTime),
              lastResult: z.optional(z.string()),
            }),
          ),
        }),
      ),
    ),
  })
  .check(
    z.refine((s) => s.weights.blue + s.weights.green === 100, { message: "weights must sum to 100", path: ["weights"] }),
    z.refine((s) => !s.candidate || s.candidate.slot !== s.stable.slot, { message: "candidate and stable must be in different slots", path: ["candidate", "slot"] }),
  );

/** Thrown when a stored release state does not have the expected shape. */
export class ReleaseStateError extends Error {
  constructor(service: string, problems: string[]) {
    super(`release state of ${service} is invalid: ${problems.join("; ")}`);
    this.name = "ReleaseStateError";
  }
}

/** Validates a stored release state; every problem is named by its key path. */
export function parseReleaseState(raw: unknown, service = "(unknown service)"): ReleaseState {
  const result = releaseStateSchema.safeParse(raw);
  if (!result.success) {
    throw new ReleaseStateError(
      service,
      result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  }
  return result.data;
}
