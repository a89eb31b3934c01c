/**
 * Rollback alarms: names (which the rollback Lambda parses back into service + slot, and which
 * scope its IAM and invoke permission), ALB metric dimensions, and the alarm definitions per slot.
 * Pure data; the AutoRollback component turns definitions into CloudWatch alarms.
 */
import type { AlarmsSpec, CustomAlarmSpec, CustomMetricSpec } from "./config";
import type { LaneKey } from "./naming";
import { SLOTS, otherSlot, type Slot } from "./slots";

/** The three alarms each slot gets. Const object plus union type. */
export const AlarmKind = {
  ErrorRate: "error-rate",
  LatencyP99: "latency-p99",
  UnhealthyHosts: "unhealthy-hosts",
  /** The ALB could not connect to the slot's pods (TargetConnectionErrorCount). */
  ConnectionErrors: "connection-errors",
} as const;
export type AlarmKind = (typeof AlarmKind)[keyof typeof AlarmKind];

/** Every built-in alarm kind, in the order the alarms of a slot are created. */
export const ALARM_KINDS: readonly AlarmKind[] = Object.values(AlarmKind);
const KINDS = ALARM_KINDS as readonly string[];

/** The candidate judged against the stable slot in the same period (`alarms.relative`). */
export const RelativeKind = {
  ErrorRateVsStable: "error-rate-vs-stable",
  LatencyVsStable: "latency-vs-stable",
} as const;
export type RelativeKind = (typeof RelativeKind)[keyof typeof RelativeKind];
const RELATIVE_KINDS = Object.values(RelativeKind) as readonly string[];

/** A service's own alarm (`alarms.custom[].name`), `custom-<name>` in the alarm name. */
export type CustomKind = `custom-${string}`;
export const customKind = (name: string): CustomKind => `custom-${name}`;
const CUSTOM_KIND = /^custom-[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Any alarm kind a slot can have. */
export type AnyAlarmKind = AlarmKind | RelativeKind | CustomKind;

/**
 * The alarm kinds each slot of a service gets: the built-in four, the relative ones configured,
 * then the custom ones, in creation order. `pulumi up` records the list in the release state
 * (`routing.alarmKinds`) when it differs from the built-in four, so the release driver, the
 * rollback Lambda and `remedy status` name exactly the alarms that exist.
 */
export function serviceAlarmKinds(spec: Pick<AlarmsSpec, "relative" | "custom">): AnyAlarmKind[] {
  return [
    ...ALARM_KINDS,
    ...(spec.relative?.errorRatePoints !== undefined ? [RelativeKind.ErrorRateVsStable] : []),
    ...(spec.relative?.latencyRatio !== undefined ? [RelativeKind.LatencyVsStable] : []),
    ...(spec.custom ?? []).map((c) => customKind(c.name)),
  ];
}


/** CloudWatch's limit on alarm names. */
export const MAX_ALARM_NAME_LENGTH = 255;

const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Checks an alarm name prefix (`<project>-<stack>`); it becomes part of ARNs and IAM patterns. */
export function checkAlarmPrefix(prefix: string): string | undefined {
  return PREFIX.test(prefix)
    ? undefined
    : `alarm name prefix ${JSON.stringify(prefix)} must be 1..100 characters of A-Z a-z 0-9 . _ -, starting alphanumeric`;
}

/** `{ alarmKinds }` for the release state's routing when it differs from the built-in four, else `{}`. */
export function recordedAlarmKinds(spec: Pick<AlarmsSpec, "relative" | "custom" | "customRevertsPromotion">): { alarmKinds?: readonly string[]; customRevertsPromotion?: true } {
  const kinds = serviceAlarmKinds(spec);
  return { ...(kinds.length === ALARM_KINDS.length ? {} : { alarmKinds: kinds }), ...(spec.customRevertsPromotion === true ? { customRevertsPromotion: true as const } : {}) };
}

/** `<prefix>/<service>/<slot>/<kind>`, e.g. `remedy-prod/payments/green/error-rate`. */
export function alarmName(prefix: string, service: string, slot: Slot | LaneKey, kind: AnyAlarmKind): string {
  return `${prefix}/${service}/${slot}/${kind}`;
}

/**
 * Every alarm name of a service's slots, kind by kind. `kinds` defaults to the built-in four
 * (what a release state recorded before `routing.alarmKinds` existed means).
 */
export function serviceAlarmNames(prefix: string, service: string, slots: readonly Slot[], kinds: readonly string[] = ALARM_KINDS): string[] {
  return slots.flatMap((slot) => kinds.map((kind) => alarmName(prefix, service, slot, kind as AnyAlarmKind)));
}

/** IAM/ArnLike pattern matching every alarm of a stack (or of one service). */
export function alarmArnPattern(region: string, account: string, prefix: string, service?: string): string {
  return `arn:aws:cloudwatch:${region}:${account}:alarm:${prefix}/${service === undefined ? "" : `${service}/`}*`;
}

export interface ParsedAlarmName {
  readonly service: string;
  readonly slot: Slot;
  readonly kind: AnyAlarmKind;
}

const isKind = (k: string): k is AnyAlarmKind => KINDS.includes(k) || RELATIVE_KINDS.includes(k) || CUSTOM_KIND.test(k);

/** The service, slot and kind an alarm belongs to, or `undefined` if it is not one of this stack's. */
export function parseAlarmName(prefix: string, name: string): ParsedAlarmName | undefined {
  if (!name.startsWith(`${prefix}/`)) return undefined;
  const parts = name.slice(prefix.length + 1).split("/");
  if (parts.length !== 3) return undefined;
  const [service, slot, kind] = parts;
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(service)) return undefined;
  if (!(SLOTS as readonly string[]).includes(slot) || !isKind(kind)) return undefined;
  return { service, slot: slot as Slot, kind };
}

