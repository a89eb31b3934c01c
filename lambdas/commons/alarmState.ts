/**
 * Which of a service's rollback alarms are in ALARM now, for the rollback handler and the release
 * driver. Exact names rather than a prefix: their roles may describe only this stack's alarm
 * ARNs, and IAM can match those only when the request names them.
 */
import { type CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { serviceAlarmNames } from "../../core/alarms";
import * as defaults from "../../core/defaults";
import type { Slot } from "../../core/slots";
import { Coalescer } from "./coalesce";
import { requestOptions } from "./sdk";

export async function alarmsInAlarm(cloudwatch: CloudWatchClient, prefix: string, service: string, slots: readonly Slot[], kinds?: readonly string[], abortSignal?: AbortSignal): Promise<string[]> {
  const names = serviceAlarmNames(prefix, service, slots, kinds);
  const out = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ["MetricAlarm"] }), requestOptions(abortSignal));
  return (out.MetricAlarms ?? []).filter((a) => a.StateValue === "ALARM").map((a) => a.AlarmName ?? "?");
}

/** An alarm as CloudWatch holds it now. */
export interface AlarmNow {
  readonly state: string;
  readonly reason: string;
  /** When it entered `state`, ISO-8601. */
  readonly since: string;
  /** What ALARM invokes (ARNs), as the alarm has them. */
  readonly actions: readonly string[];
}

/**
 * The alarm's state, reason and time as CloudWatch holds them (not as an event claims them);
 * undefined when no such metric alarm exists.
 */
export async function describeAlarm(cloudwatch: CloudWatchClient, name: string, abortSignal?: AbortSignal): Promise<AlarmNow | undefined> {
  const out = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ["MetricAlarm"] }), requestOptions(abortSignal));
  const a = out.MetricAlarms?.find((x) => x.AlarmName === name);
  if (!a) return undefined;
  return { state: a.StateValue ?? "?", reason: a.StateReason ?? "", since: (a.StateUpdatedTimestamp ?? new Date(0)).toISOString(), actions: a.AlarmActions ?? [] };
}

/** An AWS error that says "slow down" (CloudWatch's Query and JSON protocols name it differently). */
export function isThrottle(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return ["Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"].includes(e?.name ?? "") || e?.$metadata?.httpStatusCode === 429;
}

/** CloudWatch kept throttling the alarm's confirmation through the invocation's budget. */
export class ConfirmationThrottledError extends Error {
  constructor(alarm: string, waitedMs: number) {
    super(`CloudWatch throttled DescribeAlarms for ${Math.round(waitedMs / 1000)} s: ${alarm} could not be confirmed; humans were paged and Lambda retries the event`);
    this.name = "ConfirmationThrottledError";
  }
}

/**
 * {@link describeAlarm}, retried through throttling (CloudWatch allows about 9 DescribeAlarms a
 * second per account and region, shared with every reader) with jittered backoff while
 * `budgetMs()` allows, at most ROLLBACK_CONFIRM_MAX_MS in all; `{ throttledMs }` when it ran out.
 */
export async function describeAlarmThroughThrottling(
  cloudwatch: CloudWatchClient,
  name: string,
  o: { readonly budgetMs: () => number; readonly sleep: (ms: number) => Promise<void>; readonly onThrottle: () => void },
): Promise<AlarmNow | undefined | { throttledMs: number }> {
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await describeAlarm(cloudwatch, name);
    } catch (err) {
      if (!isThrottle(err)) throw err;
      o.onThrottle();
      const wait = Math.min(defaults.ROLLBACK_CONFIRM_BACKOFF_MAX_MS, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (wait >= Math.min(o.budgetMs(), defaults.ROLLBACK_CONFIRM_MAX_MS - waited)) return { throttledMs: waited };
      await o.sleep(wait);
      waited += wait;
    }
  }
}

/** CloudWatch's limit of names in one DescribeAlarms request. */
const DESCRIBE_ALARMS_MAX_NAMES = 100;

/**
 * Coalesces many services' "which of these alarms fire now" questions into few DescribeAlarms
 * calls. CloudWatch allows 9 DescribeAlarms per second per account and region by default (shared
 * with the rollback Lambda, which confirms every alarm event with one): a driver tick over 500
 * services asking once per service would be throttled for a minute. Names wait while a call is
 * in flight and go out together in the next (up to 100), at most 5 calls a second after a burst
 * of 5 (CloudWatch's other 4 a second stay for the rollback path). Names stay exact (no prefix
 * listing): the roles may describe only this stack's alarm ARNs.
 */
export class AlarmBatcher {
  private readonly states: Coalescer<string, string>;

  constructor(cloudwatch: CloudWatchClient, private readonly prefix: string, rate = { perSecond: 5, burst: 5 }) {
    this.states = new Coalescer(
      async (names) => {
        const out = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ["MetricAlarm"], MaxRecords: DESCRIBE_ALARMS_MAX_NAMES }));
        return new Map((out.MetricAlarms ?? []).map((a) => [a.AlarmName ?? "?", a.StateValue ?? "?"]));
      },
      { maxBatch: DESCRIBE_ALARMS_MAX_NAMES, rate },
    );
  }

  /** DescribeAlarms calls made, for tests and benches. */
  get calls(): number {
    return this.states.calls;
  }

  /**
   * The names of the service's alarms on these slots that are in ALARM now. `kinds`: the release
   * state's `routing.alarmKinds` (absent: the built-in four).
   */
  async firing(service: string, slots: readonly Slot[], kinds?: readonly string[]): Promise<string[]> {
    const names = serviceAlarmNames(this.prefix, service, slots, kinds);
    const states = await Promise.all(names.map((n) => this.states.get(n)));
    return names.filter((_, i) => states[i] === "ALARM");
  }
}
