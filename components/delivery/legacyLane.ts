/**
 * A legacy lane's rule and what its pods are told (issue 37, 2 and 4); BlueGreenService builds
 * the lane's target group and workload the way it builds a slot's.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSpec } from "../../core/config";
import type { LegacyLaneSpec } from "../../core/config/legacyLane";
import type { LaneKey } from "../../core/naming";
import type { SlotWorkload } from "./blueGreenService";

/** A legacy lane's resources (issue 37, 2): its own target group, workload and rule. */
export interface LegacyLaneResources {
  readonly key: LaneKey;
  readonly spec: LegacyLaneSpec;
  readonly targetGroup: aws.lb.TargetGroup;
  readonly workload: SlotWorkload;
  readonly rule: aws.lb.ListenerRule;
  /** Its top callers from the service's logs (`callers`), when declared. */
  readonly callersRule?: aws.cloudwatch.ContributorInsightRule;
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
export function callersRule(name: string, parent: pulumi.Resource, service: string, lane: LegacyLaneSpec, key: string, tags: Record<string, string>): aws.cloudwatch.ContributorInsightRule | undefined {
  const c = lane.callers;
  if (!c) return undefined;
  return new aws.cloudwatch.ContributorInsightRule(
    `${name}-${key}-callers`,
    {
      ruleName: `${pulumi.getStack()}-${service}-${key}-callers`.slice(0, 128),
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
