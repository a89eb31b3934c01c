/**
 * Which of a service's rollback alarms are in ALARM now, for the rollback handler and the release
 * driver. Exact names rather than a prefix: their roles may describe only this stack's alarm
 * ARNs, and IAM can match those only when the request names them.
 */
import { type CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { ALARM_KINDS, alarmName } from "../../core/alarms";
import type { Slot } from "../../core/slots";

export async function alarmsInAlarm(cloudwatch: CloudWatchClient, prefix: string, service: string, slots: readonly Slot[], abortSignal?: AbortSignal): Promise<string[]> {
  const names = slots.flatMap((slot) => ALARM_KINDS.map((kind) => alarmName(prefix, service, slot, kind)));
  const out = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ["MetricAlarm"] }), abortSignal ? { abortSignal } : {});
  return (out.MetricAlarms ?? []).filter((a) => a.StateValue === "ALARM").map((a) => a.AlarmName ?? "?");
}

/** An alarm as CloudWatch holds it now. */
export interface AlarmNow {
  readonly state: string;
  readonly reason: string;
  /** When it entered `state`, ISO-8601. */
  readonly since: string;
}

/**
 * The alarm's state, reason and time as CloudWatch holds them (not as an event claims them);
 * undefined when no such metric alarm exists.
 */
export async function describeAlarm(cloudwatch: CloudWatchClient, name: string, abortSignal?: AbortSignal): Promise<AlarmNow | undefined> {
  const out = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ["MetricAlarm"] }), abortSignal ? { abortSignal } : {});
  const a = out.MetricAlarms?.find((x) => x.AlarmName === name);
  if (!a) return undefined;
  return { state: a.StateValue ?? "?", reason: a.StateReason ?? "", since: (a.StateUpdatedTimestamp ?? new Date(0)).toISOString() };
}
