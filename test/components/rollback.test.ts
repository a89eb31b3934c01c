import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { AutoRollback } from "../../components/rollback/autoRollback";
import { LAMBDA_RUNTIME, bundleLambda } from "../../components/rollback/bundle";
import { RollbackFunction } from "../../components/rollback/rollbackFunction";
import { parseAlarmName } from "../../core/alarms";
import { parseServiceSpec } from "../../core/config";
import { MOCK_ACCOUNT, MOCK_REGION, one, ofType, promiseOf, recorded, settle } from "../helpers/pulumiMocks";
import { allows } from "../helpers/iamPolicy";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const RULES = [
  "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/1111",
  "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/2222",
];
const LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2";
const TGS = {
  blue: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1a2b3c4d/73e2d6bc24d8a067",
  green: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-green-5e6f7a8b/0123456789abcdef",
};
const FN = `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:rollback`;
const TOPIC = `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:rollback-notifications`;

const T = {
  fn: "aws:lambda/function:Function",
  table: "aws:dynamodb/table:Table",
  policy: "aws:iam/rolePolicy:RolePolicy",
  permission: "aws:lambda/permission:Permission",
  invokeConfig: "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  queue: "aws:sqs/queue:Queue",
  topic: "aws:sns/topic:Topic",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
};

interface Statement {
  Sid: string;
  Action: string[];
  Resource: string | string[];
  Condition?: Obj;
}

const READ_ONLY = /^[a-z0-9]+:(Describe|Get|List|Query)/;

