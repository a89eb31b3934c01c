/**
 * The rollback decision loop, with its AWS clients injected (the `rollback.ts` entry point builds
 * them at module scope; tests and the bench point them at moto).
 *
 * Critical path per alarm: parse -> load release state -> decide (core) -> check the rollback
 * target has healthy targets -> flip the rule weights (the first mutating call) -> record
 * (conditional transaction) -> notify. Duplicate, late and concurrent events end as no-ops;
 * a lost race is re-decided on fresh state and never leaves traffic where state says it is not.
 *
 * Why this file is long: the one decision loop, its confirmation of the alarm (kind, actions,
 * throttling), its escalation and its notifications share the invocation's state (the remaining
 * time, the alarm kinds read, this function's ARN) and the order of their steps is the safety
 * argument; split across files, that order would no longer be readable in one place.
 */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { Logger } from "@aws-lambda-powertools/logger";
import { MetricUnit, type Metrics } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { createHash, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import { ALARM_KINDS, parseAlarmName, parseLaneAlarmName } from "../../core/alarms";
import type { LaneState } from "../../core/laneState";
import { lifecycleNotice } from "../../core/lifecycle";
import type { LaneKey } from "../../core/naming";
import * as defaults from "../../core/defaults";
import { publishWeight } from "./powertools";
import { Phase, ReleaseStateError, applyEvent, rollbackWindowOpen, type ReleaseEvent, type ReleaseState } from "../../core/releaseState";
import { SLOTS, type Slot } from "../../core/slots";
import type { SlotWeights } from "../../core/weights";
import { AlarmState, EventShape, InvalidEventError, alarmOrigin, parseAlarmEvent, type AlarmSignal } from "./events";
import { type AlarmNow, ConfirmationThrottledError, alarmsInAlarm, describeAlarmThroughThrottling } from "./alarmState";
import { truncate } from "./text";
import { publishNotice } from "./notify";
import { ConflictError, MAX_ITEM_BYTES, itemBytes, type OutboxMessage, type ReleaseStore } from "./releaseStore";
import type { Rule } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { Traffic } from "./traffic";

/** Conditional-write attempts before giving up (each attempt re-reads and re-decides). */
const MAX_ATTEMPTS = 6;

/** A short random pause after a lost race, growing per attempt: concurrent copies stop colliding in lockstep. */
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * 15 * 2 ** attempt));



/** Stay this far below DynamoDB's item limit: never flip what cannot be recorded. */
const ITEM_BYTES_BUDGET = MAX_ITEM_BYTES - 50 * 1024;


export interface RollbackDeps {
  readonly store: ReleaseStore;
  readonly traffic: Traffic;
  readonly sns: SNSClient;
  readonly cloudwatch: CloudWatchClient;
  /** Topic for humans: rollbacks, escalations. Empty: nobody is notified (operator CLI without a topic). */
  readonly topicArn: string;
  /** `<project>-<stack>`: only alarms named `<prefix>/<service>/<slot>/<kind>` are acted on. */
  readonly alarmPrefix: string;
  /** The stack's name, in every message's subject as the other notices have it (`remedy prod: ...`). */
  readonly stack?: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Wall clock (epoch ms) for recorded times; defaults to `Date.now`. */
  readonly now?: () => number;
  /**
   * This stack's AWS account and region. When set, an alarm whose ARN (or event envelope) names
   * another account or region is ignored even if its name matches this stack's prefix.
   */
  readonly expectedAccount?: string;
  readonly expectedRegion?: string;
  /** Random id per write; defaults to `crypto.randomUUID` (tests pin it). */
  readonly newWriteId?: () => string;
  /** Waits between confirmation retries (tests pass one that advances their clock). Default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * This function's ARN, when the invocation's context does not give it (`invokedFunctionArn`):
   * an alarm acts only when its AlarmActions name this function, as the rollback alarms do.
   */
  readonly functionArn?: string;
}

/** A Lambda ARN without its version or alias qualifier. */
export function unqualifiedFunctionArn(arn: string): string {
  return arn.split(":").slice(0, 7).join(":");
}

