import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DRIVER_RULE_TAG, listenerRulePattern, slotObjectName } from "../../core/naming";
import { SLOTS } from "../../core/slots";
import { checkAlarmPrefix } from "../../core/alarms";
import * as defaults from "../../core/defaults";
import { type DeployedCode, bundledFunction, checkedPolicy, logGroupAndRole, stackAlarms } from "./lambdaParts";
import { DRIVER_CONFIG_FILE, type DriverFileConfig, driverEnvironment } from "../../core/driverConfig";

export interface ReleaseDriverArgs {
  /** The stack's alarm prefix (`<project>-<stack>`), as the RollbackFunction's. Required. */
  readonly alarmNamePrefix: string;
  /** The release state table (RollbackFunction `tableName`) and its ARN. Required. */
  readonly tableName: pulumi.Input<string>;
  readonly tableArn: pulumi.Input<string>;
  /** The progressive services it drives (read by key each tick). Required; may be empty with `watchServices`. */
  readonly services: readonly string[];
  /**
   * Services with manual weights it only watches: while such a service's candidate takes traffic,
   * its target health is checked every few seconds and a candidate with none healthy is rolled
   * back through the rollback Lambda's code; never stepped. Their rules must carry the driver's
   * tag too. Default none.
   */
  readonly watchServices?: readonly string[];
  /**
   * Services with legacy lanes (issue 37): it runs their brownouts (the lane rule carries the
   * driver's tag only while it has some) and records each lane's requests once a day.
   */
  readonly laneServices?: readonly string[];
  /**
   * Listener rules of the progressive services. It may modify exactly the rules tagged
   * `remedy:release-driver: <alarmNamePrefix>` ({@link DRIVER_RULE_TAG}), so its policy does not
   * grow with the service count; these only order its policy after them. Default none.
   */
  readonly rules?: readonly pulumi.Resource[];
  /** Lambda pre-traffic hooks (`preTraffic.lambda.functionArn`): the only functions it may invoke. */
  readonly hookFunctionArns?: readonly string[];
  /**
   * The test routes' header values, by service, for HTTP pre-traffic checks: kept in a Secrets
   * Manager secret only the driver's role reads (release records keep a SHA-256), never in the
   * function's environment (`lambda:GetFunctionConfiguration` shows it). Default none.
   */
  readonly testRouteValues?: pulumi.Input<Record<string, string>>;
  /**
   * Lets the driver scale a promoted-away slot to 0 once its rollback window is over: an EKS
   * access entry maps its role to a Kubernetes group that may get only these services'
   * Deployments (`<service>-blue`/`-green`) and patch only their scale subresource. The cluster must
   * allow access entries (authentication mode API or API_AND_CONFIG_MAP). Absent: `pulumi up`
   * scales them down after the window instead.
   */
  readonly kubernetes?: {
    readonly provider: k8s.Provider;
    readonly cluster: string;
    readonly endpoint: pulumi.Input<string>;
    /** Base64 PEM, as `aws.eks.getCluster` reports it. */
    readonly certificateAuthorityData: pulumi.Input<string>;
    /** Service name -> its namespace. */
    readonly namespaces: Readonly<Record<string, string>>;
    /** Resources the RBAC objects wait for (the namespaces, when the stack creates them). */
    readonly dependsOn?: readonly pulumi.Resource[];
  };
  /**
   * Runs the driver in the VPC (subnets with a route to the AWS APIs it calls: a NAT gateway or
   * VPC endpoints for DynamoDB, ELB, CloudWatch, STS and Lambda), so it reaches a private EKS
   * endpoint and internal pre-traffic URLs. The security groups must be allowed to the cluster
   * endpoint (443) and to the internal ALB. Default: outside any VPC.
   */
  readonly vpc?: { readonly subnetIds: readonly string[]; readonly securityGroupIds: readonly string[] };
  /**
   * SNS topic paged when the driver's invocations fail or time out (its `Errors` metric), e.g. the
   * stack's rollback topic. Default: no alarm.
   */
  readonly alarmTopicArn?: pulumi.Input<string>;
  /**
   * Tell people as releases move (core/lifecycle.ts): the stack's topic (and its KMS key, which
   * publishing to an encrypted topic needs), the stack's name for the messages, and whether every
   * step is told (default false: starts, pauses, holds, promotions and scale-downs only). The
   * topic's policy must list this component's `role` as a publisher.
   */
  readonly notify?: { readonly topicArn: pulumi.Input<string>; readonly topicKeyArn: pulumi.Input<string>; readonly stack: string; readonly steps?: boolean };
  /** Minutes between ticks. Default {@link defaults.RELEASE_DRIVER_INTERVAL_MINUTES}. */
  readonly intervalMinutes?: number;
  /** Default {@link defaults.DEFAULT_LOG_RETENTION_DAYS}. */
  readonly logRetentionDays?: number;
  /** IAM permissions boundary (policy ARN) for the driver's role. Default: none. */
  readonly permissionsBoundaryArn?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The stack's release driver: a small Lambda (bundled from `lambdas/releaseDriver.ts`) invoked
 * on a schedule, with a role that may modify only the progressive services' rules, read and write
 * only the release table, and read only this stack's alarms.
 */
export class ReleaseDriver extends pulumi.ComponentResource {
  public readonly function: aws.lambda.Function;
  public readonly role: aws.iam.Role;
  public readonly policy: aws.iam.RolePolicy;
  public readonly schedule: aws.cloudwatch.EventRule;
  public readonly functionArn: pulumi.Output<string>;
  /** What the function should run (see {@link DeployedCode}). */
  public readonly code: pulumi.Output<DeployedCode>;
  /** Pages on the driver's failed or timed-out invocations (with `alarmTopicArn`). */
  public readonly errorsAlarm?: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: ReleaseDriverArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:rollback:ReleaseDriver", name, {}, opts);
    const prefixError = checkAlarmPrefix(args.alarmNamePrefix);
    if (prefixError) throw new pulumi.ResourceError(`\`alarmNamePrefix\`: ${prefixError}`, this);
    if (args.services.length === 0 && (args.watchServices ?? []).length === 0 && (args.laneServices ?? []).length === 0) {
      throw new pulumi.ResourceError("`services`: name at least one progressive service to drive (or one in `watchServices` to watch, or in `laneServices` whose legacy lanes to keep)", this);
    }
    const overlap = (args.watchServices ?? []).filter((s) => args.services.includes(s));
    if (overlap.length > 0) throw new pulumi.ResourceError(`\`watchServices\`: ${overlap.join(", ")} ${overlap.length === 1 ? "is" : "are"} already driven (\`services\`); name each service once`, this);
    const interval = args.intervalMinutes ?? defaults.RELEASE_DRIVER_INTERVAL_MINUTES;
    if (!Number.isInteger(interval) || interval < 1 || interval > 60) {
      throw new pulumi.ResourceError(`\`intervalMinutes\` must be an integer 1..60, got ${interval}`, this);
    }
    const parent = { parent: this };
    const tags = { "remedy:component": "release-driver", ...args.tags };
    const { pattern: alarms, region, accountId } = stackAlarms(args.alarmNamePrefix, this);
    const { logGroup, role } = logGroupAndRole(
      name,
      { retentionInDays: args.logRetentionDays ?? defaults.DEFAULT_LOG_RETENTION_DAYS, tags, permissionsBoundary: args.permissionsBoundaryArn },
      this,
    );
    this.role = role;
    const secret = args.testRouteValues === undefined ? undefined : new aws.secretsmanager.Secret(`${name}-test-routes`, { description: `remedy ${args.alarmNamePrefix}: the test routes' header values, read by the release driver`, recoveryWindowInDays: 7, tags }, parent);
    if (secret) {
      new aws.secretsmanager.SecretVersion(`${name}-test-routes`, { secretId: secret.id, secretString: pulumi.secret(pulumi.output(args.testRouteValues).apply((v) => JSON.stringify(v ?? {}))) }, parent);
    }
    this.policy = new aws.iam.RolePolicy(
      name,
      {
        role: this.role.id,
        policy: pulumi
          .all([pulumi.output(args.tableArn), logGroup.arn, alarms, region, accountId, pulumi.output(args.notify?.topicArn ?? ""), pulumi.output(args.notify?.topicKeyArn ?? ""), secret ? secret.arn : pulumi.output("")])
          .apply(([table, logs, alarmPattern, r, account, topic, topicKey, secretArn]) =>
            checkedPolicy(
              `${name} role policy`,
              releaseDriverPolicy({
                rules: listenerRulePattern(r, account),
                scope: args.alarmNamePrefix,
                table,
                logs,
                alarms: alarmPattern,
                hooks: [...(args.hookFunctionArns ?? [])],
                vpc: args.vpc !== undefined,
                ...(args.notify ? { notify: { topic, topicKey } } : {}),
                ...(secretArn ? { testRouteSecret: secretArn } : {}),
                lanes: (args.laneServices ?? []).length > 0,
              }),
            ),
          ),
      },
      { parent: this, dependsOn: [...(args.rules ?? [])] },
    );
    const kube = args.kubernetes;
    const bundled = bundledFunction(
      name,
      {
        entry: "releaseDriver",
        role: this.role,
        policy: this.policy,
        logGroup,
        memorySize: 256,
        timeout: defaults.DRIVER_TIMEOUT_SECONDS,
        variables: driverEnvironment<pulumi.Input<string>>({
          tableName: args.tableName,
          alarmNamePrefix: args.alarmNamePrefix,
          ...(args.notify ? { notify: { topicArn: args.notify.topicArn, stack: args.notify.stack, steps: args.notify.steps ?? false } } : {}),
          ...(kube ? { kube: { endpoint: kube.endpoint, certificateAuthorityData: kube.certificateAuthorityData, cluster: kube.cluster } } : {}),
          ...(secret ? { testRouteSecretArn: secret.arn } : {}),
        }),
        // The service list grows with the stack: in the code package, not the 4 KB environment.
        files: { [DRIVER_CONFIG_FILE]: JSON.stringify({ services: args.services, ...(args.watchServices?.length ? { watch: args.watchServices } : {}), ...(args.laneServices?.length ? { lanes: args.laneServices } : {}), ...(kube ? { namespaces: kube.namespaces } : {}) } satisfies DriverFileConfig) },
        description: `remedy release driver for ${args.alarmNamePrefix}: one progressive step per tick`,
        tags,
        // One tick at a time by the table's tick lease, not by a concurrency of 1 (which let a
        // loop of direct invokes throttle the schedule's ticks); the reservation only bounds what a
        // flood of invokes can take from the account. Steps stay safe under overlap anyway (each
        // is a conditional record, and the rule moves only if the record is still the newest).
        reservedConcurrentExecutions: defaults.DRIVER_RESERVED_CONCURRENCY,
        ...(args.vpc ? { vpc: args.vpc } : {}),
      },
      this,
    );
    this.function = bundled.fn;
    this.code = bundled.code;
    new aws.lambda.FunctionEventInvokeConfig(name, { functionName: this.function.name, maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 }, parent);
    if (args.alarmTopicArn !== undefined) {
      // A tick that fails (an AWS or cluster error in any service) or times out is an invocation
      // error; three failing minutes in five page the stack's topic. Not `<prefix>/...`: the
      // rollback Lambda never acts on it.
      this.errorsAlarm = new aws.cloudwatch.MetricAlarm(
        `${name}-errors`,
        {
          name: `${args.alarmNamePrefix}-release-driver-errors`,
          alarmDescription: `remedy release driver of ${args.alarmNamePrefix} fails or times out: progressive releases are not stepped, checked or retired. See its log group.`,
          namespace: "AWS/Lambda",
          metricName: "Errors",
          dimensions: { FunctionName: this.function.name },
          statistic: "Sum",
          period: 60,
          evaluationPeriods: 5,
          datapointsToAlarm: 3,
          threshold: 1,
          comparisonOperator: "GreaterThanOrEqualToThreshold",
          treatMissingData: "notBreaching",
          alarmActions: [args.alarmTopicArn],
          okActions: [args.alarmTopicArn],
          tags,
        },
        parent,
      );
    }
    this.schedule = new aws.cloudwatch.EventRule(name, { scheduleExpression: `rate(${interval} minute${interval === 1 ? "" : "s"})`, description: `remedy release driver tick (${args.alarmNamePrefix})`, tags }, parent);
    new aws.cloudwatch.EventTarget(name, { rule: this.schedule.name, arn: this.function.arn }, parent);
    new aws.lambda.Permission(`${name}-schedule`, { function: this.function.name, action: "lambda:InvokeFunction", principal: "events.amazonaws.com", sourceArn: this.schedule.arn }, parent);
    if (kube) {
      // The group is per stack: another stack's driver on the same cluster gets no grant here.
      const group = `${args.alarmNamePrefix}-release-driver`;
      const entry = new aws.eks.AccessEntry(name, { clusterName: kube.cluster, principalArn: this.role.arn, kubernetesGroups: [group], type: "STANDARD", tags }, parent);
      const byNamespace = new Map<string, string[]>();
      for (const [service, ns] of Object.entries(kube.namespaces)) {
        byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), ...SLOTS.map((slot) => slotObjectName(service, slot))]);
      }
      for (const [ns, deployments] of byNamespace) {
        const metadata = { name: group, namespace: ns, labels: { "app.kubernetes.io/managed-by": "remedy", "app.kubernetes.io/component": "release-driver" } };
        const role = new k8s.rbac.v1.Role(
          `${name}-${ns}`,
          {
            metadata,
            // Read the Deployments; change only their replica count (the scale subresource): whoever
            // holds this role cannot change an image, a command or a service account.
            rules: [
              { apiGroups: ["apps"], resources: ["deployments"], resourceNames: deployments.sort(), verbs: ["get"] },
              { apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: deployments.sort(), verbs: ["patch"] },
            ],
          },
          { parent: this, provider: kube.provider, dependsOn: [...(kube.dependsOn ?? [])] },
        );
        new k8s.rbac.v1.RoleBinding(
          `${name}-${ns}`,
          { metadata, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: group }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }] },
          { parent: this, provider: kube.provider, dependsOn: [role, entry, ...(kube.dependsOn ?? [])] },
        );
      }
    }
    this.functionArn = this.function.arn;
    this.registerOutputs({ functionArn: this.functionArn, scheduleArn: this.schedule.arn });
  }
}