describe("components/rollback: RollbackFunction", () => {
  async function build(extra: Partial<ConstructorParameters<typeof RollbackFunction>[1]> = {}) {
    const fn = new RollbackFunction("rollback", { alarmNamePrefix: "remedy-prod", stackName: "prod", ...extra });
    await settle();
    return fn;
  }

  it("deploys the esbuild bundle of lambdas/rollback.ts on nodejs22.x arm64 with its configuration", async () => {
    // Act
    const fn = await build();
    // Assess
    const f = one(T.fn, "rollback").inputs as Obj;
    assert.equal(f.runtime, LAMBDA_RUNTIME);
    assert.deepEqual(f.architectures, ["arm64"]);
    assert.equal(f.handler, "index.handler");
    assert.equal(f.memorySize, 1769, "one vCPU's worth: the flip's CPU-bound work is not throttled");
    assert.equal(f.timeout, 30);
    const table = one(T.table, "rollback-releases");
    const topic = one(T.topic, "rollback-notifications");
    assert.deepEqual(f.environment.variables, {
      RELEASE_TABLE: table.state.name,
      NOTIFY_TOPIC_ARN: topic.state.arn,
      ALARM_PREFIX: "remedy-prod",
      STACK_NAME: "prod",
      ALARM_ACCOUNT_ID: "123456789012",
      POWERTOOLS_SERVICE_NAME: "remedy-rollback",
      POWERTOOLS_METRICS_NAMESPACE: "remedy",
    });
    assert.equal(f.loggingConfig.logFormat, "JSON");
    assert.equal((f.code as Obj).__pulumiArchive, true, "code is an asset archive");
    assert.equal(fn.bundleSha256, bundleLambda("rollback").sha256, "of the rollback handler bundle");
    assert.equal(await promiseOf(fn.functionArn), one(T.fn, "rollback").state.arn);
  });

  it("keeps release state in a pay-per-request table with pk/sk, point-in-time recovery and deletion protection", async () => {
    await build();
    const t = one(T.table, "rollback-releases").inputs as Obj;
    assert.equal(t.billingMode, "PAY_PER_REQUEST");
    assert.equal(t.hashKey, "pk");
    assert.equal(t.rangeKey, "sk");
    assert.deepEqual(t.pointInTimeRecovery, { enabled: true });
    assert.equal(t.deletionProtectionEnabled, true);
    await build({ tableDeletionProtection: false });
    assert.equal((ofType(T.table)[1].inputs as Obj).deletionProtectionEnabled, false);
  });

  it("retries failed invocations twice into a dead-letter queue and alarms on errors and dead letters", async () => {
    await build();
    const dlq = one(T.queue, "rollback-dlq");
    const cfg = one(T.invokeConfig, "rollback").inputs as Obj;
    assert.equal(cfg.maximumRetryAttempts, 2);
    assert.equal(cfg.destinationConfig.onFailure.destination, dlq.state.arn);
    const errors = one(T.alarm, "rollback-errors").inputs as Obj;
    assert.equal(errors.name, "remedy-prod-rollback-errors");
    assert.equal(errors.namespace, "AWS/Lambda");
    assert.equal(errors.metricName, "Errors");
    assert.equal(errors.threshold, 1);
    assert.deepEqual(errors.alarmActions, [one(T.topic, "rollback-notifications").state.arn]);
    assert.equal(parseAlarmName("remedy-prod", errors.name as string), undefined, "its own alarm never invokes it");
    // Operators' overrides reach the function through its URL, IAM-authenticated only (issue 35, 4).
    const url = one("aws:lambda/functionUrl:FunctionUrl", "rollback-overrides");
    assert.deepEqual([(url.inputs as Obj).authorizationType, (url.inputs as Obj).functionName], ["AWS_IAM", one("aws:lambda/function:Function", "rollback").state.name]);
    // Throttled confirmations page (issue 35, 8), on the series the handler emits (asserted from its EMF in rollbackDefects).
    const throttled = one(T.alarm, "rollback-confirmation-throttled").inputs as Obj;
    assert.deepEqual([throttled.name, throttled.namespace, throttled.metricName, throttled.dimensions, throttled.threshold], ["remedy-prod-rollback-confirmation-throttled", "remedy", "ConfirmationThrottled", { service: "remedy-rollback" }, 1]);
    assert.deepEqual(throttled.alarmActions, [one(T.topic, "rollback-notifications").state.arn]);
    const dead = one(T.alarm, "rollback-dlq").inputs as Obj;
    assert.equal(dead.metricName, "ApproximateNumberOfMessagesVisible");
    assert.equal(dead.dimensions.QueueName, dlq.state.name);
  });

  it("lets only this stack's alarms invoke it", async () => {
    await build();
    const p = one(T.permission, "rollback-alarms").inputs as Obj;
    assert.equal(p.principal, "lambda.alarms.cloudwatch.amazonaws.com");
    assert.equal(p.action, "lambda:InvokeFunction");
    assert.equal(p.sourceArn, `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:remedy-prod/*`);
    assert.equal(p.sourceAccount, MOCK_ACCOUNT);
  });

  it("encrypts the topic with a rotating key of its own that CloudWatch may use, and lets only this stack's alarms and roles publish, over TLS", async () => {
    // Prepare + Act
    const fn = await build({ publisherRoleArns: ["arn:aws:iam::123456789012:role/oncall"] });
    // Assess: the key.
    const key = one("aws:kms/key:Key", "rollback-notifications");
    const keyInputs = key.inputs as Obj;
    assert.equal(keyInputs.enableKeyRotation, true);
    const keyPolicy = JSON.parse(keyInputs.policy as string) as { Statement: Obj[] };
    assert.deepEqual(keyPolicy.Statement.find((st) => st.Sid === "CloudWatchAlarmsEncrypt"), {
      Sid: "CloudWatchAlarmsEncrypt", Effect: "Allow", Principal: { Service: "cloudwatch.amazonaws.com" }, Action: ["kms:Decrypt", "kms:GenerateDataKey*"], Resource: "*",
      // Only this account's alarms of this stack (issue 35, 13: the key's CloudWatch statement had no source condition).
      Condition: { StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT }, ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:remedy-prod*` } },
    });
    assert.deepEqual(keyPolicy.Statement.find((st) => st.Sid === "AccountAdministers")?.Principal, { AWS: `arn:aws:iam::${MOCK_ACCOUNT}:root` });
    const topic = one(T.topic, "rollback-notifications");
    assert.equal((topic.inputs as Obj).kmsMasterKeyId, key.state.arn);
    // The topic policy replaces SNS's account-wide default.
    const tp = one("aws:sns/topicPolicy:TopicPolicy", "rollback-notifications").inputs as Obj;
    assert.equal(tp.arn, topic.state.arn);
    const st = Object.fromEntries((JSON.parse(tp.policy as string) as { Statement: Obj[] }).Statement.map((x) => [x.Sid, x]));
    const role = one("aws:iam/role:Role", "rollback").state.arn as string;
    assert.deepEqual(st.ThisStacksAlarmsPublish.Condition, {
      ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:remedy-prod*` },
      StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT },
    });
    assert.deepEqual(st.StackRolesPublish.Principal, { AWS: [role, "arn:aws:iam::123456789012:role/oncall"] });
    assert.deepEqual(st.NobodyElsePublishes, {
      Sid: "NobodyElsePublishes", Effect: "Deny", Principal: "*", Action: "sns:Publish", Resource: topic.state.arn,
      Condition: { ArnNotEquals: { "aws:PrincipalArn": [role, "arn:aws:iam::123456789012:role/oncall"] }, Bool: { "aws:PrincipalIsAWSService": "false" } },
    });
    assert.deepEqual(st.TlsOnly.Condition, { Bool: { "aws:SecureTransport": "false" } });
    assert.equal(st.TlsOnly.Effect, "Deny");
    // The function may use the key to publish, and nothing else of KMS.
    const policy = JSON.parse(one(T.policy, "rollback").inputs.policy as string) as { Statement: Obj[] };
    assert.deepEqual(policy.Statement.find((x) => x.Sid === "NotifyEncrypted"), { Sid: "NotifyEncrypted", Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [key.state.arn] });
    assert.ok(fn.topicKey);
  });

  it("grants least privilege: no mutating action on `*`, rules/table/topic/alarms of this stack only", async () => {
    await build();
    const policy = JSON.parse(one(T.policy, "rollback").inputs.policy as string) as { Statement: Statement[] };
    const bySid = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));
    for (const s of policy.Statement) {
      const mutating = s.Action.filter((a) => !READ_ONLY.test(a));
      const resources = ([] as string[]).concat(s.Resource);
      // A mutating action on a pattern is scoped by a tag condition (the rules) or is a log stream.
      // (The drill's SetAlarmState is on this stack's error-rate alarms by name pattern: asked below.)
      if (mutating.length > 0 && s.Sid !== "DrillErrorRateAlarms") assert.ok(s.Condition !== undefined || !resources.some((r) => r.includes("*") && !r.endsWith(":*")), `${s.Sid}: ${mutating.join()} on ${resources.join()}`);
      assert.ok(!resources.includes("*") || mutating.length === 0, `${s.Sid}: ${mutating.join()} on *`);
      assert.ok(!s.Action.some((a) => a.endsWith(":*") || a === "*"), `${s.Sid} uses an action wildcard`);
    }
    assert.deepEqual(bySid.FlipThisStacksRules.Action, ["elasticloadbalancing:ModifyRule"]);
    assert.deepEqual(bySid.FlipThisStacksRules.Resource, `arn:aws:elasticloadbalancing:${MOCK_REGION}:${MOCK_ACCOUNT}:listener-rule/app/*`);
    assert.deepEqual(bySid.FlipThisStacksRules.Condition, { StringEquals: { "aws:ResourceTag/remedy:rollback": "remedy-prod" } });
    // Evaluated as IAM would: this stack's tagged rules yes; another stack's, untagged or test
    // routes (which never carry the tag), another account's, and a listener itself no.
    const flip = (resource: string, tag?: string) => allows(policy, { action: "elasticloadbalancing:ModifyRule", resource, context: { "aws:ResourceTag/remedy:rollback": tag } });
    const rule = (account: string) => RULES[0].replace("123456789012", account).replace("eu-west-1", MOCK_REGION);
    assert.equal(await flip(rule(MOCK_ACCOUNT), "remedy-prod"), true);
    assert.equal(await flip(rule(MOCK_ACCOUNT), "remedy-hotfix"), false, "another stack's rule");
    assert.equal(await flip(rule(MOCK_ACCOUNT)), false, "an untagged rule (e.g. a test route)");
    assert.equal(await flip(rule("210987654321"), "remedy-prod"), false, "another account");
    // A listener is not a resource type of ModifyRule at all (AWS's service authorization data).
    await assert.rejects(flip(LISTENER.replace("eu-west-1", MOCK_REGION), "remedy-prod"), /no\.resource\.types/, "a listener is not a rule");
    assert.equal(await allows(policy, { action: "elasticloadbalancing:DeleteRule", resource: rule(MOCK_ACCOUNT), context: { "aws:ResourceTag/remedy:rollback": "remedy-prod" } }), false);
    assert.deepEqual(bySid.ReleaseState.Resource, [one(T.table, "rollback-releases").state.arn]);
    assert.deepEqual(bySid.ReadThisStacksAlarms.Resource, [`arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:remedy-prod/*`]);
    // `remedy drill` server-side (issue 35, 4): this stack's error-rate alarms only.
    const alarmArn = (name: string) => `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:${name}`;
    const setState = (name: string) => allows(policy, { action: "cloudwatch:SetAlarmState", resource: alarmArn(name) });
    assert.equal(await setState("remedy-prod/payments/green/error-rate"), true);
    assert.equal(await setState("remedy-prod/payments/green/latency-p99"), false, "another kind");
    assert.equal(await setState("remedy-staging/payments/green/error-rate"), false, "another stack");
    assert.equal(await setState("remedy-prod-release-driver-errors"), false, "the machinery's alarms");
    assert.deepEqual(bySid.Notify.Resource, [one(T.topic, "rollback-notifications").state.arn]);
    assert.deepEqual(bySid.DeadLetters.Resource, [one(T.queue, "rollback-dlq").state.arn]);
    assert.deepEqual(bySid.ReadTargetHealth.Action, ["elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeRules"]);
    // Every action the handler calls is granted (TransactWriteItems is authorised per item as PutItem).
    const granted = policy.Statement.flatMap((s) => s.Action);
    for (const a of ["elasticloadbalancing:ModifyRule", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeRules", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "cloudwatch:DescribeAlarms", "sns:Publish"]) {
      assert.ok(granted.includes(a), `${a} granted`);
    }
    // The notification outbox (claim, mark sent) is on the table only, like every other write.
    assert.deepEqual(bySid.ReleaseState.Action, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]);
  });

  it("protects the release table in Pulumi too while its deletion protection is on, and pages humans on the ALB's own 5xx", async () => {
    await build({ loadBalancerArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/remedy/50dc6c495c0c9188" });
    assert.equal(one(T.table, "rollback-releases").options.protect, true);
    const elb = one("aws:cloudwatch/metricAlarm:MetricAlarm", "rollback-elb-5xx").inputs as Obj;
    assert.equal(elb.name, "remedy-prod-alb-elb-5xx");
    assert.deepEqual(elb.dimensions, { LoadBalancer: "app/remedy/50dc6c495c0c9188" });
    assert.equal(elb.threshold, 10);
    assert.deepEqual(elb.alarmActions, [one(T.topic, "rollback-notifications").state.arn]);
    recorded.resources.length = 0;
    await build({ tableDeletionProtection: false });
    assert.equal(one(T.table, "rollback-releases").options.protect, false, "a hotfix stack's table can be destroyed");
    assert.equal(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name === "rollback-elb-5xx").length, 0, "no ALB given, no ALB alarm");
  });

  it("subscribes notification emails and refuses bad args before creating anything", async () => {
    await build({ notificationEmails: ["oncall@example.com"] });
    assert.equal((one(T.subscription, "rollback-email-0").inputs as Obj).endpoint, "oncall@example.com");
    recorded.resources.length = 0;
    const cases: [Partial<ConstructorParameters<typeof RollbackFunction>[1]>, RegExp][] = [
      [{ alarmNamePrefix: "remedy prod" }, /`alarmNamePrefix`: alarm name prefix "remedy prod" must be 1\.\.100 characters/],
      [{ memoryMb: 64 }, /`memoryMb` must be an integer 128\.\.10240, got 64/],
      [{ notificationEmails: ["oncall"] }, /`notificationEmails`: "oncall" is not an email address/],
      [{ logRetentionDays: 45 }, /`logRetentionDays` must be one of 1, 3, 5, .*, 3653, got 45/],
    ];
    for (const [args, message] of cases) {
      assert.throws(
        () => new RollbackFunction("bad", { alarmNamePrefix: "remedy-prod", ...args }),
        (err: unknown) => pulumi.ResourceError.isInstance(err) && message.test((err as Error).message),
      );
    }
    await settle();
    assert.deepEqual(recorded.resources.filter((r) => !r.type.startsWith("remedy:")), []);
  });

  it("bundles to a self-contained file well under 1 MB", () => {
    const b = bundleLambda("rollback");
    assert.ok(b.code.length < 1_500_000, `bundle is ${b.code.length} bytes`);
    // The only package left to the runtime is the optional CRT signer the SDK tries in a try/catch.
    const external = [...b.code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => !m.startsWith("node:"));
    assert.deepEqual([...new Set(external)], ["@aws-sdk/signature-v4-crt"]);
    assert.equal(bundleLambda("rollback").sha256, b.sha256, "deterministic");
  });
});

