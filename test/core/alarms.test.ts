import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import {
  ALARM_KINDS,
  AlarmKind,
  alarmArnPattern,
  alarmName,
  checkAlarmPrefix,
  loadBalancerAlarm,
  loadBalancerDimension,
  parseAlarmName,
  serviceAlarmNames,
  slotAlarms,
  targetGroupDimension,
} from "../../core/alarms";
import { ConfigError, parseServiceSpec, parseStackConfig } from "../../core/config";
import * as defaults from "../../core/defaults";
import { SLOTS } from "../../core/slots";
import { serviceInput } from "../helpers/fixtures";

describe("core/alarms: names, dimensions, thresholds", () => {
  it("parses every alarm name it builds back into service, slot and kind", () => {
    const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, fc.constantFrom(...SLOTS), fc.constantFrom(...Object.values(AlarmKind)), (service, slot, kind) => {
        const name = alarmName("remedy-prod", service, slot, kind);
        assert.deepEqual(parseAlarmName("remedy-prod", name), { service, slot, kind });
        assert.equal(parseAlarmName("remedy-hotfix", name), undefined, "another stack's prefix never matches");
      }),
    );
  });

  it("rejects names that are not this stack's rollback alarms", () => {
    for (const name of [
      "remedy-prod-rollback-errors",
      "remedy-prod/payments/purple/error-rate",
      "remedy-prod/payments/green/cpu",
      "remedy-prod/Payments/green/error-rate",
      "remedy-prod/payments/green/error-rate/extra",
      "remedy-production/payments/green/error-rate",
    ]) {
      assert.equal(parseAlarmName("remedy-prod", name), undefined, name);
    }
  });

  it("derives metric dimensions from load balancer, listener and target group ARNs", () => {
    const base = "arn:aws:elasticloadbalancing:eu-west-1:123456789012";
    assert.equal(loadBalancerDimension(`${base}:loadbalancer/app/remedy/50dc6c495c0c9188`), "app/remedy/50dc6c495c0c9188");
    assert.equal(loadBalancerDimension(`${base}:listener/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2`), "app/remedy/50dc6c495c0c9188");
    assert.equal(targetGroupDimension(`${base}:targetgroup/payments-green/73e2d6bc24d8a067`), "targetgroup/payments-green/73e2d6bc24d8a067");
    assert.throws(() => loadBalancerDimension(`${base}:loadbalancer/net/nlb/1`), /not an Application Load Balancer or listener ARN/);
    assert.throws(() => targetGroupDimension("targetgroup/x"), /not a target group ARN/);
  });

  it("scopes IAM patterns to the stack or one service, and checks the prefix", () => {
    assert.equal(alarmArnPattern("eu-west-1", "123456789012", "remedy-prod"), "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-prod/*");
    assert.equal(alarmArnPattern("eu-west-1", "1", "remedy-prod", "payments"), "arn:aws:cloudwatch:eu-west-1:1:alarm:remedy-prod/payments/*");
    assert.equal(checkAlarmPrefix("remedy-prod"), undefined);
    assert.match(checkAlarmPrefix("remedy/prod") ?? "", /must be 1\.\.100 characters of A-Z a-z 0-9 \. _ -/);
  });
});

