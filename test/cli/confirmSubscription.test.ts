/**
 * remedy confirm-subscription (issue 35, 13): a confirmation link becomes a ConfirmSubscription
 * with AuthenticateOnUnsubscribe, against moto (which accepts any token of an existing topic, so
 * the request itself is asserted as the SDK sends it).
 */
import { strict as assert } from "node:assert";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { confirmSubscriptionCommand, parseConfirmationLink } from "../../cli/commands/confirmSubscription";
import { useMoto } from "../helpers/moto";

const TOKEN = "2336412f37fb687f5d51e6e2425ba1f30a1c9b1c7d7e1d5d2b7a1c3b0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0";
const link = (topicArn: string, host = "sns.eu-west-1.amazonaws.com") => `https://${host}/confirmation.html?TopicArn=${encodeURIComponent(topicArn)}&Token=${TOKEN}&Endpoint=oncall%40example.com`;

describe("cli: remedy confirm-subscription", function () {
  this.timeout(60_000);
  const suite = useMoto();

  it("reads the topic and token of an SNS confirmation link, and refuses anything else naming the form", () => {
    const topic = "arn:aws:sns:eu-west-1:123456789012:rollback-notifications-1a2b3c";
    assert.deepEqual(parseConfirmationLink(link(topic)), { topicArn: topic, token: TOKEN });
    for (const bad of [link(topic, "sns.eu-west-1.amazonaws.com.evil.example"), link(topic).replace("https:", "http:"), link("not-an-arn"), link(topic).replace(/Token=[0-9a-f]+/, "Token="), "confirm me"]) {
      const r = parseConfirmationLink(bad);
      assert.equal(typeof r, "string", bad);
      assert.match(r as string, /confirmation\.html\?TopicArn=\.\.\.&Token=\.\.\./);
    }
  });

  it("confirms with AuthenticateOnUnsubscribe, so unsubscribing takes signed credentials; SNS's refusal is exit 1", async () => {
    // Prepare: the stack topic on moto, and a client that records what it sends.
    const client = new SNSClient({ endpoint: suite.moto.endpoint, region: "eu-west-1" });
    const sent: Record<string, unknown>[] = [];
    client.middlewareStack.add((next, context) => async (args) => {
      if (context.commandName === "ConfirmSubscriptionCommand") sent.push(args.input as Record<string, unknown>);
      return next(args);
    });
    const topic = (await client.send(new CreateTopicCommand({ Name: "rollback-notifications" }))).TopicArn as string;
    const out: string[] = [];
    const err: string[] = [];

    // Act
    const code = await confirmSubscriptionCommand([link(topic)], true, (s) => out.push(s), (s) => err.push(s), client);

    // Assess
    assert.equal(code, 0, err.join("\n"));
    assert.deepEqual(sent, [{ TopicArn: topic, Token: TOKEN, AuthenticateOnUnsubscribe: "true" }]);
    assert.equal((JSON.parse(out[0]) as { authenticateOnUnsubscribe: boolean }).authenticateOnUnsubscribe, true);
    const gone = await confirmSubscriptionCommand([link(`${topic}-deleted`)], false, (s) => out.push(s), (s) => err.push(s), client);
    assert.equal(gone, 1);
    assert.match(err.at(-1) ?? "", /^remedy confirm-subscription: NotFound.*: Topic does not exist/);
    assert.equal(await confirmSubscriptionCommand([], false, (s) => out.push(s), (s) => err.push(s), client), 2);
  });
});
