/**
 * The ALB side of a flip: the weighted-forward action of a service's listener rule, and the
 * health of a slot's target group.
 */
import {
  type Rule,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import type { Routing } from "../../core/releaseState";
import { SLOTS, type Slot } from "../../core/slots";
import type { SlotWeights } from "../../core/weights";
import { type LaneKey, isTargetGroupNameOf, previousSide, targetGroupNameOfArn } from "../../core/naming";
import { type LaneState, laneAnswersGone, laneForward } from "../../core/laneState";
import type { TokenBucket } from "./tokenBucket";

declare const checkedBrand: unique symbol;

/**
 * A record's routing, checked against its rule as ELB has it and against the stack's naming
 * ({@link routingProblem}): the only thing {@link Traffic.setWeights} moves a rule with, once.
 * Only {@link Traffic.checkRouting} makes one (the brand has no value outside this module, and
 * setWeights refuses any object it did not issue), so no caller can pass a record it read from
 * the table unchecked, however many times it re-reads one after a lost race.
 */
export interface CheckedRouting {
  readonly service: string;
  readonly routing: Routing;
  /** The rule it was checked against. */
  readonly live: LiveRule;
  readonly [checkedBrand]: true;
}

/** What {@link Traffic.checkRouting} found: a routing to move the rule with, or why not. */
export type RoutingCheck = { readonly ok: true; readonly checked: CheckedRouting; readonly live: LiveRule } | { readonly ok: false; readonly problem: string; readonly live: LiveRule };

/** Checks issued and not yet used (each moves a rule once). */
const issued = new WeakSet<object>();
/** DescribeTags' limit of resources a call. */
const ELB_TAGS_PER_DESCRIBE = 20;
/** Rules as a Traffic read them from ELB (a rule built from a record is not one). */
const readFromElb = new WeakSet<Rule>();

/** setWeights was given routing that checkRouting did not issue, or one already used. */
export class UncheckedRoutingError extends Error {
  constructor() {
    super("refusing to move a rule with routing that was not checked against the live rule (Traffic.checkRouting) for this move");
    this.name = "UncheckedRoutingError";
  }
}

export class Traffic {
  /**
   * @param describeRate when given, every Describe* call waits for a token first (the release
   *   driver's, below ELB's per-account Describe* bucket); the rollback path never waits.
   */
  constructor(
    private readonly elb: ElasticLoadBalancingV2Client,
    private readonly describeRate?: TokenBucket,
  ) {}

  /** Describe* calls made through this instance. */
  public describeCalls = 0;

  /** How long a Describe* call made now would wait for its token (0 without a rate). */
  describeWaitMs(): number {
    return this.describeRate?.msUntilToken() ?? 0;
  }

  private async describe<T>(send: () => Promise<T>): Promise<T> {
    this.describeCalls++;
    await this.describeRate?.take();
    return send();
  }

  /** Targets the load balancer currently reports `healthy` in a target group. */
  async healthyTargets(targetGroupArn: string): Promise<number> {
    return (await this.targetStates(targetGroupArn)).healthy;
  }

  /**
   * The target group's targets by health state: `healthy`; `transitioning`, registering (`initial`)
   * or deregistering (`draining`): a pod replaced by a node drain or a rollout, not one that fails
   * its checks; `unhealthy` (and `unavailable`/`unused`).
   */
  async targetStates(targetGroupArn: string): Promise<{ healthy: number; transitioning: number; unhealthy: number }> {
    const out = await this.describe(() => this.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })));
    const states = (out.TargetHealthDescriptions ?? []).map((d) => d.TargetHealth?.State);
    const healthy = states.filter((x) => x === "healthy").length;
    const transitioning = states.filter((x) => x === "initial" || x === "draining").length;
    return { healthy, transitioning, unhealthy: states.length - healthy - transitioning };
  }

  /**
   * Checks `routing` (a record's, or the program's) against its rule and the stack's naming, for
   * one {@link setWeights}. `rule`: the rule as a Traffic just read it (rulesByArn,
   * rulesOfListeners) to save a read; without it, the rule is read now.
   */
  async checkRouting(service: string, routing: Routing, rule?: Rule): Promise<RoutingCheck> {
    if (rule !== undefined && !readFromElb.has(rule)) throw new Error("checkRouting: the rule must be one read from ELB by a Traffic, not one built from a record");
    const r = rule ?? (await this.rulesByArn([routing.ruleArn])).get(routing.ruleArn);
    const live = liveRuleOf(routing, r);
    if (!r) return { ok: false, problem: `listener rule ${routing.ruleArn} of ${service} not found`, live };
    const problem = routingProblem(service, routing, live.targetGroupArns);
    if (problem) return { ok: false, problem, live };
    const checked = Object.freeze({ service, routing, live }) as CheckedRouting;
    issued.add(checked);
    return { ok: true, checked, live };
  }

  /**
   * Sets the rule's forward weights in one `ModifyRule` call (the flip): the only place that
   * moves a rule, and only with routing {@link checkRouting} issued for this move. Idempotent:
   * setting the same weights twice leaves the rule as it was. Keeps the rule's stickiness setting.
   * @throws UncheckedRoutingError for routing that was not checked, or whose check was used.
   */
  async setWeights(checked: CheckedRouting, weights: SlotWeights): Promise<void> {
    if (!issued.delete(checked)) throw new UncheckedRoutingError();
    const routing = checked.routing;
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

  /**
   * Puts a legacy lane's rule where its record says (issue 37): forward to the lane, or all to
   * the previous image after a lane rollback. Checked like a slot's routing: the live rule may
   * forward only to target groups `pulumi up` named for this service's lane and its previous
   * side, and the record's must be those. While the lane answers 410 (a brownout, or its
   * retirement at the sunset) the rule is the release driver's and left as it is. `in-place` when
   * nothing moved.
   */
  async setLaneForward(service: string, key: LaneKey, lane: LaneState, nowMs: number): Promise<"in-place" | "moved" | { readonly problem: string }> {
    if (laneAnswersGone(lane, nowMs)) return "in-place";
    const checked = await this.laneRule(service, key, lane);
    if ("problem" in checked) return checked;
    const want = laneForward(lane);
    const weightOf = (arn: string, of: readonly { targetGroupArn: string; weight: number }[]) => of.find((f) => f.targetGroupArn === arn)?.weight ?? 0;
    if (checked.live.length > 0 && want.every((w) => weightOf(w.targetGroupArn, checked.live) === w.weight)) return "in-place";
    await this.elb.send(new ModifyRuleCommand({ RuleArn: lane.ruleArn, Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: want.map((w) => ({ TargetGroupArn: w.targetGroupArn, Weight: w.weight })) } }] }));
    return "moved";
  }

  /**
   * A lane's brownout (issue 37, 7): its rule answers 410 Gone with `message` (ALB
   * fixed-response) instead of forwarding, checked first like {@link setLaneForward}.
   */
  async setLaneBrownout(service: string, key: LaneKey, lane: LaneState, message: string): Promise<"in-place" | "moved" | { readonly problem: string }> {
    const checked = await this.laneRule(service, key, lane);
    if ("problem" in checked) return checked;
    const fixed = checked.rule.Actions?.find((a) => a.Type === "fixed-response")?.FixedResponseConfig;
    if (fixed?.StatusCode === "410" && fixed.MessageBody === message) return "in-place";
    await this.elb.send(new ModifyRuleCommand({ RuleArn: lane.ruleArn, Actions: [{ Type: "fixed-response", FixedResponseConfig: { StatusCode: "410", ContentType: "text/plain", MessageBody: message } }] }));
    return "moved";
  }

  /** A lane's rule as ELB has it, if it and its record name only the lane's own target groups. */
  private async laneRule(service: string, key: LaneKey, lane: LaneState): Promise<{ rule: Rule; live: { targetGroupArn: string; weight: number }[] } | { problem: string }> {
    const rule = (await this.rulesByArn([lane.ruleArn])).get(lane.ruleArn);
    if (!rule) return { problem: `${service}'s legacy lane rule ${lane.ruleArn} not found` };
    // The lane's own group is named for the lane, its rollback target's for the previous side: a
    // record cannot swap them, nor name another service's or a slot's group.
    const named = (arn: string, side: ReturnType<typeof previousSide>) => isTargetGroupNameOf(service, side, targetGroupNameOfArn(arn) ?? "");
    const foreign = [{ arn: lane.targetGroupArn, side: key }, ...(lane.rollback ? [{ arn: lane.rollback.targetGroupArn, side: previousSide(key) }] : [])].find((g) => !named(g.arn, g.side));
    if (foreign) return { problem: `the record of ${service}'s legacy lane ${key} names ${foreign.arn}, not the target group pulumi up made for ${service}-${foreign.side}; not acting on it` };
    const forward = rule.Actions?.find((a) => a.Type === "forward");
    const live = forward?.ForwardConfig?.TargetGroups?.map((g) => ({ targetGroupArn: g.TargetGroupArn ?? "", weight: g.Weight ?? 0 })) ?? (forward?.TargetGroupArn ? [{ targetGroupArn: forward.TargetGroupArn, weight: 100 }] : []);
    const stray = live.find((f) => !laneForward(lane).some((w) => w.targetGroupArn === f.targetGroupArn));
    if (stray) return { problem: `${service}'s legacy lane rule forwards to ${stray.targetGroupArn}, which its record does not name; not moving a rule that differs from what pulumi up deployed` };
    return { rule, live };
  }

  /** The weights the rule forwards with now, read back from the load balancer. */
  async currentWeights(routing: Routing): Promise<SlotWeights> {
    return (await this.liveRule(routing)).weights;
  }

  /** The rule as the load balancer has it: its weights per slot, and every target group it forwards to. */
  async liveRule(routing: Routing): Promise<LiveRule> {
    return liveRuleOf(routing, (await this.rulesByArn([routing.ruleArn])).get(routing.ruleArn));
  }

  /**
   * Each rule's tags, by ARN: DescribeTags takes at most 20 resources a call ("DescribeTags",
   * Elastic Load Balancing API Reference), each call a Describe* token.
   */
  async ruleTags(ruleArns: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    const arns = [...new Set(ruleArns)];
    for (let i = 0; i < arns.length; i += ELB_TAGS_PER_DESCRIBE) {
      const page = await this.describe(() => this.elb.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + ELB_TAGS_PER_DESCRIBE) })));
      for (const d of page.TagDescriptions ?? []) {
        if (d.ResourceArn) out.set(d.ResourceArn, Object.fromEntries((d.Tags ?? []).flatMap((t) => (t.Key ? [[t.Key, t.Value ?? ""]] : []))));
      }
    }
    return out;
  }

  /** These rules as the load balancer has them, by ARN, in one DescribeRules call. */
  async rulesByArn(ruleArns: readonly string[]): Promise<Map<string, Rule>> {
    const out = await this.describe(() => this.elb.send(new DescribeRulesCommand({ RuleArns: [...ruleArns] })));
    for (const r of out.Rules ?? []) readFromElb.add(r);
    return new Map((out.Rules ?? []).flatMap((r) => (r.RuleArn ? [[r.RuleArn, r] as [string, Rule]] : [])));
  }

  /**
   * Every rule of these listeners, by rule ARN: one paged DescribeRules per listener (up to 400
   * rules a page) instead of one per service, so a tick over hundreds of services spends few of
   * ELB's Describe* tokens (40 a second per account and region, shared with everything else).
   */
  async rulesOfListeners(listenerArns: readonly string[]): Promise<Map<string, Rule>> {
    const out = new Map<string, Rule>();
    await Promise.all(
      [...new Set(listenerArns)].map(async (listener) => {
        let marker: string | undefined;
        do {
          const page = await this.describe(() => this.elb.send(new DescribeRulesCommand({ ListenerArn: listener, PageSize: 400, ...(marker ? { Marker: marker } : {}) })));
          for (const r of page.Rules ?? []) {
            readFromElb.add(r);
            if (r.RuleArn) out.set(r.RuleArn, r);
          }
          marker = page.NextMarker;
        } while (marker);
      }),
    );
    return out;
  }
}

