/**
 * Rollback alarms: names (which the rollback Lambda parses back into service + slot, and which
 * scope its IAM and invoke permission), ALB metric dimensions, and the alarm definitions per slot.
 * Pure data; the AutoRollback component turns definitions into CloudWatch alarms.
 */
import type { AlarmsSpec } from "./config";
import { SLOTS, type Slot } from "./slots";

/** The three alarms each slot gets. Const object plus union type. */
export const AlarmKind = {
  ErrorRate: "error-rate",
  LatencyP99: "latency-p99",
  UnhealthyHosts: "unhealthy-hosts",
  /** The ALB could not connect to the slot's pods (TargetConnectionErrorCount). */
  ConnectionErrors: "connection-errors",
} as const;
export type AlarmKind = (typeof AlarmKind)[keyof typeof AlarmKind];

/** Every alarm kind, in the order the alarms of a slot are created. */
export const ALARM_KINDS: readonly AlarmKind[] = Object.values(AlarmKind);
const KINDS = ALARM_KINDS as readonly string[];

/** CloudWatch's limit on alarm names. */
export const MAX_ALARM_NAME_LENGTH = 255;

const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Checks an alarm name prefix (`<project>-<stack>`); it becomes part of ARNs and IAM patterns. */
export function checkAlarmPrefix(prefix: string): string | undefined {
  return PREFIX.test(prefix)
    ? undefined
    : `alarm name prefix ${JSON.stringify(prefix)} must be 1..100 characters of A-Z a-z 0-9 . _ -, starting alphanumeric`;
}

/** `<prefix>/<service>/<slot>/<kind>`, e.g. `remedy-prod/payments/green/error-rate`. */
export function alarmName(prefix: string, service: string, slot: Slot, kind: AlarmKind): string {
  return `${prefix}/${service}/${slot}/${kind}`;
}

/** IAM/ArnLike pattern matching every alarm of a stack (or of one service). */
/** Every rollback alarm name of a service's slots, kind by kind. */
export function serviceAlarmNames(prefix: string, service: string, slots: readonly Slot[]): string[] {
  return slots.flatMap((slot) => ALARM_KINDS.map((kind) => alarmName(prefix, service, slot, kind)));
}

export function alarmArnPattern(region: string, account: string, prefix: string, service?: string): string {
  return `arn:aws:cloudwatch:${region}:${account}:alarm:${prefix}/${service === undefined ? "" : `${service}/`}*`;
}

export interface ParsedAlarmName {
  readonly service: string;
  readonly slot: Slot;
  readonly kind: AlarmKind;
}

/** The service, slot and kind an alarm belongs to, or `undefined` if it is not one of this stack's. */
export function parseAlarmName(prefix: string, name: string): ParsedAlarmName | undefined {
  if (!name.startsWith(`${prefix}/`)) return undefined;
  const parts = name.slice(prefix.length + 1).split("/");
  if (parts.length !== 3) return undefined;
  const [service, slot, kind] = parts;
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(service)) return undefined;
  if (!(SLOTS as readonly string[]).includes(slot) || !KINDS.includes(kind)) return undefined;
  return { service, slot: slot as Slot, kind: kind as AlarmKind };
}

/**
 * The `LoadBalancer` metric dimension (`app/<name>/<id>`) from a load balancer or listener ARN.
 * Works for adopted listeners too, so no lookup of the load balancer is needed.
 */
export function loadBalancerDimension(arn: string): string {
  const m = /:loadbalancer\/(app\/[^/]+\/[^/]+)$/.exec(arn) ?? /:listener\/(app\/[^/]+\/[^/]+)\/[^/]+$/.exec(arn);
  if (!m) throw new Error(`not an Application Load Balancer or listener ARN: ${arn}`);
  return m[1];
}

/** The `TargetGroup` metric dimension (`targetgroup/<name>/<id>`) from a target group ARN. */
export function targetGroupDimension(arn: string): string {
  const m = /:(targetgroup\/[^/]+\/[^/]+)$/.exec(arn);
  if (!m) throw new Error(`not a target group ARN: ${arn}`);
  return m[1];
}

