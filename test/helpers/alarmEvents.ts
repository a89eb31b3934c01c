/**
 * The events CloudWatch sends for an alarm state change, in the three shapes the rollback
 * handler accepts, built from the alarm as `DescribeAlarms` reports it (moto never fires alarm
 * actions itself, so tests deliver these). Field layout follows the AWS documentation examples.
 */
import type { MetricAlarm } from "@aws-sdk/client-cloudwatch";

/** CloudWatch's own timestamp format: `2026-11-24T10:00:00.123+0000`. */
export function cwTimestamp(d: Date): string {
  return d.toISOString().replace("Z", "+0000");
}

function stateTime(alarm: MetricAlarm): Date {
  return alarm.StateUpdatedTimestamp ?? new Date();
}

function accountOf(arn: string): string {
  return arn.split(":")[4] ?? "123456789012";
}

/** The event a CloudWatch alarm's Lambda action delivers. */
export function alarmActionEvent(alarm: MetricAlarm, previous = "OK") {
  const arn = alarm.AlarmArn as string;
  const ts = cwTimestamp(stateTime(alarm));
  return {
    source: "aws.cloudwatch",
    alarmArn: arn,
    accountId: accountOf(arn),
    time: ts,
    region: arn.split(":")[3],
    alarmData: {
      alarmName: alarm.AlarmName,
      state: { value: alarm.StateValue, reason: alarm.StateReason, timestamp: ts },
      previousState: { value: previous, reason: "previous", timestamp: cwTimestamp(new Date(stateTime(alarm).getTime() - 60_000)) },
      configuration: { description: alarm.AlarmDescription, metrics: [] },
    },
  };
}

/** The Lambda event of an SNS delivery of the alarm's notification. */
export function snsEvent(alarm: MetricAlarm, topicArn: string) {
  const message = {
    AlarmName: alarm.AlarmName,
    AlarmDescription: alarm.AlarmDescription ?? null,
    AWSAccountId: accountOf(alarm.AlarmArn as string),
    NewStateValue: alarm.StateValue,
    NewStateReason: alarm.StateReason,
    StateChangeTime: cwTimestamp(stateTime(alarm)),
    Region: "EU (Ireland)",
    AlarmArn: alarm.AlarmArn,
    OldStateValue: "OK",
    Trigger: { MetricName: alarm.MetricName ?? null, Namespace: alarm.Namespace ?? null },
  };
  return {
    Records: [
      {
        EventSource: "aws:sns",
        EventVersion: "1.0",
        EventSubscriptionArn: `${topicArn}:0c2b4a3e-1111-2222-3333-444455556666`,
        Sns: {
          Type: "Notification",
          MessageId: "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
          TopicArn: topicArn,
          Subject: `ALARM: "${String(alarm.AlarmName)}" in EU (Ireland)`,
          Message: JSON.stringify(message),
          Timestamp: new Date().toISOString(),
          SignatureVersion: "1",
          MessageAttributes: {},
        },
      },
    ],
  };
}

/** The EventBridge "CloudWatch Alarm State Change" event. */
export function eventBridgeEvent(alarm: MetricAlarm) {
  const arn = alarm.AlarmArn as string;
  return {
    version: "0",
    id: "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    source: "aws.cloudwatch",
    account: accountOf(arn),
    time: stateTime(alarm).toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: arn.split(":")[3],
    resources: [arn],
    detail: {
      alarmName: alarm.AlarmName,
      state: { value: alarm.StateValue, reason: alarm.StateReason, timestamp: cwTimestamp(stateTime(alarm)) },
      previousState: { value: "OK", reason: "previous", timestamp: cwTimestamp(new Date(stateTime(alarm).getTime() - 60_000)) },
      configuration: { description: alarm.AlarmDescription, metrics: [] },
    },
  };
}
