/**
 * The rollback decision loop, with its AWS clients injected (the `rollback.ts` entry point builds
 * them at module scope; tests and the bench point them at moto).
 *
 * Critical path per alarm: parse -> load release state -> decide (core) -> check the rollback
 * target has healthy targets -> flip the rule weights (the first mutating call) -> record
 * (conditional transaction) -> notify. Duplicate, late and concurrent events end as no-ops;
 * a lost race is re-decided on fresh state and never leaves traffic where state says it is not.
 */
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Logger } from "@aws-lambda-powertools/logger";
import { MetricUnit, type Metrics } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import { AlarmKind, alarmName, parseAlarmName } from "../../core/alarms";
import { Phase, ReleaseStateError, applyEvent, type ReleaseEvent, type ReleaseState } from "../../core/releaseState";
import { SLOTS, type Slot } from "../../core/slots";
import type { SlotWeights } from "../../core/weights";
import { AlarmState, EventShape, InvalidEventError, parseAlarmEvent, type AlarmSignal } from "./events";
import { ConflictError, type ReleaseStore } from "./releaseStore";
import type { Traffic } from "./traffic";

/** Conditional-write attempts before giving up (each attempt re-reads and re-decides). */
const MAX_ATTEMPTS = 4;

export interface RollbackDeps {
  readonly store: ReleaseStore;
  readonly traffic: Traffic;
  readonly sns: SNSClient;
  readonly cloudwatch: CloudWatchClient;
  /** Topic for humans: rollbacks, escalations. Empty: nobody is notified (operator CLI without a topic). */
  readonly topicArn: string;
  /** `<project>-<stack>`: only alarms named `<prefix>/<service>/<slot>/<kind>` are acted on. */
  readonly alarmPrefix: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Wall clock (epoch ms) for recorded times; defaults to `Date.now`. */
  readonly now?: () => number;
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

/** SNS refused the notification after the rollback was recorded; thrown so the errors alarm pages. */
export class NotificationError extends Error {
  constructor(service: string, cause: unknown) {
    super(`rolled back ${service} but could not notify: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "NotificationError";
  }
}

function assertIsError(err: unknown): asserts err is Error {
  if (!(err instanceof Error)) throw err;
}

export function createRollbackHandler(deps: RollbackDeps) {
  const now = deps.now ?? Date.now;
  const { logger, metrics } = deps;

  function count(name: string, service?: string): void {
    const m = metrics.singleMetric();
    if (service) m.addDimension("Service", service);
    m.addMetric(name, MetricUnit.Count, 1);
  }

  async function publish(subject: string, lines: string[], attributes: Record<string, string>): Promise<void> {
    if (!deps.topicArn) return;
    await deps.sns.send(
      new PublishCommand({
        TopicArn: deps.topicArn,
        Subject: subject.length > 100 ? `${subject.slice(0, 97)}...` : subject,
        Message: lines.join("\n"),
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([k, v]) => [k, { DataType: "String", StringValue: v }]),
        ),
      }),
    );
  }

  /** Other alarms of the service now in ALARM; context for humans, never fatal. */
  async function firingAlarms(service: string): Promise<string[]> {
    try {
      // Exact names rather than a prefix: the role may describe only this stack's alarm ARNs,
      // and IAM can match those only when the request names them.
      const names = SLOTS.flatMap((slot) => Object.values(AlarmKind).map((kind) => alarmName(deps.alarmPrefix, service, slot, kind)));
      const out = await deps.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ["MetricAlarm"] }));
      return (out.MetricAlarms ?? []).filter((a) => a.StateValue === "ALARM").map((a) => a.AlarmName ?? "?");
    } catch (err) {
      assertIsError(err);
      logger.warn("could not list firing alarms", { error: err.message });
      return [];
    }
  }

  async function escalate(signal: AlarmSignal, target: Target, why: string): Promise<SignalResult> {
    logger.error("not rolling back: escalating to humans", { reason: why });
    count("Escalations", target.service);
    await publish(
      `remedy: ${target.service} NOT rolled back automatically`,
      [
        `remedy could not roll back ${target.service} automatically; act now.`,
        `Why:    ${why}`,
        `Alarm:  ${signal.alarmName} (${signal.state} since ${signal.at})`,
        `Reason: ${signal.reason}`,
        `Run \`remedy status\` for the release state, \`remedy rollback ${target.service} --reason <text>\` once the target is healthy.`,
      ],
      { service: target.service, outcome: Outcome.Escalated },
    );
    return { outcome: Outcome.Escalated, reason: why, alarm: signal.alarmName, service: target.service };
  }

