/**
 * The release driver's tick (run by `lambdas/releaseDriver.ts` on a schedule): for every
 * progressive release, read the candidate's alarms and health, let core decide (hold / advance /
 * promote), run the pre-traffic check before the first step (each run recorded; a failure holds
 * the release at 0%), record the step with a conditional write FIRST and only
 * then move traffic, and check afterwards that nobody (the rollback Lambda, `pulumi up`) changed
 * the release meanwhile; if someone did, the rule is put back where the recorded state has it.
 * Traffic therefore only goes up on a release that is recorded as still releasing.
 *
 * Why this file is long: the step, the retirement of the previous slot and the health watch are
 * one closure over the same coalesced reads (state, rules, alarms) and the same re-read-then-act
 * rule around every move; split apart they would each need the shared readers passed in and
 * could drift on that rule. What does not share them lives beside it (pre-traffic checks, the
 * target group's request count, the outbox).
 */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { LambdaClient } from "@aws-sdk/client-lambda";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { publishWeight } from "./powertools";
import { isDeepStrictEqual } from "node:util";
import * as defaults from "../../core/defaults";
import { lifecycleNotice } from "../../core/lifecycle";
import { decideTick, preTrafficGate, type Decision } from "../../core/progressive";
import { DRIVER_RULE_TAG, ROLLBACK_RULE_TAG, slotObjectName, wrongRemedyTags } from "../../core/naming";
import { requestsToSlot } from "./targetGroupRequests";
import { Phase, type ReleaseStateError, applyEvent, retireNotBefore, rollbackWindowEnd, type HistoryEntry, type ReleaseEvent, type ReleaseState } from "../../core/releaseState";
import { AlarmBatcher } from "./alarmState";
import { Coalescer } from "./coalesce";
import { KubeError, type KubeScaler } from "./kube";
import { type Outbox, deliverPending } from "./outbox";
import { runPreTrafficCheck } from "./preTraffic";
import { keepLanes } from "./laneKeeper";
import { ConflictError, type ReleaseStore } from "./releaseStore";
import { type LiveRule, type Traffic, listenerOfRule, liveRuleOf, routingProblem, slotWeight } from "./traffic";
import type { TokenBucket } from "./tokenBucket";
import type { Slot } from "../../core/slots";
import type { SlotWeights } from "../../core/weights";
import { LAMBDA_SDK_CONFIG } from "./sdk";

export interface DriverDeps {
  readonly store: ReleaseStore;
  readonly traffic: Traffic;
  readonly cloudwatch: CloudWatchClient;
  /** The services it drives (the stack's progressive ones), in tick order. */
  readonly services: readonly string[];
  /** `<project>-<stack>`: the candidate's alarms are `<prefix>/<service>/<slot>/<kind>`. */
  readonly alarmPrefix: string;
  readonly logger: Logger;
  /**
   * Scales a promoted-away version's Deployment to 0 once its rollback window is over, with the
   * namespace of each service it may scale. Absent: the next `pulumi up` scales it instead.
   */
  readonly retire?: { readonly kube: KubeScaler; readonly namespaces: Readonly<Record<string, string>> };
  /**
   * The test route's header value for a service's HTTP pre-traffic check, from the stack's secret
   * store (release records keep only its SHA-256). Absent: such a check fails, saying why.
   */
  readonly testRouteValue?: (service: string) => Promise<string | undefined>;
  /** Invokes Lambda pre-traffic hooks; default a client with the SDK's environment. */
  readonly lambda?: LambdaClient;
  /** Services whose legacy lanes it keeps: brownouts on schedule, a day's evidence once a day (lambdas/commons/laneKeeper.ts). */
  readonly lanes?: readonly string[];
  /** Wall clock (epoch ms); tests inject it. */
  readonly now?: () => number;
  /** Services ticked at once. Default {@link defaults.DRIVER_CONCURRENCY}. */
  readonly concurrency?: number;
  /** Coalesces alarm reads (see {@link AlarmBatcher}); default one over `cloudwatch`. */
  readonly alarms?: AlarmBatcher;
  /**
   * Lifecycle notifications (core/lifecycle.ts) on the stack's topic: each recorded with the
   * change it is about and sent right after. Absent: nothing is told.
   */
  readonly notify?: Outbox & { readonly stack: string; readonly steps: boolean };
  /** Publishes the candidate's weight after each move (the stack dashboard's weight graph). */
  readonly metrics?: Metrics;
  /**
   * Watch target health while a candidate takes traffic, for the rest of the tick: every
   * `intervalMs`, a candidate with no healthy target is rolled back through `rollBack` (the
   * rollback Lambda's own decision, flip and records, which refuse an unhealthy stable).
   */
  readonly watch?: {
    /** Services only watched, never stepped (manual-weight releases), besides `services`. */
    readonly services?: readonly string[];
    readonly intervalMs: number;
    readonly rollBack: (service: string, reason: string) => Promise<{ readonly outcome: string; readonly reason: string }>;
    /** Waits between checks (tests inject it). Default a timer. */
    readonly sleep?: (ms: number) => Promise<void>;
    /**
     * The watch's own share of ELB's Describe* budget ({@link defaults.DRIVER_WATCH_ELB_DESCRIBE_RATE}):
     * every health read takes a token here as well as the Traffic's. Absent: unbounded (tests).
     */
    readonly rate?: TokenBucket;
  };
}