/** What a weighted rule forwards: its weights per slot, and every target group it forwards to. */
export interface LiveRule {
  readonly weights: SlotWeights;
  readonly targetGroupArns: readonly string[];
  /** Every group the rule forwards to, with its weight. */
  readonly forwards: readonly { readonly targetGroupArn: string; readonly weight: number }[];
}

/**
 * The weight the live rule gives `service`'s `slot`, by the target groups' names as `pulumi up`
 * gives them (not by a record's ARNs): what decides that a slot gets no traffic.
 */
export function slotWeight(service: string, slot: Slot, live: LiveRule): number {
  return live.forwards.filter((f) => isTargetGroupNameOf(service, slot, targetGroupNameOfArn(f.targetGroupArn) ?? "")).reduce((sum, f) => sum + f.weight, 0);
}

/** The listener of a rule, from the rule's ARN (`listener-rule/app/<lb>/<id>/<listener>/<rule>`). */
export function listenerOfRule(ruleArn: string): string | undefined {
  const m = /^(arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:)listener-rule\/(app\/[^/]+\/[^/]+\/[^/]+)\/[^/]+$/.exec(ruleArn);
  return m ? `${m[1]}listener/${m[2]}` : undefined;
}

/** The weights and groups of `rule` (as DescribeRules returns it) for a service's routing. */
export function liveRuleOf(routing: Routing, rule: Rule | undefined): LiveRule {
  const groups = rule?.Actions?.find((a) => a.Type === "forward")?.ForwardConfig?.TargetGroups ?? [];
  const weights = { blue: 0, green: 0 } as Record<Slot, number>;
  for (const slot of SLOTS) {
    weights[slot] = groups.find((g) => g.TargetGroupArn === routing.targetGroupArns[slot])?.Weight ?? 0;
  }
  const forwards = groups.flatMap((g) => (g.TargetGroupArn ? [{ targetGroupArn: g.TargetGroupArn, weight: g.Weight ?? 0 }] : []));
  return { weights, targetGroupArns: forwards.map((f) => f.targetGroupArn), forwards };
}

