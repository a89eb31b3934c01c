import type { LaneKey } from "../../core/naming";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type AlarmDefinition, type AnyAlarmKind, MAX_ALARM_DESCRIPTION_LENGTH, laneAlarms, checkAlarmPrefix, fillPlaceholders, loadBalancerDimension, rollbackHint, slotAlarms, slotPlaceholders, targetGroupDimension } from "../../core/alarms";
import type { AlarmsSpec } from "../../core/config";
import { SLOTS, otherSlot, type Slot } from "../../core/slots";

export interface AutoRollbackArgs {
  /** The service name (a DNS label); part of every alarm name. Required. */
  readonly service: string;
  /** Slots that run a workload; each gets the three alarms. Required, at least one. */
  readonly slots: readonly Slot[];
  /**
   * Thresholds and windows, defaults applied (`ServiceSpec.alarms` from core/config), with the
   * relative and custom alarms. Required.
   */
  readonly alarms: AlarmsSpec;
  /**
   * The version each slot runs: the `{version}` placeholder of custom alarm dimensions (a
   * release then updates the candidate slot's custom alarms in place). Required for a slot
   * whose custom alarms use `{version}`.
   */
  readonly versions?: Readonly<Partial<Record<Slot, string>>>;
  /** Must equal the RollbackFunction's `alarmNamePrefix`, or the function ignores these alarms. */
  readonly alarmNamePrefix: string;
  /** The ALB listener the service's rule is on (its ARN gives the `LoadBalancer` dimension). */
  readonly listenerArn: pulumi.Input<string>;
  /** Target group ARN per slot (BlueGreenService `targetGroupArns`). */
  readonly targetGroupArns: pulumi.Input<Record<Slot, string>>;
  /**
   * The service's weighted listener rule: with it each alarm's description carries the rule and
   * the other slot's target group, which lets the rollback Lambda flip in two round trips instead
   * of three. Default: no hint (the Lambda reads them after the release state).
   */
  readonly ruleArn?: pulumi.Input<string>;
  /** The stack's rollback Lambda, invoked as an alarm action. */
  readonly functionArn: pulumi.Input<string>;
  /** Topic for humans, notified on ALARM and OK. */
  readonly topicArn: pulumi.Input<string>;
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * The service's legacy lanes: each gets the built-in alarms on its own target group, paging
   * only, or during a lane hotfix (`rollsBack`) invoking the rollback function too.
   */
  readonly lanes?: readonly { readonly key: LaneKey; readonly targetGroupArn: pulumi.Input<string>; readonly rollsBack?: boolean }[];
}

/**
 * Per service: CloudWatch alarms on each slot's target group (5xx rate by metric math, p99
 * response time, unhealthy hosts, connection errors; optionally the candidate against the other
 * slot, and the service's own metrics) whose ALARM action invokes the stack's rollback Lambda
 * directly and notifies the topic; `page` alarms only notify. The Lambda acts only on the slot
 * that is the releasing candidate; an alarm on the stable slot pages humans and changes nothing.
 * Alarms exist on both slots so that promotions and rollbacks never have to re-create them.
 */
export class AutoRollback extends pulumi.ComponentResource {
  /** Alarm per slot and kind (built-in, relative `*-vs-stable`, `custom-<name>`). */
  public readonly alarms: Partial<Record<Slot, Partial<Record<AnyAlarmKind, aws.cloudwatch.MetricAlarm>>>>;
  public readonly alarmNames: pulumi.Output<string[]>;
  public readonly alarmArns: pulumi.Output<string[]>;

  constructor(name: string, args: AutoRollbackArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:rollback:AutoRollback", name, {}, opts);
    const prefixError = checkAlarmPrefix(args.alarmNamePrefix);
    if (prefixError) throw new pulumi.ResourceError(`\`alarmNamePrefix\`: ${prefixError}`, this);
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(args.service)) {
      throw new pulumi.ResourceError(`\`service\` must be a lowercase DNS label, got ${JSON.stringify(args.service)}`, this);
    }
    if (args.slots.length === 0 || args.slots.some((s) => !SLOTS.includes(s))) {
      throw new pulumi.ResourceError(`\`slots\` must list "blue" and/or "green", got ${JSON.stringify(args.slots)}`, this);
    }