describe("core/config: service alarms", () => {
  it("accepts only log retentions CloudWatch Logs supports", () => {
    const raw = (days: number) => ({ kubernetes: { cluster: "c" }, ingress: { vpcId: "vpc-0a1b2c3d4e5f67890", subnetIds: ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"], allowPlainHttp: true }, rollback: { logRetentionDays: days }, services: [serviceInput({ name: "payments" })] });
    assert.equal(parseStackConfig(raw(90)).rollback.logRetentionDays, 90);
    assert.throws(() => parseStackConfig(raw(45)), /rollback\.logRetentionDays: must be a retention CloudWatch Logs accepts: 1, 3, 5, .*, got 45/);
  });

  it("refuses an adopted listener ARN that is not an ALB listener (alarm dimensions come from it)", () => {
    const raw = { ingress: { vpcId: "vpc-0a1b2c3d4e5f67890", listenerArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shared/50dc6c495c0c9188", securityGroupId: "sg-0a1b2c3d" }, services: [serviceInput({ name: "payments" })] };
    assert.throws(() => parseStackConfig(raw), /ingress\.listenerArn: must be an Application Load Balancer listener ARN \(\.\.\.:listener\/app\/<alb-name>\/<alb-id>\/<listener-id>\)/);
  });

  it("applies documented defaults when a service says nothing", () => {
    const spec = parseServiceSpec(serviceInput({ name: "payments" }));
    assert.deepEqual(spec.alarms.errorRate, {
      periodSeconds: defaults.DEFAULT_ALARM_PERIOD_SECONDS,
      evaluationPeriods: defaults.DEFAULT_ALARM_EVALUATION_PERIODS,
      datapointsToAlarm: defaults.DEFAULT_ALARM_DATAPOINTS_TO_ALARM,
      thresholdPercent: defaults.DEFAULT_ERROR_RATE_THRESHOLD_PERCENT,
      minRequests: defaults.DEFAULT_ERROR_RATE_MIN_REQUESTS,
    });
    assert.equal(spec.alarms.latencyP99.thresholdSeconds, defaults.DEFAULT_LATENCY_P99_THRESHOLD_SECONDS);
    assert.equal(parseServiceSpec(serviceInput({ name: "x", alarms: { unhealthyHosts: { evaluationPeriods: 1 } } })).alarms.unhealthyHosts.datapointsToAlarm, 1, "datapoints never exceed a smaller evaluation window");
  });

  it("names the field and the fix for bad thresholds and windows", () => {
    try {
      parseServiceSpec(
        serviceInput({
          name: "payments",
          alarms: {
            errorRate: { thresholdPercent: 0, periodSeconds: 90 },
            latencyP99: { evaluationPeriods: 2, datapointsToAlarm: 3 },
            unhealthyHosts: { periodSeconds: 3600, evaluationPeriods: 30 },
            cpu: {},
          },
        }),
        "services[0]",
      );
      assert.fail("expected a ConfigError");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const lines = err.issues.map((i) => `${i.path}: ${i.message}`);
      assert.ok(lines.includes("services[0].alarms.errorRate.thresholdPercent: must be above 0 and at most 100 (percent of requests), got 0"), lines.join("\n"));
      assert.ok(lines.includes("services[0].alarms.errorRate.periodSeconds: must be a multiple of 60: ALB publishes target group metrics per minute, got 90"), lines.join("\n"));
      assert.ok(lines.some((l) => l.startsWith("services[0].alarms.cpu: unknown key;")), lines.join("\n"));
    }
    try {
      parseServiceSpec(serviceInput({ name: "p", alarms: { latencyP99: { evaluationPeriods: 2, datapointsToAlarm: 3 }, unhealthyHosts: { periodSeconds: 1800, evaluationPeriods: 60 }, connectionErrors: { periodSeconds: 3600, evaluationPeriods: 100 } } }), "services[0]");
      assert.fail("expected a ConfigError");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.map((i) => `${i.path}: ${i.message}`), [
        "services[0].alarms.latencyP99.datapointsToAlarm: 3 exceeds evaluationPeriods 2; an alarm cannot need more breaching periods than it evaluates",
        // CloudWatch: "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds. For
        // alarms with a period of less than one hour (3,600 seconds), the total evaluation period
        // can't be longer than one day" (PutMetricAlarm, Period). 3600 x 100 is inside seven days.
        "services[0].alarms.unhealthyHosts.evaluationPeriods: 60 periods of 1800 s exceed one day, the longest window CloudWatch evaluates at this period",
      ]);
    }
  });
});

describe("core/alarms: the alarm definitions CloudWatch gets", () => {
  // Distinct values everywhere, so a definition that takes one from the wrong place shows.
  const spec = {
    errorRate: { periodSeconds: 60, evaluationPeriods: 3, datapointsToAlarm: 2, thresholdPercent: 5, minRequests: 20 },
    latencyP99: { periodSeconds: 120, evaluationPeriods: 4, datapointsToAlarm: 3, thresholdSeconds: 1.5 },
    unhealthyHosts: { periodSeconds: 30, evaluationPeriods: 5, datapointsToAlarm: 4, threshold: 2 },
    connectionErrors: { periodSeconds: 300, evaluationPeriods: 6, datapointsToAlarm: 5, threshold: 7 },
  };

  it("defines each slot's four alarms on the ALB namespace with the target group's dimensions, metrics, statistics and metric math", () => {
    const alarms = slotAlarms({ prefix: "remedy-prod", service: "payments", slot: "green", loadBalancer: "app/remedy/abc", targetGroup: "targetgroup/payments-green/def", otherTargetGroup: "targetgroup/payments-blue/ghi", spec: spec as never, fill: () => assert.fail("no custom alarms") });
    const dimensions = { LoadBalancer: "app/remedy/abc", TargetGroup: "targetgroup/payments-green/def" };
    const common = { comparisonOperator: "GreaterThanOrEqualToThreshold", treatMissingData: "notBreaching", action: "rollback" };
    assert.deepEqual(alarms, [
      {
        kind: "error-rate",
        name: "remedy-prod/payments/green/error-rate",
        description: "remedy: payments green target 5xx rate >= 5% of requests (periods with fewer than 20 requests count as 0) in 2 of 3 x 60s; rolls the release back",
        ...common,
        threshold: 5,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        metricQueries: [
          { id: "errors", returnData: false, metric: { namespace: "AWS/ApplicationELB", metricName: "HTTPCode_Target_5XX_Count", stat: "Sum", period: 60, dimensions } },
          { id: "requests", returnData: false, metric: { namespace: "AWS/ApplicationELB", metricName: "RequestCount", stat: "Sum", period: 60, dimensions } },
          { id: "rate", label: "5xx rate (%)", returnData: true, expression: "IF(FILL(requests, 0) >= 20, 100 * FILL(errors, 0) / requests, 0)" },
        ],
      },
      {
        kind: "latency-p99",
        name: "remedy-prod/payments/green/latency-p99",
        description: "remedy: payments green p99 target response time >= 1.5s in 3 of 4 x 120s; rolls the release back",
        ...common,
        threshold: 1.5,
        evaluationPeriods: 4,
        datapointsToAlarm: 3,
        metric: { namespace: "AWS/ApplicationELB", metricName: "TargetResponseTime", dimensions, period: 120, extendedStatistic: "p99" },
      },
      {
        kind: "unhealthy-hosts",
        name: "remedy-prod/payments/green/unhealthy-hosts",
        description: "remedy: payments green unhealthy targets >= 2 in 4 of 5 x 30s; rolls the release back",
        ...common,
        threshold: 2,
        evaluationPeriods: 5,
        datapointsToAlarm: 4,
        metric: { namespace: "AWS/ApplicationELB", metricName: "UnHealthyHostCount", dimensions, period: 30, statistic: "Maximum" },
      },
      {
        kind: "connection-errors",
        name: "remedy-prod/payments/green/connection-errors",
        description: "remedy: payments green ALB-to-pod connection errors >= 7 per 300s in 5 of 6 periods (pods not listening, or gone); rolls the release back",
        ...common,
        threshold: 7,
        evaluationPeriods: 6,
        datapointsToAlarm: 5,
        metric: { namespace: "AWS/ApplicationELB", metricName: "TargetConnectionErrorCount", dimensions, period: 300, statistic: "Sum" },
      },
    ]);
    // The metric-math expression refers to the ids of its own queries.
    const math = alarms[0].metricQueries ?? [];
    for (const id of ["requests", "errors"]) assert.ok(math.some((q) => q.id === id) && math[2].expression?.includes(id), id);
    assert.deepEqual(alarms.map((a) => a.kind), ALARM_KINDS);
  });

  it("defines the ALB's own 5xx alarm per load balancer (and ingress group), which pages and never rolls back", () => {
    assert.deepEqual(loadBalancerAlarm("remedy-prod", "app/remedy/abc", 25), {
      name: "remedy-prod-alb-elb-5xx",
      description:
        "remedy: the shared ALB itself answered >= 25 5xx per minute in 2 of 3 minutes (no healthy or no registered targets, timeouts). Not per target group, so no automatic rollback: check `remedy status` and the target groups' health.",
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 25,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: "notBreaching",
      action: "page",
      metric: { namespace: "AWS/ApplicationELB", metricName: "HTTPCode_ELB_5XX_Count", dimensions: { LoadBalancer: "app/remedy/abc" }, period: 60, statistic: "Sum" },
    });
    const grouped = loadBalancerAlarm("remedy-prod", "app/remedy-internal/abc", 10, "internal");
    assert.equal(grouped.name, "remedy-prod-alb-internal-elb-5xx");
    assert.match(grouped.description, /^remedy: the shared ALB of ingress group internal itself answered >= 10 5xx/);
    assert.equal(parseAlarmName("remedy-prod", grouped.name), undefined, "not a rollback alarm: the Lambda ignores it");
  });

  it("lists a service's alarm names slot by slot, kind by kind; scopes ARN patterns; bounds the prefix", () => {
    assert.deepEqual(serviceAlarmNames("p", "svc", ["blue", "green"]), [
      "p/svc/blue/error-rate",
      "p/svc/blue/latency-p99",
      "p/svc/blue/unhealthy-hosts",
      "p/svc/blue/connection-errors",
      "p/svc/green/error-rate",
      "p/svc/green/latency-p99",
      "p/svc/green/unhealthy-hosts",
      "p/svc/green/connection-errors",
    ]);
    assert.deepEqual(serviceAlarmNames("p", "svc", []), []);
    assert.equal(alarmArnPattern("eu-west-1", "123456789012", "remedy-prod"), "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-prod/*");
    assert.equal(alarmArnPattern("eu-west-1", "123456789012", "remedy-prod", "payments"), "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-prod/payments/*");
    assert.equal(checkAlarmPrefix("a".repeat(100)), undefined);
    assert.match(checkAlarmPrefix("a".repeat(101)) ?? "", /must be 1\.\.100 characters of A-Z a-z 0-9 \. _ -, starting alphanumeric/);
    assert.equal(checkAlarmPrefix("A1._-"), undefined);
    for (const bad of ["", "-remedy", "_x", ".x", "remedy prod", "remedy/prod", "remedy:prod"]) assert.notEqual(checkAlarmPrefix(bad), undefined, JSON.stringify(bad));
  });

  it("reads dimensions only from the ARN shapes it knows, naming the bad ARN", () => {
    assert.equal(loadBalancerDimension("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/remedy/abc"), "app/remedy/abc");
    assert.equal(loadBalancerDimension("arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/remedy/abc/def"), "app/remedy/abc");
    assert.throws(() => loadBalancerDimension("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/net/remedy/abc"), /not an Application Load Balancer or listener ARN: arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer\/net\/remedy\/abc/);
    assert.throws(() => loadBalancerDimension("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/remedy/abc/extra"), /not an Application Load Balancer/);
    assert.equal(targetGroupDimension("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/payments-green/def"), "targetgroup/payments-green/def");
    assert.throws(() => targetGroupDimension("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/payments-green/def/x"), /not a target group ARN: /);
    assert.throws(() => targetGroupDimension("targetgroup/payments-green/def"), /not a target group ARN/);
  });

  it("parses only well-formed names of this prefix: three parts, a service label, a slot and a kind", () => {
    assert.deepEqual(parseAlarmName("p", "p/pay-ments2/blue/latency-p99"), { service: "pay-ments2", slot: "blue", kind: "latency-p99" });
    for (const name of ["p/payments/blue", "p/payments/blue/error-rate/x", "px/payments/blue/error-rate", "q/payments/blue/error-rate", "p/Payments/blue/error-rate", "p/payments-/blue/error-rate", "p/-payments/blue/error-rate", "p/payments/red/error-rate", "p/payments/blue/errors", "p//blue/error-rate", "p/payments/blue/custom-", "p/payments/blue/custom-X", "p/payments/blue/custom-a-", "p/payments/blue/error-rate-vs-blue"]) {
      assert.equal(parseAlarmName("p", name), undefined, name);
    }
    assert.equal(alarmName("p", "s", "blue", AlarmKind.ConnectionErrors), "p/s/blue/connection-errors");
  });
});