export const Outcome = {
  RolledBack: "rolled-back",
  /** Someone else (a concurrent or earlier delivery) already did it. */
  Duplicate: "duplicate",
  Ignored: "ignored",
  /** Could not act safely; humans were told via SNS. */
  Escalated: "escalated",
  /** The event was not an accepted shape; nothing changed. */
  Rejected: "rejected",
  /** An operator's rollback was refused (nothing to roll back, unhealthy target without --force). */
  Refused: "refused",
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface SignalResult {
  readonly outcome: Outcome;
  readonly reason: string;
  readonly alarm?: string;
  readonly service?: string;
  /** Milliseconds (0.01 ms resolution) from handler start until `ModifyRule` returned. */
  readonly flipMs?: number;
  readonly weights?: SlotWeights;
}

export interface RollbackResult {
  readonly outcome: Outcome;
  readonly results: readonly SignalResult[];
}

/**
 * A recorded notification could not be sent (SNS failed past its retries, or too little time was
 * left). Thrown so Lambda retries the event (which delivers the still-pending notification) and
 * the errors alarm pages; the rollback itself is recorded.
 */
export class NotificationError extends Error {
  constructor(service: string, cause: unknown) {
    super(`rolled back ${service} but could not notify yet (the notification stays pending and is retried): ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "NotificationError";
  }
}

function assertIsError(err: unknown): asserts err is Error {
  if (!(err instanceof Error)) throw err;
}

export function createRollbackHandler(deps: RollbackDeps) {
  const now = deps.now ?? Date.now;
  const newWriteId = deps.newWriteId ?? randomUUID;
  const { logger, metrics } = deps;
  /**
   * Each service's alarm kinds as its release state last read here recorded them (relative and
   * custom alarms), so the "also firing" line names every alarm; unknown: the built-in four.
   */
  const alarmKinds = new Map<string, readonly string[] | undefined>();
  const remember = (s: ReleaseState | undefined): void => {
    if (s) alarmKinds.set(s.service, s.routing.alarmKinds);
  };
  /**
   * Whether CloudWatch's alarm has this function among its actions (when this function's ARN is
   * known): only alarms this stack made to roll back do; a page-only one never acts.
   */
  const namesThisFunction = (alarm: AlarmNow): boolean => self === undefined || alarm.actions.map(unqualifiedFunctionArn).includes(self);
  /** Milliseconds left before Lambda stops this invocation; unlimited outside Lambda. */
  let remaining: () => number = () => Number.POSITIVE_INFINITY;
  /** This function's ARN (the invocation's, else the configured one). */
  let self: string | undefined = deps.functionArn;

  function count(name: string, service?: string): void {
    const m = metrics.singleMetric();
    if (service) m.addDimension("Service", service);
    m.addMetric(name, MetricUnit.Count, 1);
  }

  async function publish(message: OutboxMessage, abortSignal?: AbortSignal): Promise<void> {
    if (!deps.topicArn) return;
    await publishNotice(deps.sns, deps.topicArn, message, abortSignal);
  }

  /**
   * Other alarms of the service now in ALARM; context for humans, never fatal, and skipped when
   * the invocation's remaining time is needed for what must happen (sending the notification).
   */
  async function firingAlarms(service: string): Promise<string[] | string> {
    const kinds = alarmKinds.get(service);
    const budget = remaining() - defaults.ROLLBACK_RESERVED_MS;
    if (budget < defaults.ROLLBACK_OPTIONAL_CALL_MIN_MS) return `skipped: ${Math.max(0, Math.round(remaining()))} ms left`;
    try {
      return await alarmsInAlarm(deps.cloudwatch, deps.alarmPrefix, service, SLOTS, kinds, AbortSignal.timeout(Math.min(budget, defaults.ROLLBACK_OPTIONAL_CALL_MAX_MS)));
    } catch (err) {
      assertIsError(err);
      logger.warn("could not list firing alarms", { error: err.message });
      return `unavailable: ${err.message}`;
    }
  }

  /**
   * The alarm as CloudWatch holds it, retried through throttling (CloudWatch allows about 9
   * DescribeAlarms a second per account and region, shared with every reader) with jittered
   * backoff for as long as the invocation can spare, at most ROLLBACK_CONFIRM_MAX_MS.
   */
  function confirmAlarm(name: string): Promise<AlarmNow | undefined | { throttledMs: number }> {
    return describeAlarmThroughThrottling(deps.cloudwatch, name, {
      budgetMs: () => remaining() - defaults.ROLLBACK_RESERVED_MS,
      sleep: deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
      onThrottle: () => count("ConfirmationThrottled"),
    });
  }

  async function escalate(signal: AlarmSignal, target: Pick<Target, "service">, why: string): Promise<SignalResult> {
    logger.error("not rolling back: escalating to humans", { reason: why });
    count("Escalations", target.service);
    // One page per service, alarm and cause per window, however many events repeat it.
    const key = createHash("sha256").update(JSON.stringify([signal.alarmName, why])).digest("hex").slice(0, 16);
    const claimedAt = now();
    if (deps.topicArn && !(await deps.store.claimEscalation(target.service, key, claimedAt, defaults.ESCALATION_PAGE_WINDOW_MS))) {
      count("DuplicateEscalations", target.service);
      return { outcome: Outcome.Escalated, reason: `${why} (already paged within ${defaults.ESCALATION_PAGE_WINDOW_MS / 60_000} min)`, alarm: signal.alarmName, service: target.service };
    }
    // A page that could not be sent gives its claim back (issue 35, 9): the retry, or the next
    // event, pages instead of finding the window taken by a page nobody got.
    try {
      await publish({
        subject: `remedy${deps.stack ? ` ${deps.stack}` : ""}: ${target.service} NOT rolled back automatically`,
        lines: [
          `remedy could not roll back ${target.service} automatically; act now.`,
          `Why:    ${why}`,
          `Alarm:  ${signal.alarmName} (${signal.state} since ${signal.at})`,
          `Reason: ${truncate(signal.reason, defaults.MAX_RECORDED_REASON_CHARS)}`,
          `Run \`remedy status\` for the release state, \`remedy rollback ${target.service} --reason <text>\` once the target is healthy.`,
        ],
        attributes: { service: target.service, outcome: Outcome.Escalated, event: "escalated", severity: "action" },
      });
    } catch (err) {
      await deps.store.releaseEscalation(target.service, key, claimedAt).catch((e: Error) => logger.error("could not give the escalation's claim back", { error: e.message }));
      throw err;
    }
    return { outcome: Outcome.Escalated, reason: why, alarm: signal.alarmName, service: target.service };
  }

  /** What humans are told about a rollback; recorded with it, sent afterwards. */
  function rollbackMessage(signal: AlarmSignal, before: ReleaseState, after: ReleaseState, flipMs: number): OutboxMessage {
    const rb = after.lastRollback;
    const failed = rb ? `${rb.fromVersion} (${rb.failedSlot})` : "?";
    return {
      subject: `remedy${deps.stack ? ` ${deps.stack}` : ""}: ${after.service} rolled back to ${after.stable.version}`,
      lines: [
        `remedy rolled back ${after.service}: ${failed} -> ${after.stable.version} (${after.stable.slot})${rb?.afterPromotion ? ", after its promotion, inside the rollback window" : ""}.`,
        `Alarm:        ${signal.alarmName} (${signal.state} since ${signal.at})`,
        `Reason:       ${rb?.reason ?? truncate(signal.reason, defaults.MAX_RECORDED_REASON_CHARS)}`,
        `Traffic:      blue ${after.weights.blue}% / green ${after.weights.green}%, flipped ${flipMs} ms after the alarm event arrived`,
        `Release:      ${before.releaseId ?? "?"}, revision ${after.revision}`,
        `Next:         the failed version is held. \`pulumi up\` keeps traffic on ${after.stable.version} until the candidate image changes or the rollback is acknowledged.`,
      ],
      attributes: { service: after.service, outcome: Outcome.RolledBack, event: "rolled-back", severity: "action" },
    };
  }

  /**
   * Sends every notification of `service` still pending, each under a lease so two copies never
   * both send it. A failure leaves it pending and the later ones are still sent; then it throws,
   * so Lambda's retry delivers the failed one. An item that is not a notice SNS can take is
   * rejected, reported and never blocks the others (issue 35, 15).
   */
  async function deliverPending(service: string): Promise<number> {
    if (!deps.topicArn) return 0;
    const rejected: string[] = [];
    const pending = await deps.store.pendingNotifications(service, rejected);
    for (const r of rejected) {
      count("RejectedNotifications", service);
      logger.error("a stored notification is not one remedy writes; rejected, not sent", { targetService: service, item: r });
    }
    let sent = 0;
    let failure: unknown;
    for (const n of pending) {
      const claimer = newWriteId();
      if (!(await deps.store.claimNotification(service, n.sk, claimer, now(), defaults.NOTIFICATION_LEASE_MS))) continue;
      try {
        const firing = await firingAlarms(service);
        const also = typeof firing === "string" ? `(${firing})` : firing.filter((a) => !n.lines.some((l) => l.includes(`${a} (`))).join(", ") || "none";
        const left = remaining() - defaults.ROLLBACK_PUBLISH_MIN_MS;
        if (left <= 0) throw new Error(`only ${Math.round(remaining())} ms left in this invocation`);
        await publish({ ...n, lines: [...n.lines.slice(0, -1), `Also firing:  ${also}`, ...n.lines.slice(-1)] }, AbortSignal.timeout(Math.min(left, defaults.ROLLBACK_PUBLISH_MAX_MS)));
      } catch (err) {
        count("NotificationFailures", service);
        await deps.store.settleNotification(service, n.sk, claimer, "pending", new Date(now()).toISOString()).catch(() => undefined);
        failure ??= err;
        continue;
      }
      await deps.store.settleNotification(service, n.sk, claimer, "sent", new Date(now()).toISOString());
      count("Notifications", service);
      sent++;
    }
    if (failure !== undefined) throw new NotificationError(service, failure);
    return sent;
  }

  async function rollBack(signal: AlarmSignal, target: Target, started: number, manual?: { force: boolean }, confirm = false): Promise<SignalResult> {
    const base = { alarm: signal.alarmName, service: target.service };
    // The event's claim of ALARM and its reason are not evidence: anyone allowed to invoke the
    // function could send them. CloudWatch's own record is read beside the release state (in
    // parallel: no extra round trip before the flip).
    // The rollback target the alarm names (its description's hint) is read in the same round
    // trip: its health and the rule. Used below only where the release state names the same
    // rule and group; otherwise read again. A failed prefetch is just not used.
    const hint = signal.hint;
    const prefetched: Promise<{ hint: { targetGroupArn: string; ruleArn: string }; healthy: number; rule: Rule | undefined } | undefined> | undefined = hint
      ? Promise.all([deps.traffic.healthyTargets(hint.targetGroupArn), deps.traffic.rulesByArn([hint.ruleArn])]).then(
          ([healthy, rules]) => ({ hint, healthy, rule: rules.get(hint.ruleArn) }),
          () => undefined,
        )
      : undefined;
    // A record that fails validation is escalated, but only once the alarm is confirmed (issue
    // 35, 10): the page carries CloudWatch's reason, never the event's, and a made-up alarm
    // name (a fresh rate-limit key each) pages nobody.
    const read = deps.store.get(target.service).then(
      (s) => ({ s }),
      (err: unknown) => {
        if (err instanceof ReleaseStateError) return { invalid: err };
        throw err;
      },
    );
    const [got, confirmed]: [{ s?: ReleaseState; invalid?: ReleaseStateError }, AlarmNow | undefined | { throttledMs: number }] = await Promise.all([read, confirm ? confirmAlarm(signal.alarmName) : Promise.resolve(undefined)]);
    if (confirmed && "throttledMs" in confirmed) {
      // Never act on an unconfirmed event: anyone allowed to invoke this function could send one,
      // and a throttle only delays a genuine rollback (Lambda retries the event, the release
      // driver's health watch still runs), while acting would let a forged event move prod. So:
      // page humans now with the command, and fail so Lambda retries (issue 35, 8).
      await escalate(
        { ...signal, reason: "(not confirmed: CloudWatch throttled DescribeAlarms)" },
        target,
        `CloudWatch throttled DescribeAlarms for ${Math.round(confirmed.throttledMs / 1000)} s, so ${signal.alarmName} could not be confirmed in ALARM; remedy does not act on an unconfirmed event. Lambda retries it; if ${target.service} is failing now, run remedy rollback ${target.service} --reason <text>`,
      );
      throw new ConfirmationThrottledError(signal.alarmName, confirmed.throttledMs);
    }
    const now$ = confirmed;
    let state = got.s;
    const invalid = got.invalid;
    remember(state);
    if (confirm) {
      if (!now$) {
        count("UnconfirmedEvents", target.service);
        return { ...base, outcome: Outcome.Ignored, reason: `no alarm ${signal.alarmName} exists in CloudWatch; the event is not acted on` };
      }
      if (now$.state !== AlarmState.Alarm) {
        count("UnconfirmedEvents", target.service);
        logger.warn("the event says ALARM, CloudWatch does not", { alarm: signal.alarmName, cloudwatch: now$.state });
        return { ...base, outcome: Outcome.Ignored, reason: `CloudWatch has ${signal.alarmName} in ${now$.state} (since ${now$.since}), not ALARM as the event says; not rolling back` };
      }
      // Only alarms this stack made to roll back (issue 35, 5): a page-only alarm, or one someone
      // with PutMetricAlarm made up under a matching name, does not invoke this function from
      // CloudWatch (its AlarmActions do not name it) and its kind is not one pulumi up recorded.
      const kind = parseAlarmName(deps.alarmPrefix, signal.alarmName)?.kind;
      const kinds: readonly string[] = state?.routing.alarmKinds ?? ALARM_KINDS;
      if (kind === undefined || (state && !kinds.includes(kind))) {
        count("IgnoredEvents", target.service);
        return { ...base, outcome: Outcome.Ignored, reason: `${signal.alarmName} is not one of the alarms pulumi up made for ${target.service} (kinds ${kinds.join(", ")}); not acting on it` };
      }
      if (!namesThisFunction(now$)) {
        count("IgnoredEvents", target.service);
        return { ...base, outcome: Outcome.Ignored, reason: `${signal.alarmName} does not name this function among its alarm actions (a page-only alarm, or not this stack's); not rolling back` };
      }
      // What is recorded and paged is CloudWatch's reason and time, not the event's text.
      signal = { ...signal, reason: now$.reason, at: now$.since };
      // A custom metric anyone allowed to put it can forge: alone it never reverts a promoted
      // release unless the service opted in (alarms.customRevertsPromotion); it pages (issue 35, 6).
      if (kind.startsWith("custom-") && state?.phase === Phase.Promoted && state.routing.customRevertsPromotion !== true) {
        return escalate(signal, target, `${signal.alarmName} is a custom alarm, and ${target.service} is promoted: a custom metric alone does not revert a promoted release (whoever may put the metric could force it); set services[].alarms.customRevertsPromotion: true to let it, or run remedy rollback ${target.service} --reason <text> if the release is bad`);
      }
    }
    if (invalid) return escalate(signal, target, invalid.message);
    if (!state) {
      return escalate(signal, target, `no release state for ${target.service} in ${deps.store.tableName}; run \`pulumi up\` to record it`);
    }
    const event: ReleaseEvent = {
      type: "roll-back",
      failedSlot: target.slot,
      observedAt: signal.at,
      // What is recorded must fit one DynamoDB item however long the alarm's reason is.
      reason: truncate(signal.reason, defaults.MAX_RECORDED_REASON_CHARS),
      at: new Date(now()).toISOString(),
      by: signal.alarmName,
    };
    // Identifies this copy's write: another copy deciding the same event in the same
    // millisecond writes an identical state, and must not be mistaken for ours.
    const writeId = newWriteId();
    let flipped: SlotWeights | undefined;
    let flipMs = 0;
    let attempted: ReleaseState | undefined;
    let decidedFrom: ReleaseState | undefined;
    let conflicted = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempted && state.writeId === writeId) {
        // Our own write landed but its response was lost (and the SDK retry then conflicted).
        break;
      }
      const t = applyEvent(state, event);
      if (t.kind !== "applied") {
        if (flipped && !isDeepStrictEqual(flipped, state.weights)) {
          // We flipped, then lost the race to a writer whose state says otherwise: put traffic
          // back where the recorded state has it, so program, Lambda and rule agree. That
          // record's routing is checked like the first one's (issue 35, 1): a writer that
          // alternates records cannot steer the rule to other target groups through this path.
          const check = await deps.traffic.checkRouting(target.service, state.routing);
          if (!check.ok) {
            count("RefusedRouting", target.service);
            return escalate(signal, target, `lost a race after flipping, and the winning record's routing is not the deployed one: ${check.problem}`);
          }
          await deps.traffic.setWeights(check.checked, state.weights);
          logger.warn("lost a race after flipping; restored the recorded weights", { weights: state.weights, reason: t.reason });
          count("RestoredFlips", target.service);
          return { ...base, outcome: Outcome.Ignored, reason: `${t.reason}; restored the recorded weights`, weights: state.weights };
        }
        logger.info("no rollback", { reason: t.reason, revision: state.revision });
        // A drill of the stable slot (remedy drill --allow-stable) proves the alarm reached this
        // function and that it did not flip: the drill item says so (off any flip's path).
        if (!flipped) await deps.store.markDrillObserved(target.service, signal.alarmName, now()).catch((err: Error) => logger.warn("could not mark the drill observed", { error: err.message }));
        count(flipped ? "DuplicateEvents" : "IgnoredEvents", target.service);
        return { ...base, outcome: flipped ? Outcome.Duplicate : Outcome.Ignored, reason: t.reason, weights: state.weights };
      }
      const next: ReleaseState = { ...t.state, writeId };
      const message = deps.topicArn ? rollbackMessage(signal, state, next, 0) : undefined;
      const bytes = Math.max(itemBytes({ pk: next.service, sk: "state", ...next }), itemBytes({ pk: next.service, sk: "history", ...t.entry }), message ? itemBytes({ ...message }) : 0);
      if (bytes > ITEM_BYTES_BUDGET) {
        // Never flip what cannot be recorded: the next `pulumi up` would re-ship the candidate.
        return escalate(signal, target, `the rollback record would be ${bytes} bytes, over DynamoDB's item limit; not flipping what cannot be recorded`);
      }
      // After a lost race, the other writer may have moved the rule (a `pulumi up` setting new
      // weights): compare with the live rule, not with what we flipped earlier.
      const mustFlip =
        !flipped ||
        !isDeepStrictEqual(flipped, t.state.weights) ||
        (conflicted && !isDeepStrictEqual(await deps.traffic.currentWeights(state.routing), t.state.weights));
      if (mustFlip) {
        const to = t.state.stable;
        // The record's routing is checked against the rule itself (read beside the health check,
        // in parallel): a record naming other target groups than the rule's is never acted on.
        const pre = !flipped && !conflicted ? await prefetched : undefined;
        const [healthy, check] =
          pre?.rule && pre.hint.ruleArn === state.routing.ruleArn && pre.hint.targetGroupArn === state.routing.targetGroupArns[to.slot]
            ? [pre.healthy, await deps.traffic.checkRouting(target.service, state.routing, pre.rule)]
            : await Promise.all([deps.traffic.healthyTargets(state.routing.targetGroupArns[to.slot]), deps.traffic.checkRouting(target.service, state.routing)]);
        if (!check.ok) {
          count("RefusedRouting", target.service);
          if (manual) return { ...base, outcome: Outcome.Refused, reason: check.problem };
          return escalate(signal, target, check.problem);
        }
        if (healthy === 0 && !manual?.force) {
          const why = `the rollback target ${to.version} (${to.slot}) has no healthy targets; flipping would send all traffic nowhere`;
          if (flipped) {
            // We already flipped on an earlier attempt; restore the recorded weights before
            // escalating (with this attempt's check of this record's routing).
            await deps.traffic.setWeights(check.checked, state.weights);
          }
          if (manual) return { ...base, outcome: Outcome.Refused, reason: `${why} (use --force to flip anyway)` };
          return escalate(signal, target, why);
        }
        await deps.traffic.setWeights(check.checked, t.state.weights);
        if (!flipped) flipMs = Math.round((performance.now() - started) * 100) / 100;
        flipped = t.state.weights;
        logger.info("flipped", { weights: flipped, flipMs, healthyTargets: healthy, attempt });
      }
      attempted = next;
      decidedFrom = state;
      try {
        await deps.store.commit(state.revision, next, t.entry, message && rollbackMessage(signal, state, next, flipMs));
        break;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        conflicted = true;
        logger.warn("release state changed while rolling back; re-deciding", { attempt });
        await backoff(attempt);
        const fresh = await deps.store.get(target.service);
        if (!fresh) throw new Error(`release state of ${target.service} disappeared while rolling back`);
        state = fresh;
      }
      if (attempt === MAX_ATTEMPTS) throw new Error(`release state of ${target.service} kept changing; gave up after ${MAX_ATTEMPTS} attempts`);
    }
    if (!decidedFrom || !attempted) throw new Error("internal: rollback loop ended without a decision");
    const after = attempted;
    // A writer that read the release before this rollback was recorded (the release driver
    // putting back what it took for drift, an `up` finishing) may have moved the rule after our
    // flip: once recorded, the rule must say what the record says.
    const check = await deps.traffic.checkRouting(after.service, after.routing);
    const live = check.live.weights;
    if (!isDeepStrictEqual(live, after.weights) && check.ok) {
      await deps.traffic.setWeights(check.checked, after.weights);
      logger.warn("the rule moved between the flip and the record; set it back to the rollback", { live, weights: after.weights });
      count("RestoredFlips", target.service);
    }
    const m = metrics.singleMetric();
    m.addDimension("Service", target.service);
    m.addMetric("FlipLatency", MetricUnit.Milliseconds, flipMs);
    // The weight the failed slot now has, for the stack dashboard's weight graph.
    publishWeight(metrics, deps.alarmPrefix, target.service, after.lastRollback ? after.weights[after.lastRollback.failedSlot] : 0);
    count("Rollbacks", target.service);
    logger.info("rolled back", { from: decidedFrom.candidate, to: after.stable, revision: after.revision, afterPromotion: after.lastRollback?.afterPromotion ?? false });
    return { ...base, outcome: Outcome.RolledBack, reason: after.lastRollback?.reason ?? event.reason, flipMs, weights: after.weights };
  }

  /**
   * A legacy lane's alarm (issue 37, 2): during a lane hotfix, its callers go back to the image
   * the lane ran before (warm behind its own target group), confirmed like a slot's alarm (in
   * ALARM in CloudWatch, naming this function), decided by release state (once; never during a
   * brownout), checked against the live rule and the previous image's health, then recorded.
   */
  async function rollBackLane(signal: AlarmSignal, t: { service: string; lane: LaneKey }): Promise<SignalResult> {
    const base = { alarm: signal.alarmName, service: t.service };
    const [first, confirmed] = await Promise.all([deps.store.get(t.service), confirmAlarm(signal.alarmName)]);
    if (confirmed && "throttledMs" in confirmed) throw new ConfirmationThrottledError(signal.alarmName, confirmed.throttledMs);
    if (!confirmed || confirmed.state !== AlarmState.Alarm) {
      count("UnconfirmedEvents", t.service);
      return { ...base, outcome: Outcome.Ignored, reason: `CloudWatch has ${signal.alarmName} ${confirmed ? `in ${confirmed.state}` : "nowhere"}, not in ALARM; not acting on it` };
    }
    if (!namesThisFunction(confirmed)) {
      count("IgnoredEvents", t.service);
      return { ...base, outcome: Outcome.Ignored, reason: `${signal.alarmName} does not name this function among its alarm actions (a lane without a hotfix to go back from pages only); not rolling back` };
    }
    signal = { ...signal, reason: confirmed.reason, at: confirmed.since };
    let state = first;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!state) return escalate(signal, t, `no release state for ${t.service} in ${deps.store.tableName}; run \`pulumi up\` to record it`);
      const event: ReleaseEvent = { type: "lane-roll-back", lane: t.lane, reason: truncate(signal.reason, defaults.MAX_RECORDED_REASON_CHARS), at: new Date(now()).toISOString(), by: signal.alarmName };
      const tr = applyEvent(state, event);
      if (tr.kind !== "applied") {
        // Another delivery (or copy) of the alarm already sent the callers back: a duplicate.
        const done = state.lanes?.[t.lane]?.rolledBack !== undefined;
        count(done ? "DuplicateEvents" : "IgnoredEvents", t.service);
        return { ...base, outcome: done ? Outcome.Duplicate : Outcome.Ignored, reason: tr.reason };
      }
      const lane = tr.state.lanes?.[t.lane] as LaneState;
      const back = lane.rollback as NonNullable<LaneState["rollback"]>;
      if ((await deps.traffic.healthyTargets(back.targetGroupArn)) === 0) return escalate(signal, t, `the lane's previous image ${back.image} has no healthy targets; going back would send the lane's callers nowhere`);
      const moved = await deps.traffic.setLaneForward(t.service, t.lane, lane, now());
      if (typeof moved === "object") return escalate(signal, t, moved.problem);
      const notice = deps.topicArn ? lifecycleNotice(state, tr.state, tr.entry, { stack: deps.stack ?? deps.alarmPrefix, steps: false }) : undefined;
      try {
        await deps.store.commit(state.revision, tr.state, tr.entry, notice);
        count("Rollbacks", t.service);
        logger.info("legacy lane rolled back", { lane: t.lane, from: lane.image, to: back.image });
        return { ...base, outcome: Outcome.RolledBack, reason: tr.entry.summary };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        await backoff(attempt);
        state = await deps.store.get(t.service);
      }
    }
    throw new Error(`release state of ${t.service} kept changing; gave up after ${MAX_ATTEMPTS} attempts`);
  }

  async function handleSignal(signal: AlarmSignal, started: number): Promise<SignalResult> {
    if (signal.state !== AlarmState.Alarm) {
      count("IgnoredEvents");
      return { outcome: Outcome.Ignored, alarm: signal.alarmName, reason: `alarm is ${signal.state}; only ALARM rolls back` };
    }
    const foreign = checkOrigin(signal);
    if (foreign) {
      logger.warn("alarm is not from this stack's account and region", { reason: foreign });
      count("ForeignAlarms");
      return { outcome: Outcome.Ignored, alarm: signal.alarmName, reason: foreign };
    }
    const target = parseAlarmName(deps.alarmPrefix, signal.alarmName);
    const laneTarget = target ? undefined : parseLaneAlarmName(deps.alarmPrefix, signal.alarmName);
    if (laneTarget) {
      const result = await rollBackLane(signal, laneTarget);
      if (result.outcome === Outcome.RolledBack) await deliverPending(laneTarget.service);
      return result;
    }
    if (!target) {
      logger.warn("alarm is not one of this stack's rollback alarms", { expected: `${deps.alarmPrefix}/<service>/<slot>/<kind>` });
      count("IgnoredEvents");
      return { outcome: Outcome.Ignored, alarm: signal.alarmName, reason: `not a rollback alarm of ${deps.alarmPrefix}` };
    }
    logger.appendKeys({ targetService: target.service, slot: target.slot });
    try {
      const result = await rollBack(signal, target, started, undefined, true);
      // Owed notifications (this rollback's, or one an earlier delivery could not send) go out
      // after the flip and the record, never before.
      if (result.outcome !== Outcome.Escalated) await deliverPending(target.service);
      return result;
    } finally {
      logger.removeKeys(["targetService", "slot"]);
    }
  }

  /** Why an alarm is not this stack's (another account or region), or undefined when it is. */
  function checkOrigin(signal: AlarmSignal): string | undefined {
    const origin = alarmOrigin(signal);
    // Whatever the deployment checks: an ARN in the event must be this alarm's ARN.
    if (origin.invalid) return `alarmArn ${origin.invalid}; not acting on alarm ${signal.alarmName}`;
    if (origin.name !== undefined && origin.name !== signal.alarmName) {
      return `alarm ARN names ${origin.name}, not ${signal.alarmName}; not acting on it`;
    }
    if (!deps.expectedAccount && !deps.expectedRegion) return undefined;
    if (!origin.account || (deps.expectedRegion && !origin.region)) {
      return `cannot tell which account and region alarm ${signal.alarmName} belongs to (no alarm ARN in the event); not acting on it`;
    }
    if (deps.expectedAccount && origin.account !== deps.expectedAccount) {
      return `alarm ${signal.alarmName} is in account ${origin.account}, not this stack's account ${deps.expectedAccount}`;
    }
    if (deps.expectedRegion && origin.region !== deps.expectedRegion) {
      return `alarm ${signal.alarmName} is in region ${origin.region ?? "?"}, not this stack's region ${deps.expectedRegion}`;
    }
    return undefined;
  }

  /**
   * An operator's rollback (`remedy rollback`): the same decision and flip as an alarm's, with
   * the operator as `by`. `force` flips even to a target with no healthy targets, and says so in
   * the recorded reason.
   */
  async function manual(req: { service: string; reason: string; by: string; force?: boolean }): Promise<SignalResult> {
    const started = performance.now();
    const state = await deps.store.get(req.service);
    remember(state);
    if (!state) return { outcome: Outcome.Refused, service: req.service, reason: `no release state for ${req.service}` };
    const at = new Date(now()).toISOString();
    const releasing = state.phase === Phase.Releasing && !!state.candidate && state.weights[state.candidate.slot] > 0;
    const promoted = rollbackWindowOpen(state, at);
    if (!releasing && !promoted) {
      const why = state.phase === Phase.Promoted ? `the rollback window of ${state.previous?.version ?? "the previous version"} is closed` : `${state.stable.version} (${state.stable.slot}) serves all traffic`;
      return { outcome: Outcome.Refused, service: req.service, reason: `nothing to roll back: ${req.service} is ${state.phase}, ${why}` };
    }
    // Releasing: back to stable. Promoted, inside the window: back to the still-warm previous.
    const failed = releasing && state.candidate ? state.candidate.slot : state.stable.slot;
    const to = releasing ? state.stable : (state.previous ?? state.stable);
    let reason = req.reason;
    if (req.force) {
      const healthy = await deps.traffic.healthyTargets(state.routing.targetGroupArns[to.slot]);
      if (healthy === 0) reason = `${reason} [forced: ${to.version} (${to.slot}) had no healthy targets]`;
    }
    const signal: AlarmSignal = { shape: EventShape.Operator, alarmName: req.by, state: AlarmState.Alarm, reason, at };
    const result = await rollBack(signal, { service: req.service, slot: failed }, started, { force: req.force ?? false });
    if (result.outcome === Outcome.RolledBack) await deliverPending(req.service);
    return result;
  }

  async function handler(event: unknown, context?: Context): Promise<RollbackResult> {
    const started = performance.now(); // monotonic, sub-millisecond: flip latency
    if (context) logger.addContext(context);
    remaining = context?.getRemainingTimeInMillis ? () => context.getRemainingTimeInMillis() : () => Number.POSITIVE_INFINITY;
    self = context?.invokedFunctionArn ? unqualifiedFunctionArn(context.invokedFunctionArn) : deps.functionArn;
    let signals: AlarmSignal[];
    try {
      signals = parseAlarmEvent(event);
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
      logger.error("rejected event", { error: err.message });
      count("RejectedEvents");
      return { outcome: Outcome.Rejected, results: [{ outcome: Outcome.Rejected, reason: err.message }] };
    }
    const results: SignalResult[] = [];
    for (const signal of signals) {
      logger.appendKeys({ alarm: signal.alarmName, eventShape: signal.shape });
      try {
        results.push(await handleSignal(signal, started));
      } finally {
        logger.removeKeys(["alarm", "eventShape"]);
      }
    }
    const order: Outcome[] = [Outcome.Escalated, Outcome.RolledBack, Outcome.Duplicate, Outcome.Ignored];
    const outcome = order.find((o) => results.some((r) => r.outcome === o)) ?? Outcome.Ignored;
    return { outcome, results };
  }

  return Object.assign(handler, { manual, deliverPending });
}

/** Service and slot a rollback is about. */
interface Target {
  readonly service: string;
  readonly slot: Slot;
}
