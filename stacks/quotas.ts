/**
 * Every AWS (and Kubernetes) limit a stack's config can exceed, counted from validated config
 * before any resource is registered, so `pulumi preview` refuses what AWS would refuse halfway
 * through `pulumi up`. Numbers are AWS's published defaults ("Quotas for your Application Load
 * Balancers", "IAM and AWS STS quotas", "Lambda quotas", "Amazon VPC quotas", CloudWatch and
 * DynamoDB/SNS policy limits); the adjustable ones take the account's raised value from
 * `remedy:quotas`.
 */
import { rollbackPolicy, topicPolicy } from "../components/rollback/rollbackFunction";
import { releaseDriverPolicy } from "../components/rollback/releaseDriver";
import { releaseTablePolicy } from "../components/rollback/tablePolicy";
import { IAM_INLINE_POLICY_MAX_CHARS } from "../components/rollback/lambdaParts";
import { driverEnvironment } from "../core/driverConfig";
import { MAX_LISTENER_CERTIFICATES } from "../components/delivery/sharedIngress";
import { alarmArnPattern, serviceAlarmKinds, serviceAlarmNames } from "../core/alarms";
import { parseCidr } from "../core/cidr";
import { DEFAULT_INGRESS_GROUP, type StackConfig } from "../core/config";
import * as defaults from "../core/defaults";
import { AWS_LB_NAME_MAX, BINDING_NAME_MAX, listenerRulePattern, slotObjectName, targetGroupBindingName, targetGroupName } from "../core/naming";
import { SLOTS } from "../core/slots";

/** One limit and how much of it the stack uses. */
export interface QuotaUse {
  /** AWS's name of the quota (or the limit's documented name). */
  readonly quota: string;
  readonly limit: number;
  readonly count: number;
  /** Where it applies: an ingress group, a role, a name. */
  readonly where: string;
  /** What to do when over it. */
  readonly fix: string;
}

export interface QuotaContext {
  /** `<project>-<stack>`: names the alarms, table and roles. */
  readonly alarmNamePrefix: string;
}

// Published values (defaults; "adjustable" ones can be raised through Service Quotas).
export const ALB_TARGET_GROUPS_MAX = 100; // per ALB, not adjustable
/** Legacy lanes among `services`: each takes one target group and one listener rule more (issue 37, 2). */
const lanes = (services: readonly { readonly legacy: readonly unknown[] }[]) => services.reduce((n, s) => n + s.legacy.length, 0);
/** A lane under a hotfix runs its previous image too, behind a second target group, at the same size. */
const laneSides = (l: { readonly hotfix?: unknown; readonly rollbackTo?: string }) => (l.hotfix !== undefined || l.rollbackTo !== undefined ? 2 : 1);
const laneTargetGroups = (services: readonly StackConfig["services"][number][]) => services.reduce((n, s) => n + s.legacy.reduce((m, l) => m + laneSides(l), 0), 0);

export const ALB_RULES_DEFAULT = 100; // per ALB, excluding default rules; adjustable
export const ALB_TARGETS_DEFAULT = 1000; // per ALB, each target counted per target group; adjustable
export const ALB_LISTENERS_MAX = 50;
export const ALB_PER_REGION_DEFAULT = 50; // adjustable
export const TARGET_GROUPS_PER_REGION_DEFAULT = 3000; // adjustable
export const TARGET_GROUPS_PER_ACTION_MAX = 5;
export const SG_INBOUND_RULES_DEFAULT = 60; // per security group, IPv4 and IPv6 counted apart; adjustable
export const LAMBDA_ENV_MAX_BYTES = 4096; // all keys and values together
export const ALARM_NAME_MAX = 255;
export const K8S_DNS_LABEL_MAX = 63; // a Service's name is a DNS-1035 label
export const DYNAMODB_RESOURCE_POLICY_MAX_BYTES = 20_480;
export const SNS_TOPIC_POLICY_MAX_BYTES = 30_720;

/** A representative ARN piece at its longest: region names reach 14 characters. */
const REGION = "ap-southeast-4";
const ACCOUNT = "123456789012";
/** Pulumi auto-names append a dash and 7 random characters. */
const AUTO = "-abcdefg";

