/**
 * Requests an ALB sent to a target group: lately, for a slot the release driver is about to
 * retire that target-group stickiness may still route clients to (see `core/defaults.ts`
 * STICKY_QUIET_MINUTES); per UTC day, for a legacy lane's evidence of who still calls it (issue
 * 37, 5).
 */
import { type CloudWatchClient, GetMetricDataCommand, type MetricDataQuery, paginateGetMetricData } from "@aws-sdk/client-cloudwatch";
import { loadBalancerDimension, targetGroupDimension } from "../../core/alarms";
import * as defaults from "../../core/defaults";
import type { ReleaseState } from "../../core/releaseState";
import type { Slot } from "../../core/slots";
import { listenerOfRule } from "./traffic";

/**
 * The sum of `AWS/ApplicationELB` `RequestCount` for the slot's target group on the rule's load
 * balancer over the STICKY_QUIET_MINUTES before `at` (1-minute periods); undefined when the rule's
 * ARN names no load balancer. Throws what CloudWatch throws.
 */
export async function requestsToSlot(cloudwatch: CloudWatchClient, state: ReleaseState, slot: Slot, at: number): Promise<number | undefined> {
  const listener = listenerOfRule(state.routing.ruleArn);
  if (!listener) return undefined;
  const out = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(at - defaults.STICKY_QUIET_MINUTES * 60_000),
      EndTime: new Date(at),
      MetricDataQueries: [
        {
          Id: "requests",
          MetricStat: {
            Metric: {
              Namespace: "AWS/ApplicationELB",
              MetricName: "RequestCount",
              Dimensions: [
                { Name: "TargetGroup", Value: targetGroupDimension(state.routing.targetGroupArns[slot]) },
                { Name: "LoadBalancer", Value: loadBalancerDimension(listener) },
              ],
            },
            Period: 60,
            Stat: "Sum",
          },
        },
      ],
    }),
  );
  return (out.MetricDataResults?.[0]?.Values ?? []).reduce((a, b) => a + b, 0);
}

/** A target group or rule ARN that names no CloudWatch dimension (not this kind of ARN). */
export class MetricDimensionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricDimensionError";
  }
}

/** A target group behind a rule: its ARN, and a rule on its load balancer (whose listener names it). */
export interface GroupOnRule {
  readonly targetGroupArn: string;
  readonly ruleArn: string;
}

/**
 * Daily `RequestCount` sums per query id, by UTC day (YYYY-MM-DD), over [fromMs, toMs): one-day
 * periods from a UTC midnight, paged. A day with no datapoint is absent (ALB publishes a target
 * group's metrics only when it has requests). @throws MetricDimensionError for an ARN that names no dimension
 */
export async function dailyRequests(cloudwatch: CloudWatchClient, groups: Readonly<Record<string, GroupOnRule>>, fromMs: number, toMs: number): Promise<Map<string, Map<string, number>>> {
  const dimensions = (g: GroupOnRule) => {
    const listener = listenerOfRule(g.ruleArn);
    if (!listener) throw new MetricDimensionError(`not a listener rule ARN: ${g.ruleArn}`);
    try {
      return [{ Name: "TargetGroup", Value: targetGroupDimension(g.targetGroupArn) }, { Name: "LoadBalancer", Value: loadBalancerDimension(listener) }];
    } catch (err) {
      throw new MetricDimensionError((err as Error).message);
    }
  };
  const q: MetricDataQuery[] = Object.entries(groups).map(([id, g]) => ({
    Id: id,
    MetricStat: { Metric: { Namespace: "AWS/ApplicationELB", MetricName: "RequestCount", Dimensions: dimensions(g) }, Period: 86_400, Stat: "Sum" },
  }));
  const out = new Map<string, Map<string, number>>(Object.keys(groups).map((id) => [id, new Map()]));
  for await (const page of paginateGetMetricData({ client: cloudwatch }, { MetricDataQueries: q, StartTime: new Date(fromMs), EndTime: new Date(toMs) })) {
    for (const res of page.MetricDataResults ?? []) {
      const m = out.get(res.Id ?? "");
      (res.Timestamps ?? []).forEach((t, i) => {
        const day = new Date(t).toISOString().slice(0, 10);
        m?.set(day, (m.get(day) ?? 0) + (res.Values?.[i] ?? 0));
      });
    }
  }
  return out;
}