/** @internal The driver role's policy: every mutating action on named resources only. */
export function releaseDriverPolicy(r: { rules: string; scope: string; table: string; logs: string; alarms: string; hooks?: string[]; vpc?: boolean; notify?: { topic: string; topicKey: string }; testRouteSecret?: string; lanes?: boolean }) {
  return {
    Version: "2012-10-17",
    Statement: [
      // What AWSLambdaVPCAccessExecutionRole grants: Lambda manages the function's network
      // interfaces with the function's role; these actions take no resource-level scoping.
      ...(r.vpc
        ? [{ Sid: "VpcNetworkInterfaces", Effect: "Allow", Action: ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"], Resource: "*" }]
        : []),
      ...(r.hooks && r.hooks.length > 0 ? [{ Sid: "InvokePreTrafficHooks", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: r.hooks }] : []),
      // The test routes' header values (encrypted with Secrets Manager's AWS-managed key, which
      // its own key policy lets the account's principals use through Secrets Manager).
      ...(r.testRouteSecret ? [{ Sid: "ReadTestRouteSecret", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [r.testRouteSecret] }] : []),
      {
        // Only the progressive services' rules of this stack (tagged for its driver).
        Sid: "StepThisStacksRules",
        Effect: "Allow",
        Action: ["elasticloadbalancing:ModifyRule"],
        Resource: r.rules,
        Condition: { StringEquals: { [`aws:ResourceTag/${DRIVER_RULE_TAG}`]: r.scope } },
      },
      // DescribeTags: each tick checks the rules still carry this stack's remedy:* tags.
      { Sid: "ReadRulesAndHealth", Effect: "Allow", Action: ["elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags"], Resource: "*" },
      // UpdateItem: the tick lease (and, with notifications, the outbox).
      { Sid: "ReleaseState", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"], Resource: [r.table] },
      // Lifecycle notifications: the outbox (pending messages read, leased and settled) and the
      // encrypted topic (SNS encrypts with the topic's key on the publisher's behalf).
      // Legacy lanes' recorded evidence, read for the retirement step at a sunset (issue 37).
      ...(r.lanes && !r.notify ? [{ Sid: "LaneEvidence", Effect: "Allow", Action: ["dynamodb:Query"], Resource: [r.table] }] : []),
      ...(r.notify
        ? [
            { Sid: "NotificationOutbox", Effect: "Allow", Action: ["dynamodb:Query"], Resource: [r.table] },
            { Sid: "Notify", Effect: "Allow", Action: ["sns:Publish"], Resource: [r.notify.topic] },
            { Sid: "NotifyTopicKey", Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [r.notify.topicKey] },
          ]
        : []),
      { Sid: "ReadThisStacksAlarms", Effect: "Allow", Action: ["cloudwatch:DescribeAlarms"], Resource: [r.alarms] },
      // Requests still reaching a sticky previous slot before it is retired (GetMetricData takes no resource).
      { Sid: "ReadTargetGroupRequests", Effect: "Allow", Action: ["cloudwatch:GetMetricData"], Resource: "*" },
      { Sid: "Logs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${r.logs}:*`] },
    ],
  };
}
