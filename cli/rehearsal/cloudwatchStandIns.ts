/**
 * Two stand-ins for what moto cannot do, so the rehearsal can follow a service's own metric from
 * the pod to a rollback:
 *
 * - `publishEmf`: the CloudWatch agent's EMF input. It turns embedded-metric-format records (as
 *   aws-embedded-metrics writes them) into PutMetricData calls: per `CloudWatchMetrics`
 *   directive, per dimension set, each metric with its value(s), unit and StorageResolution, at
 *   the record's timestamp. Specification: "Embedded metric format specification" (CloudWatch
 *   User Guide, CloudWatch_Embedded_Metric_Format_Specification).
 * - `evaluateAlarm`: CloudWatch's evaluation of a single-metric alarm: the last
 *   `EvaluationPeriods` periods of its metric (GetMetricData, the alarm's exact dimensions and
 *   statistic), ALARM when at least `DatapointsToAlarm` breach, missing periods treated as the
 *   alarm's TreatMissingData says (notBreaching and ignore: not breaching here). moto stores
 *   alarms but never evaluates them; this sets the state with SetAlarmState, as tests do.
 *
 * - `MetricArchive`: another environment's CloudWatch (staging's, for a promotion): the datapoints
 *   and alarm changes it holds, answering GetMetricData (Sum, SampleCount, Average, Minimum,
 *   Maximum and percentiles `pNN`, per period from StartTime) and DescribeAlarmHistory as the API
 *   reference documents them. moto computes no percentiles and keeps no alarm history.
 *
 * None claims CloudWatch's timing: real evaluation runs about once per period after the data
 * arrives (see docs/benchmarks.md, bench/detection).
 */
import { type AlarmHistoryItem, CloudWatchClient, type ComparisonOperator, DescribeAlarmHistoryCommand, DescribeAlarmsCommand, GetMetricDataCommand, type MetricDatum, PutMetricDataCommand, SetAlarmStateCommand, type StandardUnit } from "@aws-sdk/client-cloudwatch";

interface EmfDirective {
  readonly Namespace: string;
  readonly Dimensions: readonly (readonly string[])[];
  readonly Metrics: readonly { readonly Name: string; readonly Unit?: string; readonly StorageResolution?: number }[];
}

/** The PutMetricData payloads of one EMF record (one per namespace); throws naming what is malformed. */
export function emfToMetricData(record: string): { namespace: string; data: MetricDatum[] }[] {
  const doc = JSON.parse(record) as Record<string, unknown> & { _aws?: { Timestamp?: number; CloudWatchMetrics?: EmfDirective[] } };
  const meta = doc._aws;
  if (!meta || typeof meta.Timestamp !== "number" || !Array.isArray(meta.CloudWatchMetrics)) throw new Error("not an EMF record: _aws.Timestamp and _aws.CloudWatchMetrics are required");
  const at = new Date(meta.Timestamp);
  return meta.CloudWatchMetrics.map((d) => ({
    namespace: d.Namespace,
    data: d.Dimensions.flatMap((set) => {
      const dimensions = set.map((name) => {
        const value = doc[name];
        if (typeof value !== "string") throw new Error(`EMF dimension ${name} has no string value in the record`);
        return { Name: name, Value: value };
      });
      return d.Metrics.map((m): MetricDatum => {
        const v = doc[m.Name];
        const values = Array.isArray(v) ? (v as number[]) : [v as number];
        if (values.some((x) => typeof x !== "number")) throw new Error(`EMF metric ${m.Name} has no numeric value in the record`);
        return {
          MetricName: m.Name,
          Dimensions: dimensions,
          Timestamp: at,
          ...(values.length === 1 ? { Value: values[0] } : { Values: values }),
          ...(m.Unit ? { Unit: m.Unit as StandardUnit } : {}),
          StorageResolution: m.StorageResolution === 1 ? 1 : 60,
        };
      });
    }),
  }));
}