/** The service and legacy lane a lane alarm belongs to (`<prefix>/<service>/legacy[N]/<kind>`), or undefined. */
export function parseLaneAlarmName(prefix: string, name: string): { service: string; lane: LaneKey; kind: AnyAlarmKind } | undefined {
  if (!name.startsWith(`${prefix}/`)) return undefined;
  const parts = name.slice(prefix.length + 1).split("/");
  if (parts.length !== 3) return undefined;
  const [service, lane, kind] = parts;
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(service) || !/^legacy([2-9]|[1-9][0-9]+)?$/.test(lane) || !isKind(kind)) return undefined;
  return { service, lane: lane as LaneKey, kind };
}

/**
 * How people see an alarm, the same in `history`, `status` and the history page (issue 36, 10):
 * `<slot>/<kind>`, a custom alarm by the name its config gives it (`custom-` only marks it in the
 * CloudWatch name). `byOrName` is an alarm name (`<prefix>/<service>/<slot>/<kind>`, as a release
 * record's `by` holds it) or `<slot>/<kind>`; anything else comes back as it is.
 */
export function alarmDisplayName(byOrName: string): string {
  const m = /^(?:[^/\s]+\/[^/\s]+\/)?(blue|green)\/([a-z0-9-]+)$/.exec(byOrName);
  return m ? `${m[1]}/${m[2].replace(/^custom-/, "")}` : byOrName;
}

