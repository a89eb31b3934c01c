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

/** CloudWatch's limit of names in one DescribeAlarms request. */
const DESCRIBE_ALARMS_MAX_NAMES = 100;

/**
 * Coalesces many services' "which of these alarms fire now" questions into few DescribeAlarms
 * calls. CloudWatch allows 9 DescribeAlarms per second per account and region by default (shared
 * with the rollback Lambda, which confirms every alarm event with one): a driver tick over 500
 * services asking once per service would be throttled for a minute. Here questions wait while a
 * call is in flight and go out together in the next one (up to 100 names each), at most one call
 * every `minIntervalMs`, so answers stay as fresh as one call's latency plus that interval.
 * Names stay exact (no prefix listing): the roles may describe only this stack's alarm ARNs.
 */
export class AlarmBatcher {
  private queue: { names: string[]; resolve: (firing: Set<string>) => void; reject: (err: unknown) => void }[] = [];
  private running = false;
  private lastStart = -Infinity;
  /** DescribeAlarms calls made, for tests and benches. */
  public calls = 0;

  constructor(
    private readonly cloudwatch: CloudWatchClient,
    private readonly prefix: string,
    private readonly minIntervalMs = 200,
  ) {}

  /** The names of the service's alarms on these slots that are in ALARM now. */
  async firing(service: string, slots: readonly Slot[]): Promise<string[]> {
    const names = slots.flatMap((slot) => ALARM_KINDS.map((kind) => alarmName(this.prefix, service, slot, kind)));
    const firing = await new Promise<Set<string>>((resolve, reject) => {
      this.queue.push({ names, resolve, reject });
      if (!this.running) void this.drain();
    });
    return names.filter((n) => firing.has(n));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const wait = this.lastStart + this.minIntervalMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // Take whole questions up to 100 names.
        const batch: typeof this.queue = [];
        let count = 0;
        while (this.queue.length > 0 && (batch.length === 0 || count + this.queue[0].names.length <= DESCRIBE_ALARMS_MAX_NAMES)) {
          const q = this.queue.shift() as (typeof this.queue)[number];
          count += q.names.length;
          batch.push(q);
        }
        this.lastStart = Date.now();
        this.calls++;
        try {
          const names = [...new Set(batch.flatMap((q) => q.names))];
          const out = await this.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ["MetricAlarm"], MaxRecords: DESCRIBE_ALARMS_MAX_NAMES }));
          const firing = new Set((out.MetricAlarms ?? []).filter((a) => a.StateValue === "ALARM").map((a) => a.AlarmName ?? "?"));
          for (const q of batch) q.resolve(firing);
        } catch (err) {
          for (const q of batch) q.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
