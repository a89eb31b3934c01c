/**
 * Requests an ALB sent to a slot's target group lately: what the release driver asks before it
 * retires a previous slot that target-group stickiness may still route clients to (see
 * `core/defaults.ts` STICKY_QUIET_MINUTES).
 */
import { type CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
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
