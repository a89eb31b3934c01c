/**
 * Lifecycle notifications from the release driver against moto: a canary with a pause is told
 * as it pauses, is promoted, and its previous slot is retired; each message once, however many
 * ticks or driver copies run; an SNS subscription filter policy on `event` lets a destination
 * take only some events (moto applies SNS filter policies to SQS subscriptions).
 */
import { strict as assert } from "node:assert";
import { dashboardWeightSeries, emfSeries } from "../helpers/weightSeries";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { SubscribeCommand } from "@aws-sdk/client-sns";
import { chatNotification } from "../../lambdas/commons/notify";
import { useMotoBehindProxy } from "../helpers/faultProxy";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { TABLE, capture, clientConfig, clients, createWorld, startProgressive, worldDriver, type World } from "../helpers/rollbackWorld";

describe("lambdas/releaseDriver: lifecycle notifications against moto", function () {
  this.timeout(60_000);
  // The driver copies write through the fault proxy, which forwards conditional writes one at a
  // time: moto does not apply a TransactWriteItems atomically under concurrency (a losing copy's
  // history item could land), which DynamoDB does.
  const env = useMotoBehindProxy();
  const suite = env;
  let world: World;
  const T0 = Date.now() - 3_600_000;
  const at = (minutes: number) => T0 + minutes * 60_000;

  beforeEach(async () => {
    world = await createWorld(suite.moto.endpoint, ["payments"]);
  });

  function driver(clock: { now: number }, steps = false, metrics?: Metrics) {
    return worldDriver(world, suite.moto.endpoint, {
      store: new ReleaseStore(clients(env.proxy.endpoint).ddb, TABLE),
      now: () => clock.now,
      notify: { sns: clients(suite.moto.endpoint).sns, topicArn: world.topicArn, stack: "test", steps },
      ...(metrics ? { metrics } : {}),
    });
  }


  it("tells the pause and the promotion once each, with the command to act, to every subscriber and through a filter policy", async () => {
    // Prepare: v3 as a canary that pauses before 100% (as pulumi up records it), and an extra
    // destination that takes only paused and promoted messages.
    await startProgressive(world, "payments", new Date(at(0) - 1000).toISOString(), { strategy: { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10, pauseBeforeFull: true } });
    await world.notifications(); // what was recorded before the driver ran
    const sqs = new SQSClient(clientConfig(suite.moto.endpoint));
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "only-paused-promoted" }))).QueueUrl as string;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
    await clients(suite.moto.endpoint).sns.send(
      new SubscribeCommand({ TopicArn: world.topicArn, Protocol: "sqs", Endpoint: queueArn, Attributes: { FilterPolicy: JSON.stringify({ event: ["paused", "promoted"] }), RawMessageDelivery: "true" } }),
    );
    const clock = { now: at(0) };
    const a = driver(clock);
    const b = driver(clock);

    // Act: two driver copies tick every minute through the release; an operator promotes at 7.
    const told: string[] = [];
    for (let minute = 0; minute <= 20; minute++) {
      clock.now = at(minute);
      if (minute === 7) {
        const s = await world.store.get("payments");
        if (!s?.progress) throw new Error("not progressive");
        await world.store.commit(s.revision, { ...s, revision: s.revision + 1, progress: { ...s.progress, promote: "step" } }, { service: "payments", revision: s.revision + 1, at: new Date(clock.now).toISOString(), by: "operator:test", action: "request-promote", releaseId: s.releaseId, summary: "promote", weights: s.weights });
      }
      await Promise.all([a.tick(), b.tick()]);
      told.push(...(await world.notifications()).map((n) => n.subject));
    }

    // Assess: the main topic's subscriber got each lifecycle message once.
    assert.deepEqual(told, ["remedy test: payments v3 paused at 10%: waiting for remedy promote", "remedy test: payments v3 promoted"]);
    const filtered = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"] }))).Messages ?? [];
    assert.deepEqual(filtered.map((m) => m.MessageAttributes?.event?.StringValue).sort(), ["paused", "promoted"]);
    assert.match(filtered.find((m) => m.MessageAttributes?.event?.StringValue === "paused")?.Body ?? "", /Act: remedy promote payments moves it on/);
    assert.equal((await world.store.pendingNotifications("payments")).length, 0, "nothing left in the outbox");
  });

  it("tells every step when asked, and publishes the candidate's weight after each move (EMF)", async () => {
    await startProgressive(world, "payments", new Date(at(0) - 1000).toISOString());
    await world.notifications();
    const clock = { now: at(0) };
    const metrics = new Metrics({ namespace: "remedy", serviceName: "remedy-release-driver" });
    const emf = capture(metrics);
    const d = driver(clock, true, metrics);
    const told: string[] = [];
    for (const minute of [0, 5, 15]) {
      clock.now = at(minute);
      await d.tick();
      told.push(...(await world.notifications()).map((n) => n.subject));
    }
    assert.deepEqual(told, ["remedy test: payments v3 at 10%", "remedy test: payments v3 at 100%", "remedy test: payments v3 promoted"]);
    const weights = emf.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => "CandidateWeight" in e);
    assert.deepEqual(weights.map((e) => [e.Stack, e.Service, e.CandidateWeight]), [["remedy-test", "payments", 10], ["remedy-test", "payments", 100], ["remedy-test", "payments", 100]]);
    // Exactly the series the dashboard graphs: no Powertools `service` dimension (issue 34, 8).
    const published = emf.filter((l) => l.includes("CandidateWeight")).flatMap(emfSeries);
    assert.deepEqual(published, Array(3).fill(dashboardWeightSeries("remedy-test", "payments")));
  });

  it("gives HTTPS subscribers (Chatbot, webhooks) a Chatbot custom notification: title, description, next steps, attributes", () => {
    const chat = chatNotification({
      subject: "remedy prod: payments v3 paused at 10%: waiting for remedy promote",
      lines: ["payments: v3 (green) holds at 10% (canary done).", "Act: remedy promote payments moves it on.", "Traffic: blue 90% / green 10%."],
      attributes: { event: "paused", severity: "action", service: "payments", stack: "prod" },
    });
    assert.deepEqual(chat, {
      version: "1.0",
      source: "custom",
      content: {
        textType: "client-markdown",
        title: "remedy prod: payments v3 paused at 10%: waiting for remedy promote",
        description: "```\npayments: v3 (green) holds at 10% (canary done).\nTraffic: blue 90% / green 10%.\n```",
        nextSteps: ["`remedy promote payments moves it on.`"],
        keywords: ["paused", "payments", "prod"],
      },
      metadata: {
        summary: "remedy prod: payments v3 paused at 10%: waiting for remedy promote",
        eventType: "paused",
        threadId: "prod/payments",
        additionalContext: { event: "paused", severity: "action", service: "payments", stack: "prod" },
      },
    });
  });

  it("renders text remedy did not write as plain text in chat: an alarm's reason cannot format, link or mention (issue 35, 5)", () => {
    const hostile = "Threshold Crossed <!channel> *urgent* [click](https://evil.example) `code` ```";
    const chat = chatNotification({
      subject: "remedy: payments rolled back *now*",
      lines: [`Reason: ${hostile}`, `Act: remedy abort payments --reason "${hostile}"`],
      attributes: { outcome: "rolled-back", service: "payments", stack: "prod" },
    }) as { content: { title: string; description: string; nextSteps: string[] } };
    // One code block, whose content cannot close it.
    assert.match(chat.content.description, /^```\n[^`]*\n```$/);
    assert.ok(chat.content.description.includes("<!channel> *urgent* [click](https://evil.example) 'code' " + "'".repeat(3)));
    assert.match(chat.content.nextSteps[0] ?? "", /^`[^`]*`$/);
    assert.equal(chat.content.title, "remedy: payments rolled back now");
  });
});