/** One metric of a metric-math alarm. */
export interface MetricQuery<D> {
  readonly id: string;
  readonly expression?: string;
  readonly label?: string;
  readonly returnData: boolean;
  readonly metric?: {
    readonly namespace: string;
    readonly metricName: string;
    readonly stat: string;
    readonly period: number;
    readonly dimensions: Readonly<Record<string, D>>;
  };
}

/** Everything a CloudWatch metric alarm needs but its actions. `D` is the dimension value type. */
export interface AlarmDefinition<D> {
  readonly kind: AlarmKind;
  readonly name: string;
  readonly description: string;
  readonly comparisonOperator: "GreaterThanOrEqualToThreshold";
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /**
   * Chosen per alarm: no requests means no 5xx and no latency evidence, and an empty target
   * group reports no unhealthy hosts, so missing data never breaches. A slot scaled to zero
   * after a rollback therefore goes quiet instead of alarming forever.
   */
  readonly treatMissingData: "notBreaching";
  /** Single-metric alarms. */
  readonly metric?: { readonly namespace: string; readonly metricName: string; readonly dimensions: Readonly<Record<string, D>>; readonly period: number; readonly statistic?: string; readonly extendedStatistic?: string };
  /** Metric-math alarms. */
  readonly metricQueries?: readonly MetricQuery<D>[];
}

export interface SlotAlarmArgs<D> {
  readonly prefix: string;
  readonly service: string;
  readonly slot: Slot;
  /** `LoadBalancer` dimension, see {@link loadBalancerDimension}. */
  readonly loadBalancer: D;
  /** `TargetGroup` dimension, see {@link targetGroupDimension}. */
  readonly targetGroup: D;
  readonly spec: AlarmsSpec;
}

const ALB = "AWS/ApplicationELB";

/** The three rollback alarms of one slot. */
export function slotAlarms<D>(a: SlotAlarmArgs<D>): AlarmDefinition<D>[] {
  const dimensions = { LoadBalancer: a.loadBalancer, TargetGroup: a.targetGroup };
  const who = `${a.service} ${a.slot}`;
  const { errorRate: e, latencyP99: l, unhealthyHosts: u, connectionErrors: c } = a.spec;
  const metric = (id: string, metricName: string) => ({
    id,
    returnData: false,
    metric: { namespace: ALB, metricName, stat: "Sum", period: e.periodSeconds, dimensions },
  });
  return [
    {
      kind: AlarmKind.ErrorRate,
      name: alarmName(a.prefix, a.service, a.slot, AlarmKind.ErrorRate),
      description: `remedy: ${who} target 5xx rate >= ${e.thresholdPercent}% of requests (periods with fewer than ${e.minRequests} requests count as 0) in ${e.datapointsToAlarm} of ${e.evaluationPeriods} x ${e.periodSeconds}s; rolls the release back`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: e.thresholdPercent,
      evaluationPeriods: e.evaluationPeriods,
      datapointsToAlarm: e.datapointsToAlarm,
      treatMissingData: "notBreaching",
      metricQueries: [
        metric("errors", "HTTPCode_Target_5XX_Count"),
        metric("requests", "RequestCount"),
        {
          id: "rate",
          label: "5xx rate (%)",
          returnData: true,
          expression: `IF(FILL(requests, 0) >= ${e.minRequests}, 100 * FILL(errors, 0) / requests, 0)`,
        },
      ],
    },
    {
      kind: AlarmKind.LatencyP99,
      name: alarmName(a.prefix, a.service, a.slot, AlarmKind.LatencyP99),
      description: `remedy: ${who} p99 target response time >= ${l.thresholdSeconds}s in ${l.datapointsToAlarm} of ${l.evaluationPeriods} x ${l.periodSeconds}s; rolls the release back`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: l.thresholdSeconds,
      evaluationPeriods: l.evaluationPeriods,
      datapointsToAlarm: l.datapointsToAlarm,
      treatMissingData: "notBreaching",
      metric: { namespace: ALB, metricName: "TargetResponseTime", dimensions, period: l.periodSeconds, extendedStatistic: "p99" },
    },
    {
      kind: AlarmKind.UnhealthyHosts,
      name: alarmName(a.prefix, a.service, a.slot, AlarmKind.UnhealthyHosts),
      description: `remedy: ${who} unhealthy targets >= ${u.threshold} in ${u.datapointsToAlarm} of ${u.evaluationPeriods} x ${u.periodSeconds}s; rolls the release back`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: u.threshold,
      evaluationPeriods: u.evaluationPeriods,
      datapointsToAlarm: u.datapointsToAlarm,
      treatMissingData: "notBreaching",
      metric: { namespace: ALB, metricName: "UnHealthyHostCount", dimensions, period: u.periodSeconds, statistic: "Maximum" },
    },
    {
      kind: AlarmKind.ConnectionErrors,
      name: alarmName(a.prefix, a.service, a.slot, AlarmKind.ConnectionErrors),
      description: `remedy: ${who} ALB-to-pod connection errors >= ${c.threshold} per ${c.periodSeconds}s in ${c.datapointsToAlarm} of ${c.evaluationPeriods} periods (pods not listening, or gone); rolls the release back`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: c.threshold,
      evaluationPeriods: c.evaluationPeriods,
      datapointsToAlarm: c.datapointsToAlarm,
      treatMissingData: "notBreaching",
      metric: { namespace: ALB, metricName: "TargetConnectionErrorCount", dimensions, period: c.periodSeconds, statistic: "Sum" },
    },
  ];
}

