/**
 * One notification to people on a stack's topic, as the rollback Lambda, the release driver,
 * `pulumi up` and the operator CLI send them: a subject within SNS's 100 characters, the lines
 * (cut to what SNS and mail take), and string attributes subscription filter policies match.
 *
 * Sent with `MessageStructure: "json"`, one body per protocol: email, SQS and the rest get the
 * text; Lambda subscribers (the chat relay) the whole notice as JSON; HTTPS subscribers (AWS Chatbot for Slack and Teams, and webhooks) get a Chatbot custom
 * notification (`version` 1.0, `source` custom, `content.title`/`description`/`nextSteps`,
 * `metadata` with the attributes): Chatbot renders only the event formats it knows, and
 * webhooks get structured JSON instead of prose.
 * https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
 * https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html
 */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import * as defaults from "../../core/defaults";
import { requestOptions } from "./sdk";
import type { OutboxMessage } from "./releaseStore";
import { truncate } from "./text";

/**
 * Chat renders the custom notification's text as markdown (`client-markdown`), and what remedy
 * records and pages carries text it does not write: an alarm's StateReason (anyone allowed
 * SetAlarmState sets it), an operator's --reason. So the body goes out as a code block (shown as
 * typed in Slack and Teams: no links, formatting or mentions), each next step as inline code, and
 * the title without markdown's characters (issue 35, 5).
 */
export function chatPlain(text: string): { block: string; inline: string; title: string } {
  const noTicks = text.replace(/`/g, "'");
  return { block: "```\n" + noTicks + "\n```", inline: "`" + noTicks.replace(/\s+/g, " ") + "`", title: text.replace(/[*_~`<>|[\]]/g, "") };
}

/** The Chatbot custom notification for a message (what HTTPS subscribers receive). */
export function chatNotification(message: OutboxMessage): Record<string, unknown> {
  const next = message.lines.filter((l) => /^(Act|Next|Run)\b/.test(l)).map((l) => chatPlain(l.replace(/^(Act|Next):\s*/, "")).inline);
  const a = message.attributes;
  return {
    version: "1.0",
    source: "custom",
    content: {
      textType: "client-markdown",
      title: chatPlain(message.subject).title,
      description: chatPlain(truncate(message.lines.filter((l) => !/^(Act|Next|Run)\b/.test(l)).join("\n"), 3500)).block,
      ...(next.length > 0 ? { nextSteps: next } : {}),
      keywords: [a.event ?? a.outcome, a.service, a.stack].filter((k): k is string => typeof k === "string"),
    },
    metadata: {
      summary: message.subject,
      eventType: a.event ?? a.outcome ?? "notice",
      ...(a.service ? { threadId: `${a.stack ?? "remedy"}/${a.service}` } : {}),
      additionalContext: { ...a },
    },
  };
}

export async function publishNotice(sns: SNSClient, topicArn: string, message: OutboxMessage, abortSignal?: AbortSignal): Promise<void> {
  const subject = message.subject;
  const text = truncate(message.lines.join("\n"), defaults.MAX_NOTIFICATION_CHARS);
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: subject.length > 100 ? `${subject.slice(0, 97)}...` : subject,
      MessageStructure: "json",
      // `lambda`: the whole notice, for the relay that feeds a filtered chat channel's topic.
      // (Email takes `default`. SNS allows 256 KB for all bodies together: two copies of the text,
      // each cut to MAX_NOTIFICATION_CHARS, and the short chat body fit.)
      Message: JSON.stringify({ default: text, https: JSON.stringify(chatNotification(message)), lambda: JSON.stringify({ subject: message.subject, lines: text === message.lines.join("\n") ? message.lines : [text], attributes: message.attributes }) }),
      MessageAttributes: Object.fromEntries(Object.entries(message.attributes).map(([k, v]) => [k, { DataType: "String", StringValue: v }])),
    }),
    requestOptions(abortSignal),
  );
}
