/**
 * One notification to humans on a stack's topic, as the rollback Lambda and the operator CLI both
 * send them: a subject within SNS's 100 characters, the lines (cut to what SNS and mail take), and
 * string attributes that subscription filter policies can match.
 */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import * as defaults from "../../core/defaults";
import type { OutboxMessage } from "./releaseStore";
import { truncate } from "./text";

export async function publishNotice(sns: SNSClient, topicArn: string, message: OutboxMessage, abortSignal?: AbortSignal): Promise<void> {
  const subject = message.subject;
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: subject.length > 100 ? `${subject.slice(0, 97)}...` : subject,
      Message: truncate(message.lines.join("\n"), defaults.MAX_NOTIFICATION_CHARS),
      MessageAttributes: Object.fromEntries(Object.entries(message.attributes).map(([k, v]) => [k, { DataType: "String", StringValue: v }])),
    }),
    abortSignal ? { abortSignal } : {},
  );
}
