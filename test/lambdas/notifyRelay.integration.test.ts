/**
 * The chat relay against moto: SNS hands the Lambda the `lambda` body of remedy's message (the
 * whole notice); the relay republishes it on the channel's topic, where an SQS subscriber stands
 * in for Chatbot's HTTPS subscription. moto does not invoke Lambda subscribers: the test builds
 * the event SNS would deliver from the message remedy publishes.
 */
import { strict as assert } from "node:assert";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { RelayInputError, relay } from "../../lambdas/commons/relay";
import { useMoto } from "../helpers/moto";

describe("lambdas/notifyRelay: a filtered chat channel's feed (moto)", function () {
  this.timeout(60_000);
  const suite = useMoto();

  it("republishes the notice whole on the channel's topic: subject, text, chat body and attributes", async () => {
    // Prepare: the channel's topic with a raw SQS subscriber.
    const cfg = { endpoint: suite.moto.endpoint, region: "eu-west-1" };
    const sns = new SNSClient(cfg);
    const sqs = new SQSClient(cfg);
    const target = (await sns.send(new CreateTopicCommand({ Name: "remedy-prod-pager" }))).TopicArn as string;
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: "pager-chat" }))).QueueUrl as string;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
    await sns.send(new SubscribeCommand({ TopicArn: target, Protocol: "sqs", Endpoint: arn, Attributes: { RawMessageDelivery: "true" } }));
    const notice = { subject: "remedy: payments rolled back to v1", lines: ["remedy rolled back payments: v2 (green) -> v1 (blue).", "Next: the failed version is held."], attributes: { event: "rolled-back", severity: "action", service: "payments", stack: "prod" } };
    // What SNS hands a Lambda subscriber: the `lambda` body of remedy's JSON-structured message.
    const event = { Records: [{ EventSource: "aws:sns", Sns: { TopicArn: "arn:aws:sns:eu-west-1:123456789012:remedy-prod-notifications", Message: JSON.stringify(notice) } }] };
    // Act
    const relayed = await relay(event, sns, target);
    // Assess
    assert.equal(relayed, 1);
    const got = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"] }))).Messages ?? [];
    assert.equal(got.length, 1);
    assert.equal(got[0].MessageAttributes?.event?.StringValue, "rolled-back");
    assert.equal(got[0].Body, notice.lines.join("\n"), "SQS (like email) takes the text");
  });

  it("refuses an event that is not SNS, or a message published without remedy's notice, relaying nothing", async () => {
    const sns = new SNSClient({ endpoint: suite.moto.endpoint, region: "eu-west-1" });
    await assert.rejects(relay({ detail: {} }, sns, "arn:aws:sns:eu-west-1:123456789012:x"), (e: Error) => e instanceof RelayInputError && /^not an SNS event: Records: /.test(e.message));
    const ok = JSON.stringify({ subject: "s", lines: [], attributes: {} });
    await assert.rejects(
      relay({ Records: [{ Sns: { Message: ok } }, { Sns: { Message: "plain text from someone else" } }] }, sns, "arn:aws:sns:eu-west-1:123456789012:does-not-exist"),
      (e: Error) => e instanceof RelayInputError && /Records\[1\]\.Sns\.Message is not a remedy notice \(not JSON\)/.test(e.message),
    );
  });
});
