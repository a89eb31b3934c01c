/**
 * A legacy lane's resources (issue 37, 2, 4 and 7): its target group and workload (built the way
 * a slot's are), during a lane hotfix the previous image's beside them, its rule, what its pods
 * tell callers, and who calls it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSpec } from "../../core/config";
import type { LegacyLaneSpec } from "../../core/config/legacyLane";
import { brownoutMessage } from "../../core/laneState";
import { DRIVER_RULE_TAG, type LaneKey, ROLLBACK_RULE_TAG, callersRuleName, laneKey, previousSide } from "../../core/naming";
import { type SchemaGateArgs, type SlotWorkload, createSlotWorkload, createTargetGroup } from "./blueGreenService";
import type { IngressAttachment } from "./sharedIngress";

/** A legacy lane's resources (issue 37, 2): its own target group, workload and rule. */
export interface LegacyLaneResources {
  readonly key: LaneKey;
  readonly spec: LegacyLaneSpec;
  readonly targetGroup: aws.lb.TargetGroup;
  readonly workload: SlotWorkload;
  readonly rule: aws.lb.ListenerRule;
  /** During a lane hotfix: the image the lane ran before, warm behind its own target group (`<lane>-prev`). */
  readonly previous?: { readonly targetGroup: aws.lb.TargetGroup; readonly workload: SlotWorkload };
  /** Its top callers from the service's logs (`callers`), when declared. */
  readonly callersRule?: aws.cloudwatch.ContributorInsightRule;
}

/** What release state says of a lane's rule: its callers went back to the previous image, or a 410 answers them. */
export interface LaneRuleState {
  readonly rolledBack: boolean;
  /** The rule answers 410 (a brownout, or the lane retired at its sunset). */
  readonly brownout: boolean;
  /** What the 410 says, as recorded; default the brownout's text. */
  readonly message?: string;
}

export interface LegacyLaneArgs {
  readonly ingress: IngressAttachment;
  readonly namespace: pulumi.Input<string>;
  readonly deployAfter: readonly pulumi.Resource[];
  readonly schemaGate?: SchemaGateArgs;
  readonly secretEnv: boolean;
  readonly tags: Record<string, string>;
  /** The tags that let this stack's Lambdas modify the lane's rule (a lane rollback, a brownout). */
  readonly ruleTags?: Readonly<Record<string, string>>;
  /** The release driver's tag value (the stack's alarm prefix), for a lane with brownouts to run. */
  readonly laneDriverTag?: string;
  /** Release state's word on the rule (default: forward to the lane). */
  readonly state?: pulumi.Input<LaneRuleState>;
}

/**
 * The `index`-th lane of `spec`: its target group, workload (slot-like, keyed `legacy`, so
 * nothing collides with blue/green), and rule, evaluated before the main one. During a lane
 * hotfix (`rollbackTo`), the image it ran before runs beside it as `legacy-prev` and the rule
 * forwards to both, weighted by release state: all to the lane, or all back after an alarm.
 */
export function createLegacyLane(name: string, self: pulumi.ComponentResource, spec: ServiceSpec, index: number, lane: LegacyLaneSpec, o: LegacyLaneArgs): LegacyLaneResources {
  const key = laneKey(index);
  const laneTags = { ...o.tags, "remedy:legacy-version": lane.version };
  const side = (at: LaneKey | ReturnType<typeof previousSide>, image: string) => {
    const targetGroup = createTargetGroup(name, self, spec, at, o.ingress.vpcId, laneTags);
    const workload = createSlotWorkload(name, self, spec, at, { image, version: lane.version, replicas: lane.replicas }, lane.replicas, o.namespace, targetGroup, o.ingress, o.deployAfter, o.schemaGate, undefined, undefined, o.secretEnv, deprecationEnv(lane));
    return { targetGroup, workload };
  };
  const { targetGroup, workload } = side(key, lane.image);
  const previous = lane.rollbackTo ? side(previousSide(key), lane.rollbackTo) : undefined;
  const state = pulumi.output(o.state ?? { rolledBack: false, brownout: false });
  const actions = pulumi.all([state, targetGroup.arn, previous?.targetGroup.arn]).apply(([s, arn, back]): aws.types.input.lb.ListenerRuleAction[] => {
    if (s.brownout) return [brownoutAction(spec.name, lane, s.message)];
    if (!back) return [{ type: "forward", targetGroupArn: arn }];
    return [{ type: "forward", forward: { targetGroups: [{ arn, weight: s.rolledBack ? 0 : 100 }, { arn: back, weight: s.rolledBack ? 100 : 0 }] } }];
  });
  const rule = new aws.lb.ListenerRule(
    `${name}-${key}`,
    {
      listenerArn: o.ingress.listenerArn,
      priority: lane.priority,
      conditions: laneConditions(spec, lane),
      actions,
      ...(lane.route.stripPrefix && lane.route.pathPrefix ? { transforms: [laneRewrite(lane.route.pathPrefix)] } : {}),
      // The rollback function may modify it (ABAC on the tag) only while it has somewhere to go back to.
      // and the release driver only when it has brownouts to run.
      tags: {
        ...laneTags,
        "remedy:rule": "legacy",
        ...(previous && o.ruleTags?.[ROLLBACK_RULE_TAG] ? { [ROLLBACK_RULE_TAG]: o.ruleTags[ROLLBACK_RULE_TAG] } : {}),
        ...(lane.brownouts.length > 0 && o.laneDriverTag ? { [DRIVER_RULE_TAG]: o.laneDriverTag } : {}),
      },
    },
    // Like the main rule: traffic moves only once what it goes to has rolled out.
    { parent: self, dependsOn: [...o.deployAfter, workload.deployment, ...(previous ? [previous.workload.deployment] : [])] },
  );
  const callers = callersRule(name, self, spec.name, lane, key, laneTags);
  return { key, spec: lane, targetGroup, workload, rule, ...(previous ? { previous } : {}), ...(callers ? { callersRule: callers } : {}) };
}

