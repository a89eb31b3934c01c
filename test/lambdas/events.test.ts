import { strict as assert } from "node:assert";
import { EventShape, InvalidEventError, alarmOrigin, parseAlarmEvent } from "../../lambdas/commons/events";

const ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-prod/payments/green/error-rate";

describe("lambdas/commons/events: the three accepted alarm event shapes", () => {
  it("normalises CloudWatch's +0000 timestamps to ISO-8601 UTC", () => {
    const [s] = parseAlarmEvent({
      source: "aws.cloudwatch",
      alarmArn: ARN,
      alarmData: { alarmName: "remedy-prod/payments/green/error-rate", state: { value: "ALARM", reason: "r", timestamp: "2026-11-24T12:36:15.490+0000" } },
    });
    assert.deepEqual(s, { shape: EventShape.AlarmAction, alarmName: "remedy-prod/payments/green/error-rate", alarmArn: ARN, state: "ALARM", reason: "r", at: "2026-11-24T12:36:15.490Z" });
  });

  it("carries the account and region of each shape's envelope, and reads them from the alarm ARN", () => {
    const state = { value: "ALARM", reason: "r", timestamp: "2026-11-24T12:36:15.490+0000" };
    const name = "remedy-prod/payments/green/error-rate";
    const [action] = parseAlarmEvent({ source: "aws.cloudwatch", alarmArn: ARN, accountId: "123456789012", region: "eu-west-1", alarmData: { alarmName: name, state } });
    assert.deepEqual([action.account, action.region], ["123456789012", "eu-west-1"]);
    assert.deepEqual(alarmOrigin(action), { account: "123456789012", region: "eu-west-1", name });
    const [bridge] = parseAlarmEvent({ source: "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", account: "210987654321", region: "us-east-1", detail: { alarmName: name, state } });
    assert.deepEqual(alarmOrigin(bridge), { account: "210987654321", region: "us-east-1" }, "no resources: the envelope says");
    const msg = JSON.stringify({ AlarmName: name, AWSAccountId: "123456789012", NewStateValue: "ALARM", NewStateReason: "x", StateChangeTime: "2026-11-24T12:00:00.000+0000" });
    const [sns] = parseAlarmEvent({ Records: [{ EventSource: "aws:sns", Sns: { Message: msg } }] });
    assert.deepEqual(alarmOrigin(sns), { account: "123456789012", region: undefined }, "SNS without AlarmArn names no region code");
    // An envelope contradicting the ARN is trusted neither way.
    const [forged] = parseAlarmEvent({ source: "aws.cloudwatch", alarmArn: ARN, accountId: "999999999999", alarmData: { alarmName: name, state } });
    assert.deepEqual(alarmOrigin(forged), { name });
  });

  it("accepts only a CloudWatch alarm ARN: a well-formed ARN of another service in the same account is invalid", () => {
    const state = { value: "ALARM", reason: "r", timestamp: "2026-11-24T12:36:15.490+0000" };
    const name = "remedy-prod/payments/green/error-rate";
    const rule = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
    const cases = [
      rule,
      "arn:aws:lambda:eu-west-1:123456789012:function:alarm:remedy-prod/payments/green/error-rate",
      "arn:aws:cloudwatch:eu-west-1:123456789012:dashboard/alarm:x",
      "arn:aws:cloudwatch:eu-west-1:12345678901:alarm:" + name,
      "arn:aws:cloudwatch::123456789012:alarm:" + name,
    ];
    for (const alarmArn of cases) {
      const [s] = parseAlarmEvent({ source: "aws.cloudwatch", alarmArn, accountId: "123456789012", region: "eu-west-1", alarmData: { alarmName: name, state } });
      assert.match(alarmOrigin(s).invalid ?? "", /is not a CloudWatch alarm ARN \(arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>\)/, alarmArn);
      assert.equal(alarmOrigin(s).account, undefined, "nothing of an invalid ARN is trusted");
    }
    // Other partitions are alarm ARNs too.
    const [cn] = parseAlarmEvent({ source: "aws.cloudwatch", alarmArn: `arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:${name}`, alarmData: { alarmName: name, state } });
    assert.deepEqual(alarmOrigin(cn), { region: "cn-north-1", account: "123456789012", name });
  });

  it("returns one signal per SNS record", () => {
    const msg = (name: string) => JSON.stringify({ AlarmName: name, NewStateValue: "ALARM", NewStateReason: "x", StateChangeTime: "2026-11-24T12:00:00.000+0000" });
    const signals = parseAlarmEvent({ Records: [{ EventSource: "aws:sns", Sns: { Message: msg("a") } }, { EventSource: "aws:sns", Sns: { Message: msg("b") } }] });
    assert.deepEqual(signals.map((s) => [s.shape, s.alarmName]), [["sns", "a"], ["sns", "b"]]);
  });

  it("refuses other events with a message naming the field", () => {
    const cases: [unknown, RegExp][] = [
      [null, /^event must be a JSON object, got null$/],
      [[1], /^event must be a JSON object, got an array$/],
      [{ Records: [{ EventSource: "aws:sqs", body: "{}" }] }, /^not an SNS alarm notification: Records\.0\.EventSource: /],
      [{ source: "aws.cloudwatch", "detail-type": "EC2 Instance State-change Notification", detail: {} }, /^not a CloudWatch Alarm State Change event: detail-type: /],
      [{ source: "aws.cloudwatch", alarmArn: ARN, alarmData: { alarmName: "a", state: { value: "ALARM", reason: "r", timestamp: "yesterday" } } }, /alarmData\.state\.timestamp: must be a timestamp such as 2026-11-24T10:00:00\.000\+0000, got "yesterday"/],
      [{ source: "aws.cloudwatch", alarmArn: ARN, alarmData: { alarmName: "a", state: { value: "FIRING", reason: "r", timestamp: "2026-11-24T12:00:00Z" } } }, /alarmData\.state\.value: /],
    ];
    for (const [event, message] of cases) {
      assert.throws(() => parseAlarmEvent(event), (err: Error) => err instanceof InvalidEventError && message.test(err.message), JSON.stringify(event));
    }
  });
});
