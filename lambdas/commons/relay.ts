/**
 * Relays the stack topic's messages that a chat channel takes (an SNS subscription filter policy
 * picks them) to that channel's own topic. AWS Chatbot subscribes to the topics a channel
 * configuration names itself, so remedy cannot put a filter policy on that subscription: a
 * channel that takes only some events gets a topic of its own, fed through this relay.
 *
 * SNS delivers to Lambda the `lambda` body of a `MessageStructure: json` message, which remedy's
 * publishers set to the whole notice (subject, lines, attributes) so nothing is lost on the way.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html
 */
import type { SNSClient } from "@aws-sdk/client-sns";
import "../../core/zodMini";
import * as z from "zod/mini";
import { publishNotice } from "./notify";

const noticeSchema = z.object({
  subject: z.string().check(z.minLength(1)),
  lines: z.array(z.string()),
  attributes: z.record(z.string(), z.string()),
});

const snsEventSchema = z.object({
  Records: z.array(z.object({ Sns: z.object({ Message: z.string(), TopicArn: z.optional(z.string()) }) })).check(z.minLength(1)),
});

/** An SNS event, or a record whose body is not a remedy notice: nothing is relayed, the event is refused. */
export class RelayInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RelayInputError";
  }
}

/** Publishes each record's notice to `targetTopicArn`; returns how many were relayed. */
export async function relay(event: unknown, sns: SNSClient, targetTopicArn: string): Promise<number> {
  const parsed = snsEventSchema.safeParse(event);
  if (!parsed.success) throw new RelayInputError(`not an SNS event: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  // Checked whole first: a bad record relays nothing, so a retry cannot send the good ones twice.
  const notices = parsed.data.Records.map((r, i) => {
    let body: unknown;
    try {
      body = JSON.parse(r.Sns.Message);
    } catch {
      throw new RelayInputError(`Records[${i}].Sns.Message is not a remedy notice (not JSON); it was published without remedy's lambda body`);
    }
    const n = noticeSchema.safeParse(body);
    if (!n.success) throw new RelayInputError(`Records[${i}].Sns.Message is not a remedy notice: ${n.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`);
    return n.data;
  });
  for (const n of notices) await publishNotice(sns, targetTopicArn, n);
  return notices.length;
}