/** A brownout (issue 37, 7): the lane's rule answers 410 Gone, naming the sunset and the link, instead of forwarding. */
export function brownoutAction(service: string, lane: LegacyLaneSpec, message?: string): aws.types.input.lb.ListenerRuleAction {
  return { type: "fixed-response", fixedResponse: { statusCode: "410", contentType: "text/plain", messageBody: message ?? brownoutMessage(service, lane) } };
}

/**
 * What a lane's pods tell their callers (issue 37, 4). ALB cannot add response headers per rule,
 * so the service sends them (samples/deprecation-headers): `Deprecation` as an RFC 9745
 * structured date (`@<unix seconds>`), `Sunset` as an RFC 8594 HTTP-date, and a `Link` with
 * `rel="deprecation"` to where callers read how to move.
 */
export function deprecationEnv(lane: LegacyLaneSpec): Record<string, string> {
  return {
    REMEDY_DEPRECATION: `@${Math.floor(Date.parse(lane.deprecatedAt) / 1000)}`,
    REMEDY_SUNSET: new Date(lane.sunsetAt).toUTCString(),
    REMEDY_DEPRECATION_LINK: `<${lane.link}>; rel="deprecation"; type="text/html"`,
  };
}

/**
 * The lane rule's conditions: the service's hosts; its paths under the lane's prefix (or the
 * prefix alone when the service matches every path), or its own paths when the lane is reached
 * by a header; and the header.
 */
export function laneConditions(spec: ServiceSpec, lane: LegacyLaneSpec): aws.types.input.lb.ListenerRuleCondition[] {
  const prefix = lane.route.pathPrefix;
  const paths = prefix ? (spec.routing.paths.length > 0 ? spec.routing.paths.map((p) => `${prefix}${p}`) : [prefix, `${prefix}/*`]) : [...spec.routing.paths];
  return [
    ...(spec.routing.hosts.length > 0 ? [{ hostHeader: { values: [...spec.routing.hosts] } }] : []),
    ...(paths.length > 0 ? [{ pathPattern: { values: paths } }] : []),
    ...(lane.route.header ? [{ httpHeader: { httpHeaderName: lane.route.header.name, values: [...lane.route.header.values] } }] : []),
  ];
}

/** Strips the lane's path prefix before the old version sees the request (ALB `url-rewrite`; no lookarounds or backreferences there). */
export function laneRewrite(prefix: string): aws.types.input.lb.ListenerRuleTransform {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return { type: "url-rewrite", urlRewriteConfig: { rewrite: { regex: `^${escaped}(/.*)$`, replace: "$1" } } };
}

/**
 * Who still calls the lane, without a metric per client (issue 37, 5): a CloudWatch Contributor
 * Insights rule over the service's JSON logs, counting log lines by the client field, only the
 * lane version's when the logs say which version answered (docs.aws.amazon.com/AmazonCloudWatch/
 * latest/monitoring/ContributorInsights-RuleSyntax.html: Schema CloudWatchLogRule v1, Keys,
 * Filters with Match/In, AggregateOn Count). Undefined when the lane declares no `callers`.
 */
export function callersRule(name: string, parent: pulumi.Resource, service: string, lane: LegacyLaneSpec, key: LaneKey, tags: Record<string, string>): aws.cloudwatch.ContributorInsightRule | undefined {
  const c = lane.callers;
  if (!c) return undefined;
  return new aws.cloudwatch.ContributorInsightRule(
    `${name}-${key}-callers`,
    {
      ruleName: callersRuleName(`${pulumi.getProject()}-${pulumi.getStack()}`, service, key),
      ruleState: "ENABLED",
      ruleDefinition: JSON.stringify({
        Schema: { Name: "CloudWatchLogRule", Version: 1 },
        LogGroupNames: [c.logGroup],
        LogFormat: "JSON",
        Contribution: { Keys: [c.clientField], Filters: c.versionField ? [{ Match: c.versionField, In: [lane.version] }] : [] },
        AggregateOn: "Count",
      }),
      tags,
    },
    { parent },
  );
}
