import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { checkAlarmPrefix, loadBalancerAlarm, loadBalancerDimension } from "../../core/alarms";
import * as defaults from "../../core/defaults";
import { ROLLBACK_RULE_TAG, listenerRulePattern, releaseTableName } from "../../core/naming";

/** Where the stack's release table name comes from; kept here for the stack program and the rehearsal. */
export { releaseTableName };
import { type DeployedCode, bundledFunction, checkedPolicy, logGroupAndRole, stackAlarms } from "./lambdaParts";
import { topicKeyPolicy, topicPolicy } from "./topicPolicies";
import { watchPaging } from "./pagingWatch";

export { publishOnlyBy, topicKeyPolicy, topicPolicy } from "./topicPolicies";

export interface RollbackFunctionArgs {
  /**
   * Prefix of every rollback alarm of the stack, `<project>-<stack>` by convention. The function
   * acts only on alarms named `<prefix>/<service>/<slot>/<kind>`, may read only those alarms, and
   * only they may invoke it. Required; 1..100 characters of A-Z a-z 0-9 . _ -.
   */
  readonly alarmNamePrefix: string;
  /**
   * The listener rules (one per service) the function may flip. It may modify exactly the rules
   * tagged `remedy:rollback: <alarmNamePrefix>` ({@link ROLLBACK_RULE_TAG}; `BlueGreenService`
   * sets it from `ruleTags`), so its policy has the same size for 1 or 500 services. These rules
   * only order the role's policy after them (their tags exist before it relies on them). Default none.
   */
  readonly rules?: readonly pulumi.Resource[];
  /**
   * Listener (or load balancer) ARN of the shared ALB: its own 5xx (HTTPCode_ELB_5XX_Count, per
   * load balancer only) page the topic. Default: no such alarm.
   */
  readonly loadBalancerArn?: pulumi.Input<string>;
  /**
   * The listeners (or load balancers) of the stack's other ALBs (ingress groups), by group name:
   * one ELB 5xx alarm each, as for `loadBalancerArn`. Default none.
   */
  readonly groupLoadBalancerArns?: Readonly<Record<string, pulumi.Input<string>>>;
  /** ELB 5xx per minute that page humans. Default {@link defaults.DEFAULT_ELB_5XX_THRESHOLD}. */
  readonly elb5xxThreshold?: number;
  /** Email addresses subscribed to the notification topic. Default: none (subscribe out of band). */
  readonly notificationEmails?: readonly string[];
  /** The stack's name, named in the rollback and escalation pages' subjects. Default: not named. */
  readonly stackName?: string;
  /**
   * IAM roles besides the function's own that may publish to the topic (operators' roles for
   * `remedy rollback/promote/abort`, the release driver's). Everyone else is denied `sns:Publish`
   * by the topic policy, whatever their IAM policies say. Default: none.
   */
  readonly publisherRoleArns?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The identities that run `pulumi up` (issue 35, 13): the only ones the topic lets delete it,
   * change its attributes or permissions, or subscribe, and the key lets disable, schedule for
   * deletion or re-policy (the account's root user too). Default: none (no such denies).
   */
  readonly administratorArns?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Name of the release state table. Default `<alarmNamePrefix>-releases`: deterministic, so the
   * stack program can read release state before the first resource is registered.
   */
  readonly tableName?: string;
  /** Protect the release state table from deletion. Default `true`. */
  readonly tableDeletionProtection?: boolean;
  /** Default {@link defaults.DEFAULT_ROLLBACK_MEMORY_MB}. */
  readonly memoryMb?: number;
  /** Default {@link defaults.DEFAULT_ROLLBACK_TIMEOUT_SECONDS}. */
  readonly timeoutSeconds?: number;
  /** Default {@link defaults.DEFAULT_LOG_RETENTION_DAYS}. */
  readonly logRetentionDays?: number;
  /**
   * Concurrent executions reserved for the function, so a flood of other functions in the account
   * cannot starve the rollback path (and a flood of events cannot take the account's whole pool).
   * Default {@link defaults.DEFAULT_ROLLBACK_RESERVED_CONCURRENCY}.
   */
  readonly reservedConcurrency?: number;
  /** IAM permissions boundary (policy ARN) for the function's role. Default: none. */
  readonly permissionsBoundaryArn?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The stack's automatic-rollback machinery, one per stack: the release state table, the
 * notification topic, and the rollback Lambda (bundled from `lambdas/rollback.ts`) with a
 * least-privilege role, an invoke permission for this stack's alarms only, asynchronous retries
 * into a dead-letter queue, and alarms on its own errors and on the queue.
 */
export class RollbackFunction extends pulumi.ComponentResource {
  public readonly table: aws.dynamodb.Table;
  public readonly topic: aws.sns.Topic;
  public readonly function: aws.lambda.Function;
  public readonly role: aws.iam.Role;
  /** The customer-managed KMS key the topic is encrypted with (CloudWatch may use it). */
  public readonly topicKey: aws.kms.Key;
  public readonly policy: aws.iam.RolePolicy;
  public readonly deadLetterQueue: aws.sqs.Queue;

  public readonly functionArn: pulumi.Output<string>;
  /** The function URL (AWS_IAM) operators' overrides are sent to. */
  public readonly overridesUrl: pulumi.Output<string>;
  public readonly tableName: pulumi.Output<string>;
  public readonly topicArn: pulumi.Output<string>;
  /** ArnLike pattern of the alarms that may invoke the function. */
  public readonly alarmArnPattern: pulumi.Output<string>;
  /** SHA-256 of the deployed handler bundle (`index.js`). */
  public readonly bundleSha256: string;
  /** What the function should run (see {@link DeployedCode}). */
  public readonly code: pulumi.Output<DeployedCode>;

  constructor(name: string, args: RollbackFunctionArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:rollback:RollbackFunction", name, {}, opts);
    const prefixError = checkAlarmPrefix(args.alarmNamePrefix);
    if (prefixError) throw new pulumi.ResourceError(`\`alarmNamePrefix\`: ${prefixError}`, this);
    for (const [key, value, min, max] of [
      ["memoryMb", args.memoryMb, 128, 10_240],
      ["timeoutSeconds", args.timeoutSeconds, 3, 900],
      ["logRetentionDays", args.logRetentionDays, 1, 3653],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
        throw new pulumi.ResourceError(`\`${key}\` must be an integer ${min}..${max}, got ${value}`, this);
      }
    }
    if (args.logRetentionDays !== undefined && !defaults.LOG_RETENTION_DAYS_ALLOWED.includes(args.logRetentionDays)) {
      throw new pulumi.ResourceError(
        `\`logRetentionDays\` must be one of ${defaults.LOG_RETENTION_DAYS_ALLOWED.join(", ")}, got ${args.logRetentionDays}`,
        this,
      );
    }
    for (const email of args.notificationEmails ?? []) {
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
        throw new pulumi.ResourceError(`\`notificationEmails\`: ${JSON.stringify(email)} is not an email address`, this);
      }
    }
    const tags = { "remedy:component": "rollback", ...args.tags };
    const parent = { parent: this };
    const { pattern, accountId, region } = stackAlarms(args.alarmNamePrefix, this);

    this.table = new aws.dynamodb.Table(
      `${name}-releases`,
      {
        name: args.tableName ?? releaseTableName(args.alarmNamePrefix),
        billingMode: "PAY_PER_REQUEST",
        hashKey: "pk",
        rangeKey: "sk",
        attributes: [
          { name: "pk", type: "S" },
          { name: "sk", type: "S" },
        ],
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true },
        deletionProtectionEnabled: args.tableDeletionProtection ?? true,
        tags,
      },
      // Release state is the record of every rollback: with deletion protection on, Pulumi too
      // refuses to delete or replace the table.
      { parent: this, protect: args.tableDeletionProtection ?? true },
    );

    // Encrypted with a key of the stack's own: CloudWatch alarms cannot publish to a topic
    // encrypted with the AWS-managed key (alias/aws/sns), so the key policy lets CloudWatch use it.
    this.topicKey = new aws.kms.Key(
      `${name}-notifications`,
      {
        description: `remedy ${args.alarmNamePrefix}: encrypts the notification topic`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: pulumi.all([accountId, region, pulumi.output(args.administratorArns ?? [])]).apply(([account, r, admins]) => JSON.stringify(topicKeyPolicy(account, { region: r, alarmNamePrefix: args.alarmNamePrefix, administrators: admins }))),
        tags,
      },
      parent,
    );
    this.topic = new aws.sns.Topic(`${name}-notifications`, { kmsMasterKeyId: this.topicKey.arn, tags }, parent);
    // Changes to the topic, its subscriptions or its key page the topic (issue 35, 13).
    watchPaging(name, { alarmNamePrefix: args.alarmNamePrefix, topic: this.topic, key: this.topicKey, tags }, this);
    const { logGroup, role } = logGroupAndRole(
      name,
      { retentionInDays: args.logRetentionDays ?? defaults.DEFAULT_LOG_RETENTION_DAYS, tags, permissionsBoundary: args.permissionsBoundaryArn },
      this,
    );
    this.role = role;
    new aws.sns.TopicPolicy(
      `${name}-notifications`,
      {
        arn: this.topic.arn,
        policy: pulumi
          .all([this.topic.arn, accountId, region, this.role.arn, pulumi.output(args.publisherRoleArns ?? []), pulumi.output(args.administratorArns ?? [])])
          .apply(([topic, account, r, role, others, admins]) => JSON.stringify(topicPolicy({ topic, account, region: r, alarmNamePrefix: args.alarmNamePrefix, publishers: [role, ...others], administrators: admins }))),
      },
      parent,
    );
    (args.notificationEmails ?? []).forEach(
      (email, i) =>
        new aws.sns.TopicSubscription(`${name}-email-${i}`, { topic: this.topic.arn, protocol: "email", endpoint: email }, parent),
    );

    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-dlq`,
      { messageRetentionSeconds: defaults.DEFAULT_DLQ_RETENTION_SECONDS, sqsManagedSseEnabled: true, tags },
      parent,
    );


    this.policy = new aws.iam.RolePolicy(
      name,
      {
        role: this.role.id,
        policy: pulumi
          .all([this.table.arn, this.topic.arn, this.deadLetterQueue.arn, logGroup.arn, pattern, this.topicKey.arn, region, accountId])
          .apply(([table, topic, dlq, logs, alarms, key, r, account]) =>
            checkedPolicy(`${name} role policy`, rollbackPolicy({ rules: listenerRulePattern(r, account), scope: args.alarmNamePrefix, table, topic, dlq, logs, alarms, topicKey: key })),
          ),
      },
      { parent: this, dependsOn: [...(args.rules ?? [])] },
    );

    const { fn, bundle, code } = bundledFunction(
      name,
      {
        entry: "rollback",
        role: this.role,
        policy: this.policy,
        logGroup,
        memorySize: args.memoryMb ?? defaults.DEFAULT_ROLLBACK_MEMORY_MB,
        timeout: args.timeoutSeconds ?? defaults.DEFAULT_ROLLBACK_TIMEOUT_SECONDS,
        variables: {
          RELEASE_TABLE: this.table.name,
          NOTIFY_TOPIC_ARN: this.topic.arn,
          ALARM_PREFIX: args.alarmNamePrefix,
          ...(args.stackName ? { STACK_NAME: args.stackName } : {}),
          ALARM_ACCOUNT_ID: accountId,
          POWERTOOLS_SERVICE_NAME: "remedy-rollback",
          POWERTOOLS_METRICS_NAMESPACE: "remedy",
        },
        description: `remedy automatic rollback for alarms ${args.alarmNamePrefix}/*`,
        tags,
        reservedConcurrentExecutions: args.reservedConcurrency ?? defaults.DEFAULT_ROLLBACK_RESERVED_CONCURRENCY,
      },
      this,
    );
    this.function = fn;
    this.bundleSha256 = bundle.sha256;
    this.code = code;

    new aws.lambda.FunctionEventInvokeConfig(
      name,
      {
        functionName: this.function.name,
        maximumRetryAttempts: defaults.DEFAULT_ROLLBACK_ASYNC_RETRIES,
        maximumEventAgeInSeconds: defaults.DEFAULT_ROLLBACK_MAX_EVENT_AGE_SECONDS,
        destinationConfig: { onFailure: { destination: this.deadLetterQueue.arn } },
      },
      parent,
    );

    new aws.lambda.Permission(
      `${name}-alarms`,
      {
        function: this.function.name,
        action: "lambda:InvokeFunction",
        principal: "lambda.alarms.cloudwatch.amazonaws.com",
        sourceAccount: accountId,
        sourceArn: pattern,
      },
      parent,
    );

    // Alarms on the rollback machinery itself, each paging on its first datapoint. Their names do
    // not match `<prefix>/`, so they never invoke the function; they page humans through the topic.
    const machineryAlarm = (suffix: string, a: { name: string; description: string; namespace: string; metricName: string; dimensions: Record<string, pulumi.Input<string>>; statistic: string; okToo?: boolean }) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${suffix}`,
        {
          name: `${args.alarmNamePrefix}-${a.name}`,
          alarmDescription: a.description,
          namespace: a.namespace,
          metricName: a.metricName,
          dimensions: a.dimensions,
          statistic: a.statistic,
          period: 60,
          evaluationPeriods: 1,
          threshold: 1,
          comparisonOperator: "GreaterThanOrEqualToThreshold",
          treatMissingData: "notBreaching",
          alarmActions: [this.topic.arn],
          ...(a.okToo ? { okActions: [this.topic.arn] } : {}),
          tags,
        },
        parent,
      );
    machineryAlarm("errors", {
      name: "rollback-errors",
      description: "remedy: the rollback Lambda failed; a rollback may not have happened. Check its logs and dead-letter queue.",
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: this.function.name },
      statistic: "Sum",
      okToo: true,
    });
    // CloudWatch throttling the alarms' confirmation (DescribeAlarms, ~9 a second per account and
    // region, shared with every reader) delays rollbacks: page on the first one (issue 35, 8).
    machineryAlarm("confirmation-throttled", {
      name: "rollback-confirmation-throttled",
      description:
        "remedy: CloudWatch throttled the rollback Lambda's DescribeAlarms, so an alarm could not be confirmed at once and a rollback may be late. Find who calls DescribeAlarms so often (CloudTrail); the Lambda retries and pages.",
      namespace: defaults.ROLLBACK_METRICS.namespace,
      metricName: "ConfirmationThrottled",
      dimensions: { service: defaults.ROLLBACK_METRICS.serviceName },
      statistic: "Sum",
    });
    machineryAlarm("dlq", {
      name: "rollback-dead-letters",
      description: "remedy: an alarm event could not be processed after retries; it is in the dead-letter queue.",
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: this.deadLetterQueue.name },
      statistic: "Maximum",
    });

    const balancers: [string | undefined, pulumi.Input<string>][] = [
      ...(args.loadBalancerArn !== undefined ? [[undefined, args.loadBalancerArn] as [undefined, pulumi.Input<string>]] : []),
      ...Object.entries(args.groupLoadBalancerArns ?? {}),
    ];
    for (const [group, arn] of balancers) {
      const def = loadBalancerAlarm(
        args.alarmNamePrefix,
        pulumi.output(arn).apply(loadBalancerDimension),
        args.elb5xxThreshold ?? defaults.DEFAULT_ELB_5XX_THRESHOLD,
        group,
      );
      const m = def.metric;
      if (!m) throw new Error("internal: the load balancer alarm is a single-metric alarm");
      new aws.cloudwatch.MetricAlarm(
        group === undefined ? `${name}-elb-5xx` : `${name}-elb-5xx-${group}`,
        {
          name: def.name,
          alarmDescription: def.description,
          namespace: m.namespace,
          metricName: m.metricName,
          dimensions: m.dimensions,
          statistic: m.statistic,
          period: m.period,
          evaluationPeriods: def.evaluationPeriods,
          datapointsToAlarm: def.datapointsToAlarm,
          threshold: def.threshold,
          comparisonOperator: def.comparisonOperator,
          treatMissingData: def.treatMissingData,
          alarmActions: [this.topic.arn],
          okActions: [this.topic.arn],
          tags,
        },
        parent,
      );
    }

    // Operators' overrides (remedy rollback/abort/promote) reach the function here, SigV4-signed:
    // Lambda authenticates the caller and hands the function the ARN it verified (issue 35, 4;
    // lambdas/commons/overrides.ts). Auth type AWS_IAM only: NONE would let anyone name anyone.
    this.overridesUrl = new aws.lambda.FunctionUrl(`${name}-overrides`, { functionName: this.function.name, authorizationType: "AWS_IAM" }, parent).functionUrl;
    this.functionArn = this.function.arn;
    this.tableName = this.table.name;
    this.topicArn = this.topic.arn;
    this.alarmArnPattern = pattern;
    this.registerOutputs({
      functionArn: this.functionArn,
      tableName: this.tableName,
      topicArn: this.topicArn,
      alarmArnPattern: this.alarmArnPattern,
      deadLetterQueueArn: this.deadLetterQueue.arn,
    });
  }
}


/** @internal The rollback role's policy: every mutating action on named (or this stack's tagged) resources only. */
export function rollbackPolicy(r: {
  /** Resource pattern of the account's listener rules ({@link listenerRulePattern}). */
  rules: string;
  /** The value of {@link ROLLBACK_RULE_TAG} on the rules it may modify: the alarm prefix. */
  scope: string;
  table: string;
  topic: string;
  dlq: string;
  logs: string;
  alarms: string;
  /** The topic's KMS key: publishing to an encrypted topic needs GenerateDataKey and Decrypt on it. */
  topicKey: string;
}) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // Rules tagged for this stack only: the same text for 1 or 500 services (IAM allows 10,240
        // characters of inline policy per role), and another stack's rules stay out of reach.
        Sid: "FlipThisStacksRules",
        Effect: "Allow",
        Action: ["elasticloadbalancing:ModifyRule"],
        Resource: r.rules,
        Condition: { StringEquals: { [`aws:ResourceTag/${ROLLBACK_RULE_TAG}`]: r.scope } },
      },
      {
        // ELB Describe* actions support no resource-level scoping; they are read-only.
        Sid: "ReadTargetHealth",
        Effect: "Allow",
        Action: ["elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeRules"],
        Resource: "*",
      },
      {
        Sid: "ReleaseState",
        Effect: "Allow",
        // PutItem (transactions), UpdateItem (notification outbox), Query (pending notifications).
        Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"],
        Resource: [r.table],
      },
      { Sid: "ReadThisStacksAlarms", Effect: "Allow", Action: ["cloudwatch:DescribeAlarms"], Resource: [r.alarms] },
      // `remedy drill` through the override URL (lambdas/commons/drill.ts): the function forces a
      // service's error-rate alarm and restores it, so no operator needs SetAlarmState.
      { Sid: "DrillErrorRateAlarms", Effect: "Allow", Action: ["cloudwatch:SetAlarmState"], Resource: [r.alarms.replace(/\*$/, "*/error-rate")] },
      { Sid: "Notify", Effect: "Allow", Action: ["sns:Publish"], Resource: [r.topic] },
      { Sid: "NotifyEncrypted", Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [r.topicKey] },
      { Sid: "DeadLetters", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [r.dlq] },
      { Sid: "Logs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${r.logs}:*`] },
    ],
  };
}