/**
 * Why a release record's routing must not be acted on, or undefined when it may. The record is
 * only data in a table; what it names is checked against what only `pulumi up` can set: the rule
 * must forward to exactly the two target groups the record names (the Lambdas never change which
 * groups a rule forwards to, and may not), and each must carry the name `pulumi up` gives that
 * service's slot. A record pointing a rule at other groups, or one service's record at another
 * service's rule, is refused.
 */
export function routingProblem(service: string, routing: Routing, liveGroups: readonly string[]): string | undefined {
  const recorded = SLOTS.map((slot) => routing.targetGroupArns[slot]);
  const same = liveGroups.length === recorded.length && recorded.every((arn) => liveGroups.includes(arn));
  if (!same) {
    return `release state of ${service} names target groups ${recorded.join(", ")} but its rule ${routing.ruleArn} forwards to ${liveGroups.join(", ") || "nothing"}; not acting on a record that differs from what pulumi up deployed`;
  }
  for (const slot of SLOTS) {
    const name = targetGroupNameOfArn(routing.targetGroupArns[slot]);
    if (!name || !isTargetGroupNameOf(service, slot, name)) {
      return `release state of ${service} names ${routing.targetGroupArns[slot]} for ${slot}, not a target group pulumi up made for ${service}-${slot}; not acting on it`;
    }
  }
  return undefined;
}