describe("components/rollback: AutoRollback", () => {
  const SERVICE = {
    name: "payments",
    port: 8080,
    healthPath: "/healthz",
    routing: { paths: ["/payments/*"], priority: 100 },
    stable: "blue",
    slots: { blue: { image: "r/payments:2.3.0" }, green: { image: "r/payments:2.3.1" } },
  };
  const spec = parseServiceSpec({
    ...SERVICE,
    alarms: { errorRate: { thresholdPercent: 2, minRequests: 50 }, latencyP99: { thresholdSeconds: 0.8, evaluationPeriods: 5, datapointsToAlarm: 4 } },
  });

  async function build(slots: ("blue" | "green")[] = ["blue", "green"]) {
    const ar = new AutoRollback("payments-rollback", {
      service: "payments",
      slots,
      alarms: spec.alarms,
      alarmNamePrefix: "remedy-prod",
      listenerArn: LISTENER,
      targetGroupArns: TGS,
      functionArn: FN,
      topicArn: TOPIC,
    });
    await settle();
    return ar;
  }

  it("creates four alarms per slot, named so the rollback Lambda can route them", async () => {
    const ar = await build();
    const names = ofType(T.alarm).map((r) => r.inputs.name as string).sort();
    assert.deepEqual(names, [
      "remedy-prod/payments/blue/connection-errors",
      "remedy-prod/payments/blue/error-rate",
      "remedy-prod/payments/blue/latency-p99",
      "remedy-prod/payments/blue/unhealthy-hosts",
      "remedy-prod/payments/green/connection-errors",
      "remedy-prod/payments/green/error-rate",
      "remedy-prod/payments/green/latency-p99",
      "remedy-prod/payments/green/unhealthy-hosts",
    ]);
    for (const n of names) assert.ok(parseAlarmName("remedy-prod", n), `${n} parses back`);
    assert.deepEqual([...(await promiseOf(ar.alarmNames))].sort(), names);
    assert.deepEqual(ofType(T.alarm).map((r) => r.name).sort(), names.map((n) => `payments-rollback-${n.split("/").slice(2).join("-")}`));
  });

  it("invokes the Lambda and notifies the topic on ALARM, notifies on OK, never breaches on missing data", async () => {
    await build(["green"]);
    assert.equal(ofType(T.alarm).length, 4);
    for (const a of ofType(T.alarm)) {
      assert.deepEqual(a.inputs.alarmActions, [FN, TOPIC]);
      assert.deepEqual(a.inputs.okActions, [TOPIC]);
      assert.equal(a.inputs.treatMissingData, "notBreaching");
      assert.equal(a.inputs.comparisonOperator, "GreaterThanOrEqualToThreshold");
    }
  });

  it("computes the 5xx rate by metric math on the slot's target group, with the configured thresholds", async () => {
    await build(["green"]);
    const rate = one(T.alarm, "payments-rollback-green-error-rate").inputs as Obj;
    assert.equal(rate.threshold, 2);
    assert.equal(rate.evaluationPeriods, 3);
    assert.equal(rate.datapointsToAlarm, 2);
    const [errors, requests, expr] = rate.metricQueries as Obj[];
    assert.equal(errors.metric.metricName, "HTTPCode_Target_5XX_Count");
    assert.equal(requests.metric.metricName, "RequestCount");
    assert.deepEqual(errors.metric.dimensions, { LoadBalancer: "app/remedy/50dc6c495c0c9188", TargetGroup: "targetgroup/payments-green-5e6f7a8b/0123456789abcdef" });
    assert.equal(expr.expression, "IF(FILL(requests, 0) >= 50, 100 * FILL(errors, 0) / requests, 0)");
    assert.equal(expr.returnData, true);
    assert.equal(errors.returnData, false);

    const p99 = one(T.alarm, "payments-rollback-green-latency-p99").inputs as Obj;
    assert.equal(p99.extendedStatistic, "p99");
    assert.equal(p99.metricName, "TargetResponseTime");
    assert.equal(p99.threshold, 0.8);
    assert.equal(p99.evaluationPeriods, 5);
    assert.equal(p99.datapointsToAlarm, 4);

    const hosts = one(T.alarm, "payments-rollback-green-unhealthy-hosts").inputs as Obj;
    assert.equal(hosts.metricName, "UnHealthyHostCount");
    assert.equal(hosts.statistic, "Maximum");
    assert.equal(hosts.threshold, 1);
    assert.equal(hosts.dimensions.TargetGroup, "targetgroup/payments-green-5e6f7a8b/0123456789abcdef");

    // The ALB cannot reach the slot's pods (not listening, or gone): per target group, rolls back.
    const conn = one(T.alarm, "payments-rollback-green-connection-errors").inputs as Obj;
    assert.equal(conn.metricName, "TargetConnectionErrorCount");
    assert.equal(conn.statistic, "Sum");
    assert.equal(conn.threshold, 5);
    assert.deepEqual(conn.dimensions, { LoadBalancer: "app/remedy/50dc6c495c0c9188", TargetGroup: "targetgroup/payments-green-5e6f7a8b/0123456789abcdef" });
    assert.deepEqual(conn.alarmActions, [FN, TOPIC]);
  });

  it("custom and relative alarms: one per slot with placeholders filled from the deployed slots; page-only alarms never invoke the Lambda nor carry the hint", async () => {
    const custom = parseServiceSpec({
      ...SERVICE,
      alarms: {
        relative: { errorRatePoints: 2 },
        custom: [
          { name: "checkout-errors", metric: { namespace: "Payments", name: "CheckoutErrors", dimensions: { Slot: "{slot}", Version: "{version}", Against: "{otherTargetGroup}" }, statistic: "Sum" }, threshold: 5, periodSeconds: 10 },
          { name: "queue-age", metric: { namespace: "Payments", name: "QueueAge", statistic: "p90" }, threshold: 30, action: "page" },
        ],
      },
    });
    new AutoRollback("payments-rollback", { service: "payments", slots: ["blue", "green"], alarms: custom.alarms, versions: { blue: "2.3.0", green: "2.3.1" }, alarmNamePrefix: "remedy-prod", listenerArn: LISTENER, targetGroupArns: TGS, ruleArn: RULES[0], functionArn: FN, topicArn: TOPIC });
    await settle();
    assert.equal(ofType(T.alarm).length, 2 * 7);
    const checkout = one(T.alarm, "payments-rollback-green-custom-checkout-errors").inputs as Obj;
    assert.equal(checkout.name, "remedy-prod/payments/green/custom-checkout-errors");
    assert.deepEqual(checkout.dimensions, { Slot: "green", Version: "2.3.1", Against: "targetgroup/payments-blue-1a2b3c4d/73e2d6bc24d8a067" });
    assert.equal(checkout.period, 10, "a high-resolution alarm (10 s)");
    assert.equal(checkout.namespace, "Payments");
    assert.deepEqual(checkout.alarmActions, [FN, TOPIC]);
    assert.match(checkout.alarmDescription, /\[remedy rollback target: arn:aws:elasticloadbalancing:[^ ]+:targetgroup\/payments-blue-1a2b3c4d\/73e2d6bc24d8a067; rule: .+\/1111\]$/);
    assert.deepEqual((one(T.alarm, "payments-rollback-blue-custom-checkout-errors").inputs as Obj).dimensions, { Slot: "blue", Version: "2.3.0", Against: "targetgroup/payments-green-5e6f7a8b/0123456789abcdef" });
    for (const pageOnly of ["payments-rollback-green-custom-queue-age", "payments-rollback-green-error-rate"]) {
      const a = one(T.alarm, pageOnly).inputs as Obj;
      assert.deepEqual(a.alarmActions, [TOPIC], `${pageOnly} only pages`);
      assert.doesNotMatch(a.alarmDescription, /remedy rollback target/, `${pageOnly} carries no hint: it never reaches the Lambda`);
    }
    const queue = one(T.alarm, "payments-rollback-green-custom-queue-age").inputs as Obj;
    assert.equal(queue.extendedStatistic, "p90");
    assert.equal(queue.statistic, undefined);
    const vs = one(T.alarm, "payments-rollback-green-error-rate-vs-stable").inputs as Obj;
    assert.deepEqual(vs.alarmActions, [FN, TOPIC]);
    assert.deepEqual(
      (vs.metricQueries as Obj[]).filter((q) => q.metric).map((q) => `${q.id}:${q.metric.dimensions.TargetGroup}`),
      ["cErr", "cReq"].map((id) => `${id}:targetgroup/payments-green-5e6f7a8b/0123456789abcdef`).concat(["sErr", "sReq"].map((id) => `${id}:targetgroup/payments-blue-1a2b3c4d/73e2d6bc24d8a067`)),
    );
    assert.throws(
      () => new AutoRollback("x", { service: "payments", slots: ["green"], alarms: custom.alarms, alarmNamePrefix: "remedy-prod", listenerArn: LISTENER, targetGroupArns: TGS, functionArn: FN, topicArn: TOPIC }),
      /custom alarm "checkout-errors" uses \{version\}, but `versions.green` is not given/,
    );
  });

  it("refuses a bad service name or slot list, naming the arg", () => {
    const base = { slots: ["blue" as const], alarms: spec.alarms, listenerArn: LISTENER, targetGroupArns: TGS, functionArn: FN, topicArn: TOPIC };
    assert.throws(() => new AutoRollback("x", { ...base, alarmNamePrefix: "remedy-prod", service: "Payments" }), /`service` must be a lowercase DNS label, got "Payments"/);
    assert.throws(() => new AutoRollback("y", { ...base, alarmNamePrefix: "remedy-prod", service: "payments", slots: [] }), /`slots` must list "blue" and\/or "green", got \[\]/);
  });
});