/** Who made a change, as people see it: an alarm as `alarm <slot>/<kind>` ({@link alarmDisplayName}), anyone else as recorded. */
export function actorDisplayName(by: string): string {
  const shown = alarmDisplayName(by);
  return shown === by ? by : `alarm ${shown}`;
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

export type ComparisonOperator = "GreaterThanOrEqualToThreshold" | "GreaterThanThreshold" | "LessThanOrEqualToThreshold" | "LessThanThreshold";

/** `alarms.custom[].comparison` as CloudWatch names it. */
export const COMPARISON: Readonly<Record<CustomAlarmSpec["comparison"], ComparisonOperator>> = {
  ">=": "GreaterThanOrEqualToThreshold",
  ">": "GreaterThanThreshold",
  "<=": "LessThanOrEqualToThreshold",
  "<": "LessThanThreshold",
};

/** Everything a CloudWatch metric alarm needs but its actions. `D` is the dimension value type. */
export interface AlarmDefinition<D> {
  readonly kind: AnyAlarmKind;
  readonly name: string;
  readonly description: string;
  readonly comparisonOperator: ComparisonOperator;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /**
   * Built-in alarms: no requests means no 5xx and no latency evidence, and an empty target
   * group reports no unhealthy hosts, so missing data never breaches. A slot scaled to zero
   * after a rollback therefore goes quiet instead of alarming forever. Custom alarms choose.
   */
  readonly treatMissingData: CustomAlarmSpec["treatMissingData"];
  /**
   * `rollback`: ALARM invokes the rollback Lambda and pages; `page`: ALARM only pages (and, on
   * the candidate, holds the release driver like any firing alarm).
   */
  readonly action: "rollback" | "page";
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
  /** The other slot's `TargetGroup` dimension: the baseline of relative alarms. */
  readonly otherTargetGroup: D;
  readonly spec: AlarmsSpec;
  /**
   * A custom alarm's dimension value with its placeholders filled in for this slot (see
   * {@link fillPlaceholders}); only called when `spec.custom` is set.
   */
  readonly fill: (template: string) => D;
}

/** Values of the placeholders in a custom alarm's dimension values, for one slot. */
export type PlaceholderValues = Readonly<Record<"service" | "slot" | "version" | "targetGroup" | "loadBalancer" | "otherSlot" | "otherTargetGroup", string>>;

/**
 * The placeholder values of `slot`'s alarms: `loadBalancer` and `targetGroups` are metric
 * dimensions (see {@link loadBalancerDimension}, {@link targetGroupDimension}).
 */
export function slotPlaceholders(a: { service: string; slot: Slot; version: string; loadBalancer: string; targetGroups: Readonly<Record<Slot, string>> }): PlaceholderValues {
  const other = otherSlot(a.slot);
  return { service: a.service, slot: a.slot, version: a.version, targetGroup: a.targetGroups[a.slot], loadBalancer: a.loadBalancer, otherSlot: other, otherTargetGroup: a.targetGroups[other] };
}

/** `template` with each `{name}` replaced; an unknown placeholder is an error (config refuses it first). */
export function fillPlaceholders(template: string, values: PlaceholderValues): string {
  return template.replace(/\{([^{}]*)\}/g, (_, name: string) => {
    if (!Object.hasOwn(values, name)) throw new Error(`unknown placeholder {${name}} in ${JSON.stringify(template)}`);
    return values[name as keyof PlaceholderValues];
  });
}

const STANDARD_STATISTICS = new Set(["SampleCount", "Average", "Sum", "Minimum", "Maximum"]);

/** A number as it goes into a metric math expression (no float noise such as 2.9999999999). */
const num = (n: number) => String(Number(n.toFixed(6)));

const ALB = "AWS/ApplicationELB";

/** Every alarm of one slot: the built-in ones, the relative ones and the service's own. */
export function slotAlarms<D>(a: SlotAlarmArgs<D>): AlarmDefinition<D>[] {
  return [...builtInAlarms({ ...a, on: a.slot }), ...relativeAlarms(a), ...(a.spec.custom ?? []).map((x) => customAlarm(a, x))];
}

/**
 * A legacy lane's alarms (issue 37, 2): the built-in ones on its own target group. A lane is
 * frozen, so outside a lane hotfix there is nothing to go back to and they page only. During one
 * (`rollsBack`) they invoke the rollback function, which sends the lane's callers back to the
 * image it ran before (parseLaneAlarmName; never to a blue/green slot).
 */
export function laneAlarms<D>(a: Pick<SlotAlarmArgs<D>, "prefix" | "service" | "loadBalancer" | "targetGroup" | "spec"> & { readonly lane: LaneKey; readonly rollsBack?: boolean }): AlarmDefinition<D>[] {
  // The service's relative alarms compare its slots, not a lane: the lane's own alarms decide.
  const spec = { ...a.spec, relative: undefined };
  return a.rollsBack
    ? builtInAlarms({ ...a, spec, on: a.lane, rollbackText: "sends the lane's callers back to the image it ran before its hotfix" })
    : builtInAlarms({ ...a, spec, on: a.lane, pageOnly: "a legacy lane is frozen: fix it with a lane hotfix" });
}

/**
 * The four built-in alarms on one target group (a slot's or a lane's, `on`). Each rolls the
 * release back unless the service's relative alarms decide instead, or `pageOnly` says why it only
 * pages.
 */
function builtInAlarms<D>(a: Pick<SlotAlarmArgs<D>, "prefix" | "service" | "loadBalancer" | "targetGroup" | "spec"> & { readonly on: Slot | LaneKey; readonly pageOnly?: string; readonly rollbackText?: string }): AlarmDefinition<D>[] {
  const dimensions = { LoadBalancer: a.loadBalancer, TargetGroup: a.targetGroup };
  const who = `${a.service} ${a.on}`;
  const { errorRate: e, latencyP99: l, unhealthyHosts: u, connectionErrors: c } = a.spec;
  /** What the alarm does, and says it does: it pages instead when `decidedBy` (a relative alarm) rolls back. */
  const consequence = (decidedBy?: string): { readonly action: AlarmDefinition<D>["action"]; readonly text: string } =>
    a.pageOnly !== undefined ? { action: "page", text: `pages (${a.pageOnly})` } : decidedBy !== undefined ? { action: "page", text: `pages (${decidedBy} decides rollbacks)` } : { action: "rollback", text: a.rollbackText ?? "rolls the release back" };
  const metric = (id: string, metricName: string) => ({
    id,
    returnData: false,
    metric: { namespace: ALB, metricName, stat: "Sum", period: e.periodSeconds, dimensions },
  });
  const r = a.spec.relative;
  const onErrors = consequence(r?.errorRatePoints !== undefined ? "relative.errorRatePoints" : undefined);
  const onLatency = consequence(r?.latencyRatio !== undefined ? "relative.latencyRatio" : undefined);
  const always = consequence();
  return [
    {
      kind: AlarmKind.ErrorRate,
      name: alarmName(a.prefix, a.service, a.on, AlarmKind.ErrorRate),
      description: `remedy: ${who} target 5xx rate >= ${e.thresholdPercent}% of requests (periods with fewer than ${e.minRequests} requests count as 0) in ${e.datapointsToAlarm} of ${e.evaluationPeriods} x ${e.periodSeconds}s; ${onErrors.text}`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: e.thresholdPercent,
      evaluationPeriods: e.evaluationPeriods,
      datapointsToAlarm: e.datapointsToAlarm,
      treatMissingData: "notBreaching",
      action: onErrors.action,
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
      name: alarmName(a.prefix, a.service, a.on, AlarmKind.LatencyP99),
      description: `remedy: ${who} p99 target response time >= ${l.thresholdSeconds}s in ${l.datapointsToAlarm} of ${l.evaluationPeriods} x ${l.periodSeconds}s; ${onLatency.text}`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: l.thresholdSeconds,
      evaluationPeriods: l.evaluationPeriods,
      datapointsToAlarm: l.datapointsToAlarm,
      treatMissingData: "notBreaching",
      action: onLatency.action,
      metric: { namespace: ALB, metricName: "TargetResponseTime", dimensions, period: l.periodSeconds, extendedStatistic: "p99" },
    },
    {
      kind: AlarmKind.UnhealthyHosts,
      name: alarmName(a.prefix, a.service, a.on, AlarmKind.UnhealthyHosts),
      description: `remedy: ${who} unhealthy targets >= ${u.threshold} in ${u.datapointsToAlarm} of ${u.evaluationPeriods} x ${u.periodSeconds}s; ${always.text}`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: u.threshold,
      evaluationPeriods: u.evaluationPeriods,
      datapointsToAlarm: u.datapointsToAlarm,
      treatMissingData: "notBreaching",
      action: always.action,
      metric: { namespace: ALB, metricName: "UnHealthyHostCount", dimensions, period: u.periodSeconds, statistic: "Maximum" },
    },
    {
      kind: AlarmKind.ConnectionErrors,
      name: alarmName(a.prefix, a.service, a.on, AlarmKind.ConnectionErrors),
      description: `remedy: ${who} ALB-to-pod connection errors >= ${c.threshold} per ${c.periodSeconds}s in ${c.datapointsToAlarm} of ${c.evaluationPeriods} periods (pods not listening, or gone); ${always.text}`,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: c.threshold,
      evaluationPeriods: c.evaluationPeriods,
      datapointsToAlarm: c.datapointsToAlarm,
      treatMissingData: "notBreaching",
      action: always.action,
      metric: { namespace: ALB, metricName: "TargetConnectionErrorCount", dimensions, period: c.periodSeconds, statistic: "Sum" },
    },
  ];
}

/**
 * The candidate against the stable slot in the same period: metric math over both target groups.
 * Each slot's alarm compares it with the other slot, so whichever is the candidate is judged
 * against whichever serves as stable. A failure of something both slots share (a database, a
 * downstream API) raises both slots' rates alike and leaves the difference near 0: the
 * absolute alarms (then `page` only) page humans and the healthy release is not rolled back.
 *
 * Without a baseline (the other slot served fewer than `errorRate.minRequests` in the period,
 * e.g. the candidate at 100% during a bake), the expressions fall back to the absolute
 * thresholds: error rate >= `errorRate.thresholdPercent`, p99 >= `latencyP99.thresholdSeconds`.
 * Nested IFs rather than AND, which the metric math reference does not list for IF conditions.
 */
function relativeAlarms<D>(a: SlotAlarmArgs<D>): AlarmDefinition<D>[] {
  const r = a.spec.relative;
  if (!r) return [];
  const who = `${a.service} ${a.slot}`;
  const other = otherSlot(a.slot);
  const { errorRate: e, latencyP99: l } = a.spec;
  const mine = { LoadBalancer: a.loadBalancer, TargetGroup: a.targetGroup };
  const theirs = { LoadBalancer: a.loadBalancer, TargetGroup: a.otherTargetGroup };
  const q = (id: string, metricName: string, stat: string, period: number, dimensions: Readonly<Record<string, D>>): MetricQuery<D> => ({
    id,
    returnData: false,
    metric: { namespace: ALB, metricName, stat, period, dimensions },
  });
  const baseline = `FILL(sReq, 0) >= ${e.minRequests}`;
  /** What every relative alarm shares: its window, and that it rolls back. */
  const rollsBack = (threshold: number, w: { evaluationPeriods: number; datapointsToAlarm: number }) =>
    ({ comparisonOperator: "GreaterThanOrEqualToThreshold", threshold, evaluationPeriods: w.evaluationPeriods, datapointsToAlarm: w.datapointsToAlarm, treatMissingData: "notBreaching", action: "rollback" }) as const;
  const out: AlarmDefinition<D>[] = [];
  if (r.errorRatePoints !== undefined) {
    const rate = (errors: string, requests: string) => `IF(FILL(${requests}, 0) >= ${e.minRequests}, 100 * FILL(${errors}, 0) / ${requests}, 0)`;
    out.push({
      kind: RelativeKind.ErrorRateVsStable,
      name: alarmName(a.prefix, a.service, a.slot, RelativeKind.ErrorRateVsStable),
      description: `remedy: ${who} 5xx rate >= ${r.errorRatePoints} points above the ${other} slot's in the same ${e.periodSeconds}s period (${e.datapointsToAlarm} of ${e.evaluationPeriods}); with fewer than ${e.minRequests} requests on ${other}, >= ${e.thresholdPercent}% alone; rolls the release back`,
      ...rollsBack(r.errorRatePoints, e),
      metricQueries: [
        q("cErr", "HTTPCode_Target_5XX_Count", "Sum", e.periodSeconds, mine),
        q("cReq", "RequestCount", "Sum", e.periodSeconds, mine),
        q("sErr", "HTTPCode_Target_5XX_Count", "Sum", e.periodSeconds, theirs),
        q("sReq", "RequestCount", "Sum", e.periodSeconds, theirs),
        { id: "cRate", label: `${a.slot} 5xx rate (%)`, returnData: false, expression: rate("cErr", "cReq") },
        { id: "sRate", label: `${other} 5xx rate (%)`, returnData: false, expression: rate("sErr", "sReq") },
        {
          id: "excess",
          label: `${a.slot} 5xx rate above ${other} (points)`,
          returnData: true,
          expression: `IF(${baseline}, cRate - sRate, cRate - ${num(e.thresholdPercent - r.errorRatePoints)})`,
        },
      ],
    });
  }
  if (r.latencyRatio !== undefined) {
    const alone = `FILL(cP99, 0) * ${num(r.latencyRatio / l.thresholdSeconds)}`;
    out.push({
      kind: RelativeKind.LatencyVsStable,
      name: alarmName(a.prefix, a.service, a.slot, RelativeKind.LatencyVsStable),
      description: `remedy: ${who} p99 >= ${r.latencyRatio}x the ${other} slot's p99 (and >= ${r.latencyFloorSeconds}s) in the same ${l.periodSeconds}s period (${l.datapointsToAlarm} of ${l.evaluationPeriods}); with fewer than ${e.minRequests} requests on ${other}, >= ${l.thresholdSeconds}s alone; rolls the release back`,
      ...rollsBack(r.latencyRatio, l),
      metricQueries: [
        q("cP99", "TargetResponseTime", "p99", l.periodSeconds, mine),
        q("sP99", "TargetResponseTime", "p99", l.periodSeconds, theirs),
        q("sReq", "RequestCount", "Sum", l.periodSeconds, theirs),
        {
          id: "ratio",
          label: `${a.slot} p99 / ${other} p99`,
          returnData: true,
          expression: `IF(${baseline}, IF(FILL(sP99, 0) > 0, IF(FILL(cP99, 0) >= ${num(r.latencyFloorSeconds)}, FILL(cP99, 0) / FILL(sP99, 0), 0), ${alone}), ${alone})`,
        },
      ],
    });
  }
  return out;
}

/** One custom alarm for one slot, placeholders filled. */
function customAlarm<D>(a: SlotAlarmArgs<D>, c: CustomAlarmSpec): AlarmDefinition<D> {
  const kind = customKind(c.name);
  const dims = (m: CustomMetricSpec) => Object.fromEntries(Object.entries(m.dimensions).map(([k, v]) => [k, a.fill(v)]));
  const what = c.metric ? `${c.metric.namespace} ${c.metric.name} ${c.metric.statistic}` : (c.expression ?? "");
  const base = {
    kind,
    name: alarmName(a.prefix, a.service, a.slot, kind),
    description: `remedy: ${a.service} ${a.slot} custom alarm ${c.name}: ${c.description ? `${c.description}: ` : ""}${what} ${c.comparison} ${c.threshold} in ${c.datapointsToAlarm} of ${c.evaluationPeriods} x ${c.periodSeconds}s; ${c.action === "rollback" ? "rolls the release back" : "pages only"}`,
    comparisonOperator: COMPARISON[c.comparison],
    threshold: c.threshold,
    evaluationPeriods: c.evaluationPeriods,
    datapointsToAlarm: c.datapointsToAlarm,
    treatMissingData: c.treatMissingData,
    action: c.action,
  };
  if (c.metric) {
    const st = c.metric.statistic;
    return {
      ...base,
      metric: {
        namespace: c.metric.namespace,
        metricName: c.metric.name,
        dimensions: dims(c.metric),
        period: c.periodSeconds,
        ...(STANDARD_STATISTICS.has(st) ? { statistic: st } : { extendedStatistic: st }),
      },
    };
  }
  return {
    ...base,
    metricQueries: [
      ...Object.entries(c.metrics ?? {}).map(([id, m]) => ({
        id,
        returnData: false,
        metric: { namespace: m.namespace, metricName: m.name, stat: m.statistic, period: c.periodSeconds, dimensions: dims(m) },
      })),
      { id: "result", label: c.name, returnData: true, expression: c.expression ?? "" },
    ],
  };
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
    action: "page",
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