/** Publishes EMF records as the CloudWatch agent would; returns the datapoints sent. */
export async function publishEmf(cw: CloudWatchClient, records: readonly string[]): Promise<number> {
  let sent = 0;
  for (const r of records) {
    for (const { namespace, data } of emfToMetricData(r)) {
      await cw.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data }));
      sent += data.length;
    }
  }
  return sent;
}

const BREACHES: Record<string, (v: number, t: number) => boolean> = {
  GreaterThanOrEqualToThreshold: (v, t) => v >= t,
  GreaterThanThreshold: (v, t) => v > t,
  LessThanOrEqualToThreshold: (v, t) => v <= t,
  LessThanThreshold: (v, t) => v < t,
};
const WORDS: Record<string, string> = {
  GreaterThanOrEqualToThreshold: "greater than or equal to",
  GreaterThanThreshold: "greater than",
  LessThanOrEqualToThreshold: "less than or equal to",
  LessThanThreshold: "less than",
};

export interface Evaluation {
  readonly state: "ALARM" | "OK";
  readonly reason: string;
  /** The evaluated periods' values, oldest first (`null`: no datapoint). */
  readonly values: readonly (number | null)[];
}

/** Evaluates a single-metric alarm over the periods ending at `now` and sets its state. */
export async function evaluateAlarm(cw: CloudWatchClient, alarmName: string, now: Date = new Date()): Promise<Evaluation> {
  const alarm = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }))).MetricAlarms?.[0];
  if (!alarm) throw new Error(`no alarm ${alarmName}`);
  const { Namespace, MetricName, Period, EvaluationPeriods, Threshold, ComparisonOperator: op } = alarm;
  if (!Namespace || !MetricName || !Period || !EvaluationPeriods || Threshold === undefined || !op) throw new Error(`${alarmName} is not a single-metric static-threshold alarm; this stand-in evaluates only those`);
  const stat = alarm.Statistic ?? alarm.ExtendedStatistic ?? "Sum";
  const end = Math.floor(now.getTime() / (Period * 1000)) * Period * 1000;
  const start = end - EvaluationPeriods * Period * 1000;
  const out = await cw.send(
    new GetMetricDataCommand({
      StartTime: new Date(start),
      EndTime: new Date(end),
      MetricDataQueries: [{ Id: "m", MetricStat: { Metric: { Namespace, MetricName, Dimensions: alarm.Dimensions }, Period, Stat: stat } }],
    }),
  );
  const r = out.MetricDataResults?.[0];
  const byTime = new Map((r?.Timestamps ?? []).map((t, i) => [new Date(t).getTime(), r?.Values?.[i] ?? 0]));
  const values = Array.from({ length: EvaluationPeriods }, (_, i) => byTime.get(start + i * Period * 1000) ?? null);
  const breaches = values.filter((v) => v !== null ? BREACHES[op as ComparisonOperator](v, Threshold) : alarm.TreatMissingData === "breaching").length;
  const needed = alarm.DatapointsToAlarm ?? EvaluationPeriods;
  const state = breaches >= needed ? "ALARM" : "OK";
  const shown = values.map((v) => (v === null ? "missing" : v.toFixed(1))).join(", ");
  const reason =
    state === "ALARM"
      ? `Threshold Crossed: ${breaches} out of the last ${EvaluationPeriods} datapoints [${shown}] were ${WORDS[op]} the threshold (${Threshold.toFixed(1)}) (minimum ${needed} datapoints for OK -> ALARM transition).`
      : `Threshold Crossed: ${breaches} out of the last ${EvaluationPeriods} datapoints [${shown}] were ${WORDS[op]} the threshold (${Threshold.toFixed(1)}) (minimum ${needed} datapoints for ALARM).`;
  await cw.send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: state, StateReason: reason }));
  return { state, reason, values };
}

/** One statistic over `values` (nearest-rank percentiles, as CloudWatch's pNN on raw datapoints). */
function statistic(stat: string, values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const p = /^p(\d+(?:\.\d+)?)$/.exec(stat);
  if (p) return sorted[Math.max(0, Math.ceil((Number(p[1]) / 100) * sorted.length) - 1)];
  const sum = sorted.reduce((a, b) => a + b, 0);
  const by: Record<string, number> = { Sum: sum, SampleCount: sorted.length, Average: sum / sorted.length, Minimum: sorted[0], Maximum: sorted[sorted.length - 1] };
  if (!(stat in by)) throw new Error(`the archive computes Sum, SampleCount, Average, Minimum, Maximum and pNN, not ${stat}`);
  return by[stat];
}