  async function notifyRolledBack(
    signal: AlarmSignal,
    before: ReleaseState,
    after: ReleaseState,
    flipMs: number,
  ): Promise<void> {
    const firing = await firingAlarms(after.service);
    const cand = before.candidate;
    const lines = [
      `remedy rolled back ${after.service}: ${cand?.version ?? "?"} (${cand?.slot ?? "?"}) -> ${after.stable.version} (${after.stable.slot}).`,
      `Alarm:        ${signal.alarmName} (${signal.state} since ${signal.at})`,
      `Reason:       ${signal.reason}`,
      `Traffic:      blue ${after.weights.blue}% / green ${after.weights.green}%, flipped ${flipMs} ms after the alarm event arrived`,
      `Release:      ${before.releaseId ?? "?"}, revision ${after.revision}`,
      `Also firing:  ${firing.filter((n) => n !== signal.alarmName).join(", ") || "none"}`,
      `Next:         the candidate is held. \`pulumi up\` keeps traffic on ${after.stable.version} until the candidate image changes or the rollback is acknowledged.`,
    ];
    try {
      await publish(`remedy: ${after.service} rolled back to ${after.stable.version}`, lines, {
        service: after.service,
        outcome: Outcome.RolledBack,
      });
    } catch (err) {
      count("NotificationFailures", after.service);
      throw new NotificationError(after.service, err);
    }
  }

