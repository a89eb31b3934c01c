/**
 * Runs the real stack program under Pulumi mocks whose AWS resources are created for real in a
 * moto server (ALB, listener, target groups, listener rules, alarms, DynamoDB table, SNS, SQS,
 * IAM role + policy, Lambda function + permission), so ids and ARNs are moto's. A second run of
 * the program applies changes as updates (ModifyRule, PutMetricAlarm, ...). Kubernetes objects
 * are recorded (and checked by the caller); each TargetGroupBinding registers a pod IP into its
 * target group, standing in for the AWS Load Balancer Controller.
 */
import { CloudWatchClient, PutMetricAlarmCommand, type PutMetricAlarmCommandInput } from "@aws-sdk/client-cloudwatch";
import { CreateLogGroupCommand, CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from "@aws-sdk/client-dynamodb";
import { CreateSecurityGroupCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  RegisterTargetsCommand,
  type Action,
  type RuleCondition,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { AddPermissionCommand, CreateFunctionCommand, LambdaClient, UpdateFunctionConfigurationCommand } from "@aws-sdk/client-lambda";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import * as pulumi from "@pulumi/pulumi";
import { zipSync, strToU8 } from "fflate";
import { createHash } from "node:crypto";
import { LAMBDA_RUNTIME, bundleLambda } from "../../components/rollback/bundle";

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const MOTO_ACCOUNT = "123456789012";

export interface RecordedObject {
  readonly type: string;
  readonly name: string;
  readonly inputs: Inputs;
  readonly id: string;
  readonly state: Inputs;
}

export interface AwsMocks {
  /** Everything registered in the last program run (AWS, Kubernetes, components). */
  readonly resources: RecordedObject[];
  /** Resources that exist in moto, by `<type>::<name>`; kept across runs. */
  readonly live: Map<string, RecordedObject>;
  /** Updates applied to existing resources in the last run, as `<type>::<name>`. */
  readonly updated: string[];
  /** Forgets the last run's records (not what exists in moto). */
  beginRun(): void;
  readonly mocks: pulumi.runtime.Mocks;
}

function suffix(name: string, n = 7): string {
  return createHash("sha256").update(name).digest("hex").slice(0, n);
}

function tags(t: Inputs | undefined): { Key: string; Value: string }[] | undefined {
  return t ? Object.entries(t).map(([Key, Value]) => ({ Key, Value: String(Value) })) : undefined;
}

function ruleConditions(conditions: Inputs[]): RuleCondition[] {
  return conditions.map((c) =>
    c.hostHeader
      ? { Field: "host-header", HostHeaderConfig: { Values: c.hostHeader.values } }
      : c.httpHeader
        ? { Field: "http-header", HttpHeaderConfig: { HttpHeaderName: c.httpHeader.httpHeaderName, Values: c.httpHeader.values } }
        : c.sourceIp
          ? { Field: "source-ip", SourceIpConfig: { Values: c.sourceIp.values } }
          : { Field: "path-pattern", PathPatternConfig: { Values: c.pathPattern.values } },
  );
}

function ruleActions(actions: Inputs[]): Action[] {
  return actions.map((a) => a.targetGroupArn !== undefined ? { Type: "forward", TargetGroupArn: a.targetGroupArn as string } : ({
    Type: "forward",
    ForwardConfig: {
      TargetGroups: (a.forward.targetGroups as Inputs[]).map((g) => ({ TargetGroupArn: g.arn, Weight: g.weight })),
      TargetGroupStickinessConfig: { Enabled: !!a.forward.stickiness?.enabled, DurationSeconds: a.forward.stickiness?.enabled ? a.forward.stickiness.duration : undefined },
    },
  }));
}

/** A rule's transforms (a legacy lane's `url-rewrite`), as the API takes them. */
function ruleTransforms(transforms: Inputs[] | undefined): { Transforms?: { Type: "url-rewrite"; UrlRewriteConfig: { Rewrites: { Regex: string; Replace: string }[] } }[] } {
  if (!transforms?.length) return {};
  return { Transforms: transforms.map((t) => ({ Type: "url-rewrite" as const, UrlRewriteConfig: { Rewrites: [{ Regex: t.urlRewriteConfig.rewrite.regex as string, Replace: t.urlRewriteConfig.rewrite.replace as string }] } })) };
}

function alarmInput(i: Inputs): PutMetricAlarmCommandInput {
  const dims = (d: Inputs | undefined) => (d ? Object.entries(d).map(([Name, Value]) => ({ Name, Value: String(Value) })) : undefined);
  return {
    AlarmName: i.name,
    AlarmDescription: i.alarmDescription,
    ComparisonOperator: i.comparisonOperator,
    Threshold: i.threshold,
    EvaluationPeriods: i.evaluationPeriods,
    DatapointsToAlarm: i.datapointsToAlarm,
    TreatMissingData: i.treatMissingData,
    AlarmActions: i.alarmActions,
    OKActions: i.okActions,
    Namespace: i.namespace,
    MetricName: i.metricName,
    Period: i.period,
    Statistic: i.statistic,
    ExtendedStatistic: i.extendedStatistic,
    Dimensions: dims(i.dimensions),
    Metrics: (i.metricQueries as Inputs[] | undefined)?.map((q) => ({
      Id: q.id,
      Expression: q.expression,
      Label: q.label,
      ReturnData: q.returnData,
      MetricStat: q.metric
        ? { Metric: { Namespace: q.metric.namespace, MetricName: q.metric.metricName, Dimensions: dims(q.metric.dimensions) }, Period: q.metric.period, Stat: q.metric.stat }
        : undefined,
    })),
  };
}

/** Mocks that create what the program declares in the moto server at `endpoint`. */
export function createAwsMocks(endpoint: string, region: string): AwsMocks {
  const cfg = { endpoint, region, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
  const elb = new ElasticLoadBalancingV2Client(cfg);
  const ec2 = new EC2Client(cfg);
  const cw = new CloudWatchClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  const sns = new SNSClient(cfg);
  const sqs = new SQSClient(cfg);
  const iam = new IAMClient(cfg);
  const lambda = new LambdaClient(cfg);
  const logs = new CloudWatchLogsClient(cfg);
  const resources: RecordedObject[] = [];
  const live = new Map<string, RecordedObject>();
  const updated: string[] = [];
  let podIp = 10;

  async function create(type: string, name: string, i: Inputs): Promise<{ id: string; state: Inputs }> {
    switch (type) {
      case "aws:ec2/securityGroup:SecurityGroup": {
        const out = await ec2.send(new CreateSecurityGroupCommand({ GroupName: `${name}-${suffix(name)}`, Description: i.description ?? name, VpcId: i.vpcId }));
        return { id: out.GroupId as string, state: { ...i, arn: `arn:aws:ec2:${region}:${MOTO_ACCOUNT}:security-group/${String(out.GroupId)}` } };
      }
      case "aws:lb/loadBalancer:LoadBalancer": {
        const lbName = `${name}-${suffix(name)}`.slice(0, 32);
        const out = (await elb.send(new CreateLoadBalancerCommand({ Name: lbName, Subnets: i.subnets, SecurityGroups: i.securityGroups, Scheme: i.internal ? "internal" : "internet-facing", Type: "application" }))).LoadBalancers?.[0];
        const arn = out?.LoadBalancerArn as string;
        return { id: arn, state: { ...i, name: lbName, arn, arnSuffix: arn.split(":loadbalancer/")[1], dnsName: out?.DNSName } };
      }
      case "aws:lb/listener:Listener": {
        const out = (
          await elb.send(
            new CreateListenerCommand({
              LoadBalancerArn: i.loadBalancerArn,
              Protocol: i.protocol,
              Port: i.port,
              DefaultActions: [{ Type: "fixed-response", FixedResponseConfig: { StatusCode: "404", ContentType: "text/plain" } }],
            }),
          )
        ).Listeners?.[0];
        return { id: out?.ListenerArn as string, state: { ...i, arn: out?.ListenerArn } };
      }
      case "aws:lb/targetGroup:TargetGroup": {
        const out = (
          await elb.send(
            new CreateTargetGroupCommand({ Name: i.name, Protocol: i.protocol, Port: i.port, VpcId: i.vpcId, TargetType: i.targetType, HealthCheckPath: i.healthCheck?.path, Tags: tags(i.tags) }),
          )
        ).TargetGroups?.[0];
        const arn = out?.TargetGroupArn as string;
        return { id: arn, state: { ...i, arn, arnSuffix: arn.split(":")[5] } };
      }
      case "aws:lb/listenerRule:ListenerRule": {
        const out = (
          await elb.send(new CreateRuleCommand({ ListenerArn: i.listenerArn, Priority: i.priority, Conditions: ruleConditions(i.conditions), Actions: ruleActions(i.actions), ...ruleTransforms(i.transforms), Tags: tags(i.tags) }))
        ).Rules?.[0];
        return { id: out?.RuleArn as string, state: { ...i, arn: out?.RuleArn } };
      }
      case "aws:cloudwatch/metricAlarm:MetricAlarm": {
        await cw.send(new PutMetricAlarmCommand(alarmInput(i)));
        return { id: i.name, state: { ...i, arn: `arn:aws:cloudwatch:${region}:${MOTO_ACCOUNT}:alarm:${String(i.name)}` } };
      }
      case "aws:dynamodb/table:Table": {
        try {
          await ddb.send(
            new CreateTableCommand({
              TableName: i.name,
              BillingMode: i.billingMode,
              AttributeDefinitions: (i.attributes as Inputs[]).map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
              KeySchema: [
                { AttributeName: i.hashKey, KeyType: "HASH" },
                ...(i.rangeKey ? [{ AttributeName: i.rangeKey, KeyType: "RANGE" as const }] : []),
              ],
            }),
          );
        } catch (err) {
          if (!(err instanceof ResourceInUseException)) throw err;
        }
        return { id: i.name, state: { ...i, arn: `arn:aws:dynamodb:${region}:${MOTO_ACCOUNT}:table/${String(i.name)}` } };
      }
      case "aws:sns/topic:Topic": {
        const topicName = `${name}-${suffix(name)}`;
        const out = await sns.send(new CreateTopicCommand({ Name: topicName }));
        return { id: out.TopicArn as string, state: { ...i, name: topicName, arn: out.TopicArn } };
      }
      case "aws:sns/topicSubscription:TopicSubscription": {
        const out = await sns.send(new SubscribeCommand({ TopicArn: i.topic, Protocol: i.protocol, Endpoint: i.endpoint }));
        return { id: out.SubscriptionArn ?? name, state: { ...i, arn: out.SubscriptionArn } };
      }
      case "aws:sqs/queue:Queue": {
        const queueName = `${name}-${suffix(name)}`;
        const url = (await sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl as string;
        const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
        return { id: url, state: { ...i, name: queueName, url, arn } };
      }
      case "aws:cloudwatch/logGroup:LogGroup": {
        const groupName = `${name}-${suffix(name)}`;
        await logs.send(new CreateLogGroupCommand({ logGroupName: groupName }));
        return { id: groupName, state: { ...i, name: groupName, arn: `arn:aws:logs:${region}:${MOTO_ACCOUNT}:log-group:${groupName}` } };
      }
      case "aws:iam/role:Role": {
        const roleName = `${name}-${suffix(name)}`;
        const out = await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: i.assumeRolePolicy }));
        return { id: roleName, state: { ...i, name: roleName, arn: out.Role?.Arn } };
      }
      case "aws:iam/rolePolicy:RolePolicy": {
        await iam.send(new PutRolePolicyCommand({ RoleName: i.role, PolicyName: name, PolicyDocument: i.policy }));
        return { id: `${String(i.role)}:${name}`, state: { ...i } };
      }
      case "aws:lambda/function:Function": {
        const fnName = `${name}-${suffix(name)}`;
        // Mocks do not carry asset contents; deploy the same deterministic bundle the component archives.
        const zip = zipSync({ "index.js": strToU8(bundleLambda("rollback").code) }, { level: 9 });
        const out = await lambda.send(
          new CreateFunctionCommand({
            FunctionName: fnName,
            Runtime: i.runtime ?? LAMBDA_RUNTIME,
            Handler: i.handler,
            Role: i.role,
            Code: { ZipFile: zip },
            MemorySize: i.memorySize,
            Timeout: i.timeout,
            Environment: { Variables: i.environment?.variables },
          }),
        );
        return { id: fnName, state: { ...i, name: fnName, arn: out.FunctionArn, codeSha256: out.CodeSha256 } };
      }
      case "aws:lambda/permission:Permission": {
        await lambda.send(
          new AddPermissionCommand({ FunctionName: i.function, StatementId: name, Action: i.action, Principal: i.principal, SourceArn: i.sourceArn, SourceAccount: i.sourceAccount }),
        );
        return { id: name, state: { ...i } };
      }
      default:
        if (type.startsWith("kubernetes:") && type.endsWith(":TargetGroupBinding")) {
          // Stand-in for the AWS Load Balancer Controller: a ready pod joins the target group.
          const tg = i.spec?.targetGroupARN as string;
          await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: `10.0.1.${podIp++}`, Port: 8080 }] }));
        }
        // Kubernetes objects, components, Lambda invoke config: recorded, nothing in moto.
        return { id: `${name}-id`, state: { ...i } };
    }
  }

  async function update(type: string, name: string, previous: RecordedObject, i: Inputs): Promise<{ id: string; state: Inputs }> {
    switch (type) {
      case "aws:lb/listenerRule:ListenerRule":
        await elb.send(new ModifyRuleCommand({ RuleArn: previous.id, Conditions: ruleConditions(i.conditions), Actions: ruleActions(i.actions), ...ruleTransforms(i.transforms) }));
        break;
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        await cw.send(new PutMetricAlarmCommand(alarmInput(i)));
        break;
      case "aws:iam/rolePolicy:RolePolicy":
        await iam.send(new PutRolePolicyCommand({ RoleName: i.role, PolicyName: name, PolicyDocument: i.policy }));
        break;
      case "aws:lambda/function:Function":
        await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: previous.id, Environment: { Variables: i.environment?.variables } }));
        break;
      default:
        break;
    }
    return { id: previous.id, state: { ...previous.state, ...i, ...pick(previous.state, ["arn", "name", "arnSuffix", "dnsName", "url"]) } };
  }

  const mocks: pulumi.runtime.Mocks = {
    async newResource(args) {
      const key = `${args.type}::${args.name}`;
      const previous = live.get(key);
      const inputs = args.inputs as Inputs;
      const result = previous ? await update(args.type, args.name, previous, inputs) : await create(args.type, args.name, inputs);
      if (previous && JSON.stringify(previous.inputs) !== JSON.stringify(inputs)) updated.push(key);
      const record = { type: args.type, name: args.name, inputs, id: result.id, state: result.state };
      live.set(key, record);
      resources.push(record);
      return result;
    },
    async call(args) {
      switch (args.token) {
        case "aws:ec2/getVpc:getVpc": {
          const vpc = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [args.inputs.id as string] }))).Vpcs?.[0];
          if (!vpc) throw new Error(`VPC ${String(args.inputs.id)} not found in moto`);
          return {
            id: vpc.VpcId,
            cidrBlock: vpc.CidrBlock,
            cidrBlockAssociations: (vpc.CidrBlockAssociationSet ?? []).map((a) => ({ associationId: a.AssociationId, cidrBlock: a.CidrBlock, state: a.CidrBlockState?.State })),
          };
        }
        case "aws:index/getRegion:getRegion":
          return { id: region, name: region, region };
        case "aws:eks/getCluster:getCluster":
          // No EKS in the rehearsal: a stand-in endpoint for the generated kubeconfig (Kubernetes
          // objects are recorded, never sent to a cluster).
          return {
            id: args.inputs.name,
            name: args.inputs.name,
            endpoint: "https://rehearsal.eks.invalid",
            certificateAuthorities: [{ data: Buffer.from("rehearsal").toString("base64") }],
          };
        case "aws:index/getCallerIdentity:getCallerIdentity":
          return { id: MOTO_ACCOUNT, accountId: MOTO_ACCOUNT, arn: `arn:aws:iam::${MOTO_ACCOUNT}:user/moto`, userId: "moto" };
        case "aws:iam/getSessionContext:getSessionContext":
          // The rehearsal runs as moto's IAM user: its own ARN is what IAM would evaluate.
          return { id: args.inputs.arn, arn: args.inputs.arn, issuerArn: args.inputs.arn, issuerId: "moto", issuerName: "moto", sessionName: "" };
        default:
          throw new Error(`the moto harness does not implement invoke ${args.token}`);
      }
    },
  };

  return {
    resources,
    live,
    updated,
    beginRun() {
      resources.length = 0;
      updated.length = 0;
    },
    mocks,
  };
}

function pick(o: Inputs, keys: string[]): Inputs {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
