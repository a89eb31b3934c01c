import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { alarmArnPattern, checkAlarmPrefix } from "../../core/alarms";
import * as defaults from "../../core/defaults";
import { LAMBDA_RUNTIME, bundleLambda } from "./bundle";

export interface ReleaseDriverArgs {
  /** The stack's alarm prefix (`<project>-<stack>`), as the RollbackFunction's. Required. */
  readonly alarmNamePrefix: string;
  /** The release state table (RollbackFunction `tableName`) and its ARN. Required. */
  readonly tableName: pulumi.Input<string>;
  readonly tableArn: pulumi.Input<string>;
  /** Listener rules of progressive services: the only rules it may modify. */
  readonly ruleArns: pulumi.Input<pulumi.Input<string>[]>;
  /** Lambda pre-traffic hooks (`preTraffic.lambda.functionArn`): the only functions it may invoke. */
  readonly hookFunctionArns?: readonly string[];
  /** Minutes between ticks. Default {@link defaults.RELEASE_DRIVER_INTERVAL_MINUTES}. */
  readonly intervalMinutes?: number;
  /** Default {@link defaults.DEFAULT_LOG_RETENTION_DAYS}. */
  readonly logRetentionDays?: number;
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

  constructor(name: string, args: ReleaseDriverArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:rollback:ReleaseDriver", name, {}, opts);
    const prefixError = checkAlarmPrefix(args.alarmNamePrefix);
    if (prefixError) throw new pulumi.ResourceError(`\`alarmNamePrefix\`: ${prefixError}`, this);
    const interval = args.intervalMinutes ?? defaults.RELEASE_DRIVER_INTERVAL_MINUTES;
    if (!Number.isInteger(interval) || interval < 1 || interval > 60) {
      throw new pulumi.ResourceError(`\`intervalMinutes\` must be an integer 1..60, got ${interval}`, this);
    }
    const parent = { parent: this };
    const tags = { "remedy:component": "release-driver", ...args.tags };
    const region = aws.getRegionOutput({}, parent);
    const identity = aws.getCallerIdentityOutput({}, parent);
    const alarms = pulumi.all([region.region, identity.accountId]).apply(([r, a]) => alarmArnPattern(r, a, args.alarmNamePrefix));
    const logGroup = new aws.cloudwatch.LogGroup(name, { retentionInDays: args.logRetentionDays ?? defaults.DEFAULT_LOG_RETENTION_DAYS, tags }, parent);
    this.role = new aws.iam.Role(
      name,
      {
        assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] }),
        tags,
      },
      parent,
    );
    this.policy = new aws.iam.RolePolicy(
      name,
      {
        role: this.role.id,
        policy: pulumi.all([pulumi.output(args.ruleArns), pulumi.output(args.tableArn), logGroup.arn, alarms]).apply(([rules, table, logs, alarmPattern]) =>
          JSON.stringify(releaseDriverPolicy({ rules, table, logs, alarms: alarmPattern, hooks: [...(args.hookFunctionArns ?? [])] })),
        ),
      },
      parent,
    );
    const bundle = bundleLambda("releaseDriver");
    this.function = new aws.lambda.Function(
      name,
      {
        runtime: LAMBDA_RUNTIME,
        architectures: ["arm64"],
        handler: "index.handler",
        code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(bundle.code) }),
        role: this.role.arn,
        memorySize: 256,
        timeout: 50,
        loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
        environment: { variables: { RELEASE_TABLE: args.tableName, ALARM_PREFIX: args.alarmNamePrefix, POWERTOOLS_SERVICE_NAME: "remedy-release-driver" } },
        description: `remedy release driver for ${args.alarmNamePrefix}: one progressive step per tick`,
        tags,
      },
      { parent: this, dependsOn: [this.policy] },
    );
    // One tick at a time: overlapping ticks would only conflict on the conditional writes.
    new aws.lambda.FunctionEventInvokeConfig(name, { functionName: this.function.name, maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 }, parent);
    this.schedule = new aws.cloudwatch.EventRule(name, { scheduleExpression: `rate(${interval} minute${interval === 1 ? "" : "s"})`, description: `remedy release driver tick (${args.alarmNamePrefix})`, tags }, parent);
    new aws.cloudwatch.EventTarget(name, { rule: this.schedule.name, arn: this.function.arn }, parent);
    new aws.lambda.Permission(`${name}-schedule`, { function: this.function.name, action: "lambda:InvokeFunction", principal: "events.amazonaws.com", sourceArn: this.schedule.arn }, parent);
    this.functionArn = this.function.arn;
    this.registerOutputs({ functionArn: this.functionArn, scheduleArn: this.schedule.arn });
  }
}

/** @internal The driver role's policy: every mutating action on named resources only. */
export function releaseDriverPolicy(r: { rules: string[]; table: string; logs: string; alarms: string; hooks?: string[] }) {
  return {
    Version: "2012-10-17",
    Statement: [
      ...(r.hooks && r.hooks.length > 0 ? [{ Sid: "InvokePreTrafficHooks", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: r.hooks }] : []),
      { Sid: "StepThisStacksRules", Effect: "Allow", Action: ["elasticloadbalancing:ModifyRule"], Resource: r.rules },
      { Sid: "ReadRulesAndHealth", Effect: "Allow", Action: ["elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeRules"], Resource: "*" },
      { Sid: "ReleaseState", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:ConditionCheckItem"], Resource: [r.table] },
      { Sid: "ReadThisStacksAlarms", Effect: "Allow", Action: ["cloudwatch:DescribeAlarms"], Resource: [r.alarms] },
      { Sid: "Logs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${r.logs}:*`] },
    ],
  };
}