  async function rollBack(signal: AlarmSignal, target: Target, started: number, manual?: { force: boolean }): Promise<SignalResult> {
    const base = { alarm: signal.alarmName, service: target.service };
    let state: ReleaseState | undefined;
    try {
      state = await deps.store.get(target.service);
    } catch (err) {
      if (err instanceof ReleaseStateError) return escalate(signal, target, err.message);
      throw err;
    }
    if (!state) {
      return escalate(signal, target, `no release state for ${target.service} in ${deps.store.tableName}; run \`pulumi up\` to record it`);
    }
    const event: ReleaseEvent = {
      type: "roll-back",
      failedSlot: target.slot,
      observedAt: signal.at,
      reason: signal.reason,
      at: new Date(now()).toISOString(),
      by: signal.alarmName,
    };
    let flipped: SlotWeights | undefined;
    let flipMs = 0;
    let attempted: ReleaseState | undefined;
    let decidedFrom: ReleaseState | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempted && isDeepStrictEqual(state, attempted)) {
        // Our own write landed but its response was lost (and the SDK retry then conflicted).
        break;
      }
      const t = applyEvent(state, event);
      if (t.kind !== "applied") {
        if (flipped && !isDeepStrictEqual(flipped, state.weights)) {
          // We flipped, then lost the race to a writer whose state says otherwise: put traffic
          // back where the recorded state has it, so program, Lambda and rule agree.
          await deps.traffic.setWeights(state.routing, state.weights);
          logger.warn("lost a race after flipping; restored the recorded weights", { weights: state.weights, reason: t.reason });
          count("RestoredFlips", target.service);
          return { ...base, outcome: Outcome.Ignored, reason: `${t.reason}; restored the recorded weights`, weights: state.weights };
        }
        logger.info("no rollback", { reason: t.reason, revision: state.revision });
        count(flipped ? "DuplicateEvents" : "IgnoredEvents", target.service);
        return { ...base, outcome: flipped ? Outcome.Duplicate : Outcome.Ignored, reason: t.reason, weights: state.weights };
      }
      if (!flipped || !isDeepStrictEqual(flipped, t.state.weights)) {
        const to = t.state.stable;
        const healthy = await deps.traffic.healthyTargets(state.routing.targetGroupArns[to.slot]);
        if (healthy === 0 && !manual?.force) {
          const why = `the rollback target ${to.version} (${to.slot}) has no healthy targets; flipping would send all traffic nowhere`;
          if (manual) return { ...base, outcome: Outcome.Refused, reason: `${why} (use --force to flip anyway)` };
          return escalate(signal, target, why);
        }
        await deps.traffic.setWeights(state.routing, t.state.weights);
        flipped = t.state.weights;
        flipMs = Math.round((performance.now() - started) * 100) / 100;
        logger.info("flipped", { weights: flipped, flipMs, healthyTargets: healthy });
      }
      attempted = t.state;
      decidedFrom = state;
      try {
        await deps.store.commit(state.revision, t.state, t.entry);
        break;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        logger.warn("release state changed while rolling back; re-deciding", { attempt });
        const fresh = await deps.store.get(target.service);
        if (!fresh) throw new Error(`release state of ${target.service} disappeared while rolling back`);
        state = fresh;
      }
      if (attempt === MAX_ATTEMPTS) throw new Error(`release state of ${target.service} kept changing; gave up after ${MAX_ATTEMPTS} attempts`);
    }
    if (!decidedFrom || !attempted) throw new Error("internal: rollback loop ended without a decision");
    const before = decidedFrom;
    const after = attempted;
    const m = metrics.singleMetric();
    m.addDimension("Service", target.service);
    m.addMetric("FlipLatency", MetricUnit.Milliseconds, flipMs);
    count("Rollbacks", target.service);
    logger.info("rolled back", { from: before.candidate, to: after.stable, revision: after.revision });
    await notifyRolledBack(signal, before, after, flipMs);
    return { ...base, outcome: Outcome.RolledBack, reason: after.lastRollback?.reason ?? signal.reason, flipMs, weights: after.weights };
  }

  async function handleSignal(signal: AlarmSignal, started: number): Promise<SignalResult> {
    if (signal.state !== AlarmState.Alarm) {
      count("IgnoredEvents");
      return { outcome: Outcome.Ignored, alarm: signal.alarmName, reason: `alarm is ${signal.state}; only ALARM rolls back` };
    }
    const target = parseAlarmName(deps.alarmPrefix, signal.alarmName);
    if (!target) {
      logger.warn("alarm is not one of this stack's rollback alarms", { expected: `${deps.alarmPrefix}/<service>/<slot>/<kind>` });
      count("IgnoredEvents");
      return { outcome: Outcome.Ignored, alarm: signal.alarmName, reason: `not a rollback alarm of ${deps.alarmPrefix}` };
    }
    logger.appendKeys({ targetService: target.service, slot: target.slot });
    try {
      return await rollBack(signal, target, started);
    } finally {
      logger.removeKeys(["targetService", "slot"]);
    }
  }

  /**
   * An operator's rollback (`remedy rollback`): the same decision and flip as an alarm's, with
   * the operator as `by`. `force` flips even to a target with no healthy targets, and says so in
   * the recorded reason.
   */
  async function manual(req: { service: string; reason: string; by: string; force?: boolean }): Promise<SignalResult> {
    const started = performance.now();
    const state = await deps.store.get(req.service);
    if (!state) return { outcome: Outcome.Refused, service: req.service, reason: `no release state for ${req.service}` };
    if (state.phase !== Phase.Releasing || !state.candidate || state.weights[state.candidate.slot] === 0) {
      return { outcome: Outcome.Refused, service: req.service, reason: `nothing to roll back: ${req.service} is ${state.phase}, ${state.stable.version} (${state.stable.slot}) serves all traffic` };
    }
    let reason = req.reason;
    if (req.force) {
      const healthy = await deps.traffic.healthyTargets(state.routing.targetGroupArns[state.stable.slot]);
      if (healthy === 0) reason = `${reason} [forced: ${state.stable.version} (${state.stable.slot}) had no healthy targets]`;
    }
    const signal: AlarmSignal = { shape: EventShape.Operator, alarmName: req.by, state: AlarmState.Alarm, reason, at: new Date(now()).toISOString() };
    return rollBack(signal, { service: req.service, slot: state.candidate.slot }, started, { force: req.force ?? false });
  }

  async function handler(event: unknown, context?: Context): Promise<RollbackResult> {
    const started = performance.now(); // monotonic, sub-millisecond: flip latency
    if (context) logger.addContext(context);
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

  return Object.assign(handler, { manual });
}

/** Service and slot a rollback is about. */
interface Target {
  readonly service: string;
  readonly slot: Slot;
}
