import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { AlarmKind, alarmArnPattern, alarmName, checkAlarmPrefix, loadBalancerDimension, parseAlarmName, targetGroupDimension } from "../../core/alarms";
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
      parseServiceSpec(serviceInput({ name: "p", alarms: { latencyP99: { evaluationPeriods: 2, datapointsToAlarm: 3 }, unhealthyHosts: { periodSeconds: 3600, evaluationPeriods: 30 } } }), "services[0]");
      assert.fail("expected a ConfigError");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.map((i) => `${i.path}: ${i.message}`), [
        "services[0].alarms.latencyP99.datapointsToAlarm: 3 exceeds evaluationPeriods 2; an alarm cannot need more breaching periods than it evaluates",
        "services[0].alarms.unhealthyHosts.evaluationPeriods: 30 periods of 3600 s exceed one day, the longest window CloudWatch evaluates",
      ]);
    }
  });
});