/** Every limit the config reaches, with its use. */
export function quotaUsage(config: StackConfig, ctx: QuotaContext): QuotaUse[] {
  const out: QuotaUse[] = [];
  const q = config.quotas;
  const moveFix = "move services to another ingress group (ingress.groups.<name>, then services[].ingressGroup: <name>)";
  const groups = Object.entries(config.ingressGroups);
  for (const [group, ing] of groups) {
    const services = config.services.filter((s) => s.ingressGroup === group);
    const where = `ingress group ${group} (${services.length} service${services.length === 1 ? "" : "s"}${ing.mode === "existing" ? `, existing listener ${ing.listenerArn}` : ""})`;
    out.push({
      quota: "Target groups per Application Load Balancer (not adjustable)",
      limit: ALB_TARGET_GROUPS_MAX,
      count: services.length * SLOTS.length + laneTargetGroups(services),
      where,
      fix: `each service takes ${SLOTS.length} target groups (and one per legacy lane, two during a lane hotfix), so an ALB holds at most ${ALB_TARGET_GROUPS_MAX / SLOTS.length} services: ${moveFix}`,
    });
    out.push({
      quota: "Rules per Application Load Balancer (excluding default rules)",
      limit: q.rulesPerLoadBalancer ?? ALB_RULES_DEFAULT,
      count: services.length + services.filter((s) => s.testRoute !== undefined).length + lanes(services),
      where,
      fix: `each service takes a rule, one more with a testRoute and one per legacy lane: ${moveFix}, or have the quota raised (Service Quotas > Elastic Load Balancing) and set remedy:quotas.rulesPerLoadBalancer`,
    });
    // Each pod is a target (target type ip) of its slot's group; through a rollback window both
    // slots run at full size (the previous one warm), so a two-slot service counts both at the
    // larger slot's size.
    const targets = services.reduce((n, s) => {
      const sizes = SLOTS.flatMap((slot) => (s.slots[slot] ? [s.slots[slot].replicas] : []));
      return n + sizes.length * Math.max(0, ...sizes) + s.legacy.reduce((m, l) => m + laneSides(l) * l.replicas, 0);
    }, 0);
    out.push({
      quota: "Targets per Application Load Balancer",
      limit: q.targetsPerLoadBalancer ?? ALB_TARGETS_DEFAULT,
      count: targets,
      where: `${where}: every slot at full size, as through a rollback window`,
      fix: `fewer replicas, or ${moveFix}, or have the quota raised (Service Quotas > Elastic Load Balancing) and set remedy:quotas.targetsPerLoadBalancer`,
    });
    if (ing.mode === "create") {
      out.push({
        quota: "Certificates per Application Load Balancer (excluding default certificates)",
        limit: MAX_LISTENER_CERTIFICATES,
        count: ing.additionalCertificateArns.length,
        where,
        fix: `use wildcard or multi-domain certificates, or ${moveFix} with their certificates`,
      });
      out.push({ quota: "Listeners per Application Load Balancer", limit: ALB_LISTENERS_MAX, count: ing.certificateArn ? 2 : 1, where, fix: "-" });
      const ports = ing.certificateArn ? 2 : 1;
      for (const family of [4, 6] as const) {
        out.push({
          quota: `Inbound rules per security group (IPv${family})`,
          limit: q.securityGroupRules ?? SG_INBOUND_RULES_DEFAULT,
          count: ports * ing.allowedCidrs.filter((c) => parseCidr(c)?.family === family).length,
          where: `${where}: its ALB's security group (one rule per CIDR and listener port)`,
          fix: "allow fewer, wider CIDRs (or a managed prefix list) in allowedCidrs, or have the quota raised and set remedy:quotas.securityGroupRules",
        });
      }
      const albName = `${group === DEFAULT_INGRESS_GROUP ? "remedy" : `remedy-${group}`}${AUTO}`;
      out.push({ quota: "Load balancer name length", limit: AWS_LB_NAME_MAX, count: albName.length, where, fix: "use a shorter ingress group name" });
    }
  }
  out.push({
    quota: "Application Load Balancers per Region",
    limit: q.loadBalancersPerRegion ?? ALB_PER_REGION_DEFAULT,
    count: groups.filter(([, g]) => g.mode === "create").length,
    where: "this stack (other stacks' ALBs in the account count too)",
    fix: "use fewer ingress groups, or have the quota raised and set remedy:quotas.loadBalancersPerRegion",
  });
  out.push({
    quota: "Target groups per Region",
    limit: q.targetGroupsPerRegion ?? TARGET_GROUPS_PER_REGION_DEFAULT,
    count: config.services.length * SLOTS.length + laneTargetGroups(config.services),
    where: "this stack (other stacks' target groups in the account count too)",
    fix: "split the services over stacks in other regions or accounts, or have the quota raised and set remedy:quotas.targetGroupsPerRegion",
  });
  out.push({ quota: "Target groups per forward action", limit: TARGET_GROUPS_PER_ACTION_MAX, count: SLOTS.length, where: "every service's weighted rule", fix: "-" });
  // The AWS Load Balancer Controller opens each TargetGroupBinding's port from its ALB's security
  // group on the pods' (nodes') security group: one rule per (ALB security group, port).
  const sgPorts = new Set(config.services.map((s) => `${s.ingressGroup}:${s.port}`));
  out.push({
    quota: "Inbound rules per security group (the pods' security group)",
    limit: q.securityGroupRules ?? SG_INBOUND_RULES_DEFAULT,
    count: sgPorts.size,
    where: "the node/pod security group the AWS Load Balancer Controller adds rules to (one per ingress group and container port; other ALBs' rules count too)",
    fix: "use fewer distinct container ports per ingress group, or have the quota raised and set remedy:quotas.securityGroupRules",
  });
  let widest = 0;
  let widestService = "-";
  for (const s of config.services) {
    const n = s.routing.hosts.length + s.routing.paths.length;
    if (n > widest) [widest, widestService] = [n, s.name];
  }
  out.push({ quota: "Condition values per rule", limit: defaults.MAX_RULE_CONDITION_VALUES, count: widest, where: `service ${widestService}`, fix: "use wildcards or split the service" });

  // Names.
  const longest = (names: string[]) => names.reduce((a, b) => (b.length > a.length ? b : a), "");
  const tgNames = config.services.flatMap((s) => SLOTS.map((slot) => targetGroupName({ stack: "s", service: s.name, slot, port: s.port, protocol: "HTTP", targetType: "ip", vpcId: (config.ingressGroups[s.ingressGroup] ?? config.ingress).vpcId })));
  const tg = longest(tgNames);
  out.push({ quota: "Target group name length", limit: AWS_LB_NAME_MAX, count: tg.length, where: tg, fix: "-" });
  const alarm = longest(config.services.flatMap((s) => serviceAlarmNames(ctx.alarmNamePrefix, s.name, SLOTS, serviceAlarmKinds(s.alarms))));
  out.push({ quota: "CloudWatch alarm name length", limit: ALARM_NAME_MAX, count: alarm.length, where: alarm, fix: "use a shorter project/stack name or service name" });
  const k8sName = longest(config.services.flatMap((s) => SLOTS.map((slot) => slotObjectName(s.name, slot))));
  out.push({ quota: "Kubernetes Service name length (DNS-1035 label)", limit: K8S_DNS_LABEL_MAX, count: k8sName.length, where: k8sName, fix: "use a shorter service name" });
  const binding = longest(tgNames.map((t, i) => targetGroupBindingName(config.services[Math.floor(i / SLOTS.length)].name, SLOTS[i % SLOTS.length], t)));
  // The controller's readiness gate carries the binding's name as a qualified name's name part.
  out.push({ quota: "TargetGroupBinding name length (readiness gate target-health.elbv2.k8s.aws/<name>)", limit: BINDING_NAME_MAX, count: binding.length, where: binding, fix: "use a shorter service name" });

  // Policies and the driver's environment, with ARNs at their longest.
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  const alarms = alarmArnPattern(REGION, ACCOUNT, ctx.alarmNamePrefix);
  const table = arn("dynamodb", `table/${ctx.alarmNamePrefix}-releases`);
  const rollbackDoc = rollbackPolicy({
    rules: listenerRulePattern(REGION, ACCOUNT),
    scope: ctx.alarmNamePrefix,
    table,
    topic: arn("sns", `rollback-notifications${AUTO}`),
    dlq: arn("sqs", `rollback-dlq${AUTO}`),
    logs: arn("logs", `log-group:rollback${AUTO}`),
    alarms,
    topicKey: arn("kms", "key/00000000-0000-0000-0000-000000000000"),
  });
  const iamFix = "split the services over stacks";
  out.push({ quota: "IAM inline policy size per role (characters)", limit: IAM_INLINE_POLICY_MAX_CHARS, count: JSON.stringify(rollbackDoc).length, where: "the rollback Lambda's role", fix: iamFix });
  const progressive = config.services.filter((s) => s.strategy !== undefined);
  if (progressive.length > 0) {
    const hooks = [...new Set(progressive.flatMap((s) => (s.preTraffic?.check.kind === "lambda" ? [s.preTraffic.check.functionArn] : [])))];
    const driverDoc = releaseDriverPolicy({ rules: listenerRulePattern(REGION, ACCOUNT), scope: ctx.alarmNamePrefix, table, logs: arn("logs", `log-group:release-driver${AUTO}`), alarms, hooks, vpc: config.kubernetes.driverVpc !== undefined });
    out.push({
      quota: "IAM inline policy size per role (characters)",
      limit: IAM_INLINE_POLICY_MAX_CHARS,
      count: JSON.stringify(driverDoc).length,
      where: `the release driver's role (${hooks.length} pre-traffic hook function${hooks.length === 1 ? "" : "s"})`,
      fix: "share pre-traffic hook functions between services (one function can check many), or split the services over stacks",
    });
    const env = driverEnvironment({
      tableName: `${ctx.alarmNamePrefix}-releases`,
      alarmNamePrefix: ctx.alarmNamePrefix,
      // An EKS endpoint and a base64 CA bundle at their usual size (1,476 characters) with room.
      kube: config.kubernetes.driverAccess ? { endpoint: `https://${"0".repeat(32)}.gr7.${REGION}.eks.amazonaws.com`, certificateAuthorityData: "x".repeat(2_048), cluster: config.kubernetes.cluster } : undefined,
    });
    out.push({
      quota: "Lambda environment variables (bytes, all keys and values)",
      limit: LAMBDA_ENV_MAX_BYTES,
      count: Object.entries(env).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0),
      where: "the release driver (its service list ships in the code package, not the environment)",
      fix: "-",
    });
  }
  const roleArn = (n: string) => `arn:aws:iam::${ACCOUNT}:role/${n}${AUTO}`;
  const writers = [roleArn("rollback"), roleArn("release-driver"), roleArn("deployer"), ...config.rollback.deployerRoleArns, ...config.rollback.operatorRoleArns];
  out.push({
    quota: "DynamoDB resource-based policy size (bytes)",
    limit: DYNAMODB_RESOURCE_POLICY_MAX_BYTES,
    count: Buffer.byteLength(JSON.stringify(releaseTablePolicy(table, writers, [roleArn("deployer"), ...config.rollback.deployerRoleArns]))),
    where: `the release table's policy (${config.rollback.operatorRoleArns.length} operator and ${config.rollback.deployerRoleArns.length} deployer roles)`,
    fix: "name fewer, shared operator roles in rollback.operatorRoleArns and deployer roles in rollback.deployerRoleArns",
  });
  out.push({
    quota: "SNS topic policy size (bytes)",
    limit: SNS_TOPIC_POLICY_MAX_BYTES,
    count: Buffer.byteLength(JSON.stringify(topicPolicy({ topic: arn("sns", `rollback-notifications${AUTO}`), account: ACCOUNT, region: REGION, alarmNamePrefix: ctx.alarmNamePrefix, publishers: writers }))),
    where: "the notification topic's policy",
    fix: "name fewer, shared operator roles in rollback.operatorRoleArns",
  });
  return out;
}

/** The limits the stack exceeds. */
export function quotaProblems(config: StackConfig, ctx: QuotaContext): QuotaUse[] {
  return quotaUsage(config, ctx).filter((u) => u.count > u.limit);
}

/** The stack's config exceeds AWS quotas; lists each with its count and the fix. */
export class QuotaError extends Error {
  constructor(readonly problems: readonly QuotaUse[]) {
    super(
      `the stack exceeds AWS quotas (nothing was created):\n${problems.map((p) => `  - ${p.quota}: ${p.count} > ${p.limit} in ${p.where}; ${p.fix}`).join("\n")}`,
    );
    this.name = "QuotaError";
  }
}