/** Another environment's CloudWatch, as the datapoints and alarm changes it holds (see the header). */
export class MetricArchive {
  private readonly points = new Map<string, { at: number; value: number }[]>();
  private readonly alarms: AlarmHistoryItem[] = [];

  private static key(namespace: string, name: string, dimensions: readonly { Name?: string; Value?: string }[]): string {
    return JSON.stringify([namespace, name, [...dimensions].map((d) => [d.Name, d.Value]).sort()]);
  }

  put(namespace: string, name: string, dimensions: readonly { Name: string; Value: string }[], at: Date, value: number): void {
    const key = MetricArchive.key(namespace, name, dimensions);
    const list = this.points.get(key) ?? [];
    list.push({ at: at.getTime(), value });
    this.points.set(key, list);
  }

  /** An alarm's change of state, as DescribeAlarmHistory reports it (HistoryData's newState). */
  alarmChanged(alarmName: string, at: Date, from: string, to: string, reason: string): void {
    this.alarms.push({ AlarmName: alarmName, AlarmType: "MetricAlarm", Timestamp: at, HistoryItemType: "StateUpdate", HistorySummary: `Alarm updated from ${from} to ${to}`, HistoryData: JSON.stringify({ version: "1.0", oldState: { stateValue: from }, newState: { stateValue: to, stateReason: reason } }) });
  }

  /** A CloudWatch client answering from the archive (a real client: the SDK's paginators take only one). */
  client(region: string): CloudWatchClient {
    const client = new CloudWatchClient({ region });
    client.send = ((c: unknown) => {
      if (c instanceof DescribeAlarmHistoryCommand) {
        const { StartDate, EndDate, HistoryItemType, AlarmName } = c.input;
        const items = this.alarms.filter((i) => (!AlarmName || i.AlarmName === AlarmName) && (!HistoryItemType || i.HistoryItemType === HistoryItemType) && (!StartDate || (i.Timestamp as Date) >= StartDate) && (!EndDate || (i.Timestamp as Date) <= EndDate));
        return Promise.resolve({ AlarmHistoryItems: [...items].sort((a, b) => (a.Timestamp as Date).getTime() - (b.Timestamp as Date).getTime()) });
      }
      if (c instanceof GetMetricDataCommand) {
        const start = (c.input.StartTime as Date).getTime();
        const end = (c.input.EndTime as Date).getTime();
        const results = (c.input.MetricDataQueries ?? []).map((q) => {
          const ms = q.MetricStat;
          if (!ms?.Metric?.Namespace || !ms.Metric.MetricName || !ms.Period || !ms.Stat) throw new Error(`query ${q.Id}: the archive answers MetricStat queries only`);
          const key = MetricArchive.key(ms.Metric.Namespace, ms.Metric.MetricName, ms.Metric.Dimensions ?? []);
          const period = ms.Period * 1000;
          const buckets = new Map<number, number[]>();
          for (const p of this.points.get(key) ?? []) {
            if (p.at < start || p.at >= end) continue;
            const b = start + Math.floor((p.at - start) / period) * period;
            const bucket = buckets.get(b) ?? [];
            bucket.push(p.value);
            buckets.set(b, bucket);
          }
          const times = [...buckets.keys()].sort((a, b) => b - a); // newest first, as TimestampDescending
          return { Id: q.Id, StatusCode: "Complete", Timestamps: times.map((t) => new Date(t)), Values: times.map((t) => statistic(ms.Stat as string, buckets.get(t) as number[])) };
        });
        return Promise.resolve({ MetricDataResults: results });
      }
      return Promise.reject(new Error(`the archive answers GetMetricData and DescribeAlarmHistory, not ${(c as { constructor: { name: string } }).constructor.name}`));
    }) as CloudWatchClient["send"];
    return client;
  }
}