/** What the handler knows about this invocation. */
export interface TickOptions {
  /**
   * The schedule's time for this tick (the EventBridge event's `time`, e.g. `2026-12-01T10:03:00Z`).
   * Steps are timed from it, so a step of N minutes lasts exactly N ticks whatever the invocation
   * delay; without it (or when it is off the wall clock by more than
   * {@link defaults.DRIVER_SCHEDULE_SKEW_SECONDS}) the wall clock is used.
   */
  readonly scheduledAt?: string;
  /** Milliseconds left before Lambda ends the invocation (`context.getRemainingTimeInMillis`). */
  readonly remainingMs?: () => number;
  /**
   * Tick only while holding the table's tick lease, as this holder (the invocation's request id):
   * another invocation ticking already, this one ends at once (issue 35, 19). Without it, ticks
   * may overlap (each step is still a conditional record, so that stays safe).
   */
  readonly leaseHolder?: string;
}

export interface TickResult {
  readonly service: string;
  readonly decision: Decision["action"] | "skipped" | "conflict" | "retire" | "rolled-back" | "lane";
  readonly reason: string;
  readonly weights?: ReleaseState["weights"];
  /** Set when the service's tick failed (an AWS or cluster error): the invocation reports an error. */
  readonly failed?: boolean;
}

/**
 * The tick's clock: the schedule's time when the event carries one at most
 * DRIVER_SCHEDULE_SKEW_SECONDS in the past (the invocation's lateness, so a step of N minutes
 * lasts N ticks), else now. Never a time ahead of the clock: an event's body proves nothing (a
 * direct invoke can copy a schedule event), and a future time would advance steps early (issue
 * 35, 19); the event's time can only make a tick count as earlier, never later.
 */
export function tickTime(scheduledAt: string | undefined, wallClock: number): number {
  const t = scheduledAt ? Date.parse(scheduledAt) : NaN;
  return Number.isFinite(t) && t <= wallClock && wallClock - t <= defaults.DRIVER_SCHEDULE_SKEW_SECONDS * 1000 ? t : wallClock;
}

/** A rule as DescribeRules returns it. */
type LiveRuleSource = Parameters<typeof liveRuleOf>[1];

/**
 * The health watch's order: the candidates with the most traffic first (a failing one there hurts
 * the most users), ties in a rotation that moves with the tick's minute, so when a round cannot
 * reach them all before the deadline (many exposed candidates under the watch's ELB share), the
 * ones left out differ from tick to tick.
 */
export function byExposure(exposed: readonly ReleaseState[], tickAt: number): ReleaseState[] {
  const weight = (s: ReleaseState) => s.weights[(s.candidate as NonNullable<ReleaseState["candidate"]>).slot];
  const names = exposed.map((s) => s.service).sort();
  const shift = names.length === 0 ? 0 : Math.floor(tickAt / 60_000) % names.length;
  const rank = new Map(names.map((n, i) => [n, (i - shift + names.length) % names.length]));
  return [...exposed].sort((a, b) => weight(b) - weight(a) || (rank.get(a.service) as number) - (rank.get(b.service) as number));
}

