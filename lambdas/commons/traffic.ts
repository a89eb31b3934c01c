/**
 * The ALB side of a flip: the weighted-forward action of a service's listener rule, and the
 * health of a slot's target group.
 */
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import type { Routing } from "../../core/releaseState";
import { SLOTS, type Slot } from "../../core/slots";
import type { SlotWeights } from "../../core/weights";

export class Traffic {
  constructor(private readonly elb: ElasticLoadBalancingV2Client) {}

  /** Targets the load balancer currently reports `healthy` in a target group. */
  async healthyTargets(targetGroupArn: string): Promise<number> {
    const out = await this.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
    return (out.TargetHealthDescriptions ?? []).filter((d) => d.TargetHealth?.State === "healthy").length;
  }

  /**
   * Sets the rule's forward weights in one `ModifyRule` call (the flip). Idempotent: setting the
   * same weights twice leaves the rule as it was. Keeps the rule's stickiness setting.
   */
  async setWeights(routing: Routing, weights: SlotWeights): Promise<void> {
    await this.elb.send(
      new ModifyRuleCommand({
        RuleArn: routing.ruleArn,
        Actions: [
          {
            Type: "forward",
            ForwardConfig: {
              TargetGroups: SLOTS.map((slot) => ({ TargetGroupArn: routing.targetGroupArns[slot], Weight: weights[slot] })),
              TargetGroupStickinessConfig:
                routing.stickinessSeconds > 0
                  ? { Enabled: true, DurationSeconds: routing.stickinessSeconds }
                  : { Enabled: false },
            },
          },
        ],
      }),
    );
  }

  /** The weights the rule forwards with now, read back from the load balancer. */
  async currentWeights(routing: Routing): Promise<SlotWeights> {
    const out = await this.elb.send(new DescribeRulesCommand({ RuleArns: [routing.ruleArn] }));
    const groups = out.Rules?.[0]?.Actions?.find((a) => a.Type === "forward")?.ForwardConfig?.TargetGroups ?? [];
    const weights = { blue: 0, green: 0 } as Record<Slot, number>;
    for (const slot of SLOTS) {
      weights[slot] = groups.find((g) => g.TargetGroupArn === routing.targetGroupArns[slot])?.Weight ?? 0;
    }
    return weights;
  }
}