    const loadBalancer = pulumi.output(args.listenerArn).apply(loadBalancerDimension);
    const tgs = pulumi.output(args.targetGroupArns);
    const tags = { "remedy:service": args.service, "remedy:component": "rollback", ...args.tags };
    this.alarms = {};
    const all: aws.cloudwatch.MetricAlarm[] = [];
    // The custom alarm, if any, whose dimensions name `{version}` (checked per slot below).
    const needsVersion = (args.alarms.custom ?? []).find((c) => (c.metric ? [c.metric] : Object.values(c.metrics ?? {})).some((m) => Object.values(m.dimensions).some((v) => v.includes("{version}"))));
    for (const slot of SLOTS.filter((s) => args.slots.includes(s))) {
      const version = args.versions?.[slot];
      if (needsVersion && version === undefined) {
        throw new pulumi.ResourceError(`custom alarm "${needsVersion.name}" uses {version}, but \`versions.${slot}\` is not given`, this);
      }
      const defs = slotAlarms<pulumi.Output<string>>({
        prefix: args.alarmNamePrefix,
        service: args.service,
        slot,
        loadBalancer,
        targetGroup: tgs.apply((t) => targetGroupDimension(t[slot])),
        otherTargetGroup: tgs.apply((t) => targetGroupDimension(t[otherSlot(slot)])),
        spec: args.alarms,
        fill: (template) =>
          pulumi.all([loadBalancer, tgs]).apply(([lb, t]) =>
            fillPlaceholders(template, slotPlaceholders({ service: args.service, slot, version: version ?? "", loadBalancer: lb, targetGroups: { blue: targetGroupDimension(t.blue), green: targetGroupDimension(t.green) } })),
          ),
      });
      const bySlot: Partial<Record<AnyAlarmKind, aws.cloudwatch.MetricAlarm>> = {};
      for (const d of defs) {
        // A `page` alarm never invokes the Lambda; on the candidate it still holds the driver.
        bySlot[d.kind] = metricAlarm(
          `${name}-${slot}-${d.kind}`,
          d,
          // The rollback target for the Lambda to read beside the release state (see rollbackHint).
          args.ruleArn && d.action === "rollback"
            ? pulumi.all([tgs, pulumi.output(args.ruleArn)]).apply(([t, rule]) => {
                const hinted = d.description + rollbackHint(t[otherSlot(slot)], rule);
                return hinted.length <= MAX_ALARM_DESCRIPTION_LENGTH ? hinted : d.description;
              })
            : d.description,
          d.action === "rollback" ? [args.functionArn, args.topicArn] : [args.topicArn],
          args.topicArn,
          { ...tags, "remedy:slot": slot },
          this,
        );
        all.push(bySlot[d.kind] as aws.cloudwatch.MetricAlarm);
      }
      this.alarms[slot] = bySlot;
    }
    // Legacy lanes (issue 37, 2): the built-in alarms on each lane's target group, paging, and
    // during a lane hotfix sending its callers back to the previous image.
    for (const lane of args.lanes ?? []) {
      const targetGroup = pulumi.output(lane.targetGroupArn).apply(targetGroupDimension);
      for (const d of laneAlarms<pulumi.Output<string>>({ prefix: args.alarmNamePrefix, service: args.service, lane: lane.key, loadBalancer, targetGroup, spec: args.alarms, rollsBack: lane.rollsBack ?? false })) {
        all.push(metricAlarm(`${name}-${lane.key}-${d.kind}`, d, d.description, d.action === "rollback" ? [args.functionArn, args.topicArn] : [args.topicArn], args.topicArn, { ...tags, "remedy:lane": lane.key }, this));
      }
    }
    this.alarmNames = pulumi.all(all.map((a) => a.name));
    this.alarmArns = pulumi.all(all.map((a) => a.arn));
    this.registerOutputs({ alarmNames: this.alarmNames, alarmArns: this.alarmArns });
  }
}

/** One CloudWatch alarm from its definition: a metric, or metric math. */
function metricAlarm(
  resourceName: string,
  d: AlarmDefinition<pulumi.Output<string>>,
  description: pulumi.Input<string>,
  alarmActions: pulumi.Input<string>[],
  topicArn: pulumi.Input<string>,
  tags: Record<string, string>,
  parent: pulumi.Resource,
): aws.cloudwatch.MetricAlarm {
  return new aws.cloudwatch.MetricAlarm(
    resourceName,
    {
      name: d.name,
      alarmDescription: description,
      comparisonOperator: d.comparisonOperator,
      threshold: d.threshold,
      evaluationPeriods: d.evaluationPeriods,
      datapointsToAlarm: d.datapointsToAlarm,
      treatMissingData: d.treatMissingData,
      ...(d.metric
        ? {
            namespace: d.metric.namespace,
            metricName: d.metric.metricName,
            dimensions: d.metric.dimensions,
            period: d.metric.period,
            statistic: d.metric.statistic,
            extendedStatistic: d.metric.extendedStatistic,
          }
        : {
            metricQueries: (d.metricQueries ?? []).map((q) => ({
              id: q.id,
              expression: q.expression,
              label: q.label,
              returnData: q.returnData,
              metric: q.metric && {
                namespace: q.metric.namespace,
                metricName: q.metric.metricName,
                stat: q.metric.stat,
                period: q.metric.period,
                dimensions: q.metric.dimensions,
              },
            })),
          }),
      alarmActions,
      okActions: [topicArn],
      tags,
    },
    { parent },
  );
}