/** Runs `fn` over `items` with at most `limit` in flight; results in the items' order. */
async function pooled<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function createReleaseDriver(deps: DriverDeps) {
  const now = deps.now ?? Date.now;
  const alarms = deps.alarms ?? new AlarmBatcher(deps.cloudwatch, deps.alarmPrefix);
  const alarmsInAlarm = (state: ReleaseState, slots: readonly Slot[]) => alarms.firing(state.service, slots, state.routing.alarmKinds);
  // The fresh reads around each move (state before and after, the rule before) of services
  // ticked at once share BatchGetItem and DescribeRules calls.
  // A record that fails validation fails its own service's read only (issue 34, 13).
  const stateReads = new Coalescer<string, ReleaseState>(
    async (keys) => {
      const invalid = new Map<string, ReleaseStateError>();
      const found = await deps.store.getMany(keys, invalid);
      return new Map<string, ReleaseState | Error>([...found, ...invalid]);
    },
    { maxBatch: 100, gatherMs: defaults.DRIVER_READ_GATHER_MS },
  );
  const ruleReads = new Coalescer<string, LiveRuleSource>((arns) => deps.traffic.rulesByArn(arns), { maxBatch: defaults.DRIVER_RULES_PER_READ, gatherMs: defaults.DRIVER_READ_GATHER_MS });
  const freshState = (service: string) => stateReads.get(service);
  /** A record's routing checked against its rule, read now (coalesced with other services'). */
  const freshCheck = async (record: ReleaseState) => deps.traffic.checkRouting(record.service, record.routing, await ruleReads.get(record.routing.ruleArn));
  let lambdaClient = deps.lambda;
  /**
   * Services with a notification recorded and not yet sent: sent when a tick's moves are done.
   * One whose send failed (or that the deadline left no time for) stays here for the next tick
   * of this instance, and in the outbox for the next delivery for the service.
   */
  const owed = new Set<string>();

  /** Sends what was recorded for people, while `remainingMs` allows. */
  async function deliverOwed(remainingMs: () => number): Promise<void> {
    const notify = deps.notify;
    if (!notify) return;
    await pooled([...owed], deps.concurrency ?? defaults.DRIVER_CONCURRENCY, async (service) => {
      if (remainingMs() < defaults.DRIVER_MIN_SERVICE_MS) return;
      try {
        const r = await deliverPending(deps.store, notify, service, now);
        if (r.failed.length > 0) deps.logger.error("notifications left pending", { targetService: service, failed: r.failed });
        else owed.delete(service);
      } catch (err) {
        deps.logger.error("notifications left pending", { targetService: service, error: (err as Error).message });
      }
    });
  }
  const lambda = (): LambdaClient => (lambdaClient ??= new LambdaClient(LAMBDA_SDK_CONFIG));

  /**
   * Records `t` over `before` (its revision); false when another writer changed the release
   * first. The lifecycle notice it owes is recorded with it, then sent.
   */
  async function committed(before: ReleaseState, t: { readonly state: ReleaseState; readonly entry: HistoryEntry }): Promise<boolean> {
    const notice = deps.notify ? lifecycleNotice(before, t.state, t.entry, deps.notify) : undefined;
    try {
      await deps.store.commit(before.revision, t.state, t.entry, notice);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return false;
    }
    // Sent at the end of the tick, once the rule has moved (or not) as recorded.
    if (notice) owed.add(t.state.service);
    return true;
  }

  /**
   * After a promotion: once the rollback window is over, scale the previous version's slot to 0
   * (only if it still runs that version's image), then record it. Repeats harmlessly until recorded.
   */
  async function retirePrevious(state: ReleaseState, tickAt: number): Promise<TickResult> {
    const prev = state.previous;
    const ends = rollbackWindowEnd(state);
    const skip = (reason: string): TickResult => ({ service: state.service, decision: "skipped", reason });
    if (!prev || !ends || state.previousRetiredAt) return skip(`not a progressive release in progress (phase ${state.phase})`);
    if (tickAt < Date.parse(ends)) return { service: state.service, decision: "hold", reason: `${prev.version} (${prev.slot}) stays warm as the rollback target until ${ends}` };
    const namespace = deps.retire?.namespaces[state.service];
    if (!deps.retire || !namespace) return skip(`${prev.version} (${prev.slot}) is no longer a rollback target; the next pulumi up scales it to 0`);
    if (!prev.image) return skip(`${prev.version} (${prev.slot}) has no recorded image to check; the next pulumi up scales it to 0`);
    // A rollback decided in the window's last moment may still be landing, and sticky clients
    // keep reaching the old target group whatever its weight: wait out both.
    const after = retireNotBefore(state, Date.parse(ends));
    if (tickAt < after) {
      const sticky = state.routing.stickinessSeconds > 0 ? ` and ${state.routing.stickinessSeconds} s of target group stickiness after the promotion` : "";
      return { service: state.service, decision: "hold", reason: `${prev.version} (${prev.slot}) is scaled to 0 after ${new Date(after).toISOString()} (the window's end plus ${defaults.RETIRE_GRACE_MINUTES} min${sticky})` };
    }
    // Never empty a slot the rule sends traffic to, judged from the live rule and the slot's
    // own target group as pulumi up names it, never from the record's ARNs alone (issue 35, 3):
    // a record naming a bogus group for the slot that serves would read as 0% there.
    const serving = async (): Promise<{ readonly why: string; readonly failed: boolean } | undefined> => {
      const check = await freshCheck(state);
      if (!check.ok) return { why: `its routing is not the deployed one (${check.problem})`, failed: true };
      const weight = slotWeight(state.service, prev.slot, check.live);
      return weight > 0 ? { why: `the rule sends ${weight}% to ${prev.version} (${prev.slot})`, failed: false } : undefined;
    };
    const before = await serving();
    if (before) return { ...skip(`${before.why}; not scaling it down`), ...(before.failed ? { failed: true } : {}) };
    // Nor one sticky clients still reach, however long ago the promotion was (see STICKY_QUIET_MINUTES).
    if (state.routing.stickinessSeconds > 0) {
      const recent = await requestsToSlot(deps.cloudwatch, state, prev.slot, tickAt).catch((err: Error) => {
        deps.logger.warn("could not read the previous slot's requests", { targetService: state.service, error: err.message });
        return undefined;
      });
      if (recent === undefined || recent > 0) {
        return {
          service: state.service,
          decision: "hold",
          reason:
            recent === undefined
              ? `${prev.version} (${prev.slot}): its target group's requests could not be read; not scaled to 0 while sticky clients may still reach it`
              : `${prev.version} (${prev.slot}) still gets requests from sticky clients (${recent} in the last ${defaults.STICKY_QUIET_MINUTES} min); scaled to 0 once it has had none for ${defaults.STICKY_QUIET_MINUTES} min`,
        };
      }
    }
    const name = slotObjectName(state.service, prev.slot);
    const kube = deps.retire.kube;
    let detail: string;
    let previousReplicas: number;
    try {
      const r = await kube.scaleToZeroIfImage(namespace, name, prev.image);
      if (r.outcome !== "scaled") return skip(r.detail);
      detail = r.detail;
      previousReplicas = r.previousReplicas ?? 1;
    } catch (err) {
      if (!(err instanceof KubeError)) throw err;
      deps.logger.error("could not scale the previous slot down", { targetService: state.service, error: err.message });
      return { ...skip(`failed: ${err.message}`), failed: true };
    }
    // Between the read and the scale-down the slot may have got traffic back (an operator, a
    // rollback) or a new release recorded into it: look again, and undo the scale-down if so,
    // before anything is recorded (a recorded retire is never looked at again).
    const undo = async (why: string): Promise<TickResult> => {
      const r = await kube.restoreReplicas(namespace, name, previousReplicas, prev.image as string).catch((err: Error) => ({ outcome: "failed" as const, detail: `could not restore it: ${err.message}` }));
      deps.logger.warn("undid the previous slot's scale-down", { targetService: state.service, why, restored: r.detail });
      return { service: state.service, decision: "conflict", reason: `${why}; the scale-down was undone: ${r.detail}`, failed: r.outcome !== "scaled" };
    };
    const [again, after$] = await Promise.all([freshState(state.service), serving()]);
    if (!again || again.revision !== state.revision) return undo(`the release changed while ${prev.version} (${prev.slot}) was being scaled down (now ${again?.phase ?? "gone"})`);
    if (after$) return undo(`${after$.why}${after$.failed ? "" : " again"}`);
    const t = applyEvent(state, { type: "retire-previous", at: new Date(tickAt).toISOString(), by: "release-driver" });
    if (t.kind !== "applied") return skip(t.reason);
    if (!(await committed(state, t))) {
      // Another copy of the driver may have recorded the same retire: then the slot stays at 0.
      const now$ = await freshState(state.service);
      if (now$?.previousRetiredAt && now$.previous?.slot === prev.slot && now$.previous.version === prev.version) {
        return { service: state.service, decision: "conflict", reason: `${detail}; already recorded as retired at ${now$.previousRetiredAt}` };
      }
      return undo(`the release changed before ${prev.version}'s scale-down was recorded`);
    }
    deps.logger.info("scaled the previous slot down", { targetService: state.service, detail });
    return { service: state.service, decision: "retire", reason: detail, weights: state.weights };
  }

  /**
   * Moves the rule to `to` only if, read right before the ModifyRule, the release is still at
   * `expectedRevision`, none of the candidate's alarms fires (the rollback Lambda flips before it
   * records, so a firing alarm means a rollback may be in flight) and, when `from` is given, the
   * rule still forwards with `from` (a rollback's flip already landed). The three reads run in
   * parallel. Returns why it did not move, or undefined when it did.
   */
  async function guardedMove(state: ReleaseState, expectedRevision: number, candidate: Slot, to: SlotWeights, from?: SlotWeights): Promise<string | undefined> {
    const [fresh, firing, check] = await Promise.all([freshState(state.service), alarmsInAlarm(state, [candidate]), freshCheck(state)]);
    if (!fresh || fresh.revision !== expectedRevision) return `release state moved on (revision ${fresh?.revision ?? "?"}, phase ${fresh?.phase ?? "?"}) since revision ${expectedRevision}`;
    if (firing.length > 0) return `candidate alarms in ALARM: ${firing.join(", ")} (a rollback may be in flight)`;
    if (!check.ok) return check.problem;
    const live = check.live.weights;
    if (from && !isDeepStrictEqual(live, from)) return `the rule moved to blue ${live.blue}% / green ${live.green}% meanwhile (a rollback in flight?)`;
    await deps.traffic.setWeights(check.checked, to);
    return undefined;
  }

  /**
   * After a lost race the rule follows the newer record, whose routing is checked against the
   * live rule like any other (issue 35, 1): a record that names other target groups moves
   * nothing. Returns why it did not follow, or undefined when it did.
   */
  async function follow(record: ReleaseState): Promise<string | undefined> {
    const check = await freshCheck(record);
    if (!check.ok) {
      deps.logger.error("the newer record names routing pulumi up did not deploy; the rule does not follow it", { targetService: record.service, reason: check.problem });
      return check.problem;
    }
    await deps.traffic.setWeights(check.checked, record.weights);
    return undefined;
  }

  /**
   * One service's tick, on the tick's clock `tickAt`, within `remainingMs`. `rules`: the rules as
   * read at the tick's start (one DescribeRules per listener); absent, the service's own is read.
   */
  async function tickService(
    state: ReleaseState,
    tickAt: number = now(),
    remainingMs: () => number = () => Infinity,
    rules?: ReadonlyMap<string, LiveRuleSource>,
    tags?: ReadonlyMap<string, Readonly<Record<string, string>>>,
  ): Promise<TickResult> {
    const p = state.progress;
    const cand = state.candidate;
    if (state.phase === Phase.Promoted) return retirePrevious(state, tickAt);
    if (state.phase !== Phase.Releasing || !p || !cand) return { service: state.service, decision: "skipped", reason: `not a progressive release in progress (phase ${state.phase})` };
    const at = new Date(tickAt).toISOString();
    // Alarms first: while one fires, the rollback Lambda may be flipping the rule right now (it
    // flips before it records), so the rule is not touched at all.
    const firing = await alarmsInAlarm(state, [cand.slot]);
    if (firing.length > 0) {
      return { service: state.service, decision: "hold", reason: `candidate alarms in ALARM: ${firing.join(", ")}; not advancing`, weights: state.weights };
    }
    // The rule must match the record before anything moves (a flip after an earlier commit may
    // have failed). If the release changed meanwhile, the rule follows the newer record instead.
    const listed = rules?.get(state.routing.ruleArn);
    const rule: LiveRule = listed ? liveRuleOf(state.routing, listed) : await deps.traffic.liveRule(state.routing);
    // The record is data anyone with table access could write: it may only steer the groups the
    // rule already forwards to (set by pulumi up), named as pulumi up names them.
    const bad = routingProblem(state.service, state.routing, rule.targetGroupArns);
    if (bad) {
      deps.logger.error("release state names routing pulumi up did not deploy; not acting on it", { targetService: state.service, reason: bad });
      return { service: state.service, decision: "hold", reason: bad, failed: true };
    }
    // Both Lambdas' ModifyRule is scoped by the rule's remedy:* tags: one removed or changed
    // outside Pulumi (RemoveTags is in the AWS Load Balancer Controller's published policy)
    // silently takes automatic rollback away from this release, so it holds and says so.
    const liveTags = tags?.get(state.routing.ruleArn);
    const wrongTags = liveTags ? wrongRemedyTags(liveTags, { [ROLLBACK_RULE_TAG]: deps.alarmPrefix, [DRIVER_RULE_TAG]: deps.alarmPrefix }) : [];
    if (wrongTags.length > 0) {
      const reason = `the rule's tags are not this stack's (${wrongTags.join(", ")}): automatic rollback cannot move it; run pulumi up (it puts them back) and find who changed them in CloudTrail (elasticloadbalancing RemoveTags/AddTags)`;
      deps.logger.error("rule tags changed outside Pulumi; holding the release", { targetService: state.service, reason });
      return { service: state.service, decision: "hold", reason, failed: true };
    }
    const live = rule.weights;
    if (!isDeepStrictEqual(live, state.weights)) {
      const why = await guardedMove(state, state.revision, cand.slot, state.weights);
      if (why) return { service: state.service, decision: "hold", reason: `the rule differs from the record; not repaired: ${why}`, weights: live };
      const again = await freshState(state.service);
      if (again && again.revision !== state.revision) {
        const refused = await follow(again);
        if (refused) return { service: state.service, decision: "hold", reason: `release changed while the rule was repaired, and the new record was not followed: ${refused}`, failed: true };
        return { service: state.service, decision: "conflict", reason: `release became ${again.phase} while the rule was repaired; the rule follows it`, weights: again.weights };
      }
    }
    const signals = { alarmsInAlarm: firing, healthyTargets: await deps.traffic.healthyTargets(state.routing.targetGroupArns[cand.slot]), now: at };
    const d = decideTick(p.strategy, { stepIndex: p.stepIndex, stepStartedAt: p.stepStartedAt, weight: state.weights[cand.slot], ...(p.promote ? { promote: p.promote } : {}) }, signals);
    if (d.action === "hold") return { service: state.service, decision: "hold", reason: d.reason, weights: state.weights };
    // Before the first step: the pre-traffic check, recorded run by run; a failure holds at 0%.
    let base = state;
    if (d.action === "advance" && p.stepIndex < 0) {
      const gate = preTrafficGate(p.preTraffic, state.service);
      if (gate.gate === "hold") return { service: state.service, decision: "hold", reason: gate.reason, weights: state.weights };
      if (gate.gate === "run" && p.preTraffic) {
        // The check may use what is left of the tick but the time needed to record its result:
        // one cut short by the deadline is a failed run, recorded like any other.
        const budgetMs = remainingMs() - defaults.DRIVER_RECORD_RESERVE_MS;
        if (budgetMs < defaults.DRIVER_MIN_CHECK_MS) {
          return { service: state.service, decision: "hold", reason: `${Math.max(0, Math.round(remainingMs()))} ms left in this tick: the pre-traffic check runs next tick`, weights: state.weights };
        }
        const attempt = p.preTraffic.attempts + 1;
        // The test route's secret, from the stack's secret store: a failed read is not a failed
        // run (it would use up the attempts); the tick fails and the next one tries again.
        let secret: string | undefined;
        if (p.preTraffic.check.kind === "http" && p.preTraffic.check.value === undefined && deps.testRouteValue) {
          try {
            secret = await deps.testRouteValue(state.service);
          } catch (err) {
            return { service: state.service, decision: "hold", reason: `could not read the test route's secret: ${(err as Error).message}; the pre-traffic check runs next tick`, weights: state.weights, failed: true };
          }
        }
        const result = await runPreTrafficCheck(lambda(), state, attempt, { budgetMs }, secret);
        const r = applyEvent(state, { type: "pre-traffic-result", attempt, passed: result.passed, reason: result.reason, at, by: "release-driver" });
        if (r.kind !== "applied") return { service: state.service, decision: "hold", reason: r.reason, weights: state.weights };
        if (!(await committed(state, r))) {
          return { service: state.service, decision: "conflict", reason: "release state changed during the pre-traffic check; nothing moved" };
        }
        if (!result.passed) {
          deps.logger.warn("pre-traffic check failed; holding the release at 0%", { targetService: state.service, attempt, reason: result.reason });
          return { service: state.service, decision: "hold", reason: `pre-traffic check failed (${attempt}/${p.preTraffic.maxAttempts}): ${result.reason}`, weights: state.weights };
        }
        deps.logger.info("pre-traffic check passed", { targetService: state.service, reason: result.reason });
        base = r.state;
      }
    }
    // Steps are timed from the tick's scheduled time, so the next tick N minutes on is due.
    const event: ReleaseEvent =
      d.action === "advance"
        ? { type: "advance-step", stepIndex: d.stepIndex, weight: d.weight, at, by: "release-driver" }
        : { type: "promote", rollbackWindowMinutes: p.rollbackWindowMinutes, at, by: "release-driver" };
    const t = applyEvent(base, event);
    if (t.kind !== "applied") return { service: state.service, decision: "hold", reason: t.reason, weights: state.weights };
    if (!(await committed(base, t))) {
      // Someone else changed the release since we read it (a rollback, an up): decide next tick.
      return { service: state.service, decision: "conflict", reason: "release state changed since it was read; nothing moved" };
    }
    // Recorded; move the rule only if nothing happened since: never against a recorded or
    // in-flight rollback, not even for the moment until its post-commit check puts it back.
    const why = await guardedMove(state, t.state.revision, cand.slot, t.state.weights, state.weights);
    if (why) {
      deps.logger.warn("step recorded but the rule was not moved", { targetService: state.service, why });
      return { service: state.service, decision: "conflict", reason: `recorded ${event.type} but did not move the rule: ${why}` };
    }
    // A rollback recorded between our check and our flip must win: put the rule back.
    const after = await freshState(state.service);
    if (after && after.revision !== t.state.revision) {
      const refused = await follow(after);
      if (refused) return { service: state.service, decision: "hold", reason: `release changed right after the step, and the new record was not followed: ${refused}`, failed: true };
      deps.logger.warn("release changed right after this step; the rule follows the recorded state", { targetService: state.service, phase: after.phase, weights: after.weights });
      return { service: state.service, decision: "conflict", reason: `release became ${after.phase} right after the step; the rule follows it`, weights: after.weights };
    }
    deps.logger.info(d.reason, { targetService: state.service, weights: t.state.weights });
    if (deps.metrics) {
      publishWeight(deps.metrics, deps.alarmPrefix, state.service, t.state.weights[cand.slot]);
    }
    return { service: state.service, decision: d.action, reason: d.reason, weights: t.state.weights };
  }

  /**
   * One tick over every service of the stack, {@link defaults.DRIVER_CONCURRENCY} at a time, so a
   * slow pre-traffic check does not starve the others; a failing service does not stop them.
   */
  async function tick(opts: TickOptions = {}): Promise<TickResult[]> {
    const holder = opts.leaseHolder;
    if (holder === undefined) return tickHeld(opts);
    // Held for at most one invocation's life: a holder that died gives it up by expiry.
    const until = now() + Math.min(opts.remainingMs?.() ?? Infinity, defaults.DRIVER_TIMEOUT_SECONDS * 1000);
    let held: boolean;
    try {
      held = await deps.store.claimTickLease(holder, now(), until);
    } catch (err) {
      // Fail open: the lease spares work, the conditional records keep overlapping ticks safe.
      deps.logger.warn("could not take the tick lease; ticking without it", { error: (err as Error).message });
      return tickHeld(opts);
    }
    if (!held) {
      deps.logger.info("another invocation holds the tick lease; this one ends");
      return deps.services.map((service) => ({ service, decision: "skipped", reason: "another invocation is ticking (it holds the release driver's lease)" }));
    }
    try {
      return await tickHeld(opts);
    } finally {
      await deps.store.releaseTickLease(holder).catch((err: Error) => deps.logger.warn("could not give the tick lease back; it expires", { error: err.message }));
    }
  }

  async function tickHeld(opts: TickOptions): Promise<TickResult[]> {
    const tickAt = tickTime(opts.scheduledAt, now());
    const remainingMs = opts.remainingMs ?? (() => Infinity);
    // The progressive services' states in consistent BatchGetItem calls (100 keys each): the cost
    // of a tick does not grow with the table's history and outbox items (a Scan would read them
    // all every minute), nor by one round trip per service.
    let states: ReadonlyMap<string, ReleaseState>;
    let rules: ReadonlyMap<string, LiveRuleSource> | undefined;
    // A record that fails validation costs only its own service: the others step and are watched.
    const invalid = new Map<string, ReleaseStateError>();
    try {
      states = await deps.store.getMany(deps.services, invalid);
    } catch (err) {
      deps.logger.error("release driver could not read release state", { error: (err as Error).message });
      return deps.services.map((service) => ({ service, decision: "skipped", reason: `failed: ${(err as Error).message}`, failed: true }));
    }
    // The releasing services' rules, one paged DescribeRules per listener. Best effort: without
    // it (a listener gone, throttling past the retries) each service reads its own rule.
    const releasing = [...states.values()].filter((s) => s.phase === Phase.Releasing);
    const listeners = releasing.flatMap((s) => listenerOfRule(s.routing.ruleArn) ?? []);
    // Not when waiting for the ELB API rate would already take it past the deadline (asked again
    // before each read: the one before spent tokens).
    const affordable = () => deps.traffic.describeWaitMs() < remainingMs() - defaults.DRIVER_MIN_SERVICE_MS;
    try {
      rules = listeners.length > 0 && affordable() ? await deps.traffic.rulesOfListeners(listeners) : undefined;
    } catch (err) {
      deps.logger.warn("could not list the listeners' rules; reading each service's own", { error: (err as Error).message });
    }
    // Their tags, 20 rules a call, when affordable. Best effort: a failed read is said, and the moves go on (a rule
    // whose tags are gone then fails its ModifyRule, which fails the tick and pages).
    let tags: ReadonlyMap<string, Readonly<Record<string, string>>> | undefined;
    try {
      tags = releasing.length > 0 && affordable() ? await deps.traffic.ruleTags(releasing.map((s) => s.routing.ruleArn)) : undefined;
    } catch (err) {
      deps.logger.warn("could not read the rules' tags", { error: (err as Error).message });
    }
    const results = await pooled(deps.services, deps.concurrency ?? defaults.DRIVER_CONCURRENCY, async (service): Promise<TickResult> => {
      // A service not started before the deadline waits for the next tick rather than being cut
      // between its record and its move (the conditional writes keep that safe, but it is noise).
      if (remainingMs() < defaults.DRIVER_MIN_SERVICE_MS) {
        return { service, decision: "skipped", reason: `${Math.max(0, Math.round(remainingMs()))} ms left in this tick: not started, next tick` };
      }
      // Nor when its first ELB read would wait for a token past the deadline (a big tick under the
      // driver's Describe* rate): the invocation would time out instead of ending cleanly.
      const wait = deps.traffic.describeWaitMs();
      if (wait > 0 && remainingMs() < defaults.DRIVER_MIN_SERVICE_MS + wait) {
        return { service, decision: "skipped", reason: `${Math.max(0, Math.round(remainingMs()))} ms left in this tick and ${wait} ms to wait for the ELB API rate: not started, next tick` };
      }
      const bad = invalid.get(service);
      if (bad) {
        deps.logger.error("release state fails validation; this service is skipped until it is repaired", { targetService: service, error: bad.message });
        return { service, decision: "skipped", reason: `failed: ${bad.message}`, failed: true };
      }
      try {
        const state = states.get(service);
        return state ? await tickService(state, tickAt, remainingMs, rules, tags) : { service, decision: "skipped", reason: "no release state yet (the first pulumi up records it)" };
      } catch (err) {
        deps.logger.error("release driver tick failed", { targetService: service, error: (err as Error).message });
        return { service, decision: "skipped", reason: `failed: ${(err as Error).message}`, failed: true };
      }
    });
    if (deps.lanes && deps.lanes.length > 0 && remainingMs() > defaults.DRIVER_MIN_SERVICE_MS) results.push(...(await laneTicks(deps.lanes, tickAt)));
    await deliverOwed(remainingMs);
    if (deps.watch) results.push(...(await watchHealth(deps.watch, remainingMs, new Set(invalid.keys()), tickAt)));
    return results;
  }

  /** The legacy lanes' brownouts and evidence; only what happened (or failed) is reported. */
  async function laneTicks(services: readonly string[], tickAt: number): Promise<TickResult[]> {
    let kept: Awaited<ReturnType<typeof keepLanes>>;
    try {
      kept = await keepLanes({ store: deps.store, traffic: deps.traffic, cloudwatch: deps.cloudwatch, logger: deps.logger, ...(deps.notify ? { notify: { stack: deps.notify.stack } } : {}) }, services, tickAt, owed);
    } catch (err) {
      deps.logger.error("could not read the legacy lanes' records", { error: (err as Error).message });
      return [{ service: services.join(","), decision: "lane", reason: `legacy lanes: failed: ${(err as Error).message}`, failed: true }];
    }
    return kept
      .filter((k) => k.did.length > 0 || k.failed !== undefined)
      .map((k) => ({ service: k.service, decision: "lane" as const, reason: `legacy lane ${k.lane}: ${k.failed !== undefined ? `failed: ${k.failed}` : k.did.join("; ")}`, ...(k.failed !== undefined ? { failed: true } : {}) }));
  }

  /**
   * For the rest of the tick, every `intervalMs`: each service whose candidate takes traffic and
   * has no healthy target is rolled back (once; its phase then stops it being watched).
   */
  async function watchHealth(watch: NonNullable<DriverDeps["watch"]>, remainingMs: () => number, reported: ReadonlySet<string>, tickAt: number): Promise<TickResult[]> {
    const out: TickResult[] = [];
    // A refused rollback (the stable unhealthy too) is not retried every few seconds: the
    // rollback alarms page humans for that.
    const refused = new Set<string>();
    let watched = [...new Set([...deps.services, ...(watch.services ?? [])])];
    const sleep = watch.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    // Services whose record or target health could not be read: told once per tick, not acted on.
    const unreadable = new Map<string, string>();
    // Checks first, then waits: the watch starts as soon as the tick's steps are done, and the
    // gap until the next tick's first check (the driver's timeout is under its 1-minute
    // schedule) is as short as it can be; bench/detection models it.
    for (let first = true; ; first = false) {
      if (!first) {
        if (remainingMs() <= watch.intervalMs + defaults.DRIVER_MIN_SERVICE_MS) break;
        await sleep(watch.intervalMs);
      }
      const invalid = new Map<string, ReleaseStateError>();
      const states = await deps.store.getMany(watched, invalid);
      // (A bad record of a driven service was reported by the tick already.)
      for (const [service, err] of invalid) if (!reported.has(service)) unreadable.set(service, `release state fails validation: ${err.message}`);
      const exposed = byExposure(
        [...states.values()].filter((s) => s.phase === Phase.Releasing && s.candidate && s.weights[s.candidate.slot] > 0 && !refused.has(s.service)),
        tickAt,
      );
      if (exposed.length === 0) break;
      // Later rounds read only the candidates exposed now: nothing else gains traffic within
      // this tick (the steps are done), and consistent reads of every service every few seconds
      // cost read units for nothing (issue 34, 11).
      watched = exposed.map((s) => s.service);
      // Side by side, as many as the tick does at once (the ELB Describe* rate of the driver's
      // Traffic still paces them): a round over many exposed candidates is not a queue of reads.
      // One target group whose health cannot be read (deleted, throttled past the retries) costs
      // only its own service this round (issue 34, 14).
      // Each read takes a token of the watch's share of ELB's Describe* budget (issue 34, 11):
      // with many exposed candidates a round lasts longer instead of taking more of the account's
      // rate. A read whose token would come after the deadline is left for the next tick.
      const health = await pooled(exposed, deps.concurrency ?? defaults.DRIVER_CONCURRENCY, async (s) => {
        if (watch.rate) {
          if (watch.rate.msUntilToken() > remainingMs() - defaults.DRIVER_MIN_SERVICE_MS) return undefined;
          await watch.rate.take();
        }
        try {
          return await deps.traffic.targetStates(s.routing.targetGroupArns[(s.candidate as NonNullable<ReleaseState["candidate"]>).slot]);
        } catch (err) {
          unreadable.set(s.service, `target health could not be read: ${(err as Error).message}`);
          return undefined;
        }
      });
      let acted = 0;
      for (const [i, s] of exposed.entries()) {
        const cand = s.candidate as NonNullable<ReleaseState["candidate"]>;
        const h = health[i];
        // A target registering or draining is a pod being replaced (a node drain evicting a
        // one-replica candidate, a rollout), not a failing candidate: not rolled back for it; the
        // alarms and the next checks judge the replacement (issue 34, 11).
        if (h === undefined || h.healthy > 0 || h.transitioning > 0) continue;
        acted++;
        const reason = `candidate ${cand.version} (${cand.slot}) has no healthy targets at ${s.weights[cand.slot]}% (target health, checked every ${Math.round(watch.intervalMs / 1000)} s by the release driver)`;
        let r: Awaited<ReturnType<typeof watch.rollBack>>;
        try {
          r = await watch.rollBack(s.service, reason);
        } catch (err) {
          refused.add(s.service);
          unreadable.set(s.service, `rollback failed: ${(err as Error).message}`);
          continue;
        }
        deps.logger.warn("candidate unhealthy: rollback", { targetService: s.service, outcome: r.outcome, reason: r.reason });
        if (r.outcome !== "rolled-back") refused.add(s.service);
        out.push({ service: s.service, decision: r.outcome === "rolled-back" ? "rolled-back" : "hold", reason: `${reason}: ${r.outcome}: ${r.reason}`, ...(r.outcome === "rolled-back" ? { weights: s.weights } : {}) });
      }
      // Every exposed candidate was rolled back or refused: nothing is left to watch.
      if (acted === exposed.length) break;
    }
    for (const [service, why] of unreadable) {
      deps.logger.error("health watch could not judge this service", { targetService: service, error: why });
      out.push({ service, decision: "skipped", reason: `health watch: ${why}`, failed: true });
    }
    return out;
  }

  return { tick, tickService };
}