/**
 * The load balancer's own 5xx (HTTPCode_ELB_5XX_Count: 502/503/504, e.g. an empty target group).
 * CloudWatch publishes it per load balancer only, so it cannot name the slot at fault: it pages
 * humans and never invokes the rollback Lambda (its name is not `<prefix>/<service>/...`).
 */
export function loadBalancerAlarm<D>(prefix: string, loadBalancer: D, threshold: number, group?: string): Omit<AlarmDefinition<D>, "kind"> {
  return {
    name: group === undefined ? `${prefix}-alb-elb-5xx` : `${prefix}-alb-${group}-elb-5xx`,
    description: `remedy: the shared ALB${group === undefined ? "" : ` of ingress group ${group}`} itself answered >= ${threshold} 5xx per minute in 2 of 3 minutes (no healthy or no registered targets, timeouts). Not per target group, so no automatic rollback: check \`remedy status\` and the target groups' health.`,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    threshold,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    treatMissingData: "notBreaching",
    metric: { namespace: ALB, metricName: "HTTPCode_ELB_5XX_Count", dimensions: { LoadBalancer: loadBalancer }, period: 60, statistic: "Sum" },
  };
}

/**
 * Deploy-time knowledge carried in each rollback alarm's description: the service's listener
 * rule and the target group of the slot a rollback from this alarm's slot goes to (the other
 * one). The rollback Lambda reads their state and health beside the release state instead of
 * after it, and uses what it read only if the release state names the same rule and group; the
 * event is not trusted for anything else.
 */
export function rollbackHint(targetGroupArn: string, ruleArn: string): string {
  return ` [remedy rollback target: ${targetGroupArn}; rule: ${ruleArn}]`;
}

const HINT = /\[remedy rollback target: (arn:[^\s;\]]+); rule: (arn:[^\s;\]]+)\]/;

/** The hint in an alarm description, if it carries one. */
export function parseRollbackHint(description: string | undefined | null): { readonly targetGroupArn: string; readonly ruleArn: string } | undefined {
  const m = description ? HINT.exec(description) : null;
  return m ? { targetGroupArn: m[1], ruleArn: m[2] } : undefined;
}

/** CloudWatch's limit on an alarm description. */
export const MAX_ALARM_DESCRIPTION_LENGTH = 1024;

